"""Batching: the batch-size sweep beside the bandwidth floor, and the scheduler's timeline (rows = batch slots,
bars = requests, idle slots grey), static above continuous on one time axis. ``timeline_segments`` is the
adapter from a ``playground.batching.BatchRun`` (it only reads its fields)."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from playground.figures.style import CHOSEN, KEPT, REMOVED, _as_array, _axis, _axis_title, _figure, _legend_top
from playground.i18n import t as _t

REQUEST_COLOURS = ("#4C78A8", "#F58518", "#54A24B", "#B279A2", "#E45756", "#72B7B2", "#EECA3B", "#9D755D",
                   "#FF9DA6", "#79706E")
IDLE = "#E6E6E6"


def batch_sweep(batches: Sequence[int], ms_per_step: Sequence[float], tokens_per_s: Sequence[float], floor_ms: float,
                height: int = 420, lang: str = "en") -> go.Figure:
    """Left: ms per decode step vs batch size, with the floor (reading every weight once). Right: tokens/s,
    with the line it would follow if a step cost what it costs at batch 1 (perfect scaling)."""
    b = _as_array(batches, "batches", 1, dtype=np.int64)
    ms, tps = _as_array(ms_per_step, "ms_per_step", 1), _as_array(tokens_per_s, "tokens_per_s", 1)
    if not len(b) == len(ms) == len(tps) or len(b) == 0:
        raise ValueError("batches, ms_per_step and tokens_per_s must have the same, non-zero length")
    if not np.isfinite(floor_ms) or floor_ms <= 0:
        raise ValueError(f"floor_ms must be a positive number; got {floor_ms}")
    ticks = dict(type="log", tickvals=b.tolist(), ticktext=[str(x) for x in b], title=_axis_title(_t("fig.batch", lang)))
    ideal = b * tps[0] / b[0]
    data = [
        dict(type="scatter", x=b, y=ms, mode="lines+markers", name=_t("fig.batch_ms", lang), marker=dict(size=10),
             line=dict(color=KEPT, width=3), hovertemplate=_t("fig.batch_ms_hover", lang)),
        dict(type="scatter", x=[int(b[0]), int(b[-1])], y=[float(floor_ms)] * 2, mode="lines", name=_t("fig.batch_floor", lang),
             line=dict(color="#888", dash="dash", width=2), hovertemplate=_t("fig.batch_floor_hover", lang)),
        dict(type="scatter", x=b, y=tps, mode="lines+markers", name=_t("fig.batch_tps", lang), xaxis="x2", yaxis="y2",
             marker=dict(size=10), line=dict(color=CHOSEN, width=3), hovertemplate=_t("fig.batch_tps_hover", lang)),
        dict(type="scatter", x=b, y=ideal, mode="lines", name=_t("fig.batch_ideal", lang), xaxis="x2", yaxis="y2",
             line=dict(color=CHOSEN, dash="dot", width=2), hoverinfo="skip"),
    ]
    last = len(b) - 1
    title = _t("fig.batch_title", lang, b=int(b[last]), tps=tps[last] / tps[0], ms=ms[last] / ms[0])
    return _figure(data, title, height, legend=_legend_top(), margin=dict(l=70, r=30, t=110, b=60),
                   xaxis=_axis(domain=[0, 0.44], **ticks), xaxis2=_axis(domain=[0.56, 1], anchor="y2", **ticks),
                   yaxis=_axis(title=_axis_title(_t("fig.ms_per_step", lang)), rangemode="tozero"),
                   yaxis2=_axis(title=_axis_title(_t("fig.tokens_per_s", lang)), rangemode="tozero", anchor="x2"))


def timeline_segments(run) -> dict:
    """A BatchRun as plain data for ``batch_timeline``: each slot's spans, merged over consecutive passes of
    the same request ("decode", or "prefill" for its own prefill pass) or of no request ("idle")."""
    segs: list[dict] = []
    open_: dict[int, dict] = {}
    for step in run.steps:
        for slot, r in enumerate(step.slots):
            kind = "idle" if r is None else "prefill" if step.kind == "prefill" and step.slot == slot else "decode"
            seg = open_.get(slot)
            if seg is not None and seg["request"] == r and seg["kind"] == kind:
                seg["end"] = step.start_ms + step.ms
            else:
                seg = open_[slot] = dict(slot=slot, request=r, kind=kind, start=step.start_ms, end=step.start_ms + step.ms)
                segs.append(seg)
    reqs = {q.request: q for q in run.requests}
    for seg in segs:
        q = reqs.get(seg["request"])
        seg["info"] = None if q is None else (q.prompt_len, q.new_tokens, q.arrival_ms, q.finish_ms, q.latency_ms)
    return dict(slots=run.max_batch, segments=segs, total_ms=run.total_ms, policy=run.policy)


def _bars(segs: list[dict], kind: str, axis: str, total: float, lang: str) -> dict:
    """One horizontal bar trace: the segments of ``kind`` on the subplot ``axis`` ("" or "2")."""
    s = [x for x in segs if x["kind"] == kind]
    req = [x["request"] for x in s]
    colours = [IDLE if r is None else REQUEST_COLOURS[r % len(REQUEST_COLOURS)] for r in req]
    text = ["" if r is None or x["end"] - x["start"] < 0.035 * total or kind == "prefill" else f"R{r}"
            for r, x in zip(req, s)]
    custom = [[-1 if r is None else r, *(x["info"] or (0, 0, 0.0, 0.0, 0.0))] for r, x in zip(req, s)]
    bar = dict(type="bar", orientation="h", base=[x["start"] for x in s], x=[x["end"] - x["start"] for x in s],
               y=[_t("fig.slot", lang, n=x["slot"] + 1) for x in s], text=text, textposition="inside",
               insidetextanchor="middle", textfont=dict(size=13, color="white"), customdata=custom,
               marker=dict(color=colours, line=dict(color="white", width=1)), xaxis="x" + axis, yaxis="y" + axis,
               name=_t(f"fig.seg_{kind}", lang), showlegend=axis == "", legendgroup=kind,
               hovertemplate=_t(f"fig.seg_{kind}_hover", lang))
    if kind == "prefill":
        bar["marker"]["pattern"] = dict(shape="/", fgcolor="#222", size=6, solidity=0.35)
    if kind == "idle":
        bar["marker"]["color"], bar["marker"]["pattern"] = IDLE, dict(shape=".", fgcolor=REMOVED, size=5)
    return bar


def batch_timeline(panels: Sequence[dict], measures: Sequence[str] = (), height: int | None = None,
                   lang: str = "en") -> go.Figure:
    """One timeline per panel (``timeline_segments`` output), stacked on one time axis (ms): rows = the batch's
    slots, bars = requests (R3 = request 3), hatched = a request's prefill, grey = an idle slot; ``measures``
    (one line per panel) goes in each panel's title."""
    if not 1 <= len(panels) <= 2:
        raise ValueError(f"batch_timeline draws one or two runs; got {len(panels)}")
    total = max(p["total_ms"] for p in panels)
    data, annotations, layout = [], [], {}
    n = len(panels)
    rows = sum(p["slots"] for p in panels)
    height = height or 200 + 36 * rows + 110 * n
    area = height - 60 - 130  # the plot area between the margins, in pixels: paper coordinates run over it
    head_room = 56 / area  # above each panel: its two-line head
    gap = 40 / area + head_room
    span = (1 - head_room - gap * (n - 1)) / n
    for i, p in enumerate(panels):
        axis = "" if i == 0 else str(i + 1)
        for kind in ("decode", "prefill", "idle"):
            data.append(_bars(p["segments"], kind, axis, total, lang))
        top = 1 - head_room - i * (span + gap)
        slots = [_t("fig.slot", lang, n=k + 1) for k in range(p["slots"])]
        layout[f"yaxis{axis}"] = _axis(domain=[top - span, top], categoryorder="array", categoryarray=slots[::-1],
                                       anchor=f"x{axis}")
        layout[f"xaxis{axis}"] = _axis(domain=[0, 1], range=[0, total * 1.01], anchor=f"y{axis}",
                                       title=_axis_title(_t("fig.time_ms", lang)) if i == n - 1 else None)
        head = "<b>" + _t("fig.policy_" + p["policy"], lang) + "</b>"
        head += f"<br>{measures[i]}" if i < len(measures) else ""
        annotations.append(dict(text=head, xref="paper", yref="paper", x=0, y=top + 0.01, xanchor="left", align="left",
                                yanchor="bottom", showarrow=False, font=dict(size=15)))
    return _figure(data, _t("fig.timeline_title", lang), height, barmode="overlay",
                   legend=dict(orientation="h", x=0, y=-70 / area, yanchor="top", font=dict(size=14)),
                   annotations=annotations, margin=dict(l=80, r=30, t=60, b=130), bargap=0.25, **layout)
