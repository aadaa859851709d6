"""The next token: the decoding pipeline stage by stage (compared settings side by side: ``figures.compare``).

Beside the figures, their adapters from records (BertViz's ``from_record``): ``stage_table`` and
``next_token_title`` turn a ``StepRecord`` into ``next_token_stages``'s arguments. They only pick
fields; the records are duck-typed.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from playground import i18n
from playground.figures.style import KEPT, REMOVED, CHOSEN, label, _as_array, _check_len, _axis, _figure
from playground.i18n import t as _t
from playground.records import StepRecord

MODES = ["probabilities", "logits"]  # what the next-token bars show
NEXT_ROWS = 10  # tokens drawn per decoding stage
STAGE_NAMES = {"raw": "raw", "repetition_penalty": "penalty", "temperature": "temperature",
               "top_k": "top-k", "top_p": "top-p", "min_p": "min-p = final"}
# the knob of each stage and its neutral value: a stage there changes nothing and its panel says "off"
# (static/pipeline.js reads the same table from the figure's meta while a slider moves)
NEUTRAL = {"repetition_penalty": ("repetition_penalty", 1.0), "temperature": ("temperature", 1.0),
           "top_k": ("top_k", 0), "top_p": ("top_p", 1.0), "min_p": ("min_p", 0.0)}


def is_off(stage: str, params) -> bool:
    """Is ``stage`` at its neutral value under ``params`` (a ``SamplingParams``)? top-p counts from 1 up."""
    if stage not in NEUTRAL:
        return False
    field, neutral = NEUTRAL[stage]
    value = getattr(params, field)
    return value >= neutral if stage == "top_p" else value == neutral


def stage_names(stage: str, lang: str) -> tuple[str, str]:
    """A stage's panel title, and its title when the stage is off ("temperature", "temperature (off)")."""
    key = f"stage.{stage}"
    name = i18n.t(key, lang) if key in i18n.STRINGS else STAGE_NAMES.get(stage, stage)
    return name, i18n.t("stage.off", lang, name=name)


# -- the next token ------------------------------------------------------------------------------------
def next_token_stages(stage_labels: Sequence[str], tokens: Sequence[str], values: np.ndarray, removed: np.ndarray,
                      chosen: int | None, rest_count: Sequence[int] | None = None, rest_mass: Sequence[float] | None = None,
                      mode: str = "probs", title: str = "Next token", height: int | None = None,
                      lang: str = "en", live: dict | None = None) -> go.Figure:
    """The top tokens as each decoding stage leaves them: one panel per stage, the same rows in each.

    ``values`` (n_stages, N): probability (``mode="probs"``) or logit (``mode="logits"``) of row
    token j after stage i, NaN where the caller does not know it (a token below that stage's top
    list: drawn empty, "below top list"); ``removed`` (n_stages, N) bool: removed by that stage or
    an earlier one (a grey hatched stub labelled "removed"); ``chosen``: the chosen token's row (orange).
    ``rest_count`` / ``rest_mass`` (n_stages,): candidates not drawn and their total probability,
    written under each panel ("+ 4,051 more · 3.2 %"), so the whole vocabulary is accounted for.
    ``live``: what static/pipeline.js needs to redraw the bars in the page while a slider moves (the
    step's logits, the rows' ids...; see ``generate.live_payload``); it goes into the layout's ``meta``
    with the indices of the panel titles and notes it rewrites.
    """
    if mode not in ("probs", "logits"):
        raise ValueError(f"mode must be 'probs' or 'logits'; got {mode!r}")
    v = _as_array(values, "values", 2)
    r = _as_array(removed, "removed", 2, dtype=bool)
    n_st, N = v.shape
    if r.shape != v.shape:
        raise ValueError(f"removed {r.shape} must have the shape of values {v.shape}")
    if len(stage_labels) != n_st:
        raise ValueError(f"{len(stage_labels)} stage labels for {n_st} stages")
    _check_len(tokens, N, "values")
    if chosen is not None and not 0 <= chosen < N:
        raise ValueError(f"chosen row {chosen} is outside 0..{N - 1}")
    for name, seq in (("rest_count", rest_count), ("rest_mass", rest_mass)):
        if seq is not None and len(seq) != n_st:
            raise ValueError(f"{name} has {len(seq)} entries for {n_st} stages")
    unknown = np.isnan(v) & ~r
    gone_all = r | (~np.isfinite(v) & ~unknown)
    alive = v[~gone_all & ~unknown]
    if mode == "probs":
        lo, hi = 0.0, (1.0 if alive.size == 0 else min(1.0, float(alive.max())) * 1.4)
    else:
        lo = min(0.0, float(alive.min())) if alive.size else 0.0
        hi = max(0.0, float(alive.max())) if alive.size else 1.0
        span = (hi - lo) or 1.0
        lo, hi = lo - (0.05 * span if lo < 0 else 0.0), hi + 0.45 * span
    stub = 0.05 * (hi - lo)  # a removed token keeps a short hatched stub, so it stays visible as removed
    gap = 0.02
    width = (1 - gap * (n_st - 1)) / n_st
    y = np.arange(N)
    labels = [label(t) for t in tokens]
    data, notes, axes = [], [], {}
    for i in range(n_st):
        gone = gone_all[i]
        colours = np.where(gone, REMOVED, KEPT).astype(object)
        if chosen is not None and not gone[chosen]:
            colours[chosen] = CHOSEN
        if mode == "probs":
            shown = [f"{p:.1%}" if p >= 0.001 else (f"{p:.2%}" if p >= 0.0001 else "<0.01%") for p in v[i]]
        else:
            shown = [f"{p:.2f}" for p in v[i]]
        text = [_t("fig.removed", lang) if g else (_t("fig.below", lang) if u else s) for g, u, s in zip(gone, unknown[i], shown)]
        xs = np.where(gone, stub, np.nan_to_num(v[i], nan=0.0, neginf=0.0))
        bar = dict(type="bar", x=xs, y=y, orientation="h", xaxis="x" if i == 0 else f"x{i + 1}", yaxis="y",
                   marker=dict(color=list(colours), pattern=dict(shape=["/" if g else "" for g in gone], fgcolor="#777")),
                   # "auto": a long bar holds its number inside, so "100.0%" never runs into the next panel
                   text=text, textposition="auto", insidetextanchor="end", cliponaxis=False, textfont=dict(size=14),
                   constraintext="none",  # a number inside its bar keeps its size (20 px in projector mode)
                   customdata=labels,
                   hovertemplate="%{customdata}: %{text}<extra>" + label(stage_labels[i], 30) + "</extra>", showlegend=False)
        if mode == "logits":
            bar["base"] = np.where(gone, lo, 0.0)
            bar["x"] = np.where(gone, stub, np.nan_to_num(v[i], nan=0.0, neginf=0.0))
        data.append(bar)
        x0 = i * (width + gap)
        axes["xaxis" if i == 0 else f"xaxis{i + 1}"] = _axis(domain=[x0, x0 + width], anchor="y", range=[lo, hi],
                                                          showticklabels=False, showgrid=False, zeroline=True, showline=False)
        notes.append(dict(text=f"<b>{stage_labels[i]}</b>", xref="paper", yref="paper", y=1.0, yanchor="bottom",
                          x=x0 + width / 2, showarrow=False, font=dict(size=14)))
        if rest_count is not None:
            more = _t("fig.more", lang, n=f"{int(rest_count[i]):,}")
            if rest_mass is not None and mode == "probs":
                more += f"<br>{float(rest_mass[i]):.1%}"
            notes.append(dict(text=more, xref="paper", yref="paper", y=0.0, yanchor="top", yshift=-6, x=x0 + width / 2,
                              showarrow=False, font=dict(size=14, color="#444")))
    what = _t("fig.bar_prob", lang) if mode == "probs" else _t("fig.bar_logit", lang)
    # the key to the colours: one line of text, not a legend (three legend-only traces made every draw of this
    # figure ~15 ms slower in the browser: a Step, a slider's release)
    swatch = lambda colour, glyph, key: f"<span style='color:{colour}'>{glyph}</span> {_t(key, lang)}"  # noqa: E731
    notes.append(dict(text=_t("fig.bar_is", lang, what=what) + "   ".join(
        (swatch(KEPT, "■", "fig.kept"), swatch("#888", "▨", "fig.removed"), swatch(CHOSEN, "■", "fig.chosen"))),
        xref="paper", yref="paper", x=1.0, xanchor="right", y=0.0, yanchor="top", yshift=-70, showarrow=False,
        font=dict(size=14, color="#222")))
    meta = {}
    if live is not None:
        titles = [k for k, n in enumerate(notes) if n["y"] == 1.0]
        meta = dict(meta=dict(live=dict(live, titles=titles, mores=[k + 1 for k in titles] if rest_count is not None else [],
                                        mode=mode, n_rows=N, text=dict(removed=_t("fig.removed", lang),
                                                                       more=_t("fig.more", lang, n="{n}")),
                                        colours=dict(kept=KEPT, removed=REMOVED, chosen=CHOSEN), chosen=chosen,
                                        rest_mass=rest_mass is not None and mode == "probs")))
    return _figure(
        data, title, height or 215 + 30 * N, margin=dict(l=130, r=50, t=115, b=100), annotations=notes,
        barmode="overlay", bargap=0.25, **axes,
        showlegend=False,
        yaxis=_axis(tickmode="array", tickvals=y, ticktext=labels, autorange="reversed", showgrid=False, zeroline=False,
                    tickfont=dict(size=15, family="'DejaVu Sans Mono', 'WenQuanYi Micro Hei', monospace")),
        **meta,
    )



# -- records -> figures (picking fields, no computing) -----------------------------------------------
def stage_rows(rec: StepRecord, rows: int = NEXT_ROWS) -> list[int]:
    """The token ids drawn as rows: the final stage's likeliest tokens, topped up with the raw stage's,
    the chosen token always included; ordered by the raw ranking so a bar keeps its row across stages."""
    raw, final = rec.stages[0], rec.stages[-1]
    ids: list[int] = []
    for i, lg in zip(final.top_ids.tolist(), final.top_logits.tolist()):
        if np.isfinite(lg) and len(ids) < rows:
            ids.append(i)
    for i in raw.top_ids.tolist():
        if len(ids) >= rows:
            break
        if i not in ids:
            ids.append(i)
    if rec.token_id not in ids:
        ids[-1] = rec.token_id
    raw_rank = {i: r for r, i in enumerate(raw.top_ids.tolist())}
    ids.sort(key=lambda i: raw_rank.get(i, len(raw_rank)))
    return ids


def stage_table(rec: StepRecord, rows: int = NEXT_ROWS, mode: str = "probabilities", lang: str = "en",
                params=None) -> dict:
    """The arguments of ``next_token_stages`` for one record, its rows the tokens ``stage_rows`` picks.

    ``params``: the ``SamplingParams`` the record was decided with, when known: a stage at its neutral
    value is titled "off" ("temperature (off)"); records do not keep their parameters, so without them
    no title says "off".
    """
    ids = stage_rows(rec, rows)
    n_st, N = len(rec.stages), len(ids)
    values = np.full((n_st, N), np.nan)
    removed = np.zeros((n_st, N), dtype=bool)
    rest_count, rest_mass = [], []
    tokens = [rec.token if i == rec.token_id else "" for i in ids]  # others are named by the stage lists
    for s, st in enumerate(rec.stages):
        where = {i: k for k, i in enumerate(st.top_ids.tolist())}
        complete = st.kept < len(st.top_ids)  # every surviving token is in this stage's list
        for j, i in enumerate(ids):
            k = where.get(i)
            if k is not None:
                tokens[j] = st.top_tokens[k]
                lg = float(st.top_logits[k])
                removed[s, j] = not np.isfinite(lg)
                values[s, j] = float(st.top_probs[k]) if mode == MODES[0] else lg
            elif complete:
                removed[s, j] = True
            elif s == n_st - 1 and i == rec.token_id and mode == MODES[0]:
                values[s, j] = rec.prob  # a token drawn from far down the list: its final probability is known
            # else: alive but below this stage's top list; NaN draws as "below top list"
        alive = ~removed[s]
        rest_count.append(max(0, st.kept - int(alive.sum())))
        shown = [float(st.top_probs[where[i]]) for j, i in enumerate(ids) if alive[j] and i in where]
        if s == n_st - 1 and rec.token_id not in where:
            shown.append(rec.prob)
        rest_mass.append(max(0.0, 1.0 - sum(shown)))
    labels = []
    for st in rec.stages:
        name, off = stage_names(st.name, lang)
        name = off if params is not None and is_off(st.name, params) else name
        labels.append(f"{name} −{st.removed:,}" if st.removed else name)
    return dict(stage_labels=labels, tokens=tokens, values=values, removed=removed, chosen=ids.index(rec.token_id),
                rest_count=rest_count, rest_mass=rest_mass, mode="probs" if mode == MODES[0] else "logits")


def next_token_title(rec: StepRecord, vocab: int, lang: str = "en") -> str:
    """The next-token figure's title for one record: the token, how it was chosen, its probability and rank."""
    how = i18n.t("fig.how_greedy" if rec.greedy else "fig.how_sampled", lang)
    again = i18n.t("fig.again", lang) if rec.resampled else ""
    return i18n.t("fig.step_title", lang, step=rec.step + 1, token=label(rec.token, 24), how=how,
                  p=f"{rec.prob:.1%}", rank=rec.rank + 1, vocab=f"{vocab:,}", entropy=f"{rec.entropy:.2f}", again=again)
