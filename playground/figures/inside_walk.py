"""The walkthrough of one forward pass, row by row, for any block the config builds (GPT-2's or Llama's).

``walkthrough_figures`` draws ``playground.inside.walkthrough``'s stages in the order the data flows:
① input, ② the norm (LayerNorm or RMSNorm, step by step), ③ Q, K, V of one head, ④ the rotary step
(q and k before and after the turn), ⑤ which query heads read which key/value head (MHA, GQA, MQA),
⑥ one head's attention, ⑦ the attention output, ⑧ the MLP (GELU or SwiGLU's gate). Each row is a
``stage_panels`` figure: heatmaps of (T, N) arrays sharing the token axis.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from playground.figures.style import (  # noqa: F401  (text_em, wrap: re-exported with the walkthrough)
    CHOSEN, SCORE_SCALE, TITLE_SIZE, WEIGHT_SCALE, _as_array, _axis, _figure, _ticks, label, placeholder, text_em, wrap,
)
from playground.i18n import t as _t

INSIDE_ROWS, INSIDE_COLS = 32, 64
MIN_PLOT_PX = 840  # narrowest plot the box diagrams and titles are laid out for (~874 px in a 1280 px window)


def title_layout(text: str, width: float = MIN_PLOT_PX - 30) -> tuple[dict, int]:
    """(plotly ``title`` wrapped to fit ``width`` px, its number of lines): anchored at the top, so a
    figure's top margin grows by ``LINE`` px per extra line. (Plotly places a multi-line title anchored at
    the top about one line too high; the 46 px pad keeps its first line inside the figure and below Gradio's
    plot label: measured in Chromium, the title spans 30 to at most TITLE_TOP + LINE × lines px from the top.)"""
    text = wrap(text, TITLE_SIZE, width)
    return (dict(text=text, font=dict(size=TITLE_SIZE), x=0.01, xanchor="left", y=1, yref="container", yanchor="top",
                 pad=dict(t=46)), text.count("<br>") + 1)


LINE = 22  # px per title line
TITLE_TOP = 44  # px above a title's lines: Gradio's plot label sits there


def with_title(fig: go.Figure, title: dict) -> go.Figure:
    """``fig`` with a ``title_layout`` title (``style._figure`` places a one-line one)."""
    fig.layout.title = title
    return fig


def stage_panels(panels: Sequence[dict], tokens: Sequence[str], title: str, max_rows: int = INSIDE_ROWS,
                 max_cols: int = INSIDE_COLS, height: int | None = None, lang: str = "en",
                 right: float = 1.0) -> go.Figure:
    """A row of heatmaps of one computation, left to right, sharing the token axis.

    Each panel: ``dict(name=str, values=(T, N), dim=str, kind="score"|"weight", keys=bool, width=1.0)``;
    ``dim`` names the columns in the title ("hs", "C", "4C"); ``kind``: "positive" for a statistic ≥ 0
    (σ, rms: white to the panel's largest); ``keys=True`` means the columns are
    key positions (a (T, T) attention matrix, cut to the same last rows); ``width`` is the panel's
    share of the row (a (T, 1) statistic takes a narrow one). Scores use a diverging scale centred on
    0, per panel (their magnitudes differ by orders); weights 0..1. −∞ (masked) cells are drawn as
    gaps. The panels fill the row up to ``right`` (paper x), leaving the rest to a caller's own plot.
    """
    if not panels:
        raise ValueError("stage_panels needs at least one panel")
    T = len(tokens)
    start = max(0, T - max_rows)
    n, gap = len(panels), 0.035
    shares = np.array([float(p.get("width", 1.0)) for p in panels])
    widths = (right - gap * (n - 1)) * shares / shares.sum()
    data, notes, axes = [], [], {}
    ticks = _ticks(tokens[start:], offset=start, max_ticks=max_rows)
    x0 = 0.0
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
        elif p.get("kind") == "positive":  # σ, rms: 0 (white) to the panel's largest
            scale = dict(zmin=0.0, zmax=float(np.nanmax(z)) if np.isfinite(z).any() else 1.0, colorscale=WEIGHT_SCALE)
        else:
            lim = float(np.nanmax(np.abs(z))) if np.isfinite(z).any() else 1.0
            scale = dict(zmin=-lim, zmax=lim, colorscale=SCORE_SCALE) if lim > 0 else dict(colorscale=SCORE_SCALE)
        xa = "x" if k == 0 else f"x{k + 1}"
        what = _t("in.key_x", lang) if keys else _t("in.stat_x", lang) if N == 1 else f"{p.get('dim', 'dim')} %{{x}}"
        data.append(dict(type="heatmap", x=x, y=np.arange(start, T), z=z, xaxis=xa, yaxis="y", showscale=False,
                         hoverongaps=False, **scale,
                         hovertemplate=_t("in.panel_hover", lang, name=label(p["name"], 40), what=what)))
        shape = f"(T={T}, 1)" if N == 1 else f"(T={T}, {'T' if keys else p.get('dim', 'N')}={N})"
        cut = _t("in.first_cols", lang, m=max_cols, N=N) if not keys and N > max_cols else ""
        size = 14 if n <= 4 else 12  # five or six titles share a row: smaller
        room = widths[k] * (MIN_PLOT_PX - 130)  # the panel's width in px on the narrowest plot
        name = wrap(f"<b>{p['name']}</b>", size * 1.08, room).replace("<br>", "</b><br><b>")
        notes.append(dict(text=f"{name}<br>{wrap(shape + cut, size, room)}", xref="paper", yref="paper",
                          x=float(x0 + widths[k] / 2), y=1.0, yanchor="bottom", showarrow=False,
                          font=dict(size=size)))
        axes["xaxis" if k == 0 else f"xaxis{k + 1}"] = _axis(
            domain=[round(x0, 6), round(min(right, x0 + widths[k]), 6)], anchor="y", showgrid=False, zeroline=False,
            tickfont=dict(size=14),
            **(dict(_ticks(tokens[start:], offset=start, max_ticks=12), tickangle=-60) if keys
               else dict(nticks=4 if N > 1 else 1)))
        if k:
            notes.append(dict(text="→", xref="paper", yref="paper", x=x0 - gap / 2, y=0.5, showarrow=False,
                              font=dict(size=20, color="#555")))
        x0 += widths[k] + gap
    rows = T - start
    shown = _t("in.all_pos", lang, T=T) if start == 0 else _t("in.last_pos", lang, rows=rows, T=T)
    head, lines = title_layout(f"{title} · {shown}")
    name_lines = max(a["text"].count("<br>") + 1 for a in notes)
    top = TITLE_TOP + 4 + LINE * lines + 18 * name_lines
    return with_title(_figure(data, "", (height or int(np.clip(170 + 17 * rows, 330, 720))) + top - 110,
                   margin=dict(l=110, r=20, t=top, b=70), annotations=notes, **axes,
                   yaxis=_axis(autorange="reversed", showgrid=False, zeroline=False, **ticks)), head)


# -- the rows that depend on the block's configuration --------------------------------------------------
def norm_row(stages: dict, tokens: Sequence[str], layer: int, norm: str, kw: dict) -> go.Figure:
    """② The block's first norm step by step, from its input x to its output (the values the pass used)."""
    lang = kw["lang"]
    s = stages
    if norm == "rmsnorm":
        panels = [dict(name=_t("in.norm_x", lang, layer=layer), values=s["resid_pre"], dim="C"),
                  dict(name="rms", values=s["ln1_scale"], width=0.45, kind="positive"),
                  dict(name="x̂ = x / rms", values=s["ln1_hat"], dim="C"),
                  dict(name="RMSNorm₁ = w · x̂", values=s["ln1"], dim="C")]
        return stage_panels(panels, tokens, _t("in.t_rms", lang, layer=layer), **kw)
    panels = [dict(name=_t("in.norm_x", lang, layer=layer), values=s["resid_pre"], dim="C"),
              dict(name="μ", values=s["ln1_mean"], width=0.45),
              dict(name="σ", values=s["ln1_scale"], width=0.45, kind="positive"),
              dict(name="x̂ = (x − μ) / σ", values=s["ln1_hat"], dim="C"),
              dict(name="LN₁ = γ · x̂ + β", values=s["ln1"], dim="C")]
    return stage_panels(panels, tokens, _t("in.t_ln", lang, layer=layer), **kw)


def rope_row(stages: dict, tokens: Sequence[str], layer: int, head: int, kv_head: int, kw: dict) -> go.Figure:
    """④ The rotary step: q and k of the head before and after the turn (all positions), and, for the
    last position, each pair of q's dimensions (i, i + hs/2) as an arrow before and after: turned by
    the angle t·θᵢ, the same length."""
    lang, s = kw["lang"], stages
    panels = [dict(name=_t("in.q_before", lang, head=head), values=s["q_before_rope"], dim="hs"),
              dict(name=_t("in.q_after", lang, head=head), values=s["q"], dim="hs"),
              dict(name=_t("in.k_before", lang, kv=kv_head), values=s["k_before_rope"], dim="hs"),
              dict(name=_t("in.k_after", lang, kv=kv_head), values=s["k"], dim="hs")]
    fig = stage_panels(panels, tokens, _t("in.t_rope", lang, layer=layer, head=head), right=0.7, **kw)
    t = len(tokens) - 1
    before, after = np.asarray(s["q_before_rope"][t]), np.asarray(s["q"][t])  # (hs,)
    angles = np.asarray(s["rope_angles"][t])  # (hs/2,) radians
    half = len(angles)
    lines = []
    sides = ((_t("in.before", lang), before, "#8A8A8A", "dot"), (_t("in.after", lang), after, CHOSEN, "solid"))
    for name, v, colour, dash in sides:  # one arrow from the origin per pair (i, i + hs/2)
        xs = np.ravel([[0.0, v[i], np.nan] for i in range(half)])
        ys = np.ravel([[0.0, v[i + half], np.nan] for i in range(half)])
        hover = [_t("in.pair_hover", lang, i=i, a=f"{angles[i]:.3f}") for i in range(half) for _ in range(3)]
        lines.append(dict(type="scatter", x=xs, y=ys, xaxis="x9", yaxis="y9", mode="lines+markers", name=name,
                          line=dict(color=colour, width=2, dash=dash), marker=dict(size=6), hovertext=hover,
                          hovertemplate="%{hovertext}<br>(%{x:.3f}, %{y:.3f})<extra></extra>"))
    lim = float(max(np.abs(before).max(initial=0), np.abs(after).max(initial=0), 1e-6)) * 1.1
    fig.add_traces(lines)
    fig.update_layout(
        xaxis9=_axis(domain=[0.78, 1.0], anchor="y9", range=[-lim, lim], zeroline=True, nticks=3),
        yaxis9=_axis(domain=[0.0, 1.0], anchor="x9", range=[-lim, lim], scaleanchor="x9", zeroline=True, nticks=3,
                     side="right"),
        legend=dict(x=1, xanchor="right", y=0, yref="container", yanchor="bottom", orientation="h",
                    font=dict(size=14)))
    fig.add_annotation(text=wrap(_t("in.pairs", lang, t=t, tok=label(tokens[t], 10)), 12, 0.22 * (MIN_PLOT_PX - 130)),
                       xref="paper", yref="paper", x=0.89, y=1.0, yanchor="bottom", showarrow=False, font=dict(size=12))
    return fig


def heads_row(dims: dict, head: int, lang: str = "en", height: int = 300) -> go.Figure:
    """⑤ Which query heads read which key/value head: n_head boxes above, n_kv_head below, a line from each
    query head to the K/V head it reads (MHA: one each; GQA: groups; MQA: all one). The selected head and
    its K/V head are orange. Below: the keys and values one token leaves in each layer's cache."""
    nh, nkv, hs = dims["n_head"], dims["n_kv_head"], dims["head_dim"]
    if nh % nkv or not 0 <= head < nh:
        raise ValueError(f"n_kv_head ({nkv}) must divide n_head ({nh}) and head ({head}) be one of them")
    g = nh // nkv
    kv_of = head // g
    shapes, notes = [], []
    font = int(np.clip(MIN_PLOT_PX / nh / (text_em(f"Q{nh - 1}") + 0.6), 9, 14))  # the widest label fits its box
    for i in range(nh):
        here = i == head
        shapes.append(dict(type="rect", x0=i + 0.1, x1=i + 0.9, y0=1.4, y1=2.0,
                           fillcolor="#FCE3CC" if here else "#E8EEF6",
                           line=dict(color=CHOSEN if here else "#7A8CA5", width=3 if here else 1)))
        notes.append(dict(text=f"Q{i}", x=i + 0.5, y=1.7, showarrow=False, font=dict(size=font)))
        j = i // g
        shapes.append(dict(type="line", x0=i + 0.5, x1=j * g + g / 2, y0=1.4, y1=0.8,
                           line=dict(color=CHOSEN if here else "#9AA8BC", width=3 if here else 1.5)))
    for j in range(nkv):
        here = j == kv_of
        shapes.append(dict(type="rect", x0=j * g + 0.1, x1=(j + 1) * g - 0.1, y0=0.2, y1=0.8,
                           fillcolor="#FCE3CC" if here else "#EEF6E8",
                           line=dict(color=CHOSEN if here else "#6F9A5C", width=3 if here else 1)))
        kv_font = int(np.clip(MIN_PLOT_PX * g / nh / (text_em(f"K, V {j}") + 0.6), 9, 14))
        notes.append(dict(text=f"K, V {j}", x=j * g + g / 2, y=0.5, showarrow=False, font=dict(size=kv_font)))
    kind = "mha" if g == 1 else "mqa" if nkv == 1 else "gqa"
    title = _t(f"in.t_heads_{kind}", lang, nh=nh, nkv=nkv, g=g)
    per_token = _t("in.heads_cache", lang, nkv=nkv, hs=hs, n=2 * nkv * hs, nh=nh, m=2 * nh * hs, g=g)
    per_token = wrap(per_token, 14, MIN_PLOT_PX - 40)
    notes.append(dict(text=per_token, xref="paper", yref="paper", x=0, y=-0.02, xanchor="left", yanchor="top",
                      align="left", showarrow=False, font=dict(size=14)))
    head_title, lines = title_layout(title)
    foot = 20 + 20 * (per_token.count("<br>") + 1)
    return with_title(_figure([], "", height + TITLE_TOP - 22 + LINE * (lines - 1) + foot - 50,
                   margin=dict(l=20, r=20, t=TITLE_TOP + 8 + LINE * lines, b=foot), annotations=notes, shapes=shapes,
                   dragmode=False, xaxis=dict(visible=False, range=[0, nh], fixedrange=True),
                   yaxis=dict(visible=False, range=[0.1, 2.1], fixedrange=True)), head_title)


def mlp_row(stages: dict, tokens: Sequence[str], layer: int, dims: dict, mlp: str, norm_name: str,
            kw: dict) -> go.Figure:
    """⑧ The MLP and the second residual add: GELU's c_fc → GELU → c_proj, or SwiGLU's
    silu(gate_proj x) ⊙ up_proj x → down_proj."""
    lang, C = kw["lang"], dims["C"]
    H = dims.get("d_mlp", 4 * C)  # the hidden width (GPT-2: 4C)
    h = "4C" if H == 4 * C else "H"
    P = lambda name, key, dim="C": dict(name=name, values=stages[key], dim=dim)  # noqa: E731
    if mlp == "swiglu":
        panels = [P(f"{norm_name}₂", "ln2"), P("silu(gate_proj x)", "mlp_gate", h), P("up_proj x", "mlp_up", h),
                  P(_t("in.glu", lang), "mlp_post", h), P("down_proj", "mlp_out"),
                  P(_t("in.blockout", lang), "resid_post")]
        return stage_panels(panels, tokens, _t("in.t_swiglu", lang, layer=layer, h=h, H=H), **kw)
    panels = [P(f"{norm_name}₂", "ln2"), P(_t("in.expand", lang), "mlp_pre", h), P("GELU", "mlp_post", h),
              P(_t("in.project", lang), "mlp_out"), P(_t("in.blockout", lang), "resid_post")]
    return stage_panels(panels, tokens, _t("in.t5", lang, layer=layer, h=h, H=H), **kw)


def walkthrough_figures(tokens: Sequence[str], stages: dict, dims: dict, layer: int, head: int,
                        max_rows: int = INSIDE_ROWS, max_cols: int = INSIDE_COLS, lang: str = "en",
                        block: dict | None = None) -> list[go.Figure]:
    """The walkthrough of ``playground.inside.walkthrough`` as eight rows, in the order the data flows:
    input, norm, Q/K/V, rotary step, heads and their K/V heads, one head's attention, the attention output,
    the MLP. ``block``: the config's norm / positions / mlp (GPT-2's when None); a learned-positions block
    has no rotary step, and its row says so."""
    b = {"norm": "layernorm", "positions": "learned", "mlp": "gelu", **(block or {})}
    rotary = b["positions"] == "rotary"
    C, hs, H = dims["C"], dims["head_dim"], dims["n_head"]
    need = ["embed", "resid_pre", "ln1", "ln1_scale", "ln1_hat", "q", "k", "v", "scores", "masked_scores", "pattern",
            "z", "concat", "attn_out", "resid_mid", "ln2", "mlp_pre", "mlp_post", "mlp_out", "resid_post"]
    need += ["q_before_rope", "k_before_rope", "rope_angles"] if rotary else ["pos_embed"]
    need += ["mlp_gate", "mlp_up"] if b["mlp"] == "swiglu" else []
    need += [] if b["norm"] == "rmsnorm" else ["ln1_mean"]
    missing = [s for s in need if s not in stages]
    if missing:
        raise ValueError(f"walkthrough stages missing: {', '.join(missing)}")
    s = stages
    kw = dict(max_rows=max_rows, max_cols=max_cols, lang=lang)
    P = lambda name, key, dim="C", **o: dict(name=name, values=s[key], dim=dim, **o)  # noqa: E731
    if rotary:
        inputs, t1 = [P(_t("in.wte", lang), "embed")], _t("in.t1_rope", lang)
    else:
        inputs = [P(_t("in.wte", lang), "embed"), P(_t("in.wpe", lang), "pos_embed"),
                  dict(name=_t("in.sum", lang), values=np.asarray(s["embed"]) + np.asarray(s["pos_embed"]), dim="C")]
        t1 = _t("in.t1", lang)
    if layer:
        inputs.append(P(_t("in.block_input", lang, layer=layer), "resid_pre"))
    nkv = dims.get("n_kv_head", H)
    kv_head = dims.get("kv_head", head // (H // nkv))
    kv = "" if nkv == H else _t("in.shared", lang, kv=kv_head, n=H // nkv)
    norm_name = "RMSNorm" if b["norm"] == "rmsnorm" else "LN"
    q, k = ("q_before_rope", "k_before_rope") if rotary else ("q", "k")
    rope = (rope_row(s, tokens, layer, head, kv_head, kw) if rotary
            else placeholder(_t("in.no_rope", lang), height=150))
    return [
        stage_panels(inputs, tokens, t1, **kw),
        norm_row(s, tokens, layer, b["norm"], kw),
        stage_panels([P(f"{norm_name}₁(x)", "ln1"), P(_t("in.q", lang, head=head), q, "hs"),
                      P(_t("in.k", lang, head=head, kv=kv), k, "hs"), P(_t("in.v", lang, head=head, kv=kv), "v", "hs")],
                     tokens, _t("in.t2", lang, layer=layer, head=head, H=H, C=C, hs=hs), **kw),
        rope,
        heads_row(dict(dims, n_kv_head=nkv), head, lang),
        stage_panels([P(_t("in.scores", lang), "scores", keys=True),
                      P(_t("in.masked", lang), "masked_scores", keys=True),
                      P(_t("in.pattern", lang), "pattern", keys=True, kind="weight"),
                      P(_t("in.z", lang), "z", "hs")], tokens, _t("in.t3", lang, head=head), **kw),
        stage_panels([P(_t("in.concat", lang, H=H), "concat"), P(_t("in.cproj", lang), "attn_out"),
                      P(_t("in.xattn", lang), "resid_mid")], tokens,
                     _t("in.t4", lang, layer=layer, H=H, hs=hs, C=C), **kw),
        mlp_row(s, tokens, layer, dims, b["mlp"], norm_name, kw),
    ]


