"""Training: the loss curves and the objective of one batch row."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from playground.figures.style import WEIGHT_SCALE, CACHE_OFF, label, _as_array, _check_len, _axis, _axis_title, _figure
from playground.i18n import t as _t


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
                 hovertemplate=_t("fig.train_hover", lang)),
            dict(type="scatter", x=vs, y=vl, mode="lines+markers", name=_t("fig.loss_val", lang),
                 line=dict(color=VAL, width=3), marker=dict(size=9),
                 hovertemplate=_t("fig.val_hover", lang))]
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
    hover = [_t("fig.obj_hover", lang, i=i, a=label(a, 24), b=label(b, 24)) for i, (a, b) in enumerate(zip(inputs, targets))]
    data = [
        dict(type="bar", x=x, y=p, name=_t("fig.p_target", lang), marker=dict(color=p, colorscale=WEIGHT_SCALE, cmin=0, cmax=1,
                                                                  line=dict(color="#555", width=1)),
             hovertext=hover, hovertemplate=_t("fig.p_target_hover", lang), yaxis="y"),
        dict(type="bar", x=x, y=loss, name=_t("fig.loss_name", lang), marker=dict(color=CACHE_OFF), xaxis="x2", yaxis="y2",
             hovertext=hover, hovertemplate=_t("fig.loss_hover", lang)),
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
                   yaxis=_axis(title=_axis_title(_t("fig.p_target", lang)), domain=[0.56, 1.0], range=[0, 1]),
                   yaxis2=_axis(title=_axis_title(_t("fig.obj_loss", lang)), domain=[0.0, 0.44], rangemode="tozero"))
