"""Speculative decoding: every round's drafted, accepted, rejected and target tokens, and the measured speedup
beside the paper's formula (Leviathan et al. 2023). Pure functions of plain data; the adapter
``speculative_figures`` picks the fields of an engine report (``playground.speculative.SpeedReport``)."""
from __future__ import annotations

from typing import Sequence

import plotly.graph_objects as go

from playground.figures.style import _axis, _axis_title, _figure, _legend_top, label
from playground.i18n import t as _t

# cell kinds, in the order of their colours: accepted draft, rejected draft, draft never checked (after a
# rejection), the target's correction, the target's bonus token
KINDS = ("accepted", "rejected", "unchecked", "correction", "bonus")
KIND_COLOURS = ("#54A24B", "#E45756", "#D9D9D9", "#F58518", "#4C78A8")
MAX_ROUNDS = 24  # rounds drawn (the summary counts them all)


def round_cells(drafted: Sequence[Sequence[str]], accepted: Sequence[int], target: Sequence[str],
                bonus: Sequence[bool]) -> list[list[tuple[str, str]]]:
    """Per round, its cells left to right: (kind, token) for each drafted token, then the target's token."""
    if not len(drafted) == len(accepted) == len(target) == len(bonus):
        raise ValueError("drafted, accepted, target and bonus need one entry per round")
    rows = []
    for toks, a, tok, b in zip(drafted, accepted, target, bonus):
        if not 0 <= a <= len(toks) or b != (a == len(toks)):
            raise ValueError(f"a round accepted {a} of {len(toks)} drafted tokens but says bonus={b}")
        kinds = ["accepted"] * a + (["rejected"] if a < len(toks) else []) + ["unchecked"] * max(0, len(toks) - a - 1)
        rows.append(list(zip(kinds, toks)) + [("bonus" if b else "correction", tok)])
    return rows


def speculative_rounds(drafted: Sequence[Sequence[str]], accepted: Sequence[int], target: Sequence[str],
                       bonus: Sequence[bool], k: int, lang: str = "en", title: str = "") -> go.Figure:
    """One row per round (first at the top): k draft cells, then the target's token in the last column."""
    rows = round_cells(drafted, accepted, target, bonus)[:MAX_ROUNDS]
    data = [dict(type="scatter", x=[None], y=[None], mode="markers", name=_t(f"fig.spec_{kind}", lang),
                 marker=dict(symbol="square", size=16, color=colour)) for kind, colour in zip(KINDS, KIND_COLOURS)]
    shapes, notes = [], []
    for r, cells in enumerate(rows):
        for j, (kind, tok) in enumerate(cells):
            x = k if j == len(cells) - 1 else j  # the target's token sits in the last column
            colour = KIND_COLOURS[KINDS.index(kind)]
            shapes.append(dict(type="rect", x0=x - 0.46, x1=x + 0.46, y0=r - 0.4, y1=r + 0.4, fillcolor=colour,
                               line=dict(width=0), layer="below"))
            notes.append(dict(x=x, y=r, text=label(repr(tok)[1:-1], 10), showarrow=False,
                              font=dict(size=14, color="#111" if kind == "unchecked" else "white")))
    ticks = [_t("fig.spec_draft_col", lang, i=i + 1) for i in range(k)] + [_t("fig.spec_target_col", lang)]
    height = 170 + 40 * max(1, len(rows))
    legend = dict(orientation="h", x=0, xanchor="left", y=-0.02, yanchor="top", font=dict(size=14))  # below the rows
    return _figure(data, title or _t("fig.spec_rounds", lang), height, annotations=notes, shapes=shapes,
                   legend=legend, margin=dict(l=90, r=20, t=90, b=80),
                   xaxis=_axis(tickmode="array", tickvals=list(range(k + 1)), ticktext=ticks, range=[-0.6, k + 0.6],
                               side="top", showgrid=False, zeroline=False),
                   yaxis=_axis(tickmode="array", tickvals=list(range(len(rows))),
                               ticktext=[_t("fig.spec_round", lang, r=r + 1) for r in range(len(rows))],
                               range=[len(rows) - 0.5, -0.5], showgrid=False, zeroline=False))


def speculative_speedup(alphas: Sequence[float], curve: Sequence[float], alpha: float, measured: float,
                        expected: float, k: int, c: float, lang: str = "en") -> go.Figure:
    """The formula's speedup over α for this k and c (line), 1× (plain decoding), the measured run and the
    formula at the measured α (points)."""
    if len(alphas) != len(curve) or len(alphas) < 2:
        raise ValueError("alphas and curve must be two or more matching points")
    data = [
        dict(type="scatter", x=list(alphas), y=list(curve), mode="lines", line=dict(color="#4C78A8", width=3),
             name=_t("fig.spec_formula", lang, k=k, c=f"{c:.2f}"), hovertemplate=_t("fig.spec_formula_hover", lang)),
        dict(type="scatter", x=[0, 1], y=[1, 1], mode="lines", line=dict(color="#888", dash="dash", width=2),
             name=_t("fig.spec_plain", lang), hoverinfo="skip"),
        dict(type="scatter", x=[alpha], y=[expected], mode="markers", marker=dict(size=14, color="#4C78A8",
             symbol="circle-open", line=dict(width=3)), name=_t("fig.spec_expected", lang, x=f"{expected:.2f}"),
             hovertemplate=_t("fig.spec_point_hover", lang)),
        dict(type="scatter", x=[alpha], y=[measured], mode="markers", marker=dict(size=14, color="#F58518",
             symbol="diamond"), name=_t("fig.spec_measured", lang, x=f"{measured:.2f}"),
             hovertemplate=_t("fig.spec_point_hover", lang)),
    ]
    top = max(max(curve), measured, expected, 1.0) * 1.15
    title = _t("fig.spec_speed_title", lang, m=f"{measured:.2f}", e=f"{expected:.2f}", a=f"{alpha:.2f}")
    return _figure(data, title, 400, legend=_legend_top(), margin=dict(l=70, r=30, t=110, b=60),
                   xaxis=_axis(title=_axis_title(_t("fig.spec_alpha", lang)), range=[0, 1]),
                   yaxis=_axis(title=_axis_title(_t("fig.spec_speedup", lang)), range=[0, top]))


def speculative_figures(report, decode, lang: str = "en") -> tuple[go.Figure, go.Figure]:
    """(rounds, speedup) of a ``SpeedReport``; ``decode(id) -> str`` names the tokens."""
    r = report.result
    rounds = r.rounds
    title = _t("fig.spec_rounds_title", lang, n=len(rounds), shown=min(len(rounds), MAX_ROUNDS), a=r.accepted,
               d=r.drafted, f=f"{r.target_forwards_per_token:.2f}")
    fig = speculative_rounds([[decode(x) for x in rd.drafted] for rd in rounds], [rd.accepted for rd in rounds],
                             [decode(rd.token) for rd in rounds], [rd.bonus for rd in rounds], r.k, lang, title)
    alphas, curve = report.formula_curve()
    speed = speculative_speedup(alphas, curve, r.acceptance_rate, report.measured_speedup, report.expected_speedup,
                                r.k, report.cost_ratio, lang)
    return fig, speed
