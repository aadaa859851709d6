"""The page: ``build_demo`` assembles the tabs (each module builds its components and wires its events),
``launch_kwargs`` the server settings (DESIGN.md §5)."""
from __future__ import annotations

import os
from pathlib import Path

import gradio as gr
from starlette.middleware import Middleware

from playground.ui import (architecture, attention, beam, classroom, compare, controls, faster, generate, inside,
                           kvcache, mask, sessions, training)
from playground.ui.context import AppContext, Loader
from playground.ui.guards import check_inputs
from playground.ui.page import Page
from playground.ui.sessions import FairQueue, NoUploads

STATIC = Path(__file__).parent / "static"


def static(name: str) -> str:
    """A CSS or JS file of the page (playground/ui/static), read when the page is built."""
    return (STATIC / name).read_text(encoding="utf-8")


def build_demo(model_loader: Loader | None = None, choices: dict[str, str | None] | None = None,
               train_limits=None) -> gr.Blocks:
    """The whole page. ``model_loader(name) -> (model, tokenizer)`` replaces ``weights.load_model``
    (tests inject a tiny random model); ``choices`` maps model names to None or why they are unavailable;
    ``train_limits`` (a ``train.TrainLimits``) replaces ``TrainLimits.from_env()``."""
    ctx = AppContext.build(model_loader, choices, train_limits)
    page = Page(ctx)
    note_box = classroom.note_box
    c: dict = {}
    with gr.Blocks(title="GPT Playground") as demo:
        c["state"] = gr.State(None, time_to_live=sessions.STATE_TTL_S, delete_callback=ctx.forget)
        c.update(controls.build_sidebar(ctx))
        c.update(classroom.build_bar(ctx))  # the title, language, projector, share link and lessons
        c.update(generate.build(ctx, static("chips.js")))
        with gr.Tabs(elem_id="views", overflow_behavior="wrap") as c["tabs"]:  # every tab visible, no "⋯" menu
            for tab in (generate, attention, mask, kvcache, beam, compare, training, inside, faster, architecture):
                c.update(tab.build_tab(ctx, note_box))
        c.update(generate.build_step_row(ctx))
        c["view"] = [c["view_step"], c["layer"], c["head"], c["mode"]]
        c["controls"] = [c["state"], c["model"], c["prompt"], c["kv"], *c["sampling"], *c["view"]]
        for tab in (generate, attention, mask, kvcache, beam, compare, inside, faster, architecture):
            tab.wire(page, c)
        training.wire(ctx, c)
        classroom.wire(demo, page, c, {"projector": static("projector.js"), "link": static("link.js"),
                                       "scroll": static("scroll.js"), "locale": static("locale.js")})
    check_inputs(demo)
    progress_on_one(demo)
    # With monitoring off nobody reads Gradio's monitoring summary, yet by default it is recomputed
    # after every event as a pandas table over the last 10,000 events: measured here, a class's
    # median Step went 57 -> 108 -> 182 ms over three 45-second classes. Keep it small and rare.
    os.environ.setdefault("GRADIO_ANALYTICS_MAX_EVENTS", "500")
    os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "1000")
    demo.queue(default_concurrency_limit=2, max_size=64, api_open=False)
    demo._queue.__class__ = FairQueue  # at most MAX_QUEUED_PER_TAB events per tab; tabs kept by SessionHolder
    demo.app_context = ctx  # for tests and monitoring: ctx.live_states
    return demo


def progress_on_one(demo: gr.Blocks) -> None:
    """Every event shows its progress on one component: the one it names (``show_progress_on``), else its first
    output that the page shows (the token chips for a Step).

    Gradio's client keeps a loading status for every component that any event ever showed progress on (by
    default: all its outputs), and on each status message of each event it updates all of them, each found by
    a walk of the whole component tree. The page's language switch and link restore have ~200 outputs (every
    label), so after the page opened each Step made ~1,000 of those updates (~80 ms of the browser's main thread,
    benchmarks/browser_speed.py); with one target per event, ~40."""
    for fn in demo.fns.values():
        if fn.show_progress_on is None and len(fn.outputs) > 1:
            shown = [o for o in fn.outputs if not isinstance(o, gr.State)]
            if fn.show_progress == "hidden":  # no progress to show: its status goes to the state, which draws nothing
                shown = [o for o in fn.outputs if isinstance(o, gr.State)] or shown
            fn.show_progress_on = shown[:1] or None


def _port(raw: str) -> int:
    if raw.isdigit() and 1 <= int(raw) <= 65535:
        return int(raw)
    raise SystemExit(f"GRADIO_SERVER_PORT must be a port number from 1 to 65535; got {raw!r}")


def launch_kwargs() -> dict:
    """``demo.launch(**launch_kwargs())``: DESIGN.md §5 settings; host/port from Gradio's env variables."""
    return dict(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        server_port=_port(os.environ.get("GRADIO_SERVER_PORT", "7860")),
        css=static("page.css"),
        theme=gr.themes.Default(text_size=gr.themes.sizes.text_lg),
        show_error=False,  # only gr.Error messages reach users; other exceptions stay in the server log
        state_session_capacity=sessions.MAX_SESSIONS,
        enable_monitoring=False,
        # Gradio 6's run history would copy every event's inputs and outputs (figures: tens of KB) into the
        # browser's localStorage, re-reading and re-writing the whole list on each status message: ~100 ms of the
        # page's main thread per Step (benchmarks/browser_speed.py), and a shared classroom machine's history
        run_history=False,
        max_file_size="1mb",
        app_kwargs=dict(middleware=[Middleware(NoUploads)]),  # the page takes no uploads: the route answers 403
    )


__all__ = ["build_demo", "launch_kwargs"]
