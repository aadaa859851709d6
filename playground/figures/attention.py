"""Attention views: one head's matrix, every head at once, the causal mask, the leak check.

``attention_tiles`` is the overview's adapter: it reads the tiles from a session's ``attention``."""
from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np
import plotly.graph_objects as go

from playground.figures.style import (
    WEIGHT_SCALE, SCORE_SCALE, KEPT, CHOSEN, MASK_SCALE, NEG_INF, label, _as_array, _check_len, _ticks, _axis,
    _axis_title, _figure, _legend_top,
)
from playground.i18n import t as _t


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
                 colorbar=dict(title=dict(text=_t("fig.weight", lang)), thickness=16),
                 hovertemplate=_t("fig.attn_hover", lang))
    if S <= 40:
        trace.update(xgap=1, ygap=1)
    every = max(1, math.ceil(S / 40))
    ticks = dict(type="category", tickmode="array", tickvals=names[::every], ticktext=[label(t) for t in tokens[::every]])
    shapes = []
    if highlight_query is not None:
        shapes.append(dict(type="rect", x0=-0.5, x1=S - 0.5, y0=highlight_query - 0.5, y1=highlight_query + 0.5,
                           line=dict(color=CHOSEN, width=3)))
    title = _t("fig.attn_title", lang, layer=layer, head=head)
    line, _, rest = title.partition("<br>")  # how many positions (= rows), in the words the overview uses
    total = max(total or 0, first + S)
    shown = _t("fig.all_positions", lang, S=S) if total == S else _t("fig.last_positions", lang, W=S, total=total)
    title = f"{line} · {shown}<br>{rest}"
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
                 colorbar=dict(title=dict(text=_t("fig.weight", lang)), thickness=16),
                 hovertemplate=_t("fig.overview_hover", lang))
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
                  hovertemplate=_t("fig.mask_hover", lang))]
    notes = []
    if scores is not None:
        s = scores[:n, :n]
        lim = float(np.max(np.abs(s[visible > 0]))) if n else 1.0
        lim = lim if np.isfinite(lim) and lim > 0 else 1.0
        fmt = "{:.1f}" if lim >= 1 else "{:.2f}"
        masked = np.where(visible > 0, s, np.nan)
        common = dict(zmin=-lim, zmax=lim, colorscale=SCORE_SCALE)
        data.append(panel(1, z=s, **common, text=[[fmt.format(v) for v in row] for row in s], **cell_text,
                          hovertemplate=_t("fig.score_hover", lang), colorbar=colorbar(1)))
        masked_text = [[(fmt.format(v) if show_text else "") if np.isfinite(v) else NEG_INF for v in row] for row in masked]
        data.append(panel(2, z=masked, **common, showscale=False, text=masked_text, texttemplate="%{text}",
                          textfont=dict(size=14), hoverongaps=False,
                          hovertemplate=_t("fig.masked_hover", lang)))
    else:
        for k in (1, 2):
            notes.append(dict(text=_t("fig.no_scores", lang), xref="paper", yref="paper",
                              x=sum(cols[k % 2]) / 2, y=sum(rows[k // 2]) / 2, showarrow=False,
                              font=dict(size=15, color="#777")))
    data.append(panel(3, z=w, zmin=0.0, zmax=1.0, colorscale=WEIGHT_SCALE, text=[[f"{v:.2f}" for v in row] for row in w],
                      **cell_text, hovertemplate=_t("fig.weight_hover", lang),
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
    hover = _t("fig.leak_hover", lang)
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


# -- session -> figure input ----------------------------------------------------------------------------
def attention_tiles(attention: Callable[[int, int, int, int], np.ndarray], n_layer: int, n_head: int, S: int,
                    keys_kept: int | None = None) -> np.ndarray:
    """The tiles of ``attention_overview`` for a text whose first S positions were read:
    (n_layer, n_head, W, W) float32, every head's attention among the last W positions.

    ``attention(layer, head, start, stop)`` gives one head's (n, n) weights among positions
    start..stop-1 (``Session.attention``). W is ``overview_window``'s, and never more than the keys
    the session keeps of each row: ``keys_kept``, by default the ``keys_kept`` of the session that
    ``attention`` is a method of (S when it has none).
    """
    if S < 1:
        raise ValueError(f"attention tiles need at least one position read; got S={S}")
    if keys_kept is None:
        keys_kept = getattr(getattr(attention, "__self__", None), "keys_kept", S)
    W = min(overview_window(n_layer, n_head, S), keys_kept)
    tiles = np.empty((n_layer, n_head, W, W), dtype=np.float32)
    for layer in range(n_layer):
        for head in range(n_head):
            tiles[layer, head] = attention(layer, head, S - W, S)  # (W, W)
    return tiles
