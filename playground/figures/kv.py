"""The KV cache: step latency, cache memory against the formula, cached vs uncached timing, GQA."""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from playground.figures.style import (
    CHOSEN, CACHE_ON, CACHE_OFF, label, _as_array, _axis, _axis_title, _figure, _legend_top,
)
from playground.i18n import t as _t
from playground.units import byte_unit


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
                         hovertemplate=_t("fig.fwd_hover", lang)))
    data.append(dict(type="scatter", x=s, y=t, mode="lines+markers", name=_t("fig.whole_step", lang), line=dict(color="#333", width=2),
                     hovertemplate=_t("fig.step_hover", lang)))
    med = _t("fig.median", lang, ms=f"{np.median(f):.2f}") if len(f) else ""
    band = [] if selected is None else [dict(type="rect", xref="x", yref="paper", x0=selected - 0.5, x1=selected + 0.5,
                                             y0=0, y1=1, fillcolor="rgba(255,127,14,0.18)", line=dict(width=0),
                                             layer="below")]
    return _figure(data, _t("fig.latency_title", lang) + med, height, barmode="overlay", legend=_legend_top(), shapes=band,
                   xaxis=_axis(title=_axis_title(_t("fig.step", lang)), dtick=max(1, math.ceil(len(s) / 25))),
                   yaxis=_axis(title=_axis_title(_t("fig.ms", lang)), rangemode="tozero"))


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
    scale, unit = byte_unit(bytes_per_position * right)
    line_x = np.array([0, right])
    data = [
        dict(type="scatter", x=line_x, y=line_x * bytes_per_position / scale, mode="lines", name=_t("fig.formula", lang),
             line=dict(color="#888", dash="dash", width=2), hovertemplate=_t("fig.formula_hover", lang, unit=unit)),
        dict(type="scatter", x=p, y=al / scale, mode="lines", name=_t("fig.reserved", lang), line=dict(color=CHOSEN, shape="hv", width=2),
             hovertemplate=_t("fig.reserved_hover", lang, unit=unit)),
        dict(type="scatter", x=p, y=m / scale, mode="markers", name=_t("fig.in_use", lang), marker=dict(color=CACHE_ON, size=9),
             hovertemplate=_t("fig.in_use_hover", lang, unit=unit)),
    ]
    note = dict(text=label(formula, 220), xref="paper", yref="paper", x=0.01, y=0.98, xanchor="left", yanchor="top",
                showarrow=False, align="left", font=dict(size=14), bgcolor="rgba(255,255,255,0.85)")
    full_scale, full_unit = byte_unit(bytes_per_position * block_size)
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
             line=dict(color=CACHE_OFF, width=3), hovertemplate=_t("fig.ctx_hover", lang, which=_t("fig.off_short", lang))),
        dict(type="scatter", x=p, y=c, mode="lines+markers", name=_t("fig.cache_on", lang),
             line=dict(color=CACHE_ON, width=3), hovertemplate=_t("fig.ctx_hover", lang, which=_t("fig.on_short", lang))),
    ]
    speed = float(u.sum() / max(c.sum(), 1e-9)) if len(c) else float("nan")
    same = _t("fig.same_tokens", lang) if same_tokens else _t("fig.diff_tokens", lang)
    return _figure(data, _t("fig.cmpcache_title", lang, speed=speed, same=same, diff=max_logit_diff),
                   height, legend=_legend_top(), xaxis=_axis(title=_axis_title(_t("fig.ctx_len", lang))),
                   yaxis=_axis(title=_axis_title(_t("fig.fwd_ms", lang)), rangemode="tozero"))



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
    scale, unit = byte_unit(max(bytes_per_position) * block_size)
    line_x = np.array([0, block_size])
    data = []
    for name, bpp, nkv, m, colour in zip(names, bytes_per_position, kv_heads, meas, (CACHE_OFF, CACHE_ON)):
        data.append(dict(type="scatter", x=line_x, y=line_x * bpp / scale, mode="lines", line=dict(color=colour, width=3),
                         name=_t("fig.gqa_formula", lang, name=label(name, 30), n=nkv),
                         hovertemplate=_t("fig.gqa_formula_hover", lang, unit=unit, name=label(name, 30))))
        data.append(dict(type="scatter", x=pos, y=m / scale, mode="markers", name=_t("fig.gqa_measured", lang, name=label(name, 30)),
                         marker=dict(color=colour, size=11, symbol="diamond", line=dict(color="#222", width=1)),
                         hovertemplate=_t("fig.gqa_measured_hover", lang, unit=unit, name=label(name, 30))))
    saving = 1.0 - bytes_per_position[1] / bytes_per_position[0]
    title = _t("fig.gqa_title", lang, b=label(names[1], 30), saving=saving, a=label(names[0], 30)).replace("%", " %")
    return _figure(data, title, height, legend=dict(orientation="h", x=0, y=-0.33, yanchor="top", font=dict(size=14)),  # below the axis title
                   margin=dict(l=70, r=30, t=70, b=150),
                   xaxis=_axis(title=_axis_title(_t("fig.positions", lang)), range=[0, block_size * 1.02]),
                   yaxis=_axis(title=_axis_title(unit), rangemode="tozero"))
