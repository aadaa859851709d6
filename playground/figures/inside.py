"""Inside the model: one forward pass, box by box, with the values it really used.

``inside_figures`` draws the whole tab from ``playground.inside``'s results (duck-typed)."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from playground.figures.style import (
    WEIGHT_SCALE, SCORE_SCALE, KEPT, CHOSEN, label, _as_array, _check_len, _ticks, _axis, _axis_title, _figure,
)
from playground.i18n import STRINGS, t as _t
from playground.units import fmt_bytes


# -- inside the model ------------------------------------------------------------------------------------
# One forward pass, drawn with the values it really used (playground.inside.walkthrough). Arrays arrive
# as (T, N) rows = positions; long prompts show their last ``max_rows`` positions and wide arrays their
# first ``max_cols`` columns, and every panel title says which (the real shape is always written).
INSIDE_ROWS, INSIDE_COLS = 32, 64
STACK_BOX, STACK_HERE = "#E8EEF6", "#FCE3CC"


def forward_stack(n_layer: int, layer: int, n_head: int, head: int, T: int, C: int, V: int,
                  height: int = 270, lang: str = "en") -> go.Figure:
    """The whole network as one row of boxes, the selected block opened up below it: where the views are."""
    if not 0 <= layer < n_layer or not 0 <= head < n_head:
        raise ValueError(f"layer {layer} / head {head} outside {n_layer} layers × {n_head} heads")
    if n_layer <= 12:
        blocks = list(range(n_layer))
    else:  # keep the row readable for deep models: first, selected, last, with gaps
        blocks = sorted({0, layer, n_layer - 1})
    top: list[tuple[str, int | None]] = [(_t("in.tokens", lang, T=T), None), (_t("in.embed", lang, C=C), None)]
    for k, b in enumerate(blocks):
        if k and b - blocks[k - 1] > 1:
            top.append(("…", None))
        top.append((_t("in.block", lang, b=b), b))
    top += [("LN_f", None), (_t("in.lmhead", lang, V=f"{V:,}"), None), (_t("in.softmax", lang), None)]
    shapes, notes = [], []
    w, gap = 1.0, 0.35
    here_x = 0.0
    for i, (text, b) in enumerate(top):
        x0 = i * (w + gap)
        here = b == layer
        if here:
            here_x = x0
        if text != "…":
            shapes.append(dict(type="rect", x0=x0, x1=x0 + w, y0=1.25, y1=2.0, line=dict(color=CHOSEN if here else "#7A8CA5",
                               width=3 if here else 1), fillcolor=STACK_HERE if here else STACK_BOX))
        notes.append(dict(text=f"<b>{text}</b>" if here else text, x=x0 + w / 2, y=1.625, showarrow=False,
                          font=dict(size=14)))
        if i:
            notes.append(dict(text="→", x=x0 - gap / 2, y=1.625, showarrow=False, font=dict(size=16, color="#555")))
    inner = ["LN₁", _t("in.attention", lang, head=head, n=n_head), _t("in.residual", lang), "LN₂", "MLP<br>C→4C→C",
             _t("in.residual", lang)]
    span = len(top) * (w + gap) - gap
    iw = min(1.5, (span - 0.3 * 5) / 6)
    start = min(max(0.0, here_x + w / 2 - (6 * iw + 5 * 0.3) / 2), span - (6 * iw + 5 * 0.3))
    for j, text in enumerate(inner):
        x0 = start + j * (iw + 0.3)
        shapes.append(dict(type="rect", x0=x0, x1=x0 + iw, y0=0.1, y1=0.8, line=dict(color=CHOSEN, width=1),
                           fillcolor="#FFF6EE"))
        notes.append(dict(text=text, x=x0 + iw / 2, y=0.45, showarrow=False, font=dict(size=14)))
        if j:
            notes.append(dict(text="→", x=x0 - 0.15, y=0.45, showarrow=False, font=dict(size=16, color="#555")))
    end = start + 6 * iw + 5 * 0.3
    for xa, xb in ((here_x, start), (here_x + w, end)):  # the opened block fans out to its parts
        shapes.append(dict(type="line", x0=xa, x1=xb, y0=1.25, y1=0.8, line=dict(color=CHOSEN, width=2, dash="dot")))
    return _figure([], _t("in.stack_title", lang, layer=layer, n_layer=n_layer, head=head), height, margin=dict(l=10, r=10, t=50, b=10), annotations=notes, shapes=shapes,
                   dragmode=False, xaxis=dict(visible=False, range=[-0.1, span + 0.1], fixedrange=True),
                   yaxis=dict(visible=False, range=[0, 2.1], fixedrange=True))


def stage_panels(panels: Sequence[dict], tokens: Sequence[str], title: str, max_rows: int = INSIDE_ROWS,
                 max_cols: int = INSIDE_COLS, height: int | None = None, lang: str = "en") -> go.Figure:
    """A row of heatmaps of one computation, left to right, sharing the token axis.

    Each panel: ``dict(name=str, values=(T, N), dim=str, kind="score"|"weight", keys=bool)``;
    ``dim`` names the columns in the title ("hs", "C", "4C"), ``keys=True`` means the columns are
    key positions (a (T, T) attention matrix, cut to the same last rows). Scores use a diverging
    scale centred on 0, per panel (their magnitudes differ by orders); weights 0..1. −∞ (masked)
    cells are drawn as gaps.
    """
    if not panels:
        raise ValueError("stage_panels needs at least one panel")
    T = len(tokens)
    start = max(0, T - max_rows)
    n, gap = len(panels), 0.035
    width = (1 - gap * (n - 1)) / n
    data, notes, axes = [], [], {}
    ticks = _ticks(tokens[start:], offset=start, max_ticks=max_rows)
    for k, p in enumerate(panels):
        v = _as_array(p["values"], p["name"], 2, dtype=np.float32)
        if v.shape[0] != T:
            raise ValueError(f"{p['name']} has {v.shape[0]} rows but there are {T} tokens")
        keys = bool(p.get("keys"))
        if keys and v.shape != (T, T):
            raise ValueError(f"{p['name']} must be (T, T) = ({T}, {T}); got {v.shape}")
        N = v.shape[1]
        cols = slice(start, T) if keys else slice(0, min(N, max_cols))
        z = v[start:, cols]
        z = np.where(np.isfinite(z), z, np.nan)  # −∞ after the mask: a gap, not a colour
        x = np.arange(cols.start, cols.stop if cols.stop is not None else N)
        if p.get("kind", "score") == "weight":
            scale = dict(zmin=0.0, zmax=1.0, colorscale=WEIGHT_SCALE)
        else:
            lim = float(np.nanmax(np.abs(z))) if np.isfinite(z).any() else 1.0
            scale = dict(zmin=-lim, zmax=lim, colorscale=SCORE_SCALE) if lim > 0 else dict(colorscale=SCORE_SCALE)
        xa = "x" if k == 0 else f"x{k + 1}"
        what = _t("in.key_x", lang) if keys else f"{p.get('dim', 'dim')} %{{x}}"
        data.append(dict(type="heatmap", x=x, y=np.arange(start, T), z=z, xaxis=xa, yaxis="y", showscale=False,
                         hoverongaps=False, **scale,
                         hovertemplate=_t("in.panel_hover", lang, name=label(p["name"], 40), what=what)))
        shape = f"(T={T}, {'T' if keys else p.get('dim', 'N')}={N})"
        cut = ""
        if not keys and N > max_cols:
            cut = _t("in.first_cols", lang, m=max_cols, N=N)
        notes.append(dict(text=f"<b>{p['name']}</b><br>{shape}{cut}", xref="paper", yref="paper",
                          x=k * (width + gap) + width / 2, y=1.0, yanchor="bottom", showarrow=False,
                          font=dict(size=14 if n <= 4 else 12)))  # five titles share a row: smaller
        x0 = k * (width + gap)
        axes["xaxis" if k == 0 else f"xaxis{k + 1}"] = _axis(
            domain=[x0, x0 + width], anchor="y", showgrid=False, zeroline=False, tickfont=dict(size=14),
            **(dict(_ticks(tokens[start:], offset=start, max_ticks=12), tickangle=-60) if keys else dict(nticks=4)))
        if k:
            notes.append(dict(text="→", xref="paper", yref="paper", x=x0 - gap / 2, y=0.5, showarrow=False,
                              font=dict(size=20, color="#555")))
    rows = T - start
    shown = _t("in.all_pos", lang, T=T) if start == 0 else _t("in.last_pos", lang, rows=rows, T=T)
    return _figure(data, f"{title} · {shown}", height or int(np.clip(170 + 17 * rows, 330, 720)),
                   margin=dict(l=110, r=20, t=130, b=70), annotations=notes, **axes,
                   yaxis=_axis(autorange="reversed", showgrid=False, zeroline=False, **ticks))


def walkthrough_figures(tokens: Sequence[str], stages: dict, dims: dict, layer: int, head: int,
                        max_rows: int = INSIDE_ROWS, max_cols: int = INSIDE_COLS, lang: str = "en") -> list[go.Figure]:
    """The walkthrough of ``playground.inside.walkthrough`` as five rows of panels, in the order
    the data flows: input, Q/K/V, the attention pattern, the attention output, the MLP."""
    T, C, hs, H = dims["T"], dims["C"], dims["head_dim"], dims["n_head"]
    need = ("embed", "pos_embed", "resid_pre", "ln1", "q", "k", "v", "scores", "masked_scores", "pattern", "z",
            "concat", "attn_out", "resid_mid", "ln2", "mlp_pre", "mlp_post", "mlp_out", "resid_post")
    missing = [s for s in need if s not in stages]
    if missing:
        raise ValueError(f"walkthrough stages missing: {', '.join(missing)}")
    s = stages
    kw = dict(max_rows=max_rows, max_cols=max_cols, lang=lang)
    P = lambda name, key, dim="C", **o: dict(name=name, values=s[key], dim=dim, **o)  # noqa: E731
    inputs = [P(_t("in.wte", lang), "embed"), P(_t("in.wpe", lang), "pos_embed"),
              dict(name=_t("in.sum", lang), values=np.asarray(s["embed"]) + np.asarray(s["pos_embed"]), dim="C")]
    if layer:
        inputs.append(P(_t("in.block_input", lang, layer=layer), "resid_pre"))
    kv = "" if dims.get("n_kv_head", H) == H else _t("in.shared", lang, n=H // dims["n_kv_head"])
    return [
        stage_panels(inputs, tokens, _t("in.t1", lang), **kw),
        stage_panels([P(_t("in.ln1", lang, layer=layer), "ln1"), P(_t("in.q", lang, head=head), "q", "hs"),
                      P(_t("in.k", lang, head=head, kv=kv), "k", "hs"), P(_t("in.v", lang, head=head, kv=kv), "v", "hs")],
                     tokens, _t("in.t2", lang, layer=layer, head=head, H=H, C=C, hs=hs), **kw),
        stage_panels([P(_t("in.scores", lang), "scores", keys=True), P(_t("in.masked", lang), "masked_scores", keys=True),
                      P(_t("in.pattern", lang), "pattern", keys=True, kind="weight"),
                      P(_t("in.z", lang), "z", "hs")], tokens, _t("in.t3", lang, head=head), **kw),
        stage_panels([P(_t("in.concat", lang, H=H), "concat"), P(_t("in.cproj", lang), "attn_out"),
                      P(_t("in.xattn", lang), "resid_mid")], tokens,
                     _t("in.t4", lang, layer=layer, H=H, hs=hs, C=C),
                     **kw),
        stage_panels([P("LN₂", "ln2"), P(_t("in.expand", lang), "mlp_pre", "4C"), P("GELU", "mlp_post", "4C"),
                      P(_t("in.project", lang), "mlp_out"), P(_t("in.blockout", lang), "resid_post")], tokens,
                     _t("in.t5", lang, layer=layer, C4=4 * C), **kw),
    ]


def output_head(tokens: Sequence[str], ln_final: np.ndarray, top_tokens: Sequence[str], top_logits: np.ndarray,
                top_probs: np.ndarray, V: int, max_rows: int = INSIDE_ROWS, max_cols: int = INSIDE_COLS,
                height: int = 420, lang: str = "en") -> go.Figure:
    """⑥ The last step: final LayerNorm, the LM head's logits for the last position, softmax.

    Left: LN_f of every position (heatmap); right: the last position's top tokens, bar = probability,
    text = logit (the Next-token tab shows the whole decoding pipeline from here)."""
    x = _as_array(ln_final, "ln_final", 2, dtype=np.float32)
    lg, pr = _as_array(top_logits, "top_logits", 1), _as_array(top_probs, "top_probs", 1)
    if not len(top_tokens) == len(lg) == len(pr):
        raise ValueError("top_tokens, top_logits and top_probs must have the same length")
    _check_len(tokens, x.shape[0], "ln_final")
    T, C = x.shape
    left = stage_panels([dict(name="LN_f(x)", values=x, dim="C")], tokens, "", max_rows, max_cols, lang=lang)
    heat = left.data[0].to_plotly_json() | dict(xaxis="x", yaxis="y")
    names = [f"{i + 1}. {label(t, 20)}" for i, t in enumerate(top_tokens)]
    bars = dict(type="bar", x=pr, y=names, orientation="h", xaxis="x2", yaxis="y2", marker=dict(color=KEPT),
                text=[f"logit {v:.2f}" for v in lg], textposition="auto", textfont=dict(size=14),
                hovertemplate="%{y}<br>p = %{x:.4f}<br>%{text}<extra></extra>")
    cut = _t("in.out_cut", lang, m=max_cols, C=C) if C > max_cols else ""
    start = max(0, T - max_rows)
    return _figure(
        [heat, bars], _t("in.out_title", lang, T=T, C=C, cut=cut, V=f"{V:,}", n=len(names)), height, margin=dict(l=110, r=30, t=70, b=60),
        xaxis=_axis(domain=[0, 0.4], showgrid=False, zeroline=False, nticks=4),
        yaxis=_axis(autorange="reversed", showgrid=False, zeroline=False,
                    **_ticks(tokens[start:], offset=start, max_ticks=max_rows)),
        xaxis2=_axis(domain=[0.58, 1.0], anchor="y2", range=[0, 1], title=_axis_title(_t("fig.bar_prob", lang))),
        yaxis2=_axis(anchor="x2", autorange="reversed"),
        annotations=[dict(text=_t("in.last_arrow", lang), xref="paper", yref="paper", x=0.49, y=0.5, showarrow=False,
                          font=dict(size=15, color="#555"))])


def logit_lens(layer_names: Sequence[str], tokens: Sequence[str], top_tokens: Sequence[Sequence[str]],
               top_probs: np.ndarray, target_tokens: Sequence[str], target_probs: np.ndarray, resid_norm: np.ndarray,
               max_positions: int = 16, height: int | None = None, lang: str = "en") -> go.Figure:
    """What each layer would predict if the network stopped there (LN_f + LM head on its residual stream).

    Left: layers (rows, input at the bottom) × the last ``max_positions`` positions; cell text =
    that layer's top guess for the next token, colour = its probability; the hover gives the
    probability of the token that really came next (``target_tokens``). Right: the residual
    stream's L2 norm per layer (last position, and the mean over positions).

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
    text = [[f"{label(top_tokens[l][t - first], 8)}<br><span style='font-size:11px'>{gp[l, t - first]:.2f}</span>"
             for t in cols] for l in range(L1)]  # the guess, and below it p(the token that came next)
    hover = [[_t("in.lens_hover", lang, layer=layer_names[l], t=t, tok=label(tokens[t], 20),
                 guess=label(top_tokens[l][t - first], 20), p=f"{tp[l, t - first]:.3f}",
                 next=label(target_tokens[t - first], 20), q=f"{gp[l, t - first]:.3f}")
              for t in cols] for l in range(L1)]
    y = np.arange(L1)
    data = [dict(type="heatmap", z=tp[:, start - first:], x=np.arange(start, T), y=y, text=text, texttemplate="%{text}",
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
    return _figure(
        data, _t("in.lens_title", lang, shown=shown),
        height or int(np.clip(250 + 48 * L1, 420, 820)), margin=dict(l=90, r=20, t=90, b=150),
        legend=dict(x=1, xanchor="right", y=0, yref="container", yanchor="bottom", orientation="h", font=dict(size=14)),
        xaxis=_axis(domain=[0, 0.7], tickmode="array", tickvals=list(cols), ticktext=xt, showgrid=False, zeroline=False),
        yaxis=_axis(tickmode="array", tickvals=list(y), ticktext=[label(n, 12) for n in layer_names], showgrid=False,
                    zeroline=False, range=[-0.5, L1 - 0.5]),
        xaxis2=_axis(domain=[0.8, 1.0], anchor="y", title=_axis_title(_t("in.norm", lang)), rangemode="tozero"))


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
    foot = 150  # px below the plot: the axis title, then this note
    plot_h = max(1, (height or 420) - 70 - foot)
    note = dict(text=kv, xref="paper", yref="paper", x=0, y=-75 / plot_h, xanchor="left", yanchor="top",
                showarrow=False, font=dict(size=14))  # 75 px below the axis, clear of its title
    return _figure(data, tie, height, margin=dict(l=110, r=40, t=70, b=foot), annotations=[note],
                   xaxis=_axis(title=_axis_title(_t("in.params", lang)), range=[0, 1.6 * max(1, int(counts.max(initial=1)))]),
                   yaxis=_axis(autorange="reversed"))


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
    (``walk``) and ``ParamCounts`` (``counts``), both duck-typed: the stack, the five walkthrough
    rows, the output head, the logit lens and the parameter counts."""
    d, s, lens = walk.dims, walk.stages, walk.lens
    figs = [forward_stack(n_layer, layer, n_head, head, d["T"], d["C"], d["V"], lang=lang)]
    figs += walkthrough_figures(walk.tokens, s, d, layer, head, lang=lang)
    figs.append(output_head(walk.tokens, s["ln_final"], walk.top_tokens, s["logits"][-1][walk.top_ids], walk.top_probs,
                            d["V"], lang=lang))
    figs.append(logit_lens(lens.layer_names, walk.tokens, lens.top_tokens, lens.top_probs, lens.target_tokens,
                           lens.target_probs, lens.resid_norm, lang=lang))
    figs.append(counts_figure(counts, kv_formula, lang))
    return figs
