"""Input guards: what a client sends is checked before a handler reads it, and what a user reads is escaped.

* ``checked(base, check)``: one generic checked control; every slider, number box, dropdown and radio of
  the page becomes one (``check_inputs``), so a bad value sent by an API client is refused with a message
  naming the control (Gradio's own says "Error" or prints Python types).
* ``user_errors``: a handler's ValueError reaches the user as gr.Error (paths cut, HTML escaped); any other
  exception as a plain message without its text.
* ``md_text`` / ``toast_text``: text shown as written, never markup, in Markdown and in toasts.
"""
from __future__ import annotations

import functools
import html
import inspect
import logging
import math
import numbers
import re

import gradio as gr

from playground import lessons

log = logging.getLogger(__name__)
_PATH = re.compile(r"(?<![\w:/.])(?:~|\.{1,2})?(?:/[^\s/'\"(),;]+){2,}/?")
UNEXPECTED = ("Something went wrong on the server ({kind}); the details are in the server log. "
              "Try again, or press Reset to start over.")


# -- text a user reads ------------------------------------------------------------------------------------
def md_text(text: str, limit: int | None = None) -> str:
    """``text`` (a prompt, a token, generated text) for a Markdown component: shown as written, never markup.

    Gradio's Markdown renders HTML (its sanitiser keeps <form>, <img>, <a> and style=), links, images
    and bare URLs, so html.escape is not enough: every ASCII character but letters, digits and spaces
    becomes a numeric character reference, which Markdown prints and never parses. One line (newlines
    as ↵, so it fits a table cell), cut to ``limit`` characters.
    """
    if limit is not None and len(text) > limit:
        text = text[:limit - 1] + "…"
    return "".join(c if c.isalnum() or c == " " or not c.isascii() else "↵ " if c == "\n" else f"&#{ord(c)};"
                   for c in text)


def toast_text(text: str) -> str:
    """``text`` for gr.Error / gr.Warning: Gradio's toasts render their message as (sanitised) HTML."""
    return html.escape(text, quote=False)


def no_paths(message: str) -> str:
    """``message`` with each filesystem path cut to its last part: a client never learns the server's layout."""
    return _PATH.sub(lambda m: m.group(0).rstrip("/").rsplit("/", 1)[-1], message)


def short_reason(reason: str, limit: int = 160) -> str:
    """The first sentence of a long reason (the whole of it shows when that model is picked)."""
    first = no_paths(reason).split(". ")[0]
    return first if len(first) <= limit else first[: limit - 1] + "…"


# -- handler errors --------------------------------------------------------------------------------------
def as_user_error(e: Exception) -> gr.Error:
    """A ValueError's message (paths cut) for the user; anything else is logged and named only by its kind."""
    if isinstance(e, ValueError):  # its text may quote what a client sent: escaped for the toast's HTML
        return gr.Error(toast_text(no_paths(str(e))))
    log.exception("unexpected error in a page handler")
    return gr.Error(UNEXPECTED.format(kind=type(e).__name__))


def user_errors(fn):
    """ValueErrors (bad settings, nothing to undo, prompt too long...) reach the user as gr.Error;
    an unexpected exception reaches them as a plain message without its text (which may hold paths)."""
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def gen(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except gr.Error:
                raise
            except Exception as e:
                raise as_user_error(e) from e
        return gen

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except Exception as e:
            raise as_user_error(e) from e
    return wrapper


# -- values a client sends --------------------------------------------------------------------------------
whole_or_raw = lessons.whole_or_raw  # sliders with step=1 deliver floats: 3.0 passes as 3 (one definition)


def finite_int(x, default: int) -> int:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return default
    return int(x) if math.isfinite(x) else default


def event_object(evt, example: str | None = None) -> dict:
    """The object an event carries ({"step": 3}, a tab's {"id": ...}). An API client may send a list, a string,
    a number or null instead: refused naming the expected shape, or (no ``example``) read as an empty object."""
    data = getattr(evt, "_data", None)
    if isinstance(data, dict):
        return data
    if example is None:
        return {}
    raise ValueError(f"this event carries an object such as {example}; got {lessons.short_repr(data)}")


# -- checked controls ---------------------------------------------------------------------------------------
def _number_check(component, preprocess, payload):
    """Refuse what is not a finite number (a string, None, NaN, ±inf sent by an API client) with a plain
    message naming the control (Gradio's own bounds check fails on them with a bare "Error"); an
    out-of-range message gets the control's label in front."""
    if not (payload is None and isinstance(component, gr.Number)):  # an emptied box: the handler decides
        if isinstance(payload, bool) or not isinstance(payload, numbers.Real) or not math.isfinite(payload):
            raise gr.Error(toast_text(f"{component.label or 'this setting'} must be a finite number; "
                                      f"got {lessons.short_repr(payload)}"))
    try:
        return preprocess(payload)
    except gr.Error as e:
        raise gr.Error(toast_text(f"{component.label}: {e.message}")) from None


def _choice_check(component, preprocess, payload):
    """A value not among the choices is refused naming the control (Gradio's message prints Python types)."""
    try:
        return preprocess(payload)
    except gr.Error:
        values = ", ".join(str(v) for _, v in component.choices)
        raise gr.Error(toast_text(f"{component.label}: {lessons.short_repr(payload)} is not one of the choices "
                                  f"({values[:300]})")) from None


def checked(base: type, check) -> type:
    """``base`` (a Gradio input) whose payload passes ``check(component, preprocess, payload)`` first;
    the browser draws it as ``base``."""
    block_name = base.__name__.lower()

    class Checked(base):
        def get_block_name(self) -> str:
            return block_name

        get_block_class = get_block_name

        def preprocess(self, payload):
            return check(self, super().preprocess, payload)

    Checked.__name__ = Checked.__qualname__ = f"Checked{base.__name__}"
    return Checked


CHECKED = {base: checked(base, check) for base, check in ((gr.Slider, _number_check), (gr.Number, _number_check),
                                                          (gr.Dropdown, _choice_check), (gr.Radio, _choice_check))}


def check_inputs(demo: gr.Blocks) -> None:
    """Give every slider, number box, dropdown and radio of ``demo`` its checks. (Gradio rebuilds an updated
    component from its class, so the checks survive ``gr.update``.)"""
    for block in demo.blocks.values():
        if type(block) in CHECKED:
            block.__class__ = CHECKED[type(block)]
