"""The shared look of every figure, and the small helpers the view modules build on.

For a projector as much as for a laptop: fonts of 14 px and more, an explicit ``height`` on every
figure (autosized plotly figures have rendered at zero height in Gradio), tokens on the axes, and
one colour meaning per quantity across the page:
  * attention weights and probabilities 0..1: ``WEIGHT_SCALE`` (white = 0, dark blue = 1);
  * raw scores that can be negative: ``SCORE_SCALE`` (diverging, centred on 0);
  * kept / removed / chosen tokens: ``KEPT``, ``REMOVED`` (grey, hatched), ``CHOSEN`` (orange);
  * KV cache on / off: ``CACHE_ON`` / ``CACHE_OFF``.

Speed: a Step redraws every view, so figures are built as plain dicts and wrapped once with
plotly's validation switched off (``_figure``): validating each property costs 10-50 ms per
figure, the dict costs ~1 ms. The tests re-validate every figure (``go.Figure(fig.to_dict())``),
so a misspelt property still fails.
"""
from __future__ import annotations

import math
import re
import unicodedata
from typing import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.colors import diverging, make_colorscale, sample_colorscale, sequential

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


def text_em(text: str) -> float:
    """Estimated width of the widest line of ``text`` ("<br>" breaks, tags ignored), in em of its font size:
    a CJK / full-width character is 1 em, any other 0.62 em (wider than the average Latin glyph, so
    an estimate that fits leaves room to spare)."""
    lines = text.replace("<b>", "").replace("</b>", "").split("<br>")
    return max(sum(1.0 if unicodedata.east_asian_width(ch) in "WF" else 0.62 for ch in line) for line in lines)


_WIDE = "\u2e80-\u9fff\uff00-\uffef"  # CJK and full-width: a line may break between any two of these
_CLOSING = set("，。、：；！？）」』”’》")  # never at the start of a line (it stays with the character before it)


def wrap(text: str, font: float, width: float) -> str:
    """``text`` with "<br>" where needed so that no line is estimated (``text_em``) wider than ``width`` px at
    ``font`` px: breaks at spaces, or between CJK characters. Plotly never wraps a title or an annotation,
    so an unwrapped long one runs past its figure."""
    lines = []
    for para in text.split("<br>"):
        line = ""
        for tok in re.findall(rf"[{_WIDE}]|[^\s{_WIDE}]+\s*|\s+", para):
            if line.strip() and tok not in _CLOSING and text_em(line + tok.rstrip()) * font > width:
                lines.append(line.rstrip())
                line = tok.lstrip()
            else:
                line += tok
        lines.append(line.rstrip())
    return "<br>".join(lines)


def placeholder(message: str, height: int = 260) -> go.Figure:
    """A figure that says why there is nothing to draw yet (never a blank white box)."""
    note = dict(text=wrap(message, 18, 400), x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False,  # 400 px:
                font=dict(size=18, color="#555"))  # a half-width column
    return _figure([], "", height, margin=dict(l=10, r=10, t=10, b=10), annotations=[note],
                   xaxis=dict(visible=False), yaxis=dict(visible=False))
