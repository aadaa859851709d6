"""Beam search: the tree of candidates a search explored, and its adapter from a search's result."""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.colors import sample_colorscale

from playground.figures.style import (
    BEAM_SCALE, KEPT, CHOSEN, label, _axis, _axis_title, _figure, _legend_top, placeholder,
)
from playground.i18n import t as _t


# -- beam search ----------------------------------------------------------------------------------------
def beam_tree(nodes: Sequence, labels: Sequence[str], best_path: Sequence[int] = (), in_view: int = 10,
              length_penalty: float = 1.0, height: int | None = None, lang: str = "en") -> go.Figure:
    """The tree beam search explored: one column per step (numbered from 1; the prompt at 0), that step's
    candidates ranked top to bottom. Every step is drawn; a longer search shows its first ``in_view``
    steps, the title says so, and a range slider under the chart pans to the rest.

    ``nodes``: objects with ``node_id, step, parent, logprob, cum_logprob, kept, finished, score``
    (``playground.beam.BeamNode`` is one); ``nodes[0]`` is the root (the prompt, step -1).
    ``labels``: each node's token string. Edges are coloured by the token's log-probability; kept
    beams are solid, pruned ones dotted and faded; finished hypotheses are stars with their
    length-penalised score; ``best_path`` (node ids) is drawn thick.
    """
    if len(labels) != len(nodes):
        raise ValueError(f"{len(labels)} labels for {len(nodes)} nodes")
    if not nodes or nodes[0].parent is not None:
        raise ValueError("nodes[0] must be the root (parent None)")
    shown = list(nodes)
    by_step: dict[int, list] = {}
    for n in shown:
        if n.parent is not None:
            by_step.setdefault(n.step, []).append(n)
    pos: dict[int, tuple[int, float]] = {}
    for step, group in by_step.items():  # row 0 = the step's best candidate
        for rank, n in enumerate(sorted(group, key=lambda n: -n.cum_logprob)):
            pos[n.node_id] = (step + 1, float(rank))
    rows = max((len(g) for g in by_step.values()), default=1)
    pos[nodes[0].node_id] = (0, (rows - 1) / 2)
    edge_lp = np.array([n.logprob for n in shown if n.parent is not None], dtype=float)
    lo = min(-0.5, float(np.floor(edge_lp.min()))) if edge_lp.size else -5.0
    bins = 6
    cuts = np.linspace(lo, 0.0, bins + 1)
    colours = sample_colorscale(BEAM_SCALE, list(np.linspace(0, 1, bins)))
    segments: dict[tuple[int, bool], tuple[list, list]] = {}
    for n in shown:
        if n.parent is None or n.parent not in pos:
            continue
        b = int(np.clip(np.searchsorted(cuts, n.logprob, side="right") - 1, 0, bins - 1))
        xs, ys = segments.setdefault((b, bool(n.kept or n.finished)), ([], []))
        (x0, y0), (x1, y1) = pos[n.parent], pos[n.node_id]
        xs += [x0, x1, None]
        ys += [y0, y1, None]
    data = [dict(type="scatter", x=xs, y=ys, mode="lines", hoverinfo="skip", showlegend=False, opacity=1.0 if kept else 0.45,
                 line=dict(color=colours[b], width=3 if kept else 1.5, dash="solid" if kept else "dot"))
            for (b, kept), (xs, ys) in sorted(segments.items())]
    path = [pos[i] for i in best_path if i in pos]
    if len(path) > 1:
        data.append(dict(type="scatter", x=[p[0] for p in path], y=[p[1] for p in path], mode="lines", name=_t("fig.beam_best", lang),
                         line=dict(color=CHOSEN, width=8), opacity=0.45, hoverinfo="skip"))
    best = set(best_path)
    for kind, pick, symbol, size, colour in (
        (_t("fig.beam_kept", lang), lambda n: n.kept and not n.finished, "circle", 14, KEPT),
        (_t("fig.beam_pruned", lang), lambda n: not n.kept and not n.finished, "circle-open", 10, "#999999"),
        (_t("fig.beam_finished", lang), lambda n: n.finished, "star", 20, CHOSEN),
    ):
        group = [n for n in shown if n.parent is not None and pick(n)]
        if not group:
            continue
        hover = [_t("fig.beam_hover", lang, token=label(labels[n.node_id], 30), lp=f"{n.logprob:.3f}", cum=f"{n.cum_logprob:.3f}")
                 + (_t("fig.beam_score", lang, score=f"{n.score:.3f}", cum=f"{n.cum_logprob:.2f}", n=n.step + 1, a=f"{length_penalty:g}")
                    if n.finished and n.score is not None else "") for n in group]
        data.append(dict(
            type="scatter", mode="markers+text", name=kind, x=[pos[n.node_id][0] for n in group],
            y=[pos[n.node_id][1] for n in group], hovertext=hover, hoverinfo="text",
            text=[label(labels[n.node_id], 8) if (n.kept or n.finished or n.node_id in best) else "" for n in group],
            textposition="top center", textfont=dict(size=14),
            marker=dict(symbol=symbol, size=size, color=colour, line=dict(width=1, color="#333")),
        ))
    notes = [dict(x=pos[n.node_id][0], y=pos[n.node_id][1], text=f"{n.score:.2f}", showarrow=False, yshift=-20,
                  font=dict(size=14, color="#B35900")) for n in shown if n.finished and n.score is not None]
    root_x, root_y = pos[nodes[0].node_id]
    data.append(dict(type="scatter", x=[root_x], y=[root_y], mode="markers+text", text=[label(labels[0], 12)],
                     textposition="bottom center", marker=dict(size=16, color="#333", symbol="square"), showlegend=False,
                     hoverinfo="text", hovertext=[_t("fig.beam_prompt", lang)]))
    data.append(dict(type="scatter", x=[None], y=[None], mode="markers", showlegend=False, hoverinfo="skip",
                     marker=dict(colorscale=BEAM_SCALE, cmin=lo, cmax=0.0, color=[lo], showscale=True,
                                 colorbar=dict(title=dict(text=_t("fig.beam_edge", lang)), thickness=16))))
    total = max(by_step, default=-1) + 1
    view = min(total, max(1, in_view))
    more = _t("fig.beam_more", lang, n=view, total=total) if view < total else ""
    pan = dict(rangeslider=dict(visible=True, thickness=0.12, bgcolor="#F4F4F4")) if view < total else {}
    return _figure(
        data, _t("fig.beam_title", lang, more=more),
        (height or int(np.clip(150 + 46 * rows, 400, 760))) + (90 if pan else 0), margin=dict(l=110, r=30, t=110, b=60),
        annotations=notes, legend=_legend_top(),
        xaxis=_axis(title=_axis_title(_t("fig.beam_x", lang)), range=[-0.6, view + 0.6], dtick=1, zeroline=False,
                    showgrid=False, **pan),
        yaxis=_axis(title=_axis_title(_t("fig.beam_y", lang)), autorange="reversed", showticklabels=False,
                    zeroline=False, showgrid=False),
    )


def beam_figure(beam_result, token_str: Callable[[int], str], length_penalty: float, lang: str = "en") -> go.Figure:
    """``beam_tree`` of a ``playground.beam.BeamResult`` (duck-typed: ``nodes``, ``hypotheses``, ``best``,
    ``path``), its best hypothesis drawn thick; ``token_str`` names a token id. None (no search yet)
    gives a placeholder that says how to start one."""
    b = beam_result
    if b is None:
        return placeholder(_t("fig.press_beam", lang), 400)
    labels = [_t("fig.beam_root", lang)] + [token_str(n.token_id) for n in b.nodes[1:]]
    best = [n.node_id for n in b.path(b.best.node_id)] if b.hypotheses else []
    return beam_tree(b.nodes, labels, [0] + best, length_penalty=length_penalty, lang=lang)
