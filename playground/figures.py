"""Plotly figures: each a pure function of plain data (numpy, lists, strings) -> go.Figure."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go


def next_token_bars(tokens: list[str], probs: np.ndarray, title: str = "Next-token probabilities") -> go.Figure:
    """Horizontal bars, most likely token on top."""
    probs = np.asarray(probs, dtype=float)
    if len(tokens) != len(probs):
        raise ValueError(f"{len(tokens)} tokens but {len(probs)} probabilities")
    fig = go.Figure(go.Bar(
        x=probs[::-1], y=[f"{t} " for t in tokens[::-1]], orientation="h",
        text=[f"{p:.1%}" for p in probs[::-1]], textposition="outside",
        marker_color="#4C78A8", hovertemplate="%{y}: %{x:.4f}<extra></extra>",
    ))
    fig.update_layout(title=title, height=40 + 28 * max(len(tokens), 5), margin=dict(l=10, r=40, t=50, b=30),
                      xaxis=dict(title="probability", range=[0, min(1.0, float(probs.max(initial=0)) * 1.25 + 0.02)]),
                      font=dict(size=15))
    return fig
