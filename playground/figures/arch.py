"""The Architecture tab: parameters per component, KV memory vs context, two blocks side by side, RoPE.

Every figure takes plain data: component counts, bytes per position, a shape as a dict of
``arch.Shape``'s fields, an angle table, two score grids. ``blocks_side_by_side`` draws each model's
block as a column of boxes, row by row the same parts, and colours the parts whose kind differs.
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from playground.figures.style import (
    CHOSEN, SCORE_SCALE, _axis, _axis_title, _figure, _legend_top, _ticks, label,
)
from playground.i18n import t as _t
from playground.units import byte_unit

COMPONENT_COLOURS = {"embeddings": "#4C78A8", "attention": "#F58518", "mlp": "#54A24B", "norms": "#B279A2",
                     "head": "#9D755D"}
LINE_COLOURS = ("#4C78A8", "#E45756", "#54A24B", "#B279A2", "#F58518", "#72B7B2", "#9D755D", "#EECA3B")
PHASE_SCALE = [[0.0, "#2F4B7C"], [0.25, "#A05195"], [0.5, "#F9F871"], [0.75, "#3FB0A4"], [1.0, "#2F4B7C"]]  # cyclic
DASHES = ("solid", "dash", "dashdot", "longdash")  # two models with the same cache per position still show both lines
DIFF_FILL, SAME_FILL, NONE_FILL = "#FDE3C8", "#EAF1F8", "#F4F4F4"


# -- the calculator ---------------------------------------------------------------------------------
def param_components(names: Sequence[str], components: Sequence[Mapping[str, int]], totals: Sequence[int],
                     tied: Sequence[bool], height: int | None = None, lang: str = "en") -> go.Figure:
    """One bar per model, split into its components as shares of its parameters (100 % each); the total
    and tied / untied head are written beside the model's name."""
    if not len(names) == len(components) == len(totals) == len(tied) or not names:
        raise ValueError("names, components, totals and tied must have one entry per model (at least one)")
    ys = [f"<b>{label(n, 24)}</b><br>{_count(tot)} · {_t('arch.tied' if t else 'arch.untied', lang)}"
          for n, tot, t in zip(names, totals, tied)]
    data = []
    for part, colour in COMPONENT_COLOURS.items():
        counts = np.array([c.get(part, 0) for c in components], dtype=float)
        share = 100 * counts / np.maximum(np.array(totals, dtype=float), 1)
        data.append(dict(type="bar", orientation="h", y=ys, x=share, name=_t(f"arch.part.{part}", lang),
                         marker=dict(color=colour), customdata=np.stack([counts, share], -1),
                         text=[f"{s:.0f} %" if s >= 6 else "" for s in share], textposition="inside",
                         insidetextanchor="middle",
                         hovertemplate=_t("arch.part_hover", lang, part=_t(f"arch.part.{part}", lang))))
    h = height or 150 + 62 * len(names)
    return _figure(data, _t("arch.params_title", lang), h, barmode="stack", legend=_legend_top(),
                   margin=dict(l=10, r=30, t=90, b=55),
                   xaxis=_axis(title=_axis_title(_t("arch.share", lang)), range=[0, 100], ticksuffix=" %"),
                   yaxis=_axis(autorange="reversed"))


def _count(n: int) -> str:
    """1,234,567,890 -> "1.23 B"; 124,439,808 -> "124.4 M"."""
    for size, unit in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if n >= size:
            return f"{n / size:.3g} {unit}" if n >= 1e9 else f"{n / size:.1f} {unit}"
    return f"{n:,}"


def kv_memory(names: Sequence[str], bytes_per_position: Sequence[int], context: int, windows: Sequence[int],
              weight_bytes: Sequence[int] | None = None, height: int = 440, lang: str = "en") -> go.Figure:
    """KV-cache memory vs context length for each model, a straight line (the cache grows by the same bytes per
    position) up to its context window or the chosen ``context``, whichever is further; the chosen ``context``
    is marked, and each model's weights (dotted) are drawn for scale."""
    if not len(names) == len(bytes_per_position) == len(windows) or not names:
        raise ValueError("names, bytes_per_position and windows must have one entry per model (at least one)")
    if context < 0 or min(windows) < 1 or min(bytes_per_position) < 0:
        raise ValueError("context must be ≥ 0, windows ≥ 1 and bytes_per_position ≥ 0")
    ends = [max(w, context) for w in windows]
    right = max(ends)
    top = max(max(b * e for b, e in zip(bytes_per_position, ends)), 1)
    scale, unit = byte_unit(top)
    data = []
    for k, (name, bpp, end) in enumerate(zip(names, bytes_per_position, ends)):
        colour = LINE_COLOURS[k % len(LINE_COLOURS)]
        x = np.linspace(0, end, 65)
        data.append(dict(type="scatter", x=x, y=x * bpp / scale, mode="lines", name=label(name, 24),
                         line=dict(color=colour, width=3, dash=DASHES[k % len(DASHES)]),
                         hovertemplate=_t("arch.kv_hover", lang, unit=unit, name=label(name, 24))))
        data.append(dict(type="scatter", x=[context], y=[context * bpp / scale], mode="markers", showlegend=False,
                         marker=dict(color=colour, size=11, line=dict(color="#222", width=1)), hoverinfo="skip"))
        if weight_bytes is not None and weight_bytes[k] <= 1.5 * top:
            data.append(dict(type="scatter", x=[0, right], y=[weight_bytes[k] / scale] * 2, mode="lines", showlegend=False,
                             line=dict(color=colour, width=1.5, dash="dot"),
                             hovertemplate=_t("arch.weights_hover", lang, name=label(name, 24), unit=unit)))
    shapes = [dict(type="line", xref="x", yref="paper", x0=context, x1=context, y0=0, y1=1,
                   line=dict(color=CHOSEN, width=2, dash="dash"))]
    notes = [dict(text=_t("arch.kv_context", lang, n=f"{context:,}"), xref="x", yref="paper", x=context, y=1,
                  xanchor="left" if context < 0.7 * right else "right", yanchor="top", showarrow=False,
                  font=dict(size=14, color=CHOSEN), bgcolor="rgba(255,255,255,0.85)")]
    return _figure(data, _t("arch.kv_title", lang), height, annotations=notes, shapes=shapes, legend=_legend_top(),
                   xaxis=_axis(title=_axis_title(_t("arch.kv_x", lang)), range=[0, right * 1.02]),
                   yaxis=_axis(title=_axis_title(_t("arch.kv_y", lang, unit=unit)), rangemode="tozero"))


# -- two blocks side by side ------------------------------------------------------------------------
ROWS = ("head", "final_norm", "residual2", "mlp", "norm2", "residual1", "attention", "rope", "norm1", "positions",
        "embedding")  # top to bottom, as a block diagram is read upwards
IN_BLOCK = ("residual2", "mlp", "norm2", "residual1", "attention", "rope", "norm1")


def block_rows(s: Mapping, lang: str = "en") -> dict[str, tuple[str, str | None]]:
    """Each row's (text, kind) for one model's shape (``arch.Shape`` fields); kind None = the row is empty."""
    C, I, V = s["n_embd"], s["intermediate_size"], s["vocab_size"]
    norm = _t("arch.box.layernorm" if s["norm"] == "layernorm" else "arch.box.rmsnorm", lang)
    H, K = s["n_head"], s["n_kv_head"]
    attn_kind = "mha" if K == H else "mqa" if K == 1 else "gqa"
    rotary = s["positions"] == "rotary"
    return {
        "embedding": (_t("arch.box.embedding", lang, V=f"{V:,}", C=f"{C:,}"), "embedding"),
        "positions": (_t("arch.box.wpe", lang, P=f"{s['context']:,}", C=f"{C:,}"), "learned") if not rotary
        else (_t("arch.box.no_wpe", lang), None),
        "norm1": (norm, s["norm"]),
        "rope": (_t("arch.box.rope", lang, theta=f"{s['rope_theta']:,.0f}"), "rotary") if rotary
        else (_t("arch.box.no_rope", lang), None),
        "attention": (_t(f"arch.box.{attn_kind}", lang, H=H, K=K, d=s["head_dim"]) +
                      (_t("arch.box.qkv_bias", lang) if s["qkv_bias"] else ""), attn_kind),
        "residual1": (_t("arch.box.residual", lang), "residual"),
        "norm2": (norm, s["norm"]),
        "mlp": (_t(f"arch.box.{s['mlp']}", lang, C=f"{C:,}", I=f"{I:,}"), s["mlp"]),
        "residual2": (_t("arch.box.residual", lang), "residual"),
        "final_norm": (_t("arch.box.final", lang, norm=norm), s["norm"]),
        "head": (_t("arch.box.tied" if s["tied"] else "arch.box.untied", lang, V=f"{V:,}", C=f"{C:,}"),
                 "tied" if s["tied"] else "untied"),
    }


def blocks_side_by_side(a: Mapping, b: Mapping, name_a: str, name_b: str, height: int = 800,
                        lang: str = "en") -> go.Figure:
    """Two models' decoders as columns of boxes (input at the bottom); a part whose kind differs
    (LayerNorm vs RMSNorm, learned vs rotary positions, MHA vs GQA, GELU vs SwiGLU, tied vs untied) is orange."""
    rows_a, rows_b = block_rows(a, lang), block_rows(b, lang)
    n = len(ROWS)
    shapes, notes = [], []
    y_of = {r: 1 - (i + 0.5) / n for i, r in enumerate(ROWS)}
    box_h = 0.8 / n
    for x0, x1, rows, s in ((0.0, 0.4, rows_a, a), (0.52, 0.92, rows_b, b)):
        other_rows = rows_b if rows is rows_a else rows_a
        for r in ROWS:
            text, kind = rows[r]
            differs = kind != other_rows[r][1]
            fill = NONE_FILL if kind is None else DIFF_FILL if differs else SAME_FILL
            edge = "#BBBBBB" if kind is None else CHOSEN if differs else "#4C78A8"
            y = y_of[r]
            shapes.append(dict(type="rect", xref="paper", yref="paper", x0=x0, x1=x1, y0=y - box_h / 2, y1=y + box_h / 2,
                               fillcolor=fill, line=dict(color=edge, width=2.5 if differs else 1.2,
                                                         dash="dot" if kind is None else "solid")))
            notes.append(dict(text=text, xref="paper", yref="paper", x=(x0 + x1) / 2, y=y, xanchor="center",
                              yanchor="middle", showarrow=False,
                              font=dict(size=14, color="#888" if kind is None else "#222")))
        top, bottom = y_of[IN_BLOCK[0]] + box_h / 2 + 0.01, y_of[IN_BLOCK[-1]] - box_h / 2 - 0.01
        shapes.append(dict(type="rect", xref="paper", yref="paper", x0=x0 - 0.008, x1=x1 + 0.008, y0=bottom, y1=top,
                           line=dict(color="#555", width=1.5, dash="dash"), fillcolor="rgba(0,0,0,0)"))
        notes.append(dict(text=_t("arch.box.repeat", lang, L=s["n_layer"]), xref="paper", yref="paper", x=x1 + 0.015,
                          y=(top + bottom) / 2, xanchor="left", yanchor="middle", showarrow=False,
                          font=dict(size=15, color="#555")))
        notes.append(dict(text=f"<b>{label(name_a if rows is rows_a else name_b, 40)}</b>", xref="paper", yref="paper",
                          x=(x0 + x1) / 2, y=1.0, xanchor="center", yanchor="bottom", showarrow=False, font=dict(size=17)))
    return _figure([], _t("arch.blocks_title", lang), height, annotations=notes, shapes=shapes,
                   margin=dict(l=10, r=10, t=80, b=10), xaxis=dict(visible=False, range=[0, 1]),
                   yaxis=dict(visible=False, range=[0, 1]))


# -- RoPE -------------------------------------------------------------------------------------------
def rope_angles_heatmap(angles: np.ndarray, head_dim: int, theta: float, source: str, height: int = 460,
                        lang: str = "en") -> go.Figure:
    """The angle (wrapped to [0, 2π), a cyclic scale) by which each dimension pair turns at each position:
    the first pairs spin every few tokens, the last ones barely move over the whole context."""
    a = np.asarray(angles, dtype=float)
    if a.ndim != 2 or a.shape[1] != head_dim // 2:
        raise ValueError(f"angles must be (positions, head_dim/2 = {head_dim // 2}); got shape {a.shape}")
    period = 2 * math.pi / a[1] if len(a) > 1 else np.full(a.shape[1], np.inf)  # (hs/2,) positions per turn
    z = np.mod(a, 2 * math.pi).T  # (hs/2, P)
    custom = np.stack([a.T, np.broadcast_to(period[:, None], z.shape)], -1)
    data = [dict(type="heatmap", z=z, x=np.arange(a.shape[0]), y=np.arange(a.shape[1]), colorscale=PHASE_SCALE, zmin=0,
                 zmax=2 * math.pi, customdata=custom, hovertemplate=_t("arch.rope_hover", lang),
                 colorbar=dict(title=dict(text=_t("arch.rope_bar", lang)), tickvals=[0, math.pi, 2 * math.pi],
                               ticktext=["0", "π", "2π"]))]
    title = _t("arch.rope_title", lang, d=head_dim, theta=f"{theta:,.0f}", source=label(source, 40))
    return _figure(data, title, height, xaxis=_axis(title=_axis_title(_t("arch.rope_x", lang))),
                   yaxis=_axis(title=_axis_title(_t("arch.rope_y", lang)), autorange="reversed",
                               dtick=max(1, a.shape[1] // 8)))


def shift_scores(scores: np.ndarray, shifted: np.ndarray, tokens: Sequence[str], shift: int, layer: int, head: int,
                 max_diff: float, max_diff_all: float, positions: str, height: int = 520, lang: str = "en") -> go.Figure:
    """One head's scores QKᵀ/√d over the same tokens at positions 0.. (left) and shift.. (right), on one
    colour scale; the title gives max |Δ| of this head and of every head."""
    s, t = np.asarray(scores, dtype=float), np.asarray(shifted, dtype=float)
    T = len(tokens)
    if s.shape != (T, T) or t.shape != (T, T):
        raise ValueError(f"scores and shifted must be ({T}, {T}) for {T} tokens; got {s.shape} and {t.shape}")
    lim = float(np.nanmax(np.abs(np.concatenate([s, t])))) if T else 1.0
    data, axes, notes = [], {}, []
    for k, (z, start) in enumerate(((s, 0), (t, shift))):
        xa, ya = ("x", "y") if k == 0 else ("x2", "y2")
        data.append(dict(type="heatmap", z=z, xaxis=xa, yaxis=ya, colorscale=SCORE_SCALE, zmin=-lim, zmax=lim,
                         showscale=k == 1, hoverongaps=False,
                         customdata=np.broadcast_to(np.arange(T)[None, :] + start, (T, T)),
                         hovertemplate=_t("arch.shift_hover", lang),
                         colorbar=dict(title=dict(text=_t("arch.score", lang)), x=1.0, len=0.8)))
        dom = [0.0, 0.44] if k == 0 else [0.52, 0.96]
        axes["xaxis" if k == 0 else "xaxis2"] = _axis(domain=dom, anchor=ya, tickangle=-50, showgrid=False, zeroline=False,
                                                      **_ticks(tokens))
        axes["yaxis" if k == 0 else "yaxis2"] = _axis(domain=[0, 0.86], anchor=xa, autorange="reversed", showgrid=False,
                                                      zeroline=False, **_ticks(tokens))
        notes.append(dict(text=_t("arch.shift_panel", lang, a=start, b=start + T - 1), xref="paper", yref="paper",
                          x=sum(dom) / 2, y=0.88, yanchor="bottom", showarrow=False, font=dict(size=15)))
    verdict = _t("arch.shift_same" if positions == "rotary" else "arch.shift_differ", lang)
    title = _t("arch.shift_title", lang, layer=layer, head=head, N=shift, d=f"{max_diff:.2g}", all=f"{max_diff_all:.2g}",
               verdict=verdict)
    return _figure(data, title, height, annotations=notes, margin=dict(l=70, r=30, t=110, b=80), **axes)
