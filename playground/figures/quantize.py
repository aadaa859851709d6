"""Quantisation: the next-token bars of fp32 and the quantised model side by side, and what it costs and saves
(weight memory, ms per token). Pure functions of plain data; ``quantize_figures`` picks the fields of an engine
report (``playground.quantize.QuantReport``)."""
from __future__ import annotations

from typing import Sequence

import plotly.graph_objects as go

from playground.figures.style import KEPT, CHOSEN, _axis, _axis_title, _figure, _legend_top, label
from playground.i18n import t as _t
from playground.units import byte_unit


def quant_bars(tokens: Sequence[str], fp32: Sequence[float], quant: Sequence[float], bits: int,
               lang: str = "en") -> go.Figure:
    """The likeliest next tokens under fp32, with each model's probability of them."""
    if not len(tokens) == len(fp32) == len(quant) or not tokens:
        raise ValueError("tokens, fp32 and quant need the same, non-zero length")
    names = [label(repr(t)[1:-1]) for t in tokens]
    x = list(range(len(tokens)))
    data = [dict(type="bar", x=x, y=list(fp32), name="fp32", marker=dict(color=KEPT),
                 hovertemplate="fp32 %{y:.4f}<extra></extra>"),
            dict(type="bar", x=x, y=list(quant), name=f"int{bits}", marker=dict(color=CHOSEN),
                 hovertemplate=f"int{bits} " + "%{y:.4f}<extra></extra>")]
    return _figure(data, _t("fig.quant_bars", lang, name=f"int{bits}"), 380, barmode="group", legend=_legend_top(),
                   xaxis=_axis(tickmode="array", tickvals=x, ticktext=names,
                               title=_axis_title(_t("fig.quant_token", lang))),
                   yaxis=_axis(title=_axis_title(_t("fig.quant_prob", lang)), rangemode="tozero"))


def quant_costs(names: Sequence[str], weight_bytes: Sequence[int], ms: Sequence[float], lang: str = "en") -> go.Figure:
    """Two panels: weight memory and ms per decoded token of each variant (fp32 first)."""
    if not len(names) == len(weight_bytes) == len(ms) or not names:
        raise ValueError("names, weight_bytes and ms need the same, non-zero length")
    scale, unit = byte_unit(max(weight_bytes))
    colours = [KEPT] + [CHOSEN] * (len(names) - 1)
    mb = [b / scale for b in weight_bytes]
    data = [dict(type="bar", x=list(names), y=mb, marker=dict(color=colours), xaxis="x", yaxis="y", showlegend=False,
                 text=[f"{v:.1f} {unit}" for v in mb], textposition="outside", hoverinfo="skip"),
            dict(type="bar", x=list(names), y=list(ms), marker=dict(color=colours), xaxis="x2", yaxis="y2",
                 showlegend=False, text=[f"{v:.2f} ms" for v in ms], textposition="outside", hoverinfo="skip")]
    heads = [dict(text=_t("fig.quant_memory", lang, unit=unit), x=0.22, xanchor="center", y=1.02, yanchor="bottom",
                  xref="paper", yref="paper", showarrow=False, font=dict(size=15)),
             dict(text=_t("fig.quant_ms", lang), x=0.78, xanchor="center", y=1.02, yanchor="bottom",
                  xref="paper", yref="paper", showarrow=False, font=dict(size=15))]
    return _figure(data, _t("fig.quant_costs", lang), 340, annotations=heads, margin=dict(l=60, r=20, t=90, b=40),
                   xaxis=_axis(domain=[0, 0.44]), yaxis=_axis(rangemode="tozero", range=[0, max(mb) * 1.25]),
                   xaxis2=_axis(domain=[0.56, 1], anchor="y2"),
                   yaxis2=_axis(anchor="x2", rangemode="tozero", range=[0, max(ms) * 1.25]))


def quantize_figures(report, lang: str = "en") -> tuple[go.Figure, go.Figure]:
    """(bars, costs) of a ``QuantReport``."""
    bars = quant_bars(report.tokens, report.fp32_probs, report.quant_probs, report.bits, lang)
    costs = quant_costs(["fp32", f"int{report.bits}"], [report.fp32_bytes, report.quant_bytes],
                        [report.fp32_ms, report.quant_ms], lang)
    return bars, costs
