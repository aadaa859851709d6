"""The playground page (Gradio), one module per tab; ``build_demo`` (app.py) assembles them.

Data flows one way (DESIGN.md §1): controls -> ``SamplingParams`` -> ``session.Session`` (model, pipeline,
records) -> plain data -> ``playground.figures`` -> components. No torch here: the engine is imported
inside the functions that call it, so importing the page loads no model code.

    app         build_demo (assembles), launch_kwargs
    context     AppContext: model cache, choices, training limits and slots, encoded corpus, strings
    sessions    PageState (one tab), which tabs the server keeps (SessionHolder, FairQueue), NoUploads
    guards      the checked controls, user_errors, no_paths, md_text / toast_text
    controls    the sidebar, the controls bundle (Controls.from_values), endpoint signatures
    views       Selection, View (a part of the page redrawn from the session), Views
    page        Page: the handlers on a tab's session, each tab's events mixed in
    generate · attention · mask · kvcache · beam · compare · training · inside · classroom: the tabs
    static/     page.css, chips.js, projector.js, link.js

Every event has an ``api_name`` so ``gradio_client`` (and the tests) can drive the page.
"""
from __future__ import annotations

from playground.ui.app import build_demo, launch_kwargs
from playground.ui.context import AppContext, ModelCache
from playground.ui.controls import SAMPLING_NAMES, VIEW_NAMES, Controls, params_values
from playground.ui.page import EVENT_VIEWS, PAGE_VIEWS, Page
from playground.ui.sessions import MAX_SESSIONS, STATE_TTL_S, PageState
from playground.ui.views import Selection

__all__ = ["AppContext", "Controls", "EVENT_VIEWS", "MAX_SESSIONS", "ModelCache", "PAGE_VIEWS", "Page", "PageState",
           "SAMPLING_NAMES", "STATE_TTL_S", "Selection", "VIEW_NAMES", "build_demo", "launch_kwargs", "params_values"]
