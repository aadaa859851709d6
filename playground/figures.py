"""Plotly figures: each one a pure function of plain data (numpy arrays, lists of strings) -> go.Figure.

No torch, no model, no gradio here (DESIGN.md §1): the UI turns records into arrays and calls
these. Like BertViz, every function checks the shapes it is given and raises a ValueError that
says what was expected, so a wrong call fails loudly instead of drawing a misleading chart.

Shared look, for a projector as much as for a laptop: fonts of 14 px and more, an explicit
``height`` on every figure (autosized plotly figures have rendered at zero height in Gradio),
tokens on the axes, and one colour meaning per quantity across the page:
  * attention weights and probabilities 0..1: ``WEIGHT_SCALE`` (white = 0, dark blue = 1);
  * raw scores that can be negative: ``SCORE_SCALE`` (diverging, centred on 0);
  * kept / removed / chosen tokens: ``KEPT``, ``REMOVED`` (grey, hatched), ``CHOSEN`` (orange);
  * KV cache on / off: ``CACHE_ON`` / ``CACHE_OFF``.

Speed: a Step redraws every view, so figures are built as plain dicts and wrapped once with
plotly's validation switched off (``_figure``): validating each property costs 10-50 ms per
figure, the dict costs ~1 ms. The tests re-validate every figure (``go.Figure(fig.to_dict())``),
so a misspelt property still fails. Big inputs are cut before drawing (top-N bars, the last W
positions in the overview): cost grows with what a figure shows, not with the vocabulary.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.colors import diverging, make_colorscale, sample_colorscale, sequential

from playground.i18n import t as _t

FONT = dict(family="Inter, 'Noto Sans', 'Noto Sans CJK SC', 'WenQuanYi Micro Hei', Arial, sans-serif", size=15,
            color="#222")
TITLE_SIZE = 17
# explicit lists: plotly.js's own "Blues" runs the other way from plotly.py's, and it knows no "_r" names
WEIGHT_SCALE = make_colorscale(sequential.Blues)
SCORE_SCALE = make_colorscale(diverging.RdBu[::-1])
BEAM_SCALE = make_colorscale(sequential.Viridis)
KEPT, REMOVED, CHOSEN = "#4C78A8", "#C8C8C8", "#F58518"
CACHE_ON, CACHE_OFF = "#4C78A8", "#E45756"
MASK_SCALE = [[0.0, "#F2F2F2"], [0.5, "#F2F2F2"], [0.5, "#2F6BA8"], [1.0, "#2F6BA8"]]  # 0 = hidden, 1 = visible
NEG_INF = "−∞"
MAX_LABEL = 14  # characters of a token shown on an axis (hover shows more)
GRID = "#E8E8E8"


# -- small helpers ---------------------------------------------------------------------------------
def label(token: str, limit: int = MAX_LABEL) -> str:
    """A token as plotly prints it: '<', '>' and '&' escaped (plotly reads tags), long ones cut."""
    t = token if len(token) <= limit else token[: limit - 1] + "…"
    return t.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _chip_colours(steps: int = 101) -> list[tuple[str, str]]:
    """(background, text) for p = 0, 0.01, ..., 1; text is whichever of black/white contrasts more (WCAG)."""
    out = []
    for bg in sample_colorscale(WEIGHT_SCALE, list(0.08 + 0.8 * np.linspace(0, 1, steps))):
        rgb = [int(float(c)) / 255 for c in bg[bg.index("(") + 1:-1].split(",")]
        lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
        lum = 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
        out.append((bg, "#FFFFFF" if (1.05 / (lum + 0.05)) > ((lum + 0.05) / 0.05) else "#111111"))
    return out


_CHIP_COLOURS = _chip_colours()  # a table: sampling a colour scale costs ~0.5 ms, a Step may colour 250 chips


def prob_colour(p: float) -> tuple[str, str]:
    """(background, text) CSS colours for a probability, on the scale every 0..1 figure uses.

    The token chips (HTML, built in the UI) use it, so a chip and a heatmap cell of the same
    value look alike. The text is whichever of black and white contrasts more (WCAG luminance).
    """
    p = float(np.clip(p if np.isfinite(p) else 0.0, 0.0, 1.0))
    return _CHIP_COLOURS[int(round(p * 100))]


def _as_array(x, name: str, ndim: int, dtype=float) -> np.ndarray:
    a = np.asarray(x, dtype=dtype)
    if a.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-D array; got shape {a.shape}")
    return a


def _check_len(tokens: Sequence[str], n: int, what: str) -> None:
    if len(tokens) != n:
        raise ValueError(f"{len(tokens)} tokens but {what} has {n} positions")


def _ticks(tokens: Sequence[str], offset: int = 0, max_ticks: int = 40) -> dict:
    """Numeric axis positions labelled with tokens (tokens repeat: a categorical axis would merge them)."""
    every = max(1, math.ceil(len(tokens) / max_ticks))
    vals = list(range(0, len(tokens), every))
    return dict(tickmode="array", tickvals=[v + offset for v in vals], ticktext=[label(tokens[v]) for v in vals])


def _axis(**kw) -> dict:
    return dict(gridcolor=GRID, zerolinecolor="#BBBBBB", automargin=True, **kw)


def _axis_title(text: str) -> dict:
    return dict(text=text, font=dict(size=15))


def _figure(data: list[dict], title: str, height: int, margin: dict | None = None,
            annotations: Sequence[dict] = (), shapes: Sequence[dict] = (), **layout) -> go.Figure:
    """Wrap plain trace/layout dicts into a Figure without plotly's per-property validation (see top)."""
    base = dict(
        title=dict(text=title, font=dict(size=TITLE_SIZE), x=0.01, xanchor="left"),
        height=int(height), font=FONT, template={}, paper_bgcolor="white", plot_bgcolor="white",
        margin=margin or dict(l=70, r=30, t=70, b=60), hoverlabel=dict(font=dict(size=15)),
        annotations=list(annotations), shapes=list(shapes),
    )
    base.update(layout)
    return go.Figure(data=data, layout=base, _validate=False)


def _legend_top() -> dict:
    return dict(orientation="h", x=1, xanchor="right", y=1.0, yanchor="bottom", font=dict(size=14))


def placeholder(message: str, height: int = 260) -> go.Figure:
    """A figure that says why there is nothing to draw yet (never a blank white box)."""
    note = dict(text=message, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False, font=dict(size=18, color="#555"))
    return _figure([], "", height, margin=dict(l=10, r=10, t=10, b=10), annotations=[note],
                   xaxis=dict(visible=False), yaxis=dict(visible=False))


# -- attention ---------------------------------------------------------------------------------------
def attention_heatmap(weights: np.ndarray, tokens: Sequence[str], layer: int, head: int,
                      highlight_query: int | None = None, height: int | None = None, lang: str = "en",
                      first: int = 0, total: int | None = None) -> go.Figure:
    """One head's attention: query positions down, key positions across, weights 0..1.

    ``weights`` is (S, S), row i = position i's query (zeros above the diagonal in a causal model).
    ``highlight_query`` outlines that row (the step the page is looking at). A window of a longer
    text: ``first`` is the position of row 0 and ``total`` the text's length (the title says
    "last S of total positions"; a row's weights on earlier keys are not drawn).
    """
    w = _as_array(weights, "weights", 2, dtype=np.float32)
    S = w.shape[0]
    if w.shape != (S, S):
        raise ValueError(f"weights must be square (S, S); got shape {w.shape}")
    _check_len(tokens, S, "weights")
    if highlight_query is not None and not 0 <= highlight_query < S:
        raise ValueError(f"highlight_query {highlight_query} is outside 0..{S - 1}")
    # category axes named "position token" (unique even when a token repeats): the hover names both
    # tokens without a per-cell string matrix (S² strings would cost more than the chart)
    names = [f"{first + i} {label(t, 24)}" for i, t in enumerate(tokens)]
    trace = dict(type="heatmap", z=w, x=names, y=names, zmin=0.0, zmax=1.0, colorscale=WEIGHT_SCALE,
                 colorbar=dict(title=dict(text="weight"), thickness=16),
                 hovertemplate="query %{y} → key %{x}<br>weight %{z:.3f}<extra></extra>")
    if S <= 40:
        trace.update(xgap=1, ygap=1)
    every = max(1, math.ceil(S / 40))
    ticks = dict(type="category", tickmode="array", tickvals=names[::every], ticktext=[label(t) for t in tokens[::every]])
    shapes = []
    if highlight_query is not None:
        shapes.append(dict(type="rect", x0=-0.5, x1=S - 0.5, y0=highlight_query - 0.5, y1=highlight_query + 0.5,
                           line=dict(color=CHOSEN, width=3)))
    title = _t("fig.attn_title", lang, layer=layer, head=head)
    if first or (total or S) > S:  # a window: say which positions, on the first line
        line, _, rest = title.partition("<br>")
        title = f"{line} · {_t('fig.last_positions', lang, W=S, total=max(total or 0, first + S))}<br>{rest}"
    return _figure(
        [trace], title,
        height or int(np.clip(200 + 22 * S, 440, 780)), margin=dict(l=110, r=30, t=90, b=110), shapes=shapes,
        xaxis=_axis(title=_axis_title(_t("fig.attn_x", lang)), tickangle=-50, showgrid=False, **ticks),
        yaxis=_axis(title=_axis_title(_t("fig.attn_y", lang)), autorange="reversed", showgrid=False, **ticks),
    )


def overview_window(n_layer: int, n_head: int, S: int, max_cells: int = 24_000) -> int:
    """How many of the last positions each overview tile shows, so the whole grid stays ~max_cells."""
    return int(max(1, min(S, math.isqrt(max(1, max_cells // max(1, n_layer * n_head))))))


def overview_cell(layer: int, head: int, window: int) -> tuple[int, int]:
    """(x, y) of a cell inside the tile of (layer, head): what a click on that tile reports."""
    return head * (window + 1), layer * (window + 1)


def attention_overview(attn: np.ndarray, tokens: Sequence[str], selected: tuple[int, int] | None = None,
                       max_cells: int = 24_000, total: int | None = None, height: int | None = None,
                       lang: str = "en") -> go.Figure:
    """Every layer × head at once, as ONE tiled heatmap (a grid of small attention matrices).

    ``attn`` is (n_layer, n_head, S, S). One trace instead of L×H subplots keeps this cheap
    (a 144-panel ``make_subplots`` costs ~300 ms, this a few ms). Long sequences show each head's
    last W positions (W from ``max_cells``), which the title says (``total``: the sequence length,
    when the caller already cut ``attn`` to a window). Each cell's customdata is (layer, head), so
    a click on a tile can open that head.
    """
    a = _as_array(attn, "attn", 4, dtype=np.float32)
    L, H, S, S2 = a.shape
    if S != S2:
        raise ValueError(f"attn must be (n_layer, n_head, S, S); got shape {a.shape}")
    _check_len(tokens, S, "attn")
    if selected is not None and not (0 <= selected[0] < L and 0 <= selected[1] < H):
        raise ValueError(f"selected {selected} is outside {L} layers × {H} heads")
    W = overview_window(L, H, S, max_cells)
    step = W + 1  # one empty (NaN) row/column between tiles
    tiles = np.full((L, step, H, step), np.nan, dtype=np.float32)
    tiles[:, :W, :, :W] = a[:, :, S - W:, S - W:].transpose(0, 2, 1, 3)  # (L, W, H, W)
    z = tiles.reshape(L * step, H * step)[:-1, :-1]
    cd = np.empty((L, step, H, step, 2), dtype=np.uint8 if max(L, H) <= 255 else np.int32)  # small JSON
    cd[..., 0] = np.arange(L)[:, None, None, None]
    cd[..., 1] = np.arange(H)[None, None, :, None]
    cd = cd.reshape(L * step, H * step, 2)[:-1, :-1]
    centre = (W - 1) / 2
    shapes = []
    if selected is not None:
        l, h = selected
        shapes.append(dict(type="rect", x0=h * step - 0.9, x1=h * step + W - 0.1, y0=l * step - 0.9,
                           y1=l * step + W - 0.1, line=dict(color=CHOSEN, width=3)))
    total = max(S, total or S)
    shown = _t("fig.all_positions", lang, S=S) if W == total else _t("fig.last_positions", lang, W=W, total=total)
    trace = dict(type="heatmap", z=z, customdata=cd, zmin=0.0, zmax=1.0, colorscale=WEIGHT_SCALE, hoverongaps=False,
                 colorbar=dict(title=dict(text="weight"), thickness=16),
                 hovertemplate="layer %{customdata[0]}, head %{customdata[1]}<br>weight %{z:.3f}"
                               "<br>click: open this head<extra></extra>")
    return _figure(
        [trace], _t("fig.overview_title", lang, L=L, H=H, shown=shown),
        height or int(np.clip(130 + L * min(200, 800 / H), 360, 760)), margin=dict(l=90, r=30, t=100, b=20),
        shapes=shapes, meta=dict(window=W, n_layer=L, n_head=H), dragmode=False,
        xaxis=_axis(tickmode="array", tickvals=[h * step + centre for h in range(H)], side="top", showgrid=False,
                    zeroline=False, ticktext=[_t("fig.head_n", lang, h=h) for h in range(H)], tickangle=0 if H <= 8 else -60),
        yaxis=_axis(tickmode="array", tickvals=[l * step + centre for l in range(L)], autorange="reversed",
                    ticktext=[_t("fig.layer_n", lang, l=l) for l in range(L)], showgrid=False, zeroline=False),
    )


def causal_mask_panels(tokens: Sequence[str], weights: np.ndarray, scores: np.ndarray | None = None,
                       layer: int = 0, head: int = 0, max_tokens: int = 8, total: int | None = None,
                       height: int | None = None, lang: str = "en") -> go.Figure:
    """The causal-mask story of the course notes (§15.2), four panels for one layer/head, read
    left to right, top to bottom:

    ① the mask (1 = may look, 0 = hidden), ② raw scores QKᵀ/√d, ③ masked scores (−∞ above the
    diagonal), ④ softmax weights. ``weights`` and ``scores`` are (T, T) for the same tokens;
    ``scores`` may be None (② and ③ then say they are not available).

    Only the first ``max_tokens`` positions are drawn, with their numbers in the cells (a 2 × 2
    grid leaves room for them at 1280 px): because of the mask, row i never depends on a later
    key, so this top-left block is complete (its rows still sum to 1). ``total``: the whole
    sequence's length, when the caller passes only its first positions.
    """
    w = _as_array(weights, "weights", 2)
    T = w.shape[0]
    if w.shape != (T, T):
        raise ValueError(f"weights must be square (T, T); got shape {w.shape}")
    _check_len(tokens, T, "weights")
    if scores is not None:
        scores = _as_array(scores, "scores", 2)
        if scores.shape != w.shape:
            raise ValueError(f"scores {scores.shape} and weights {w.shape} must have the same shape")
    n = min(T, max_tokens)
    toks, w = list(tokens[:n]), w[:n, :n]
    visible = np.tril(np.ones((n, n), dtype=np.float32))  # (n, n) 1 = the query may see the key
    labels = [label(t, 24) for t in toks]
    pair = [[f"{labels[i]} → {labels[j]}" for j in range(n)] for i in range(n)]
    show_text = n <= 10  # numbers inside the cells while they fit at 14 px
    cols, rows = [[0.0, 0.42], [0.53, 0.95]], [[0.58, 1.0], [0.0, 0.42]]  # (x, y) domains; row 0 on top
    cell_text = dict(texttemplate="%{text}", textfont=dict(size=14)) if show_text else {}

    def panel(k: int, **trace) -> dict:
        return dict(type="heatmap", xaxis="x" if k == 0 else f"x{k + 1}", yaxis="y" if k < 2 else "y2",
                    xgap=1, ygap=1, customdata=pair, **trace)

    def colorbar(k: int) -> dict:  # beside a right-hand panel; the panel titles say what it measures
        return dict(thickness=14, len=0.42, x=0.965, xanchor="left", y=rows[k // 2][0], yanchor="bottom",
                    tickfont=dict(size=14))

    data = [panel(0, z=visible, zmin=0, zmax=1, colorscale=MASK_SCALE, showscale=False,
                  text=[["1" if v else "0" for v in row] for row in visible], **cell_text,
                  hovertemplate="%{customdata}<br>mask %{z:.0f}<extra></extra>")]
    notes = []
    if scores is not None:
        s = scores[:n, :n]
        lim = float(np.max(np.abs(s[visible > 0]))) if n else 1.0
        lim = lim if np.isfinite(lim) and lim > 0 else 1.0
        fmt = "{:.1f}" if lim >= 1 else "{:.2f}"
        masked = np.where(visible > 0, s, np.nan)
        common = dict(zmin=-lim, zmax=lim, colorscale=SCORE_SCALE)
        data.append(panel(1, z=s, **common, text=[[fmt.format(v) for v in row] for row in s], **cell_text,
                          hovertemplate="%{customdata}<br>score %{z:.3f}<extra></extra>", colorbar=colorbar(1)))
        masked_text = [[(fmt.format(v) if show_text else "") if np.isfinite(v) else NEG_INF for v in row] for row in masked]
        data.append(panel(2, z=masked, **common, showscale=False, text=masked_text, texttemplate="%{text}",
                          textfont=dict(size=14), hoverongaps=False,
                          hovertemplate="%{customdata}<br>masked score %{z:.3f}<extra></extra>"))
    else:
        for k in (1, 2):
            notes.append(dict(text="scores not available<br>for this model", xref="paper", yref="paper",
                              x=sum(cols[k % 2]) / 2, y=sum(rows[k // 2]) / 2, showarrow=False,
                              font=dict(size=15, color="#777")))
    data.append(panel(3, z=w, zmin=0.0, zmax=1.0, colorscale=WEIGHT_SCALE, text=[[f"{v:.2f}" for v in row] for row in w],
                      **cell_text, hovertemplate="%{customdata}<br>weight %{z:.3f}<extra></extra>",
                      colorbar=colorbar(3)))
    titles = [_t("fig.mask_p1", lang), _t("fig.mask_p2", lang), _t("fig.mask_p3", lang, neg=NEG_INF), _t("fig.mask_p4", lang)]
    ticks = _ticks(toks)
    axes = {}
    for k in range(4):
        c, r = cols[k % 2], rows[k // 2]
        axes["xaxis" if k == 0 else f"xaxis{k + 1}"] = _axis(domain=c, anchor="y" if k < 2 else "y2", tickangle=-50,
                                                          showgrid=False, zeroline=False, range=[-0.5, n - 0.5], **ticks)
        notes.append(dict(text=f"<b>{titles[k]}</b>", xref="paper", yref="paper", x=c[0], xanchor="left", y=r[1],
                          yanchor="bottom", showarrow=False, font=dict(size=15)))
    for name, r in (("yaxis", rows[0]), ("yaxis2", rows[1])):
        axes[name] = _axis(domain=r, anchor="x" if name == "yaxis" else "x3", autorange="reversed", showgrid=False,
                           zeroline=False, title=_axis_title(_t("fig.query", lang)), **ticks)
    total = max(T, total or T)
    shown = _t("fig.mask_first", lang, n=n, total=total) if n < total else _t("fig.mask_all", lang, total=total)
    return _figure(
        data, _t("fig.mask_title", lang, layer=layer, head=head, shown=shown),
        height or int(np.clip(190 + 2 * 36 * n, 480, 820)), margin=dict(l=100, r=30, t=90, b=70),
        annotations=notes, plot_bgcolor="#E6E6E6", **axes,
    )


def leak_check(tokens: Sequence[str], changed_at: int, new_token: str, before: np.ndarray, after: np.ndarray,
               max_abs_diff: np.ndarray, height: int = 400, lang: str = "en") -> go.Figure:
    """Change the token at ``changed_at``; every position before it must predict exactly as before.

    ``before`` / ``after`` (T,): at each position, the probability both runs give to the token the
    original run found most likely next; ``max_abs_diff`` (T,): max |Δ probability| over the whole
    vocabulary at that position. In a causal model positions < ``changed_at`` differ by exactly 0.
    """
    b, a, d = (_as_array(x, n, 1) for x, n in ((before, "before"), (after, "after"), (max_abs_diff, "max_abs_diff")))
    T = len(tokens)
    for x, name in ((b, "before"), (a, "after"), (d, "max_abs_diff")):
        _check_len(tokens, x.shape[0], name)
    if not 0 <= changed_at < T:
        raise ValueError(f"changed_at {changed_at} is outside 0..{T - 1}")
    x = np.arange(T)
    diff_text = ["Δ 0" if v == 0 else f"Δ {v:.0e}" for v in d] if T <= 16 else None  # labels only while they fit
    hover = "position %{x}<br>p = %{y:.4f}<br>max |Δp| over the vocabulary = %{customdata:.2e}<extra>%{fullData.name}</extra>"
    data = [
        dict(type="bar", x=x, y=b, name=_t("fig.leak_before", lang), marker=dict(color=KEPT), customdata=d, hovertemplate=hover),
        dict(type="bar", x=x, y=a, name=_t("fig.leak_after", lang, at=changed_at), marker=dict(color=CHOSEN), text=diff_text,
             textposition="outside", textfont=dict(size=14), customdata=d, hovertemplate=hover, cliponaxis=False),
    ]
    shade = dict(type="rect", xref="x", yref="paper", x0=changed_at - 0.5, x1=T - 0.5, y0=0, y1=1,
                 fillcolor=CHOSEN, opacity=0.10, line=dict(width=0), layer="below")
    note = dict(text=_t("fig.leak_note", lang), xref="x", yref="paper", x=changed_at - 0.4, y=1.0,
                xanchor="left", yanchor="top", showarrow=False, font=dict(size=14, color="#9a4a00"))
    earlier = float(d[:changed_at].max(initial=0.0))
    verdict = _t("fig.leak_ok", lang) if earlier == 0.0 else f"max |Δp| = {earlier:.1e}"
    who = label(new_token, 20)
    title = (_t("fig.leak_title", lang, at=changed_at, who=who, last=changed_at - 1, verdict=verdict) if changed_at
             else _t("fig.leak_title0", lang, who=who))
    top = max(1e-6, float(max(b.max(initial=0), a.max(initial=0)))) * 1.3
    return _figure(data, title, height, margin=dict(l=80, r=20, t=90, b=110), shapes=[shade], annotations=[note],
                   barmode="group", legend=_legend_top(), uniformtext=dict(minsize=14, mode="hide"),
                   xaxis=_axis(title=_axis_title(_t("fig.leak_x", lang)), tickangle=-50, showgrid=False, zeroline=False,
                               **_ticks(tokens)),
                   yaxis=_axis(title=_axis_title(_t("fig.leak_y", lang)), range=[0, top]))


# -- the next token ------------------------------------------------------------------------------------
def next_token_stages(stage_labels: Sequence[str], tokens: Sequence[str], values: np.ndarray, removed: np.ndarray,
                      chosen: int | None, rest_count: Sequence[int] | None = None, rest_mass: Sequence[float] | None = None,
                      mode: str = "probs", title: str = "Next token", height: int | None = None,
                      lang: str = "en") -> go.Figure:
    """The top tokens as each decoding stage leaves them: one panel per stage, the same rows in each.

    ``values`` (n_stages, N): probability (``mode="probs"``) or logit (``mode="logits"``) of row
    token j after stage i, NaN where the caller does not know it (a token below that stage's top
    list: drawn empty, "below top list"); ``removed`` (n_stages, N) bool: removed by that stage or
    an earlier one (a grey hatched stub labelled "removed"); ``chosen``: the chosen token's row (orange).
    ``rest_count`` / ``rest_mass`` (n_stages,): candidates not drawn and their total probability,
    written under each panel ("+ 4,051 more · 3.2 %"), so the whole vocabulary is accounted for.
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
    live = v[~gone_all & ~unknown]
    if mode == "probs":
        lo, hi = 0.0, (1.0 if live.size == 0 else min(1.0, float(live.max())) * 1.4)
    else:
        lo = min(0.0, float(live.min())) if live.size else 0.0
        hi = max(0.0, float(live.max())) if live.size else 1.0
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
                   text=text, textposition="outside", cliponaxis=False, textfont=dict(size=14), customdata=labels,
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
    for name, colour, shape in ((_t("fig.kept", lang), KEPT, ""), (_t("fig.removed", lang), REMOVED, "/"),
                                (_t("fig.chosen", lang), CHOSEN, "")):
        data.append(dict(type="bar", x=[None], y=[None], name=name, orientation="h", hoverinfo="skip", showlegend=True,
                         marker=dict(color=colour, pattern=dict(shape=shape, fgcolor="#777"))))
    what = _t("fig.bar_prob", lang) if mode == "probs" else _t("fig.bar_logit", lang)
    return _figure(
        data, title, height or 215 + 30 * N, margin=dict(l=130, r=50, t=115, b=100), annotations=notes,
        barmode="overlay", bargap=0.25, **axes,
        legend=dict(orientation="h", x=1, xanchor="right", y=0, yref="container", yanchor="bottom", font=dict(size=14),
                    title=dict(text=_t("fig.bar_is", lang, what=what))),
        yaxis=_axis(tickmode="array", tickvals=y, ticktext=labels, autorange="reversed", showgrid=False, zeroline=False,
                    tickfont=dict(size=15, family="'DejaVu Sans Mono', 'WenQuanYi Micro Hei', monospace")),
    )


# -- the KV cache --------------------------------------------------------------------------------------
def step_latency(steps: Sequence[int], forward_ms: Sequence[float], step_ms: Sequence[float], kv_cache: Sequence[bool],
                 tokens_processed: Sequence[int], height: int = 360, lang: str = "en",
                 selected: int | None = None) -> go.Figure:
    """Per-step wall time: the forward (bars, coloured by cache on/off) and the whole step (line);
    the ``selected`` step (the one the other views inspect) sits on a shaded band."""
    s = _as_array(steps, "steps", 1, dtype=np.int64)
    f, t = _as_array(forward_ms, "forward_ms", 1), _as_array(step_ms, "step_ms", 1)
    on = _as_array(kv_cache, "kv_cache", 1, dtype=bool)
    n_tok = _as_array(tokens_processed, "tokens_processed", 1, dtype=np.int64)
    if not (len(s) == len(f) == len(t) == len(on) == len(n_tok)):
        raise ValueError("steps, forward_ms, step_ms, kv_cache and tokens_processed must have the same length")
    data = []
    for flag, name, colour in ((True, _t("fig.fwd_on", lang), CACHE_ON), (False, _t("fig.fwd_off", lang), CACHE_OFF)):
        m = on == flag
        data.append(dict(type="bar", x=s[m], y=f[m], name=name, marker=dict(color=colour), customdata=n_tok[m],
                         hovertemplate="step %{x}<br>forward %{y:.2f} ms<br>read %{customdata} token(s)<extra></extra>"))
    data.append(dict(type="scatter", x=s, y=t, mode="lines+markers", name=_t("fig.whole_step", lang), line=dict(color="#333", width=2),
                     hovertemplate="step %{x}<br>whole step %{y:.2f} ms<extra></extra>"))
    med = _t("fig.median", lang, ms=f"{np.median(f):.2f}") if len(f) else ""
    band = [] if selected is None else [dict(type="rect", xref="x", yref="paper", x0=selected - 0.5, x1=selected + 0.5,
                                             y0=0, y1=1, fillcolor="rgba(255,127,14,0.18)", line=dict(width=0),
                                             layer="below")]
    return _figure(data, _t("fig.latency_title", lang) + med, height, barmode="overlay", legend=_legend_top(), shapes=band,
                   xaxis=_axis(title=_axis_title(_t("fig.step", lang)), dtick=max(1, math.ceil(len(s) / 25))),
                   yaxis=_axis(title=_axis_title(_t("fig.ms", lang)), rangemode="tozero"))


def _byte_unit(n: float) -> tuple[float, str]:
    for scale, unit in ((2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if n >= scale:
            return float(scale), unit
    return 1.0, "bytes"


def cache_memory(positions: Sequence[int], measured_bytes: Sequence[int], allocated_bytes: Sequence[int],
                 bytes_per_position: int, block_size: int, formula: str, height: int = 380,
                 lang: str = "en") -> go.Figure:
    """KV cache size vs positions: the formula's straight line up to the context window, the measured
    ``numel × element_size`` of each step (points), and the buffers actually reserved (they grow by
    doubling, so reserved ≥ in use)."""
    p = _as_array(positions, "positions", 1, dtype=np.int64)
    m = _as_array(measured_bytes, "measured_bytes", 1)
    al = _as_array(allocated_bytes, "allocated_bytes", 1)
    if not len(p) == len(m) == len(al):
        raise ValueError("positions, measured_bytes and allocated_bytes must have the same length")
    if bytes_per_position <= 0 or block_size <= 0:
        raise ValueError("bytes_per_position and block_size must be positive")
    # zoom on the positions used so far (the full window would squash them into a corner)
    right = int(min(block_size, max(32, 1.6 * float(p.max(initial=0)))))
    scale, unit = _byte_unit(bytes_per_position * right)
    line_x = np.array([0, right])
    data = [
        dict(type="scatter", x=line_x, y=line_x * bytes_per_position / scale, mode="lines", name=_t("fig.formula", lang),
             line=dict(color="#888", dash="dash", width=2), hovertemplate=f"%{{x}} positions → %{{y:.2f}} {unit}<extra>formula</extra>"),
        dict(type="scatter", x=p, y=al / scale, mode="lines", name=_t("fig.reserved", lang), line=dict(color=CHOSEN, shape="hv", width=2),
             hovertemplate=f"%{{x}} positions: %{{y:.2f}} {unit} reserved<extra></extra>"),
        dict(type="scatter", x=p, y=m / scale, mode="markers", name=_t("fig.in_use", lang), marker=dict(color=CACHE_ON, size=9),
             hovertemplate=f"%{{x}} positions: %{{y:.3f}} {unit} in use<extra></extra>"),
    ]
    note = dict(text=label(formula, 220), xref="paper", yref="paper", x=0.01, y=0.98, xanchor="left", yanchor="top",
                showarrow=False, align="left", font=dict(size=14), bgcolor="rgba(255,255,255,0.85)")
    full_scale, full_unit = _byte_unit(bytes_per_position * block_size)
    title = _t("fig.mem_title", lang, per=bytes_per_position, block=block_size,
               full=f"{bytes_per_position * block_size / full_scale:.3g} {full_unit}")
    return _figure(data, title, height, annotations=[note], legend=_legend_top(),
                   xaxis=_axis(title=_axis_title(_t("fig.positions", lang)), range=[0, right * 1.02]),
                   yaxis=_axis(title=_axis_title(unit), rangemode="tozero"))


def cache_comparison(positions: Sequence[int], cached_ms: Sequence[float], uncached_ms: Sequence[float],
                     same_tokens: bool, max_logit_diff: float, height: int = 380, lang: str = "en") -> go.Figure:
    """Greedy generation timed with and without the KV cache: forward ms vs context length."""
    p = _as_array(positions, "positions", 1, dtype=np.int64)
    c, u = _as_array(cached_ms, "cached_ms", 1), _as_array(uncached_ms, "uncached_ms", 1)
    if not len(p) == len(c) == len(u):
        raise ValueError("positions, cached_ms and uncached_ms must have the same length")
    data = [
        dict(type="scatter", x=p, y=u, mode="lines+markers", name=_t("fig.cache_off", lang),
             line=dict(color=CACHE_OFF, width=3), hovertemplate="context %{x}: %{y:.2f} ms<extra>cache off</extra>"),
        dict(type="scatter", x=p, y=c, mode="lines+markers", name=_t("fig.cache_on", lang),
             line=dict(color=CACHE_ON, width=3), hovertemplate="context %{x}: %{y:.2f} ms<extra>cache on</extra>"),
    ]
    speed = float(u.sum() / max(c.sum(), 1e-9)) if len(c) else float("nan")
    same = _t("fig.same_tokens", lang) if same_tokens else _t("fig.diff_tokens", lang)
    return _figure(data, _t("fig.cmpcache_title", lang, speed=speed, same=same, diff=max_logit_diff),
                   height, legend=_legend_top(), xaxis=_axis(title=_axis_title(_t("fig.ctx_len", lang))),
                   yaxis=_axis(title=_axis_title(_t("fig.fwd_ms", lang)), rangemode="tozero"))


# -- beam search ----------------------------------------------------------------------------------------
def beam_tree(nodes: Sequence, labels: Sequence[str], best_path: Sequence[int] = (), max_steps: int = 10,
              length_penalty: float = 1.0, height: int | None = None, lang: str = "en") -> go.Figure:
    """The tree beam search explored: one column per step, that step's candidates ranked top to bottom.

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
    shown = [n for n in nodes if n.step < max_steps]
    by_step: dict[int, list] = {}
    for n in shown:
        if n.parent is not None:
            by_step.setdefault(n.step, []).append(n)
    pos: dict[int, tuple[int, float]] = {}
    for step, group in by_step.items():  # row 0 = the step's best candidate
        for rank, n in enumerate(sorted(group, key=lambda n: -n.cum_logprob)):
            pos[n.node_id] = (step, float(rank))
    rows = max((len(g) for g in by_step.values()), default=1)
    pos[nodes[0].node_id] = (-1, (rows - 1) / 2)
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
        data.append(dict(type="scatter", x=[p[0] for p in path], y=[p[1] for p in path], mode="lines", name="best hypothesis",
                         line=dict(color=CHOSEN, width=8), opacity=0.45, hoverinfo="skip"))
    best = set(best_path)
    for kind, pick, symbol, size, colour in (
        ("kept", lambda n: n.kept and not n.finished, "circle", 14, KEPT),
        ("pruned", lambda n: not n.kept and not n.finished, "circle-open", 10, "#999999"),
        ("finished", lambda n: n.finished, "star", 20, CHOSEN),
    ):
        group = [n for n in shown if n.parent is not None and pick(n)]
        if not group:
            continue
        hover = [f"{label(labels[n.node_id], 30)}<br>log p = {n.logprob:.3f}<br>cumulative = {n.cum_logprob:.3f}"
                 + (f"<br>score = {n.score:.3f} = {n.cum_logprob:.2f} / {n.step + 1}^{length_penalty:g}"
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
                     hoverinfo="text", hovertext=["the prompt"]))
    data.append(dict(type="scatter", x=[None], y=[None], mode="markers", showlegend=False, hoverinfo="skip",
                     marker=dict(colorscale=BEAM_SCALE, cmin=lo, cmax=0.0, color=[lo], showscale=True,
                                 colorbar=dict(title=dict(text="edge log p"), thickness=16))))
    n_steps = max(by_step, default=-1) + 1
    total = max((n.step for n in nodes), default=-1) + 1
    more = _t("fig.beam_more", lang, n=n_steps, total=total) if n_steps < total else ""
    return _figure(
        data, _t("fig.beam_title", lang, more=more),
        height or int(np.clip(150 + 46 * rows, 400, 760)), margin=dict(l=110, r=30, t=90, b=60), annotations=notes,
        legend=_legend_top(),
        xaxis=_axis(title=_axis_title(_t("fig.beam_x", lang)), range=[-1.6, n_steps - 0.4], dtick=1, zeroline=False, showgrid=False),
        yaxis=_axis(title=_axis_title(_t("fig.beam_y", lang)), autorange="reversed", showticklabels=False,
                    zeroline=False, showgrid=False),
    )


# -- train view ------------------------------------------------------------------------------------------
TRAIN, VAL = "#4C78A8", "#E45756"


def loss_curves(steps: Sequence[int], train_loss: Sequence[float], val_steps: Sequence[int] = (),
                val_loss: Sequence[float] = (), total_steps: int | None = None, height: int = 420,
                lang: str = "en") -> go.Figure:
    """Training loss of every step (thin line) and validation loss at its evaluations (points + line).

    ``total_steps`` fixes the x axis to the whole run, so the curve grows to the right while it trains
    instead of the axis rescaling under the student's eyes.
    """
    s = _as_array(steps, "steps", 1, dtype=np.int64)
    tr = _as_array(train_loss, "train_loss", 1)
    vs = _as_array(val_steps, "val_steps", 1, dtype=np.int64)
    vl = _as_array(val_loss, "val_loss", 1)
    if len(s) != len(tr) or len(vs) != len(vl):
        raise ValueError("steps/train_loss and val_steps/val_loss must have the same lengths")
    data = [dict(type="scatter", x=s, y=tr, mode="lines", name=_t("fig.loss_train", lang), line=dict(color=TRAIN, width=2),
                 hovertemplate="step %{x}<br>train loss %{y:.3f}<extra></extra>"),
            dict(type="scatter", x=vs, y=vl, mode="lines+markers", name=_t("fig.loss_val", lang),
                 line=dict(color=VAL, width=3), marker=dict(size=9),
                 hovertemplate="step %{x}<br>validation loss %{y:.3f}<extra></extra>")]
    now = _t("fig.loss_now", lang, step=int(s[-1]), train=f"{tr[-1]:.3f}") if len(s) else ""
    now += _t("fig.loss_now_val", lang, val=f"{vl[-1]:.3f}") if len(vl) else ""
    right = total_steps if total_steps else max(10, int(s.max(initial=0)) + 1)
    return _figure(data, _t("fig.loss_title", lang) + now, height,
                   # below the axis: inside the plot it hid the curve where the loss flattens out
                   legend=dict(x=0, xanchor="left", y=-0.3, yanchor="top", orientation="h", font=dict(size=14)),
                   margin=dict(l=70, r=30, t=110, b=120),
                   xaxis=_axis(title=_axis_title(_t("fig.loss_x", lang)), range=[0, right]),
                   yaxis=_axis(title=_axis_title(_t("fig.loss_y", lang)), rangemode="tozero"))


def objective_panel(inputs: Sequence[str], targets: Sequence[str], target_probs: Sequence[float],
                    losses: Sequence[float], mean_loss: float, height: int = 480, lang: str = "en") -> go.Figure:
    """One batch row of the objective: under each input token, the target (the next token), the
    probability the model gave that target (top, 0..1) and its loss −log p (bottom); the dashed
    line is the row's mean, the number training minimises."""
    p = _as_array(target_probs, "target_probs", 1)
    loss = _as_array(losses, "losses", 1)
    T = len(p)
    _check_len(inputs, T, "target_probs")
    _check_len(targets, T, "target_probs")
    if len(loss) != T:
        raise ValueError(f"losses has {len(loss)} positions but target_probs has {T}")
    x = np.arange(T)
    pair = [f"{label(a, 6)}<br>↓<br><b>{label(b, 6)}</b>" for a, b in zip(inputs, targets)]
    hover = [f"position {i}: input “{label(a, 24)}” → target “{label(b, 24)}”" for i, (a, b) in enumerate(zip(inputs, targets))]
    data = [
        dict(type="bar", x=x, y=p, name="p(target)", marker=dict(color=p, colorscale=WEIGHT_SCALE, cmin=0, cmax=1,
                                                                  line=dict(color="#555", width=1)),
             hovertext=hover, hovertemplate="%{hovertext}<br>p(target) = %{y:.3f}<extra></extra>", yaxis="y"),
        dict(type="bar", x=x, y=loss, name="loss = −log p", marker=dict(color=CACHE_OFF), xaxis="x2", yaxis="y2",
             hovertext=hover, hovertemplate="%{hovertext}<br>loss = %{y:.3f} nats<extra></extra>"),
    ]
    mean_line = dict(type="line", xref="x2", yref="y2", x0=-0.5, x1=T - 0.5, y0=mean_loss, y1=mean_loss,
                     line=dict(color="#333", width=2, dash="dash"))
    note = dict(text=_t("fig.obj_mean", lang, mean=f"{mean_loss:.3f}"), xref="x2", yref="y2", x=T - 0.5, y=mean_loss, xanchor="right",
                yanchor="bottom", showarrow=False, font=dict(size=14))
    ticks = dict(tickmode="array", tickvals=list(x), ticktext=pair, range=[-0.5, T - 0.5])
    title = _t("fig.obj_title", lang, mean=f"{mean_loss:.3f}")
    return _figure(data, title, height, margin=dict(l=70, r=30, t=90, b=110), shapes=[mean_line], annotations=[note],
                   showlegend=False, bargap=0.15,
                   xaxis=_axis(anchor="y", showticklabels=False, range=[-0.5, T - 0.5]),
                   xaxis2=_axis(anchor="y2", matches="x", tickangle=0, tickfont=dict(size=13), **ticks),
                   yaxis=_axis(title=_axis_title("p(target)"), domain=[0.56, 1.0], range=[0, 1]),
                   yaxis2=_axis(title=_axis_title(_t("fig.obj_loss", lang)), domain=[0.0, 0.44], rangemode="tozero"))


def gqa_cache(names: Sequence[str], bytes_per_position: Sequence[int], kv_heads: Sequence[int], block_size: int,
              measured_positions: Sequence[int], measured_bytes: Sequence[Sequence[int]], height: int = 440,
              lang: str = "en") -> go.Figure:
    """KV cache bytes vs position for two models: the formula (lines) and caches measured after a
    forward pass (points); the title gives the second model's saving ("75 % smaller")."""
    if not len(names) == len(bytes_per_position) == len(kv_heads) == len(measured_bytes) == 2:
        raise ValueError("gqa_cache compares exactly two models (names, bytes_per_position, kv_heads, measured_bytes)")
    if min(bytes_per_position) <= 0 or block_size <= 0:
        raise ValueError("bytes_per_position and block_size must be positive")
    pos = _as_array(measured_positions, "measured_positions", 1, dtype=np.int64)
    meas = [_as_array(m, f"measured_bytes[{i}]", 1) for i, m in enumerate(measured_bytes)]
    if any(len(m) != len(pos) for m in meas):
        raise ValueError("each measured_bytes list must have one value per measured position")
    scale, unit = _byte_unit(max(bytes_per_position) * block_size)
    line_x = np.array([0, block_size])
    data = []
    for name, bpp, nkv, m, colour in zip(names, bytes_per_position, kv_heads, meas, (CACHE_OFF, CACHE_ON)):
        data.append(dict(type="scatter", x=line_x, y=line_x * bpp / scale, mode="lines", line=dict(color=colour, width=3),
                         name=f"{label(name, 30)} · {nkv} KV heads (formula)",
                         hovertemplate=f"%{{x}} positions → %{{y:.3f}} {unit}<extra>{label(name, 30)}</extra>"))
        data.append(dict(type="scatter", x=pos, y=m / scale, mode="markers", name=f"{label(name, 30)} (measured)",
                         marker=dict(color=colour, size=11, symbol="diamond", line=dict(color="#222", width=1)),
                         hovertemplate=f"%{{x}} positions: %{{y:.3f}} {unit} measured<extra>{label(name, 30)}</extra>"))
    saving = 1.0 - bytes_per_position[1] / bytes_per_position[0]
    title = _t("fig.gqa_title", lang, b=label(names[1], 30), saving=saving, a=label(names[0], 30)).replace("%", " %")
    return _figure(data, title, height, legend=dict(orientation="h", x=0, y=-0.33, yanchor="top", font=dict(size=14)),  # below the axis title
                   margin=dict(l=70, r=30, t=70, b=150),
                   xaxis=_axis(title=_axis_title(_t("fig.positions", lang)), range=[0, block_size * 1.02]),
                   yaxis=_axis(title=_axis_title(unit), rangemode="tozero"))


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
        what = "key %{x}" if keys else f"{p.get('dim', 'dim')} %{{x}}"
        data.append(dict(type="heatmap", x=x, y=np.arange(start, T), z=z, xaxis=xa, yaxis="y", showscale=False,
                         hoverongaps=False, **scale,
                         hovertemplate=f"{label(p['name'], 40)}<br>position %{{y}} · {what}<br>%{{z:.4f}}<extra></extra>"))
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
    hover = [[f"{layer_names[l]} · position {t} “{label(tokens[t], 20)}”<br>top guess “{label(top_tokens[l][t - first], 20)}” "
              f"p = {tp[l, t - first]:.3f}<br>came next: “{label(target_tokens[t - first], 20)}” p = {gp[l, t - first]:.3f}"
              for t in cols] for l in range(L1)]
    y = np.arange(L1)
    data = [dict(type="heatmap", z=tp[:, start - first:], x=np.arange(start, T), y=y, text=text, texttemplate="%{text}",
                 textfont=dict(size=14), hovertext=hover, hovertemplate="%{hovertext}<extra></extra>", zmin=0.0,
                 zmax=1.0, colorscale=WEIGHT_SCALE, xgap=1, ygap=1,
                 colorbar=dict(title=dict(text="p", side="top"), thickness=14, x=0.71, len=0.9)),
            dict(type="scatter", x=rn[:, -1], y=y, xaxis="x2", mode="lines+markers", name=_t("in.last_position", lang),
                 line=dict(color=CHOSEN, width=3), marker=dict(size=9),
                 hovertemplate="%{y}: ‖x‖ = %{x:.2f}<extra>last position</extra>"),
            dict(type="scatter", x=rn.mean(axis=1), y=y, xaxis="x2", mode="lines+markers", name=_t("in.mean_positions", lang),
                 line=dict(color=KEPT, width=2, dash="dot"), marker=dict(size=7),
                 hovertemplate="%{y}: ‖x‖ = %{x:.2f}<extra>mean</extra>")]
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
    data = [dict(type="bar", x=counts, y=names, orientation="h", text=text, textposition="outside",
                 textfont=dict(size=14), marker=dict(color=KEPT), cliponaxis=False,
                 hovertemplate="%{y}: %{x:,} parameters<extra></extra>")]
    saving = total_untied - total
    tie = (_t("in.tie", lang, total=f"{total:,}", untied=f"{total_untied:,}", saving=f"{saving:,}") if tied
           else _t("in.notie", lang, total=f"{total:,}", tied=f"{total - components.get('head', 0):,}"))
    kv = _t("in.kv", lang, b=_fmt_count_bytes(kv_bytes_per_token)) + (f"<br>= {kv_formula}" if kv_formula else "")
    foot = 150  # px below the plot: the axis title, then this note
    plot_h = max(1, (height or 420) - 70 - foot)
    note = dict(text=kv, xref="paper", yref="paper", x=0, y=-75 / plot_h, xanchor="left", yanchor="top",
                showarrow=False, font=dict(size=14))  # 75 px below the axis, clear of its title
    return _figure(data, tie, height, margin=dict(l=110, r=40, t=70, b=foot), annotations=[note],
                   xaxis=_axis(title=_axis_title(_t("in.params", lang)), range=[0, 1.6 * max(1, int(counts.max(initial=1)))]),
                   yaxis=_axis(autorange="reversed"))


def _fmt_count_bytes(n: int) -> str:
    scale, unit = _byte_unit(n)
    return f"{n:,} bytes" if unit == "bytes" else f"{n / scale:,.1f} {unit} ({n:,} bytes)"


# -- compare ---------------------------------------------------------------------------------------------
def compare_distributions(panels: Sequence[dict], rows: int = 8, height: int | None = None,
                          lang: str = "en") -> go.Figure:
    """Side-by-side next-token distributions, one panel per compared setting.

    Each panel: ``side`` ("A"), ``settings`` (a short text), ``tokens`` (its top tokens, likeliest
    first), ``probs`` (their final probabilities), ``chosen`` (index of the chosen token in
    ``tokens`` or None), ``kept`` (tokens left after the filters), ``vocab``, ``entropy`` (nats).
    Up to 3 panels sit in one row; 4 in a 2 × 2 grid.
    """
    n = len(panels)
    if not 1 <= n <= 4:
        raise ValueError(f"compare 1 to 4 panels; got {n}")
    cols = n if n <= 3 else 2
    nrows = 1 if n <= 3 else 2
    gap_x, gap_y = 0.16 if cols > 1 else 0.0, 0.24
    width = (1 - gap_x * (cols - 1)) / cols
    hgt = (1 - gap_y * (nrows - 1)) / nrows
    data, notes, axes = [], [], {}
    for k, pnl in enumerate(panels):
        probs = _as_array(pnl["probs"], f"panels[{k}].probs", 1)[:rows]
        toks = list(pnl["tokens"])[:rows]
        _check_len(toks, len(probs), f"panels[{k}].probs")
        r, c = divmod(k, cols)
        x0 = c * (width + gap_x)
        y1 = 1 - r * (hgt + gap_y)
        xa, ya = ("x", "y") if k == 0 else (f"x{k + 1}", f"y{k + 1}")
        colours = [CHOSEN if pnl.get("chosen") == i else KEPT for i in range(len(toks))]
        names = [f"{i + 1}. {label(t, 12)}" for i, t in enumerate(toks)]
        data.append(dict(type="bar", x=probs, y=names, orientation="h", xaxis=xa, yaxis=ya, marker=dict(color=colours),
                         text=[f"{p:.1%}" for p in probs], textposition="outside", cliponaxis=False,
                         textfont=dict(size=14), showlegend=False, hovertemplate="%{y}: %{x:.2%}<extra></extra>"))
        axes["xaxis" if k == 0 else f"xaxis{k + 1}"] = _axis(domain=[max(0.0, round(x0, 6)), min(1.0, round(x0 + width, 6))],
                                                          anchor=ya, range=[0, 1.2], tickvals=[0, 0.25, 0.5, 0.75, 1],
                                                          tickformat=".0%", showgrid=True)
        axes["yaxis" if k == 0 else f"yaxis{k + 1}"] = _axis(
            domain=[max(0.0, round(y1 - hgt, 6)), min(1.0, round(y1, 6))], anchor=xa, autorange=False, showgrid=False,
            type="category", range=[rows - 0.5, -0.5],
            tickfont=dict(size=14, family="'DejaVu Sans Mono', 'WenQuanYi Micro Hei', monospace"))
        notes.append(dict(text=_t("fig.cmp_panel", lang, side=pnl["side"], settings=pnl["settings"],
                                  kept=int(pnl["kept"]), vocab=int(pnl["vocab"]), entropy=float(pnl["entropy"])),
                          xref="paper", yref="paper", x=x0, y=y1, xanchor="left", yanchor="bottom", yshift=4,
                          align="left", showarrow=False, font=dict(size=14)))
    per_row = 60 + 30 * rows
    return _figure(data, _t("fig.cmp_title", lang), height or 140 + nrows * (per_row + 60),
                   margin=dict(l=20, r=20, t=140, b=40), annotations=notes, **axes)
