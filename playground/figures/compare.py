"""Compare: up to four settings side by side, step by step.

``compare_steps`` draws, for every generated step, the distribution each column really sampled
from at that step (its own context, which parts from the others' once they chose differently)
with the chosen token marked orange even when it lies outside the top bars, and above the panels
the probability of every token each column chose. A slider under the figure picks the step; it
works in the browser alone (each slider step carries its bars), so it needs no server round trip.
``compare_figure`` is its adapter from the Compare tab's sessions; it only picks fields.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from playground import i18n
from playground.figures.style import CHOSEN, KEPT, label, _axis, _figure
from playground.i18n import t as _t

COLUMN_COLOURS = ("#4C78A8", "#54A24B", "#B279A2", "#9D755D")  # the columns' lines in the top strip
CMP_ROWS = 8  # bars per panel (one more, orange, when the chosen token ranks below them)
MONO = "'DejaVu Sans Mono', 'WenQuanYi Micro Hei', monospace"


def first_difference(columns: Sequence[dict]) -> int | None:
    """The first step (0-based) at which the columns chose different tokens (or one had stopped); None if never."""
    n = max(len(c["steps"]) for c in columns)
    for i in range(n):
        chosen = {c["steps"][i]["token"] if i < len(c["steps"]) else None for c in columns}
        if len(chosen) > 1:
            return i
    return None


def _percent(p: float) -> str:
    return f"{p:.1%}" if p >= 0.001 else "<0.1%"


def _panel(col: dict, i: int, rows: int, lang: str, chars: int = 30) -> dict:
    """What column ``col`` shows at step ``i``: its bars (x, colours, text), tick labels and heading (five short
    lines, each at most ~``chars`` characters: the panel's width)."""
    head = f"<b>{col['side']}</b> · {label(col['settings'], chars - 4)}"
    if i >= len(col["steps"]):
        return dict(x=[], y=[], colours=[], text=[], ticks=[], note=head + "<br>" +
                    _t("fig.cmp_ended", lang, n=len(col["steps"])) + "<br> <br> <br> ")
    st = col["steps"][i]
    toks, probs = list(st["tokens"])[:rows], np.asarray(st["probs"], dtype=float)[:rows]
    n = max(1, min(rows, int(st["kept"]), len(toks)))  # a filter that keeps 2 tokens shows 2 bars
    toks, probs = toks[:n], [round(float(p), 4) for p in probs[:n]]
    ranks = list(range(n))
    if st["rank"] >= n:  # drawn from below the top bars: its own row, at its rank, still orange
        toks.append(st["token"])
        probs.append(round(float(st["prob"]), 4))
        ranks.append(int(st["rank"]))
    colours = [CHOSEN if r == st["rank"] else KEPT for r in ranks]
    text = [_percent(p) for p in probs]
    ticks = [f"{r + 1}. {label(t, 12)}" if r < n else f"⋮ {r + 1}. {label(t, 12)}" for r, t in zip(ranks, toks)]
    ticks = [f"<b><span style='color:{CHOSEN}'>{tk}</span></b>" if r == st["rank"] else tk for r, tk in zip(ranks, ticks)]
    room = max(6, min(20, chars - 12))
    context = st["context"] if len(st["context"]) <= room else "…" + st["context"][1 - room:]
    chose = _t("fig.cmp_chose", lang, step=i + 1, context=label(context, room + 1), token=label(st["token"], 16),
               rank=st["rank"] + 1, p=_percent(st["prob"]))
    kept = _t("fig.cmp_kept", lang, kept=int(st["kept"]), vocab=int(col["vocab"]), entropy=float(st["entropy"]))
    return dict(x=probs, y=list(range(len(probs))), colours=colours, text=text, ticks=ticks,
                note=f"{head}<br>{chose}<br>{kept}")


def compare_steps(columns: Sequence[dict], step: int | None = None, rows: int = CMP_ROWS, lang: str = "en") -> go.Figure:
    """Each column's next-token distribution at one generated step, with a slider over every step.

    ``columns``: 1 to 4 dicts: ``side`` ("A"), ``settings`` (short text), ``vocab``, ``steps`` (one dict
    per generated token: ``tokens`` / ``probs``, the final distribution's likeliest tokens and their
    probabilities, likeliest first; ``kept`` (candidates left after the filters), ``entropy`` (nats),
    ``token`` / ``prob`` / ``rank`` (0 = likeliest) of the chosen token; ``context``, the text just
    before it). ``step``: the step drawn first (0-based; default: the first at which the columns chose
    differently). The chosen token is orange, on an extra row under the top ``rows`` when it ranks below.
    """
    n = len(columns)
    if not 1 <= n <= 4:
        raise ValueError(f"compare 1 to 4 columns; got {n}")
    N = max(len(c["steps"]) for c in columns)
    if N == 0:
        raise ValueError("no column generated a token")
    for c in columns:
        for k, st in enumerate(c["steps"]):
            if len(st["tokens"]) != len(st["probs"]):
                raise ValueError(f"column {c['side']} step {k}: {len(st['tokens'])} tokens, {len(st['probs'])} probs")
            if not 0 <= st["rank"] < c["vocab"]:
                raise ValueError(f"column {c['side']} step {k}: rank {st['rank']} outside the vocabulary")
    differ = first_difference(columns)
    step = (differ or 0) if step is None else step
    if not 0 <= step < N:
        raise ValueError(f"step {step} is outside 0..{N - 1}")
    cols, nrows = (n, 1) if n <= 3 else (2, 2)
    strip_head, strip_h, gap, head_h, bars_h, row_gap = 40, 150, 70, 105, 30 * (rows + 1), 40
    A = strip_head + strip_h + gap + nrows * (head_h + bars_h) + (nrows - 1) * row_gap  # plot area, px

    def frac(px: float) -> float:  # px from the top of the plot area -> paper y
        return round(1 - px / A, 6)

    data, notes, axes = [], [], {}
    for k, c in enumerate(columns):  # the top strip: p(chosen token) at every step, one line per column
        sts = c["steps"]
        hover = f"<b>{c['side']}</b> · {_t('fig.cmp_step', lang)} %{{x}}: %{{customdata}}, %{{y:.1%}}<extra></extra>"
        data.append(dict(type="scatter", x=list(range(1, len(sts) + 1)), y=[s["prob"] for s in sts],
                         mode="lines+markers", name=c["side"], line=dict(color=COLUMN_COLOURS[k], width=2),
                         marker=dict(size=8), hovertemplate=hover, xaxis="x", yaxis="y",
                         customdata=[f"{label(s['token'], 16)} · {_t('fig.cmp_rank', lang, rank=s['rank'] + 1)}"
                                     for s in sts]))
    axes["xaxis"] = _axis(domain=[0, 1], anchor="y", range=[0.5, N + 0.5], dtick=max(1, int(np.ceil(N / 20))),
                          zeroline=False)
    axes["yaxis"] = _axis(domain=[frac(strip_head + strip_h), frac(strip_head)], anchor="x", range=[0, 1.05],
                          tickformat=".0%", tickvals=[0, 0.5, 1], zeroline=False)
    notes.append(dict(text=_t("fig.cmp_strip", lang), xref="paper", yref="paper", x=0, y=frac(strip_head),
                      xanchor="left", yanchor="bottom", showarrow=False, font=dict(size=14)))
    marker = dict(type="rect", xref="x", yref="y", x0=step + 0.5, x1=step + 1.5, y0=0, y1=1.05, line=dict(width=0),
                  fillcolor="rgba(245,133,24,0.25)", layer="below")
    width_gap = 0.12 if cols > 1 else 0.0
    width = (1 - width_gap * (cols - 1)) / cols
    chars = int(110 * width)  # characters a heading line holds in a panel (~900 px of plot at 14 px)
    first_panel = len(data)
    for k, c in enumerate(columns):  # the panels: the distribution each column sampled from at the step
        r, cc = divmod(k, cols)
        top = strip_head + strip_h + gap + r * (head_h + bars_h + row_gap) + head_h
        x0 = cc * (width + width_gap)
        xa, ya = f"x{k + 2}", f"y{k + 2}"
        p = _panel(c, step, rows, lang, chars)
        data.append(dict(type="bar", x=p["x"], y=p["y"], orientation="h", xaxis=xa, yaxis=ya, showlegend=False,
                         marker=dict(color=p["colours"]), text=p["text"], textposition="outside", cliponaxis=False,
                         textfont=dict(size=14), hovertemplate="%{x:.2%}<extra></extra>"))
        axes[f"xaxis{k + 2}"] = _axis(domain=[round(x0, 6), round(min(1.0, x0 + width), 6)], anchor=ya, range=[0, 1.3],
                                      tickvals=[0, 0.5, 1], tickformat=".0%", showgrid=True)
        axes[f"yaxis{k + 2}"] = _axis(domain=[frac(top + bars_h), frac(top)], anchor=xa, range=[rows + 0.5, -0.5],
                                      tickmode="array", tickvals=list(range(len(p["ticks"]))), ticktext=p["ticks"],
                                      showgrid=False, zeroline=False, tickfont=dict(size=14, family=MONO))
        notes.append(dict(text=p["note"], xref="paper", yref="paper", x=x0, y=frac(top), xanchor="left", yanchor="bottom",
                          yshift=4, align="left", showarrow=False, font=dict(size=14)))
    sliders = []
    if N > 1:
        steps = []
        for i in range(N):
            ps = [_panel(c, i, rows, lang, chars) for c in columns]
            restyle = {"x": [q["x"] for q in ps], "y": [q["y"] for q in ps], "marker.color": [q["colours"] for q in ps],
                       "text": [q["text"] for q in ps]}
            relayout = {"shapes[0].x0": i + 0.5, "shapes[0].x1": i + 1.5}
            for k, q in enumerate(ps):
                relayout[f"annotations[{k + 1}].text"] = q["note"]
                relayout[f"yaxis{k + 2}.tickvals"] = list(range(len(q["ticks"])))
                relayout[f"yaxis{k + 2}.ticktext"] = q["ticks"]
            steps.append(dict(method="update", label=str(i + 1),
                              args=[restyle, relayout, list(range(first_panel, first_panel + n))]))
        sliders.append(dict(active=step, steps=steps, x=0, len=1, y=0, yanchor="top", pad=dict(t=40, b=10),
                            currentvalue=dict(prefix=_t("fig.cmp_slider", lang), font=dict(size=16, color="#222"), xanchor="left"),
                            font=dict(size=14, color="#444" if N <= 25 else "rgba(0,0,0,0)")))
    title = _t("fig.cmp_title", lang) + (_t("fig.cmp_same", lang) if differ is None else
                                          _t("fig.cmp_differ", lang, step=differ + 1))
    return _figure(data, title, A + 95 + (130 if sliders else 40), margin=dict(l=20, r=20, t=95, b=130 if sliders else 40),
                   annotations=notes, shapes=[marker], sliders=sliders, bargap=0.25,
                   legend=dict(orientation="h", x=1, xanchor="right", y=frac(strip_head), yanchor="bottom",
                               font=dict(size=14)),
                   **axes)


def side_settings(side, lang: str) -> str:
    """A column's settings (a ``lessons.Side``) as plain text (its prompt quoted, cut): the figure and the
    table each escape it."""
    bits = [i18n.t("cmp_greedy", lang) if side.temperature == 0 else f"T = {side.temperature:g}"]
    if side.top_k:
        bits.append(f"top-k {side.top_k}")
    if side.top_p < 1:
        bits.append(f"top-p {side.top_p:g}")
    if side.repetition_penalty != 1:
        bits.append(f"{i18n.t('cmp_penalty', lang)} {side.repetition_penalty:g}")
    if side.prompt:
        bits.append(f"“{side.prompt if len(side.prompt) <= 18 else side.prompt[:17] + '…'}”")
    return " · ".join(bits)


def compare_columns(runs: list, lang: str = "en", context: int = 8) -> list[dict]:
    """runs: (letter, Side, Session, vocab) of each column -> ``compare_steps``'s columns (fields picked from
    each step's record: its final stage's top list, the chosen token; ``context``: tokens shown before it)."""
    columns = []
    for letter, side, s, vocab in runs:
        toks = s.tokens
        steps = [dict(tokens=list(rec.stages[-1].top_tokens), probs=rec.stages[-1].top_probs, kept=rec.stages[-1].kept,
                      entropy=rec.entropy, token=rec.token, prob=rec.prob, rank=rec.rank,
                      context="".join(toks[max(0, rec.position - context):rec.position]))
                 for rec in s.records]
        columns.append(dict(side=letter, settings=side_settings(side, lang), vocab=vocab, steps=steps))
    return columns


def compare_figure(runs: list, lang: str, step: int | None = None) -> go.Figure:
    """runs: (letter, Side, Session, vocab) of each column -> the step-by-step comparison."""
    return compare_steps(compare_columns(runs, lang), step=step, lang=lang)
