"""Views: the parts of the page redrawn from a tab's session, each declared by the tab module that draws it.

A ``View`` names its outputs (components, by name) and how to draw them from a ``PageState`` and a
``Selection``. An event's outputs are the outputs of the views it can redraw (``Views.outputs``), never
counted by hand: Gradio 6 handles every gr.skip() output as a property update (it rebuilds the component
and its config for the session, ~1-2 ms each), so an event lists only the views it can change.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

import gradio as gr
import numpy as np

from playground.figures import MODES
from playground.ui.guards import finite_int


@dataclass(frozen=True)
class Selection:
    """What the page looks at: which step, which head, probabilities or logits."""

    step: int | None
    layer: int
    head: int
    mode: str


def select(ps, step, layer, head, mode) -> Selection:
    """The selection the view controls ask for, clamped to ``ps``'s model and steps (None: no step yet)."""
    cfg = ps.session.model.config
    n = len(ps.session.records)
    s = None if n == 0 else int(np.clip(finite_int(step, n - 1), 0, n - 1))
    return Selection(s, int(np.clip(finite_int(layer, 0), 0, cfg.n_layer - 1)),
                     int(np.clip(finite_int(head, 0), 0, cfg.n_head - 1)), mode if mode in MODES else MODES[0])


@dataclass(frozen=True)
class View:
    """A part of the page: its outputs (component names) and ``draw(ps, selection) -> one value per output``."""

    name: str
    outputs: tuple[str, ...]
    draw: Callable


class Views:
    """The page's views in page order; an event's outputs and values come from here."""

    def __init__(self, *views: View):
        self.views = views
        self.names = tuple(v.name for v in views)

    def outputs(self, parts=None) -> list[str]:
        """The output names of the views ``parts`` (all: None), in page order."""
        return [o for v in self.views if parts is None or v.name in parts for o in v.outputs]

    def render(self, ps, sel: Selection, parts=None) -> tuple:
        """A value for every view output: the views ``parts`` (all: None) drawn, gr.skip() for the others."""
        out: list = []
        for v in self.views:
            if parts is None or v.name in parts:
                drawn = v.draw(ps, sel)
                out += drawn if len(v.outputs) > 1 else [drawn]
            else:
                out += [gr.skip()] * len(v.outputs)
        return tuple(out)

    def cut(self, parts, fn):
        """``fn``'s outputs (state, every view output, then any extras) cut to the views in ``parts``;
        a handler that redraws a view outside ``parts`` is a programming error, not a silent loss."""
        every = [(v.name, o) for v in self.views for o in v.outputs]
        keep = [i for i, (name, _) in enumerate(every) if name in parts]

        @functools.wraps(fn)
        def wrapped(*args):
            out = fn(*args)
            views, extra = out[1:1 + len(every)], out[1 + len(every):]
            if any(views[i] != gr.skip() for i, (name, _) in enumerate(every) if name not in parts):
                raise RuntimeError(f"{fn.__name__} redrew a view outside {parts}")
            return (out[0], *(views[i] for i in keep), *extra)
        return wrapped
