"""Inside the model: one forward pass, box by box, with the values it really used.

``inside_figures`` draws the whole tab from ``playground.inside``'s results (duck-typed)."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from playground.figures.style import (
    WEIGHT_SCALE, KEPT, CHOSEN, label, _as_array, _check_len, _ticks, _axis, _axis_title, _figure,
)
from playground.figures.inside_walk import (  # noqa: F401  (re-exported: the walkthrough rows)
    INSIDE_COLS, INSIDE_ROWS, LINE, MIN_PLOT_PX, TITLE_TOP, stage_panels, text_em, title_layout, walkthrough_figures,
    with_title, wrap,
)
from playground.i18n import STRINGS, t as _t
from playground.units import fmt_bytes


# -- inside the model ------------------------------------------------------------------------------------
# One forward pass, drawn with the values it really used (playground.inside.walkthrough). Arrays arrive
# as (T, N) rows = positions; long prompts show their last ``max_rows`` positions and wide arrays their
# first ``max_cols`` columns, and every panel title says which (the real shape is always written).
STACK_BOX, STACK_HERE = "#E8EEF6", "#FCE3CC"
PAD, GAP = 6, 16  # px (at MIN_PLOT_PX) on each side of a box's label, and between boxes (the arrow)


def _row(labels: Sequence[str], font: int) -> list[float]:
    """Box widths in px at MIN_PLOT_PX: each fits its label at ``font`` px."""
    return [max(44.0, text_em(t) * font + 2 * PAD) for t in labels]


def _fitting_font(rows: Sequence[Sequence[str]], room: float) -> int:
    """The largest font (14 px down to 9) at which every row of boxes fits ``room`` px."""
    for font in range(14, 8, -1):
        if all(sum(_row(r, font)) + GAP * (len(r) - 1) <= room for r in rows):
            return font
    return 9


def forward_stack(n_layer: int, layer: int, n_head: int, head: int, T: int, C: int, V: int,
                  height: int = 300, lang: str = "en", block: dict | None = None) -> go.Figure:
    """The whole network as one row of boxes, the selected block opened up below it: where the views are.

    Laid out in px of a ``MIN_PLOT_PX``-wide plot: every box is as wide as its label at the chosen font
    (14 px, smaller only when a row would not fit), so no label leaves its box on a plot that wide or wider.
    ``block``: the config's norm / positions / mlp (GPT-2's when None)."""
    if not 0 <= layer < n_layer or not 0 <= head < n_head:
        raise ValueError(f"layer {layer} / head {head} outside {n_layer} layers × {n_head} heads")
    b = {"norm": "layernorm", "positions": "learned", "mlp": "gelu", **(block or {})}
    norm = "RMSNorm" if b["norm"] == "rmsnorm" else "LN"
    rotary = b["positions"] == "rotary"
    blocks = list(range(n_layer)) if n_layer <= 4 else sorted({0, layer, n_layer - 1})  # deep: first, here, last
    top: list[tuple[str, int | None]] = [(_t("in.tokens", lang, T=T), None),
                                         (_t("in.embed_rope" if rotary else "in.embed", lang, C=C), None)]
    for k, blk in enumerate(blocks):
        if k and blk - blocks[k - 1] > 1:
            top.append(("…", None))
        top.append((_t("in.block", lang, b=blk), blk))
    top += [(f"{norm}_f", None), (_t("in.lmhead", lang, V=f"{V:,}"), None), (_t("in.softmax", lang), None)]
    mlp = "SwiGLU<br>C→H→C" if b["mlp"] == "swiglu" else "MLP<br>C→4C→C"
    inner = [f"{norm}₁", _t("in.attention_rope" if rotary else "in.attention", lang, head=head, n=n_head),
             _t("in.residual", lang), f"{norm}₂", mlp, _t("in.residual", lang)]
    room = MIN_PLOT_PX - 20  # the figure's side margins
    font = _fitting_font([[f"<b>{t}</b>" for t, _ in top if t != "…"], inner], room)
    widths = _row([f"<b>{t}</b>" if blk == layer else t for t, blk in top], font)
    shapes, notes = [], []
    x0, here_x, here_w = 0.0, 0.0, 0.0
    for i, ((text, blk), w) in enumerate(zip(top, widths)):
        w = 16.0 if text == "…" else w
        here = blk == layer
        if here:
            here_x, here_w = x0, w
        if text != "…":
            shapes.append(dict(type="rect", x0=x0, x1=x0 + w, y0=1.25, y1=2.0, fillcolor=STACK_HERE if here else STACK_BOX,
                               line=dict(color=CHOSEN if here else "#7A8CA5", width=3 if here else 1)))
        notes.append(dict(text=f"<b>{text}</b>" if here else text, x=x0 + w / 2, y=1.625, showarrow=False,
                          font=dict(size=font)))
        if i:
            notes.append(dict(text="→", x=x0 - GAP / 2, y=1.625, showarrow=False, font=dict(size=16, color="#555")))
        x0 += w + GAP
    span = x0 - GAP
    iws = _row(inner, font)
    inner_w = sum(iws) + GAP * (len(inner) - 1)
    start = min(max(0.0, here_x + here_w / 2 - inner_w / 2), max(0.0, span - inner_w))
    x0 = start
    for j, (text, w) in enumerate(zip(inner, iws)):
        shapes.append(dict(type="rect", x0=x0, x1=x0 + w, y0=0.1, y1=0.8, line=dict(color=CHOSEN, width=1),
                           fillcolor="#FFF6EE"))
        notes.append(dict(text=text, x=x0 + w / 2, y=0.45, showarrow=False, font=dict(size=font)))
        if j:
            notes.append(dict(text="→", x=x0 - GAP / 2, y=0.45, showarrow=False, font=dict(size=16, color="#555")))
        x0 += w + GAP
    for xa, xb in ((here_x, start), (here_x + here_w, x0 - GAP)):  # the opened block fans out to its parts
        shapes.append(dict(type="line", x0=xa, x1=xb, y0=1.25, y1=0.8, line=dict(color=CHOSEN, width=2, dash="dot")))
    span = max(span, x0 - GAP)
    title, lines = title_layout(_t("in.stack_title", lang, layer=layer, n_layer=n_layer, head=head))
    return with_title(_figure([], "", height + TITLE_TOP - 30 + LINE * (lines - 1),
                   margin=dict(l=10, r=10, t=TITLE_TOP + LINE * lines, b=10), annotations=notes, shapes=shapes,
                   dragmode=False,
                   xaxis=dict(visible=False, range=[-4, span + 4], fixedrange=True),
                   yaxis=dict(visible=False, range=[0, 2.1], fixedrange=True)), title)


def output_head(tokens: Sequence[str], ln_final: np.ndarray, top_tokens: Sequence[str], top_logits: np.ndarray,
                top_probs: np.ndarray, V: int, max_rows: int = INSIDE_ROWS, max_cols: int = INSIDE_COLS,
                height: int = 420, lang: str = "en", norm: str = "layernorm") -> go.Figure:
    """⑨ The last step: the final norm (``norm``: the model's own, LayerNorm or RMSNorm), the LM head's
    logits for the last position, softmax.

    Left: the final norm of every position (heatmap); right: the last position's top tokens, bar = probability,
    text = logit (the Next-token tab shows the whole decoding pipeline from here)."""
    x = _as_array(ln_final, "ln_final", 2, dtype=np.float32)
    lg, pr = _as_array(top_logits, "top_logits", 1), _as_array(top_probs, "top_probs", 1)
    if not len(top_tokens) == len(lg) == len(pr):
        raise ValueError("top_tokens, top_logits and top_probs must have the same length")
    _check_len(tokens, x.shape[0], "ln_final")
    T, C = x.shape
    name = "RMSNorm" if norm == "rmsnorm" else "LayerNorm"
    left = stage_panels([dict(name=f"{name}_f(x)", values=x, dim="C")], tokens, "", max_rows, max_cols, lang=lang)
    heat = left.data[0].to_plotly_json() | dict(xaxis="x", yaxis="y")
    names = [f"{i + 1}. {label(t, 20)}" for i, t in enumerate(top_tokens)]
    bars = dict(type="bar", x=pr, y=names, orientation="h", xaxis="x2", yaxis="y2", marker=dict(color=KEPT),
                text=[f"logit {v:.2f}" for v in lg], textposition="auto", textfont=dict(size=14),
                hovertemplate="%{y}<br>p = %{x:.4f}<br>%{text}<extra></extra>")
    cut = _t("in.out_cut", lang, m=max_cols, C=C) if C > max_cols else ""
    start = max(0, T - max_rows)
    title, lines = title_layout(_t("in.out_title", lang, norm=name, T=T, C=C, cut=cut, V=f"{V:,}", n=len(names)))
    return with_title(_figure(
        [heat, bars], "", height + TITLE_TOP - 30 + LINE * (lines - 1),
        margin=dict(l=110, r=30, t=TITLE_TOP + 18 + LINE * lines, b=60),
        xaxis=_axis(domain=[0, 0.4], showgrid=False, zeroline=False, nticks=4),
        yaxis=_axis(autorange="reversed", showgrid=False, zeroline=False,
                    **_ticks(tokens[start:], offset=start, max_ticks=max_rows)),
        xaxis2=_axis(domain=[0.58, 1.0], anchor="y2", range=[0, 1], title=_axis_title(_t("fig.bar_prob", lang))),
        yaxis2=_axis(anchor="x2", autorange="reversed"),
        annotations=[dict(text=_t("in.last_arrow", lang), xref="paper", yref="paper", x=0.49, y=1.0, yanchor="bottom",
                          showarrow=False, font=dict(size=15, color="#555"))]), title)  # above the gap, clear of the bars' names


def logit_lens(layer_names: Sequence[str], tokens: Sequence[str], top_tokens: Sequence[Sequence[str]],
               top_probs: np.ndarray, target_tokens: Sequence[str], target_probs: np.ndarray, resid_norm: np.ndarray,
               max_positions: int = 16, height: int | None = None, lang: str = "en",
               hits: np.ndarray | None = None) -> go.Figure:
    """What each layer would predict if the network stopped there (the model's final norm + LM head on
    its residual stream).

    Left: layers (rows, input at the bottom) × the last ``max_positions`` positions; cell text =
    that layer's top guess for the next token and its probability, which is also the cell's colour
    (the printed number is the colour's value to 2 decimals); ✓ where the guess is the token that
    really came next (``hits`` (n_layer + 1, P) bool; by default: the same readable string). The hover
    adds the probability of that token (``target_tokens``). Right: the residual stream's L2 norm per
    layer (last position, and the mean over positions).

    ``tokens`` and ``resid_norm`` (n_layer + 1, T) cover every position; the lens itself
    (``top_probs``, ``target_probs``, ``top_tokens``, ``target_tokens``) may cover only the last
    P ≤ T of them (the lens costs a V-wide row per layer and position).
    """
    tp = _as_array(top_probs, "top_probs", 2)
    gp = _as_array(target_probs, "target_probs", 2)
    rn = _as_array(resid_norm, "resid_norm", 2)
    L1, P = tp.shape
    T = len(tokens)
    if gp.shape != tp.shape or rn.shape != (L1, T) or P > T:
        raise ValueError(f"top_probs {tp.shape} and target_probs {gp.shape} must match, cover at most the {T} "
                         f"positions, and resid_norm {rn.shape} must be ({L1}, {T})")
    if len(layer_names) != L1 or len(top_tokens) != L1 or any(len(r) != P for r in top_tokens):
        raise ValueError(f"layer_names and top_tokens must be {L1} rows of {P} positions")
    _check_len(target_tokens, P, "top_probs")
    first = T - P  # the lens's first position
    start = max(first, T - max_positions)
    cols = range(start, T)
    if hits is None:
        hits = np.array([[top_tokens[l][j] == target_tokens[j] for j in range(P)] for l in range(L1)])
    hit = _as_array(hits, "hits", 2, dtype=bool)
    if hit.shape != tp.shape:
        raise ValueError(f"hits must be {tp.shape}; got {hit.shape}")
    z = tp[:, start - first:]  # the colour of each cell: p of its guess
    text = [[f"{label(top_tokens[l][t - first], 8)}<br>{z[l, t - start]:.2f}{' ✓' if hit[l, t - first] else ''}"
             for t in cols] for l in range(L1)]  # the guess, and below it the p its colour shows
    hover = [[_t("in.lens_hover", lang, layer=layer_names[l], t=t, tok=label(tokens[t], 20),
                 guess=label(top_tokens[l][t - first], 20), p=f"{tp[l, t - first]:.3f}",
                 next=label(target_tokens[t - first], 20), q=f"{gp[l, t - first]:.3f}")
              for t in cols] for l in range(L1)]
    y = np.arange(L1)
    data = [dict(type="heatmap", z=z, x=np.arange(start, T), y=y, text=text, texttemplate="%{text}",
                 textfont=dict(size=14), hovertext=hover, hovertemplate="%{hovertext}<extra></extra>", zmin=0.0,
                 zmax=1.0, colorscale=WEIGHT_SCALE, xgap=1, ygap=1,
                 colorbar=dict(title=dict(text="p", side="top"), thickness=14, x=0.71, len=0.9)),
            dict(type="scatter", x=rn[:, -1], y=y, xaxis="x2", mode="lines+markers", name=_t("in.last_position", lang),
                 line=dict(color=CHOSEN, width=3), marker=dict(size=9),
                 hovertemplate=_t("in.norm_hover", lang, which=_t("in.last_position", lang))),
            dict(type="scatter", x=rn.mean(axis=1), y=y, xaxis="x2", mode="lines+markers", name=_t("in.mean_positions", lang),
                 line=dict(color=KEPT, width=2, dash="dot"), marker=dict(size=7),
                 hovertemplate=_t("in.norm_hover", lang, which=_t("in.mean_positions", lang)))]
    shown = _t("in.all_pos", lang, T=T) if start == 0 else _t("in.last_pos", lang, rows=T - start, T=T)
    xt = [f"{label(tokens[t], 8)}<br>→{label(target_tokens[t - first], 8)}" for t in cols]
    title, lines = title_layout(_t("in.lens_title", lang, shown=shown))
    return with_title(_figure(
        data, "", (height or int(np.clip(250 + 48 * L1, 420, 820))) + TITLE_TOP - 30 + LINE * (lines - 2),
        margin=dict(l=90, r=20, t=TITLE_TOP + 16 + LINE * lines, b=150),
        legend=dict(x=1, xanchor="right", y=0, yref="container", yanchor="bottom", orientation="h", font=dict(size=14)),
        xaxis=_axis(domain=[0, 0.7], tickmode="array", tickvals=list(cols), ticktext=xt, showgrid=False, zeroline=False),
        yaxis=_axis(tickmode="array", tickvals=list(y), ticktext=[label(n, 12) for n in layer_names], showgrid=False,
                    zeroline=False, range=[-0.5, L1 - 0.5]),
        xaxis2=_axis(domain=[0.8, 1.0], anchor="y", title=_axis_title(_t("in.norm", lang)), rangemode="tozero")), title)


def param_counts(components: dict[str, int], total: int, total_untied: int, tied: bool, kv_bytes_per_token: int,
                 kv_formula: str = "", height: int = 420, lang: str = "en") -> go.Figure:
    """Where the parameters are, per component, with the totals with and without weight tying, and
    what one more token costs in the KV cache (memory that grows with the text, not the model)."""
    names = list(components)
    counts = np.array([components[n] for n in names], dtype=np.int64)
    if (counts < 0).any() or total < 0 or total_untied < total:
        raise ValueError("parameter counts must be non-negative and the untied total at least the tied one")
    if int(counts.sum()) != total:
        raise ValueError(f"the components add up to {int(counts.sum()):,}, not the total {total:,}")
    text = [f"{c:,} ({c / max(1, total):.1%})" for c in counts]
    if tied and "head" in components:
        text[names.index("head")] = _t("in.tied_head", lang)
    shown = [_t(f"in.comp.{n}", lang) if f"in.comp.{n}" in STRINGS else n for n in names]  # the engine's group names
    data = [dict(type="bar", x=counts, y=shown, orientation="h", text=text, textposition="outside",
                 textfont=dict(size=14), marker=dict(color=KEPT), cliponaxis=False,
                 hovertemplate=_t("in.params_hover", lang))]
    saving = total_untied - total
    tie = (_t("in.tie", lang, total=f"{total:,}", untied=f"{total_untied:,}", saving=f"{saving:,}") if tied
           else _t("in.notie", lang, total=f"{total:,}", tied=f"{total - components.get('head', 0):,}"))
    kv = _t("in.kv", lang, b=_fmt_count_bytes(kv_bytes_per_token, lang)) + (f"<br>= {kv_formula}" if kv_formula else "")
    kv = wrap(kv, 14, MIN_PLOT_PX - 130)  # from the plot area's left edge (110 px in) to the figure's right one
    foot = 110 + 20 * (kv.count("<br>") + 1)  # px below the plot: the axis title, then this note
    plot_h = max(1, (height or 420) - 70 - foot)
    note = dict(text=kv, xref="paper", yref="paper", x=0, y=-75 / plot_h, xanchor="left", yanchor="top",
                align="left", showarrow=False, font=dict(size=14))  # 75 px below the axis, clear of its title
    title, lines = title_layout(tie)
    return with_title(_figure(data, "", height + TITLE_TOP - 30 + LINE * (lines - 1), annotations=[note],
                   margin=dict(l=110, r=40, t=TITLE_TOP + 18 + LINE * lines, b=foot),
                   xaxis=_axis(title=_axis_title(_t("in.params", lang)),
                               range=[0, 1.6 * max(1, int(counts.max(initial=1)))]),
                   yaxis=_axis(autorange="reversed")), title)


def _fmt_count_bytes(n: int, lang: str = "en") -> str:
    """"1.5 KiB (1,536 bytes)"; below 1 KiB just "512 bytes"."""
    n_bytes = _t("in.n_bytes", lang, n=f"{n:,}")
    return n_bytes if n < 1024 else f"{fmt_bytes(n)} ({n_bytes})"


# -- engine results -> figures ----------------------------------------------------------------------------
def counts_figure(counts, kv_formula: str, lang: str = "en") -> go.Figure:
    """``param_counts`` of a ``playground.inside.ParamCounts`` (duck-typed); ``kv_formula``: one token's KV bytes."""
    return param_counts(counts.components, counts.total, counts.total_untied, counts.tied, counts.kv_bytes_per_token,
                        kv_formula, lang=lang)


def inside_figures(walk, counts, kv_formula: str, n_layer: int, n_head: int, layer: int, head: int,
                   lang: str = "en") -> list[go.Figure]:
    """The "Inside the model" tab's figures, in page order, from a ``playground.inside.Walkthrough``
    (``walk``) and ``ParamCounts`` (``counts``), both duck-typed: the stack, the eight walkthrough
    rows, the output head, the logit lens and the parameter counts."""
    d, s, lens, block = walk.dims, walk.stages, walk.lens, walk.block
    figs = [forward_stack(n_layer, layer, n_head, head, d["T"], d["C"], d["V"], lang=lang, block=block)]
    figs += walkthrough_figures(walk.tokens, s, d, layer, head, lang=lang, block=block)
    figs.append(output_head(walk.tokens, s["ln_final"], walk.top_tokens, s["logits"][-1][walk.top_ids], walk.top_probs,
                            d["V"], lang=lang, norm=block.get("norm", "layernorm")))
    names = [_t("in.lens_embed", lang)] + [_t("in.block", lang, b=i) for i in range(len(lens.layer_names) - 1)]
    figs.append(logit_lens(names, walk.tokens, lens.top_tokens, lens.top_probs, lens.target_tokens,
                           lens.target_probs, lens.resid_norm, lang=lang,
                           hits=np.asarray(lens.top_ids) == np.asarray(lens.target_ids)[None]))
    figs.append(counts_figure(counts, kv_formula, lang))
    return figs
