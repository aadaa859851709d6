"""The playground page: Gradio layout and wiring only; handlers are thin adapters.

Data flows one way (DESIGN.md §1): controls -> ``SamplingParams`` -> ``trace.Session`` (model,
pipeline, records) -> plain arrays -> ``figures`` -> components. Nothing here computes what a
lower layer already computes; the functions below only pick fields out of records.

State: each browser tab owns one ``PageState`` in a ``gr.State`` (its ``Session``, the last beam
search, a cached causal-mask figure). The Session keeps its KV cache and the newest step's raw
logits as torch tensors: that is what makes a Step read one token and a slider re-decide without
a forward pass, so it cannot be pure numpy; it deep-copies (sharing the read-only model).
Models load once per process (``ModelCache``) and are never put in a state.

Every event has an ``api_name`` so ``gradio_client`` (and the tests) can drive the page.
"""
from __future__ import annotations

import copy
import functools
import html
import inspect
import logging
import math
import numbers
import os
import re
import threading
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass, field, replace
from typing import Callable, Iterator

import gradio as gr
import numpy as np
import psutil
from fastapi import HTTPException
from gradio.queueing import Queue
from gradio.state_holder import SessionState, StateHolder
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse

from playground import figures, i18n, lessons
from playground.config import SamplingParams, env_number
from playground.inside import leak_compare, max_positions, walkthrough
from playground.sampling import STAGES
from playground.trace import Session, StepRecord

Loader = Callable[[str], tuple]  # name -> (GPT, Tokenizer)

DEFAULT_MODEL = "shakespeare"
EXAMPLES = [
    "ROMEO:",
    "To be, or not to be, that is the question:",
    "KING HENRY V:\nOnce more unto the breach, dear friends,",
    "The quality of mercy is not strained;",
    "我喜欢猫",  # byte-level BPE: CJK characters split into byte tokens
]
NEXT_ROWS = 10  # tokens drawn per decoding stage
MASK_TOKENS = 8  # positions drawn in the causal-mask view (numbers fit in the cells)
# a tab's state is freed 30 minutes after its last event (PLAYGROUND_STATE_TTL_S overrides, e.g. for load tests)
STATE_TTL_S = env_number("PLAYGROUND_STATE_TTL_S", 1800.0)
# Tabs the server keeps (see "sessions" below). A tab on the embedded model grows the server by up to
# TAB_BYTES, at its full 256-token context (benchmarks/session_memory.py: 7.7 MB resident, 30 KB after
# loading). The default spends a quarter of the machine's (or container's) memory on them, 100 to 2,000
# tabs (16 GB: 512, a dozen classes of 40); past it the least useful tab goes first, never silently.
TAB_BYTES = 8 * 2**20


def _memory_bytes() -> int:
    """The machine's memory, or the container's limit when it has one (cgroup v2 or v1)."""
    total = psutil.virtual_memory().total
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(path) as f:
                raw = f.read().strip()
        except OSError:
            continue
        if raw.isdigit():
            total = min(total, int(raw))
    return total


MAX_SESSIONS = env_number("PLAYGROUND_MAX_SESSIONS", max(100, min(2000, _memory_bytes() // 4 // TAB_BYTES)), int)
# one client (an IP address: a whole school behind NAT) may hold half of them; its own least useful tab goes first
MAX_SESSIONS_PER_CLIENT = env_number("PLAYGROUND_MAX_SESSIONS_PER_CLIENT", max(50, MAX_SESSIONS // 2), int)
# events one tab may have waiting or running at once: a browser tab has a few, so one tab cannot fill the queue
MAX_QUEUED_PER_TAB = env_number("PLAYGROUND_MAX_QUEUED_PER_TAB", 8, int)
MAX_PROMPT_CHARS = lessons.MAX_PROMPT_CHARS  # longer prompts are refused before tokenizing (lessons: every text limit)
STAGE_NAMES = {"raw": "raw", "repetition_penalty": "penalty", "temperature": "temperature",
               "top_k": "top-k", "top_p": "top-p", "min_p": "min-p = final"}
STOP_TEXT = {"eos": "the end-of-text token", "stop_string": "a stop string", "max_new_tokens": "max new tokens",
             "context_full": "the context window is full"}
MODES = ["probabilities", "logits"]


# -- models: loaded once per process, shared read-only ----------------------------------------------
class ModelCache:
    """name -> (model, tokenizer), each loaded at most once per process, on first use."""

    def __init__(self, loader: Loader):
        self.loader = loader
        self._models: dict[str, tuple] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> tuple:
        with self._lock:  # two first users must not load the same model twice
            if name not in self._models:
                model, tok = self.loader(name)
                self._models[name] = (model.eval(), tok)
            return self._models[name]


def _default_loader(name: str) -> tuple:
    from playground.weights import load_model

    return load_model(name)


_MODELS = ModelCache(_default_loader)


# -- per-user state ---------------------------------------------------------------------------------
@dataclass
class PageState:
    """One browser tab: its session and what the views cache. Small; deep-copyable."""

    model_name: str
    session: Session
    beam: object | None = None  # playground.beam.BeamResult of the last beam search
    mask_key: tuple | None = None  # (ids, layer, head) the cached mask figure was drawn for
    mask_fig: object | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    mine: "SessionModels" = field(default_factory=lambda: SessionModels(), repr=False)  # train view: this tab's models
    lang: str = "en"  # the page's language (classroom mode): figures and status lines are drawn in it
    extras: dict = field(default_factory=dict, repr=False)  # view -> redraw(lang) of a result figure (language switch)
    slider_shape: tuple | None = None  # (maximum, interactive) last sent for the step slider; None: not yet
    version: int = 0  # bumped (under ``lock``) when a Reset or a model change replaces this state: a Run stepping it stops
    gone: str | None = None  # "idle" / "evicted": the server freed this tab's state (_forget); its next event says so

    def __deepcopy__(self, memo):
        new = copy.copy(self)
        new.session = copy.deepcopy(self.session, memo)
        new.lock = threading.Lock()
        return new


def _carry_lang(old: "PageState | None", new: "PageState") -> "PageState":
    """A rebuilt state keeps the page's language; a tab whose state the server freed is told so, once."""
    if isinstance(old, PageState):
        new.lang = old.lang
        if "lesson" in old.extras:  # the lesson note stays on screen (and follows the language) after a reset
            new.extras["lesson"] = old.extras["lesson"]
        _tell_gone(old)
    return new


def _tell_gone(ps: "PageState") -> None:
    """A toast for a tab whose state was freed (``ps.gone``): what happened, and that its prompt and settings
    (which the browser sends with every event) were restored; earlier steps are gone."""
    if ps.gone:
        idle = (i18n.t("unit.minutes", ps.lang, n=f"{STATE_TTL_S / 60:g}") if STATE_TTL_S >= 120 else
                i18n.t("unit.seconds", ps.lang, n=f"{STATE_TTL_S:g}"))
        gr.Warning(i18n.t(f"session.{ps.gone}", ps.lang, idle=idle))
        ps.gone = None


def _retire(ps) -> None:
    """``ps`` stops speaking for its tab (Reset, another model): a Run still stepping it stops."""
    if isinstance(ps, PageState):
        with ps.lock:  # after this, that Run takes no step and draws nothing
            ps.version += 1


LIVE_STATES = {"count": 0}  # for monitoring the TTL clean-up (tests read it)


def _forget(state) -> None:
    """gr.State delete_callback: drop the session's records and KV cache promptly. What is left (the language,
    the lesson, ``gone``) is small: ``SessionHolder`` keeps it so the tab's next event can say what happened."""
    if isinstance(state, PageState) and state.session is not None:
        LIVE_STATES["count"] = max(0, LIVE_STATES["count"] - 1)
        state.session = None  # type: ignore[assignment]
        state.beam = state.mask_fig = None
        state.extras = {k: v for k, v in state.extras.items() if k == "lesson"}  # the figures go, the lesson stays
        state.mine.stop.set()  # a training still running for a closed tab stops at its next step
        state.mine.models.clear()
        _give_memory_back()


_TRIM: dict = {"timer": None}
_TRIM_LOCK = threading.Lock()


def _give_memory_back(delay_s: float = 2.0) -> None:
    """Soon return freed heap pages to the OS (glibc ``malloc_trim``): one trim per burst of expiries.

    A class's sessions free their tensors when they expire, but glibc keeps freed pages in its
    per-thread arenas, so without this the server's resident memory ratchets up class after class.
    Gradio frees expired states in one sweep; a trim ``delay_s`` after the first covers the sweep.
    """
    with _TRIM_LOCK:
        if _TRIM["timer"] is not None and _TRIM["timer"].is_alive():
            return
        _TRIM["timer"] = threading.Timer(delay_s, _malloc_trim)
        _TRIM["timer"].daemon = True
        _TRIM["timer"].start()


def _malloc_trim() -> None:
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (macOS, musl): nothing to give back this way
        pass


# -- sessions: which tabs the server keeps, and what a tab whose state was freed is told ----------------
# Gradio keeps every tab (its session_hash) in ``app.state_holder``: our PageState (a gr.State) and its own
# copy of the page's components. Stock Gradio 6.31, measured (benchmarks/session_memory.py): a new tab
# costs ~14 ms of the event loop and ~290 KB (every component's config, read only by the deep-link route),
# every figure sent is copied in again, and each Step adds one more copy of the step slider (an updated
# input is registered again under a new id). Past ``state_session_capacity`` tabs it drops the least
# recently used one without its delete callback, and a state's time-to-live counts from the last event
# that wrote it. So one client opening ~200 tabs reset every student's page. Here (FairQueue installs
# SessionHolder when the server starts):
#   * a tab is cheap: LeanSessionState keeps no config copies and registers no update twice;
#   * a tab's state lives STATE_TTL_S after its last event of any kind (Train, Stop, a preset...), and
#     never ends while one of its events waits or runs (a training, a Run);
#   * past MAX_SESSIONS tabs, or MAX_SESSIONS_PER_CLIENT of one client, the least useful tab goes first:
#     one whose state is freed or whose browser tab closed, then one that did nothing after loading the
#     page, then the least recently used; never one with an event in flight. Its ``_forget`` runs;
#   * a tab whose state was freed finds a tombstone on its next event (a PageState with ``gone`` set, and
#     its own slider/dropdown ranges); the handler rebuilds from the prompt and settings the browser sent
#     and ``_tell_gone`` says so.
PASSIVE_EVENTS = frozenset({"restore_link", "load_page", "apply_link", "inside_follow"})  # what opening the page runs


class _NoConfigs(dict):
    """``SessionState.config_values`` keeping nothing: Gradio reads it only for deep links, unused here."""

    def __setitem__(self, key, value):
        pass

    def __contains__(self, key):  # "there already": Gradio then builds no config just to store it
        return True

    def __getitem__(self, key):
        return {}


class LeanSessionState(SessionState):
    """Gradio's record of one tab, without its per-tab copy of every component's config."""

    def __init__(self, blocks):  # SessionState.__init__ (Gradio 6.31) but config_values; a test compares the fields
        self.blocks_config = copy.copy(blocks.default_config)
        self.config_values = _NoConfigs()
        self.state_data, self._state_ttl = {}, {}
        self.is_closed = False
        self.STATE_TTL_WHEN_CLOSED = 3600

    def __setitem__(self, key, value):
        if key in self.blocks_config.blocks:  # an updated input also comes back under its own new id: not kept twice
            super().__setitem__(key, value)


@dataclass
class Tab:
    """What the server knows of a tab besides its state."""

    client: str = ""  # the address its first event came from (uvicorn reads X-Forwarded-For from a trusted proxy)
    active: bool = False  # it ran an event besides loading the page
    used: float = field(default_factory=time.monotonic)  # its last event (kept current while one is in flight)


def _in_flight(queue: Queue) -> Counter:
    """session_hash -> how many of its events wait in the queue or run."""
    waiting = [e.session_hash for q in queue.event_queue_per_concurrency_id.values() for e in q.queue]
    running = [e.session_hash for job in queue.active_jobs if job for e in job]
    return Counter(waiting + running)


class SessionHolder(StateHolder):
    """Gradio's store of tabs with the rules above; ``capacity`` is launch(state_session_capacity=MAX_SESSIONS)."""

    def __init__(self, blocks: gr.Blocks):
        super().__init__()
        self.set_blocks(blocks)
        self.per_client = MAX_SESSIONS_PER_CLIENT
        self.tabs: dict[str, Tab] = {}
        self.clients: Counter = Counter()  # client -> its tabs
        self.gone: OrderedDict[str, dict] = OrderedDict()  # session_hash -> what its next event finds (bounded)

    def __getitem__(self, session_id: str) -> SessionState:
        """Gradio asks for a tab when one of its events is queued and when it runs."""
        with self.lock:
            state = self.session_data.get(session_id)
            if state is None:
                state = self.session_data[session_id] = LeanSessionState(self.blocks)
            back = self.gone.pop(session_id, None)
            if back is not None:  # its state was freed: the tombstones (and its ranges) tell the handlers
                state.blocks_config.blocks.update(back["inputs"])
                state.state_data.update(back["states"])
            self.session_data.move_to_end(session_id)
            self.tabs.setdefault(session_id, Tab()).used = time.monotonic()
            state.is_closed = False  # an event came: the browser tab is open
        self._make_room(session_id)
        return state

    def joined(self, session_id: str, client: str, api_name: str | None) -> None:
        """One of the tab's events was queued (FairQueue.push)."""
        with self.lock:
            tab = self.tabs.get(session_id)
            if tab is None:
                return
            if client and not tab.client:
                tab.client = client
                self.clients[client] += 1
            tab.active |= api_name not in PASSIVE_EVENTS

    def _rank(self, session_id: str) -> tuple:
        """Lowest goes first: (holds a live page state in an open tab, did something, last used)."""
        state, tab = self.session_data[session_id], self.tabs.get(session_id) or Tab(used=0.0)
        live = not state.is_closed and any(isinstance(v, PageState) and v.session is not None
                                           for v in state.state_data.values())
        return live, live and tab.active, tab.used

    def _make_room(self, keep: str) -> None:
        """Past the capacity, or past ``per_client`` tabs of ``keep``'s client, drop the lowest-ranked tab."""
        dropped = []
        with self.lock:
            client, busy = self.tabs[keep].client, None
            while True:
                if len(self.session_data) > self.capacity:
                    pool = list(self.session_data)
                elif client and self.clients[client] > self.per_client:
                    pool = [s for s, tab in self.tabs.items() if tab.client == client]
                else:
                    break
                busy = _in_flight(self.blocks._queue) if busy is None else busy
                pool = [s for s in pool if s != keep and s not in busy and s in self.session_data]
                if not pool:
                    break
                victim = min(pool, key=self._rank)
                dropped.append((victim, self.session_data.pop(victim)))
                tab = self.tabs.pop(victim)
                if tab.client:
                    self.clients[tab.client] -= 1
        for session_id, state in dropped:
            self._free(session_id, state, list(state.state_data), "evicted", ranges=True)

    def delete_all_expired_state(self) -> None:
        """Gradio's loop calls this every second: free the states of tabs idle past their gr.State's time_to_live."""
        now, busy, due = time.monotonic(), _in_flight(self.blocks._queue), []
        with self.lock:
            for session_id, state in self.session_data.items():
                tab = self.tabs.setdefault(session_id, Tab())
                if session_id in busy:
                    tab.used = now  # in use until its last event ends
                    continue
                keys = [k for k in state.state_data if isinstance(b := state.blocks_config.blocks.get(k), gr.State)
                        and now - tab.used > b.time_to_live]
                if keys:
                    due.append((session_id, state, keys))
        for session_id, state, keys in due:
            self._free(session_id, state, keys, "idle")

    def _free(self, session_id: str, state: SessionState, keys: list, why: str, ranges: bool = False) -> None:
        """Run the delete callbacks of the states ``keys``; keep their tombstones (and, for a dropped tab, its
        own slider/dropdown ranges, so that its next event's view controls still fit) for the tab's return."""
        back = {"states": {}, "inputs": {}}
        for key in keys:
            value = state.state_data.pop(key, None)
            block = state.blocks_config.blocks.get(key)
            if isinstance(block, gr.State):
                block.delete_callback(value)
            if isinstance(value, PageState):
                value.gone = value.gone or why
                back["states"][key] = value
        if ranges:
            back["inputs"] = {k: b for k, b in state.blocks_config.blocks.items()
                              if _own_range(b, self.blocks.blocks.get(k))}
        with self.lock:
            old = self.gone.pop(session_id, None)
            if old is not None:
                back = {"states": {**old["states"], **back["states"]}, "inputs": {**old["inputs"], **back["inputs"]}}
            if back["states"] or back["inputs"]:
                self.gone[session_id] = back
            while len(self.gone) > 2 * self.capacity:
                self.gone.popitem(last=False)


def _own_range(block, default) -> bool:
    """``block`` is a tab's own copy of ``default`` with another range (a slider's bounds, a dropdown's choices)."""
    if block is default or type(block) is not type(default):
        return False
    if isinstance(block, gr.Slider):
        return (block.minimum, block.maximum) != (default.minimum, default.maximum)
    if isinstance(block, (gr.Dropdown, gr.Radio)):
        return [v for _, v in block.choices] != [v for _, v in default.choices]
    return False


class FairQueue(Queue):
    """Gradio's queue with two rules for a class (build_demo sets it): a tab may have MAX_QUEUED_PER_TAB events
    waiting or running (one tab cannot fill the queue), and the server keeps tabs with SessionHolder."""

    def set_server_app(self, app) -> None:
        super().set_server_app(app)
        if not isinstance(app.state_holder, SessionHolder):
            holder = SessionHolder(app.get_blocks())
            holder.session_data.update(app.state_holder.session_data)
            app.state_holder = holder

    async def push(self, body, request, username):
        if body.session_hash is not None and _in_flight(self)[body.session_hash] >= MAX_QUEUED_PER_TAB:
            raise HTTPException(429, f"This tab already has {MAX_QUEUED_PER_TAB} requests waiting or running; "
                                     "wait for them to finish, then try again.")
        out = await super().push(body, request, username)
        holder = getattr(self.server_app, "state_holder", None)
        if out[0] and isinstance(holder, SessionHolder):
            fn = self.blocks.fns.get(body.fn_index)
            client = request.client.host if request.client else ""
            holder.joined(body.session_hash, client, getattr(fn, "api_name", None))
        return out


class NoUploads:
    """ASGI middleware: the page takes no files, so Gradio's upload route (which keeps every file it is sent,
    any number of them, until the server stops) answers 403 before reading a byte of the body."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"].rstrip("/").endswith("/gradio_api/upload"):
            await PlainTextResponse("This page takes no file uploads.", status_code=403)(scope, receive, send)
            return
        await self.app(scope, receive, send)


# -- controls -> parameters ---------------------------------------------------------------------------
def _whole_or_raw(x):
    """Sliders with step=1 deliver floats; pass 3.0 as 3 and let validation refuse 2.5, NaN, None."""
    if isinstance(x, float) and math.isfinite(x) and x == int(x):
        return int(x)
    return x


def parse_stop(text: str | None) -> tuple[str, ...]:
    """One stop string per line; a literal backslash-n means a newline."""
    if not text:
        return ()
    lessons.check_text("Stop strings", text, lessons.MAX_STOP_CHARS)
    return tuple(s.replace("\\n", "\n") for s in text.split("\n") if s.strip())


def make_params(strategy, temperature, top_k, top_p, min_p, repetition_penalty, seed, max_new_tokens, stop,
                num_beams, length_penalty) -> SamplingParams:
    return SamplingParams(
        strategy=strategy, temperature=temperature, top_k=_whole_or_raw(top_k), top_p=top_p, min_p=min_p,
        repetition_penalty=repetition_penalty, seed=_whole_or_raw(seed), max_new_tokens=_whole_or_raw(max_new_tokens),
        stop=parse_stop(stop), num_beams=_whole_or_raw(num_beams), length_penalty=length_penalty,
    )


# -- records -> figure inputs (picking fields, no computing) ------------------------------------------
def stage_table(rec: StepRecord, rows: int = NEXT_ROWS, mode: str = "probabilities", lang: str = "en") -> dict:
    """The arguments of ``figures.next_token_stages`` for one record.

    Rows: the final stage's likeliest tokens, topped up with the raw stage's, the chosen token
    always included; ordered by the raw ranking so a bar keeps its row across stages.
    """
    raw, final = rec.stages[0], rec.stages[-1]
    ids: list[int] = []
    for i, lg in zip(final.top_ids.tolist(), final.top_logits.tolist()):
        if np.isfinite(lg) and len(ids) < rows:
            ids.append(i)
    for i in raw.top_ids.tolist():
        if len(ids) >= rows:
            break
        if i not in ids:
            ids.append(i)
    if rec.token_id not in ids:
        ids[-1] = rec.token_id
    raw_rank = {i: r for r, i in enumerate(raw.top_ids.tolist())}
    ids.sort(key=lambda i: raw_rank.get(i, len(raw_rank)))
    n_st, N = len(rec.stages), len(ids)
    values = np.full((n_st, N), np.nan)
    removed = np.zeros((n_st, N), dtype=bool)
    rest_count, rest_mass = [], []
    tokens = [rec.token if i == rec.token_id else "" for i in ids]  # others are named by the stage lists
    for s, st in enumerate(rec.stages):
        where = {i: k for k, i in enumerate(st.top_ids.tolist())}
        complete = st.kept < len(st.top_ids)  # every surviving token is in this stage's list
        for j, i in enumerate(ids):
            k = where.get(i)
            if k is not None:
                tokens[j] = st.top_tokens[k]
                lg = float(st.top_logits[k])
                removed[s, j] = not np.isfinite(lg)
                values[s, j] = float(st.top_probs[k]) if mode == MODES[0] else lg
            elif complete:
                removed[s, j] = True
            elif s == n_st - 1 and i == rec.token_id and mode == MODES[0]:
                values[s, j] = rec.prob  # a token drawn from far down the list: its final probability is known
            # else: alive but below this stage's top list; NaN draws as "below top list"
        alive = ~removed[s]
        rest_count.append(max(0, st.kept - int(alive.sum())))
        shown = [float(st.top_probs[where[i]]) for j, i in enumerate(ids) if alive[j] and i in where]
        if s == n_st - 1 and rec.token_id not in where:
            shown.append(rec.prob)
        rest_mass.append(max(0.0, 1.0 - sum(shown)))
    labels = []
    for st in rec.stages:
        name = i18n.t(f"stage.{st.name}", lang) if f"stage.{st.name}" in i18n.STRINGS else STAGE_NAMES.get(st.name, st.name)
        labels.append(f"{name} −{st.removed:,}" if st.removed else name)
    return dict(stage_labels=labels, tokens=tokens, values=values, removed=removed, chosen=ids.index(rec.token_id),
                rest_count=rest_count, rest_mass=rest_mass, mode="probs" if mode == MODES[0] else "logits")


def next_token_title(rec: StepRecord, vocab: int, lang: str = "en") -> str:
    how = i18n.t("fig.how_greedy" if rec.greedy else "fig.how_sampled", lang)
    again = i18n.t("fig.again", lang) if rec.resampled else ""
    return i18n.t("fig.step_title", lang, step=rec.step, token=figures.label(rec.token, 24), how=how,
                  p=f"{rec.prob:.1%}", rank=rec.rank + 1, vocab=f"{vocab:,}", entropy=f"{rec.entropy:.2f}", again=again)


def token_chips(tokens, ids, n_prompt: int, probs: list[float], selected: int | None, lang: str = "en") -> str:
    """The text as token chips: prompt tokens grey, generated ones coloured by their probability.

    Hover shows the id (and probability); a generated chip carries ``data-step`` so a click
    selects that step for every view (see ``CHIPS_JS``).
    """
    out = []
    for pos, (t, i) in enumerate(zip(tokens, ids)):
        text = html.escape(t)
        if pos < n_prompt:
            out.append(f'<span class="tok prompt" title="id {i} · prompt token {pos}">{text}</span>')
            continue
        step = pos - n_prompt
        p = probs[step] if step < len(probs) else float("nan")
        bg, fg = figures.prob_colour(p)
        sel = " sel" if step == selected else ""
        out.append(f'<span class="tok gen{sel}" data-step="{step}" style="background:{bg};color:{fg}" '
                   f'title="id {i} · step {step} · p = {p:.1%} · click to inspect">{text}</span>')
    legend = (f'<div class="chip-legend">{i18n.t("chips.legend", lang)} '
              f'<span class="tok" style="background:{figures.prob_colour(0.05)[0]}">{i18n.t("chips.low", lang)}</span>'
              f'<span class="tok" style="background:{figures.prob_colour(0.95)[0]};color:#fff">{i18n.t("chips.high", lang)}'
              f'</span> · {i18n.t("chips.click", lang)}</div>')
    return f'<div class="chips" id="chip-row">{"".join(out)}</div>{legend}'


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


def _fmt_bytes(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024
    return ""


def status_text(ps: PageState, rec: StepRecord | None) -> str:
    s = ps.session
    cfg = s.model.config
    head = i18n.t("status.head", ps.lang, model=ps.model_name, layers=cfg.n_layer, heads=cfg.n_head, width=cfg.n_embd,
                  vocab=f"{cfg.vocab_size:,}", block=cfg.block_size, n=len(s.prompt_ids),
                  kv=i18n.t("status.on" if s.use_kv_cache else "status.off", ps.lang))
    if not s.prompt:
        head += i18n.t("status.empty", ps.lang)
    if rec is None:
        return head + "\n\n" + i18n.t("status.hint", ps.lang)
    line = i18n.t("status.step", ps.lang, step=rec.step, n=len(s.records), tok=md_text(rec.token), id=rec.token_id,
                  p=f"{rec.prob:.1%}", rank=rec.rank + 1, ent=f"{rec.entropy:.2f}", fwd=f"{rec.forward_ms:.1f}",
                  read=rec.tokens_processed, stepms=f"{rec.step_ms:.1f}", kv=_fmt_bytes(rec.kv_bytes),
                  rss=_fmt_bytes(rec.rss_bytes))
    if s.stop:
        why = i18n.t(f"stop.{s.stop}", ps.lang) if f"stop.{s.stop}" in i18n.STRINGS else s.stop
        line += "\n\n" + i18n.t("status.stopped", ps.lang, why=why)
    return head + "\n\n" + line


# -- the views --------------------------------------------------------------------------------------
PARTS = ("tokens", "next", "attention", "mask", "kv", "beam")


@dataclass(frozen=True)
class View:
    """What the page looks at: which step, which head, probabilities or logits."""

    step: int | None
    layer: int
    head: int
    mode: str


def _clamp_view(ps: PageState, step, layer, head, mode) -> View:
    cfg = ps.session.model.config
    n = len(ps.session.records)
    s = None if n == 0 else int(np.clip(_finite_int(step, n - 1), 0, n - 1))
    return View(s, int(np.clip(_finite_int(layer, 0), 0, cfg.n_layer - 1)),
                int(np.clip(_finite_int(head, 0), 0, cfg.n_head - 1)), mode if mode in MODES else MODES[0])


def _finite_int(x, default: int) -> int:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return default
    return int(x) if math.isfinite(x) else default


def _event_object(evt, example: str | None = None) -> dict:
    """The object an event carries ({"step": 3}, a tab's {"id": ...}). An API client may send a list, a string,
    a number or null instead: refused naming the expected shape, or (no ``example``) read as an empty object."""
    data = getattr(evt, "_data", None)
    if isinstance(data, dict):
        return data
    if example is None:
        return {}
    raise ValueError(f"this event carries an object such as {example}; got {lessons.short_repr(data)}")


def render_tokens(ps: PageState, v: View) -> tuple:
    s = ps.session
    recs = s.records
    rec = recs[v.step] if v.step is not None else None
    chips = token_chips(s.tokens, s.ids, len(s.prompt_ids), [r.prob for r in recs], v.step, ps.lang)
    n = len(recs)
    shape = (max(1, n - 1), n > 1)
    # A property update makes Gradio rebuild the component and its config for this session; a slider
    # re-draw or a head switch leaves the range alone, so it sends the value only.
    if shape == ps.slider_shape:
        slider = v.step or 0
    else:
        slider = gr.update(value=v.step or 0, maximum=shape[0], interactive=shape[1])
        ps.slider_shape = shape
    return chips, s.text, status_text(ps, rec), slider


def render_next(ps: PageState, v: View):
    if v.step is None:
        return figures.placeholder(i18n.t("fig.press_step", ps.lang))
    rec = ps.session.records[v.step]
    return figures.next_token_stages(**stage_table(rec, NEXT_ROWS, v.mode, ps.lang), lang=ps.lang,
                                     title=next_token_title(rec, ps.session.model.config.vocab_size, ps.lang))


def _attention_upto(ps: PageState, v: View) -> int:
    """Positions whose attention the viewed step shows (its query is the last of them)."""
    s = ps.session
    return s.records[v.step].position if v.step is not None else 0


def render_attention(ps: PageState, v: View) -> tuple:
    s = ps.session
    S = _attention_upto(ps, v)
    if S == 0:
        msg = i18n.t("fig.press_step_attn", ps.lang)
        return figures.placeholder(msg, 420), figures.placeholder(msg, 360)
    cfg = s.model.config
    first = max(0, S - s.keys_kept)  # a long text: the last keys_kept positions (what the session keeps and sends)
    heat = figures.attention_heatmap(s.attention(v.layer, v.head, first, S), list(s.tokens[first:S]), v.layer, v.head,
                                     highlight_query=S - 1 - first, lang=ps.lang, first=first, total=S)
    W = min(figures.overview_window(cfg.n_layer, cfg.n_head, S), s.keys_kept)
    tiles = s.attention_block(S - W, S)  # (L, H, W, W)
    over = figures.attention_overview(tiles, list(s.tokens[S - W:S]), selected=(v.layer, v.head), total=S, lang=ps.lang)
    return heat, over


def render_mask(ps: PageState, v: View):
    """Scores, masked scores and weights of the first MASK_TOKENS positions (cached: they rarely change)."""
    s = ps.session
    ids = tuple(s.ids[:MASK_TOKENS])
    key = (ps.model_name, ids, v.layer, v.head, ps.lang)
    if ps.mask_key != key:
        w = walkthrough(s.model, s.tokenizer, list(ids), v.layer, v.head)
        ps.mask_fig = figures.causal_mask_panels(w.tokens, w.stages["pattern"], w.stages["scores"], v.layer, v.head,
                                                 max_tokens=MASK_TOKENS, total=len(s.ids), lang=ps.lang)
        ps.mask_key = key
    return ps.mask_fig


def render_kv(ps: PageState, v: View) -> tuple:
    recs = ps.session.records
    if not recs:
        msg = i18n.t("fig.press_step_kv", ps.lang)
        return figures.placeholder(msg, 360), figures.placeholder(msg, 380)
    cfg = ps.session.model.config
    lat = figures.step_latency([r.step for r in recs], [r.forward_ms for r in recs], [r.step_ms for r in recs],
                               [r.kv_cache for r in recs], [r.tokens_processed for r in recs], lang=ps.lang,
                               selected=recs[v.step].step if v.step is not None and v.step < len(recs) else None)
    on = [r for r in recs if r.kv_cache and r.kv_bytes > 0]
    last = recs[-1]
    per_position = last.kv_formula_bytes // max(1, last.position)
    mem = figures.cache_memory([r.position for r in on], [r.kv_bytes for r in on], [r.kv_allocated_bytes for r in on],
                               per_position, cfg.block_size, last.kv_formula, lang=ps.lang)
    return lat, mem


def render_beam(ps: PageState) -> tuple:
    b = ps.beam
    if b is None:
        return figures.placeholder(i18n.t("fig.press_beam", ps.lang), 400), ""
    tok = ps.session.tokenizer
    labels = ["prompt"] + [tok.token_str(n.token_id) for n in b.nodes[1:]]
    best = [n.node_id for n in b.path(b.best.node_id)] if b.hypotheses else []
    fig = figures.beam_tree(b.nodes, labels, [0] + best, length_penalty=ps.session.params.length_penalty, lang=ps.lang)
    rows = [i18n.t("beam.head", ps.lang), "|---|---|---|---|---|"]
    for k, h in enumerate(b.hypotheses):
        text = tok.decode_complete(h.tokens)
        text = md_text(text, 70)
        rows.append(f"| {k + 1} | {text} | {h.logprob:.2f} | {len(h.tokens)} | **{h.score:.3f}** |")
    lp = ps.session.params.length_penalty
    why = i18n.t(f"stop.{b.stop_reason}", ps.lang) if f"stop.{b.stop_reason}" in i18n.STRINGS else b.stop_reason
    md = (i18n.t("beam.summary", ps.lang, n=len(b.hypotheses), lp=f"{lp:g}", why=why, steps=b.steps,
                 cands=len(b.nodes) - 1) + "\n\n" + "\n".join(rows))
    return fig, md


def render(ps: PageState, v: View, parts=PARTS) -> tuple:
    """Values for every view output (see VIEW_OUTPUTS), gr.skip() for those this event leaves alone."""
    out: list = []
    out += render_tokens(ps, v) if "tokens" in parts else [gr.skip()] * 4
    out += [render_next(ps, v) if "next" in parts else gr.skip()]
    out += render_attention(ps, v) if "attention" in parts else [gr.skip()] * 2
    out += [render_mask(ps, v) if "mask" in parts else gr.skip()]
    out += render_kv(ps, v) if "kv" in parts else [gr.skip()] * 2
    out += render_beam(ps) if "beam" in parts else [gr.skip()] * 2
    return tuple(out)


# what render() returns, output by output: each view's number of outputs, in order
VIEW_OUTPUTS = tuple(part for part, n in zip(PARTS, (4, 1, 2, 1, 2, 2)) for _ in range(n))
# the views each event can redraw (the others it returns as gr.skip()); events not listed: all of them
EVENT_VIEWS = dict(back=PARTS[:-1], resample=("tokens", "next", "beam"), select_step=("tokens", "next", "attention", "kv"),
                   select_head=("attention", "mask"), next_mode=("next",), set_kv=("tokens",), beam_search=("beam",))


def only_views(parts: tuple[str, ...], fn):
    """``fn``'s outputs (state, every view, then any extras) cut to the views in ``parts``.

    Gradio 6 handles gr.skip() as a property update: it rebuilds the component and its config for
    the session, ~1-2 ms each. A slider re-draw skipped 7 of 12 view outputs, more than half of
    its server time; so an event lists as outputs only the views it can redraw.
    """
    keep = [i for i, part in enumerate(VIEW_OUTPUTS) if part in parts]

    @functools.wraps(fn)
    def wrapped(*args):
        out = fn(*args)
        views, extra = out[1:1 + len(VIEW_OUTPUTS)], out[1 + len(VIEW_OUTPUTS):]
        if any(views[i] != gr.skip() for i, part in enumerate(VIEW_OUTPUTS) if part not in parts):
            raise RuntimeError(f"{fn.__name__} redrew a view outside {parts}")  # EVENT_VIEWS is out of date
        return (out[0], *(views[i] for i in keep), *extra)
    return wrapped


# -- handlers ----------------------------------------------------------------------------------------
SAMPLING_NAMES = ("strategy", "temperature", "top_k", "top_p", "min_p", "repetition_penalty", "seed",
                  "max_new_tokens", "stop", "num_beams", "length_penalty")
VIEW_NAMES = ("view_step", "view_layer", "view_head", "bars")


def endpoint(fn, extra: tuple[str, ...] = (), event: bool = False):
    """``fn`` as an event handler: user errors become gr.Error, and the API shows named parameters.

    Handlers take (state, model, prompt, kv, *extra, *sampling controls, *view controls); the
    explicit signature gives API clients ``top_k=``, ``view_layer=``... instead of ``param_6``.
    """
    handler = user_errors(fn)
    P = inspect.Parameter
    names = ["state", "model_name", "prompt", "kv_cache", *extra, *SAMPLING_NAMES, *VIEW_NAMES]
    params = [P(n, P.POSITIONAL_OR_KEYWORD) for n in names]
    if event:  # gradio passes gr.EventData to the parameter annotated with it
        params.insert(0, P("evt", P.POSITIONAL_OR_KEYWORD, annotation=gr.EventData))
    handler.__signature__ = inspect.Signature(params)
    handler.__annotations__ = {"evt": gr.EventData} if event else {}
    return handler


def named(handler, names: tuple[str, ...]):
    """``handler`` with an explicit signature, so API clients can pass ``steps=``, ``n_layer=``..."""
    P = inspect.Parameter
    handler.__signature__ = inspect.Signature([P(n, P.POSITIONAL_OR_KEYWORD) for n in names])
    return handler


log = logging.getLogger(__name__)
_PATH = re.compile(r"(?<![\w:/.])(?:~|\.{1,2})?(?:/[^\s/'\"(),;]+){2,}/?")
UNEXPECTED = ("Something went wrong on the server ({kind}); the details are in the server log. "
              "Try again, or press Reset to start over.")


def no_paths(message: str) -> str:
    """``message`` with each filesystem path cut to its last part: a client never learns the server's layout."""
    return _PATH.sub(lambda m: m.group(0).rstrip("/").rsplit("/", 1)[-1], message)


def _as_user_error(e: Exception) -> gr.Error:
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
                raise _as_user_error(e) from e
        return gen

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except Exception as e:
            raise _as_user_error(e) from e
    return wrapper


class Page:
    """The handlers, bound to one model cache (tests inject a tiny model)."""

    def __init__(self, models: ModelCache, choices: dict[str, str | None]):
        self.models = models
        self.choices = choices

    # -- sessions --
    def new_state(self, model_name: str, prompt: str, params: SamplingParams, kv: bool,
                  mine: "SessionModels | None" = None) -> PageState:
        mine = SessionModels() if mine is None else mine  # kept across rebuilds: the tab's own trained models
        if model_name in mine.models:
            model, tok = mine.models[model_name]
        elif model_name not in self.choices:
            raise ValueError(f"unknown model {lessons.short_repr(model_name)}: choose one of {', '.join(self.choices)}")
        elif self.choices[model_name]:
            raise ValueError(f"{model_name} is not available: {self.choices[model_name]}")
        else:
            model, tok = self.models.get(model_name)
        # whichever model: text, not too long, no lone surrogate, before the tokenizer reads it
        lessons.check_text("Prompt", prompt, MAX_PROMPT_CHARS,
                           hint=f"the context window holds {model.config.block_size} tokens: shorten it")
        LIVE_STATES["count"] += 1
        return PageState(model_name, Session(model, tok, prompt, params, use_kv_cache=bool(kv)), mine=mine)

    def current(self, ps: PageState | None, model_name, prompt, params, kv) -> PageState:
        """The tab's state, rebuilt when the model or prompt changed; settings applied."""
        if ps is None or ps.session is None or ps.model_name != model_name or ps.session.prompt != prompt:
            new = _carry_lang(ps, self.new_state(model_name, prompt, params, kv, ps.mine if ps is not None else None))
            _retire(ps)  # a Run still stepping the old text stops and draws nothing more
            ps = new
        ps.session.set_params(params)
        ps.session.set_kv_cache(bool(kv))
        return ps

    # -- events (all take the same controls; see build_demo) --
    def load(self, ps, model_name, prompt, kv, *rest):
        params, view = self._split(rest)
        ps = _carry_lang(ps, self.new_state(model_name, prompt, params, kv, ps.mine if ps is not None else None))
        return (ps, *render(ps, self._view(ps, None, view)))

    def reset(self, ps, model_name, prompt, kv, *rest):
        _retire(ps)  # a Run still stepping the old state stops and draws nothing more
        return self.load(ps, model_name, prompt, kv, *rest)

    def step(self, ps, model_name, prompt, kv, *rest):
        params, view = self._split(rest)
        ps = self.current(ps, model_name, prompt, params, kv)
        with ps.lock:
            if params.strategy == "beam":
                ps.beam = ps.session.beam_search()
                return (ps, *render(ps, self._view(ps, None, view), ("tokens", "beam")))
            if ps.session.stop is not None:
                raise ValueError(f"generation has stopped ({STOP_TEXT.get(ps.session.stop)}): press Back, "
                                 f"change a setting, or Reset")
            ps.session.step()
            return (ps, *render(ps, self._view(ps, len(ps.session.records) - 1, view), PARTS[:-1]))

    def run(self, ps, model_name, prompt, kv, *rest):
        """Step until a stop; the tokens view updates while it runs, every view at the end.

        Two Runs of one tab (a double click) step the same session together and both end on the
        finished text. A Reset or a model change during a Run retires its state (``version``):
        the Run stops at its next step and sends nothing more. The state Gradio holds is changed
        in place, so a Run sends it back only when it built it (a first event, a new prompt), once.
        """
        params, view = self._split(rest)
        held = ps
        ps = self.current(ps, model_name, prompt, params, kv)
        if params.strategy == "beam":
            yield self.step(ps, model_name, prompt, kv, *rest)
            return
        with ps.lock:
            version = ps.version
            if ps.session.stop is not None:
                raise ValueError(f"generation has stopped ({STOP_TEXT.get(ps.session.stop)}); press Back or Reset")
        state = gr.skip() if ps is held else ps
        shown = time.perf_counter()
        while True:
            with ps.lock:  # never held across a yield: a closed tab must not leave it locked
                if ps.version != version or ps.session is None:  # retired (Reset, another model) or forgotten
                    frame = None
                    break
                if ps.session.stop is not None:  # this Run's step or a second Run's ended it
                    frame = render(ps, self._view(ps, len(ps.session.records) - 1, view), PARTS[:-1])
                    break
                ps.session.step()
                live = time.perf_counter() - shown > 0.25  # a live view without flooding the browser
                if live:
                    frame = render(ps, self._view(ps, len(ps.session.records) - 1, view), ("tokens",))
            if live:
                shown = time.perf_counter()
                yield (state, *frame)
                state = gr.skip()
        yield (gr.skip(),) * (1 + len(VIEW_OUTPUTS)) if frame is None else (state, *frame)

    def back(self, ps, model_name, prompt, kv, *rest):
        params, view = self._split(rest)
        ps = self.current(ps, model_name, prompt, params, kv)
        with ps.lock:
            ps.session.back()
            n = len(ps.session.records)
            return (ps, *render(ps, self._view(ps, n - 1 if n else None, view), PARTS[:-1]))

    def resample(self, ps, model_name, prompt, kv, *rest):
        """A sampling control moved: re-decide the newest step from its cached logits (no forward)."""
        params, view = self._split(rest)
        ps = self.current(ps, model_name, prompt, params, kv)
        with ps.lock:
            if params.strategy == "beam":
                ps.beam = ps.session.beam_search()
                return (ps, *render(ps, self._view(ps, None, view), ("tokens", "beam")))
            if not ps.session.records:
                return (ps, *render(ps, self._view(ps, None, view), ("tokens",)))
            ps.session.resample(params)
            return (ps, *render(ps, self._view(ps, len(ps.session.records) - 1, view), ("tokens", "next")))

    def select_step(self, ps, model_name, prompt, kv, *rest):
        params, view = self._split(rest)
        ps = self.current(ps, model_name, prompt, params, kv)
        return (ps, *render(ps, self._view(ps, view[0], view), ("tokens", "next", "attention", "kv")))

    def select_head(self, ps, model_name, prompt, kv, *rest):
        params, view = self._split(rest)
        ps = self.current(ps, model_name, prompt, params, kv)
        return (ps, *render(ps, self._view(ps, view[0], view), ("attention", "mask")))

    def next_mode(self, ps, model_name, prompt, kv, *rest):
        params, view = self._split(rest)
        ps = self.current(ps, model_name, prompt, params, kv)
        return (ps, *render(ps, self._view(ps, view[0], view), ("next",)))

    def set_kv(self, ps, model_name, prompt, kv, *rest):
        params, view = self._split(rest)
        ps = self.current(ps, model_name, prompt, params, kv)
        n = len(ps.session.records)
        return (ps, *render(ps, self._view(ps, view[0] if n else None, view), ("tokens",)))

    def beam_search(self, ps, model_name, prompt, kv, *rest):
        params, view = self._split(rest)
        ps = self.current(ps, model_name, prompt, replace(params, strategy="beam"), kv)
        with ps.lock:
            ps.beam = ps.session.beam_search()
        return (ps, *render(ps, self._view(ps, None, view), ("beam",)))

    def compare_cache(self, ps, model_name, prompt, kv, n_tokens, *rest):
        params, view = self._split(rest)
        ps = self.current(ps, model_name, prompt, params, kv)
        n = _whole_or_raw(n_tokens)
        if not isinstance(n, int):
            raise ValueError(f"the number of tokens to compare must be a whole number; "
                             f"got {lessons.short_repr(n_tokens)}")
        room = ps.session.model.config.block_size - len(ps.session.prompt_ids)
        limit = ps.session.compare_limit()  # ≤ room; smaller on a big model (the uncached run re-reads everything)
        if n > limit and limit < room:
            gr.Warning(f"Compared {limit} tokens, not {n}: on {ps.model_name} a comparison after this "
                       f"{len(ps.session.prompt_ids)}-token prompt is capped at {limit} tokens, so that it ends within "
                       f"seconds (without the cache, every step re-reads every position).")
        with ps.lock:
            c = ps.session.compare_cache(min(n, limit))
        ps.extras["cache"] = lambda lang: figures.cache_comparison(c.positions, c.cached_ms, c.uncached_ms, c.same_tokens,
                                                                  c.max_logit_diff, lang=lang)
        return ps, figures.cache_comparison(c.positions, c.cached_ms, c.uncached_ms, c.same_tokens, c.max_logit_diff,
                                            lang=ps.lang)

    def leak_check(self, ps, model_name, prompt, kv, position, new_text, *rest):
        """Change one token, run both texts, compare every position's next-token distribution."""
        params, view = self._split(rest)
        new_text = lessons.check_text("Put this token there", new_text or "", lessons.MAX_TOKEN_CHARS)
        ps = self.current(ps, model_name, prompt, params, kv)
        s = ps.session
        ids = list(s.ids)
        at = _whole_or_raw(position)
        if not isinstance(at, int) or not 0 <= at < len(ids):
            raise ValueError(f"the position to change must be a whole number from 0 to {len(ids) - 1}; "
                             f"got {lessons.short_repr(position)}")
        new_ids = s.tokenizer.encode_ids(new_text)
        if not new_ids:
            raise ValueError("type the token to put there (e.g. ' the')")
        limit = max_positions(s.model.config, capture=False)  # two whole passes must fit PASS_BUDGET
        if at >= limit:
            raise ValueError(f"on {ps.model_name} the leak check reads at most the first {limit:,} tokens (two whole "
                             f"passes must fit in memory): pick a position from 0 to {limit - 1}")
        if len(ids) > limit:
            gr.Warning(f"The leak check read the first {limit:,} of the {len(ids):,} tokens: {ps.model_name}'s limit "
                       f"for two whole passes.")
        ids = ids[:limit]
        args = (list(s.tokens[:limit]), at, s.tokenizer.token_str(new_ids[0]), *leak_compare(s.model, ids, at, new_ids[0]))
        fig = figures.leak_check(*args, lang=ps.lang)
        ps.extras["leak"] = lambda lang: figures.leak_check(*args, lang=lang)
        return ps, fig

    def open_head(self, ps, model_name, prompt, kv, layer, head, *rest):
        """A click on a tile of the overview (layer, head) opens that head."""
        params, view = self._split(rest)
        view = (view[0], layer, head, view[3])
        out = self.select_head(ps, model_name, prompt, kv, *params_values(params), *view)
        v = self._view(out[0], view[0], view)
        return (*out, v.layer, v.head)  # plain values: only the pickers' values change

    def pick_step(self, evt: gr.EventData, ps, model_name, prompt, kv, *rest):
        """A click on a token chip (custom event from CHIPS_JS carrying {step})."""
        params, view = self._split(rest)
        step = _event_object(evt, '{"step": 3}').get("step")
        return self.select_step(ps, model_name, prompt, kv, *params_values(params), _finite_int(step, 0), *view[1:])

    def pick_head(self, evt: gr.EventData, ps, model_name, prompt, kv, *rest):
        params, view = self._split(rest)
        data = _event_object(evt, '{"layer": 1, "head": 0}')
        layer, head = _finite_int(data.get("layer"), 0), _finite_int(data.get("head"), 0)
        return self.open_head(ps, model_name, prompt, kv, layer, head, *params_values(params), *view)

    def change_model(self, ps, model_name, prompt, kv, *rest):
        """The picker moved: load that model (once per process) and start over; refuse unavailable ones."""
        reason = None if ps is not None and model_name in ps.mine.models else self.choices.get(model_name, "unknown model")
        if reason:
            keep = ps.model_name if ps is not None else DEFAULT_MODEL
            gr.Warning(toast_text(no_paths(f"{model_name} is not available: {reason}")))
            return (ps, gr.update(value=keep), *[gr.skip()] * 12)
        try:
            out = self.load(ps, model_name, prompt, kv, *rest)
        except Exception as e:  # a download or checkpoint problem: say it, keep the old model
            keep = ps.model_name if ps is not None else DEFAULT_MODEL
            gr.Warning(f"{toast_text(model_name)} could not be loaded: {_as_user_error(e).message}")
            return (ps, gr.update(value=keep), *[gr.skip()] * 12)
        _retire(ps)  # a Run of the old model stops and draws nothing more
        return (out[0], gr.skip(), *out[1:])

    # -- helpers --
    @staticmethod
    def _split(rest) -> tuple[SamplingParams, tuple]:
        """(11 sampling controls..., view step, layer, head, mode) -> (SamplingParams, view tuple)."""
        if len(rest) != 15:
            raise ValueError(f"expected 15 control values, got {len(rest)}")
        return make_params(*rest[:11]), tuple(rest[11:])

    @staticmethod
    def _view(ps: PageState, step, view) -> View:
        return _clamp_view(ps, step, view[1], view[2], view[3])


def params_values(p: SamplingParams) -> tuple:
    """The 11 sampling control values that ``make_params`` turns back into ``p``."""
    return (p.strategy, p.temperature, p.top_k, p.top_p, p.min_p, p.repetition_penalty, p.seed, p.max_new_tokens,
            "\n".join(s.replace("\n", "\\n") for s in p.stop), p.num_beams, p.length_penalty)


# -- train view ---------------------------------------------------------------------------------------
# Training runs inside the page under the server's TrainLimits; the trained model belongs to the tab
# that trained it (PageState.mine, carried across resets), never to the shared ModelCache.
@dataclass
class SessionModels:
    """One tab's own models (name -> (model, tokenizer)) and the flag its Stop button sets."""

    models: dict = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)
    training: bool = False
    trained: int = 0  # how many this tab has trained (names stay unique when old ones are dropped)


MAX_OWN_MODELS = 3  # a tab keeps its three newest trained models: bounded memory on a shared server


_SLOTS: dict[int, "TrainingSlots"] = {}
_SLOTS_LOCK = threading.Lock()
_CORPUS: dict[int, tuple] = {}  # id(tokenizer) -> (tokenizer, train ids, val ids): encoded once per process
TRAIN_NAMES = ("preset", "n_layer", "n_head", "n_embd", "block_size", "lr", "steps")
TRAIN_PUSH_S = 0.3  # at most ~3 redraws a second while training (samples and the end always show)


def training_slots(n: int) -> "TrainingSlots":
    """The process's slots for ``n`` concurrent trainings (every page built in this process shares them)."""
    from playground.train import TrainingSlots

    with _SLOTS_LOCK:
        return _SLOTS.setdefault(n, TrainingSlots(n))


def encoded_corpus(tok) -> tuple:
    """(train ids, val ids) of the shipped corpus in ``tok``'s tokens; encoded once per process."""
    from playground.corpus import works
    from playground.train import encode_works

    with _SLOTS_LOCK:
        if id(tok) not in _CORPUS:
            _CORPUS[id(tok)] = (tok, encode_works(tok, list(works("train").values())),
                                encode_works(tok, list(works("val").values())))
        return _CORPUS[id(tok)][1:]


def train_configs(tok, preset: str, n_layer, n_head, n_embd, block_size, lr, steps) -> tuple:
    """The Train tab's fields -> (GPTConfig, TrainConfig); the preset supplies batch size and warm-up."""
    from playground.config import GPTConfig, TrainConfig
    from playground.train import PRESETS

    if preset not in PRESETS:
        raise ValueError(f"unknown preset {lessons.short_repr(preset)}: choose one of {', '.join(PRESETS)}")
    ints = {k: _whole_or_raw(v) for k, v in dict(n_layer=n_layer, n_head=n_head, n_embd=n_embd,
                                                   block_size=block_size, steps=steps).items()}
    for k, v in ints.items():
        if not isinstance(v, int) or v < 1:
            raise ValueError(f"{k.replace('_', ' ')} must be a whole number of at least 1; got {lessons.short_repr(v)}")
    if not isinstance(lr, (int, float)) or not math.isfinite(lr) or not 0 < lr <= 0.1:
        raise ValueError(f"the learning rate must be a number above 0 and at most 0.1; got {lessons.short_repr(lr)}")
    steps = ints.pop("steps")
    mcfg = GPTConfig(vocab_size=tok.vocab_size, dropout=0.0, **ints)
    base = PRESETS[preset][1]
    tcfg = TrainConfig(**{**base, "steps": steps, "lr": float(lr), "warmup_steps": min(base["warmup_steps"], steps // 5),
                          "eval_every": max(1, steps // 10), "eval_batches": 2})
    return mcfg, tcfg


def train_status(u, cfg, tcfg, n_params: int, name: str | None = None, lang: str = "en") -> str:
    p = u.progress
    val = i18n.t("train.val", lang, v=f"{p.val_loss:.3f}") if p.val_loss is not None else ""
    line = i18n.t("train.status", lang, step=p.step + 1, total=tcfg.steps, loss=f"{p.loss:.3f}", val=val,
                  tps=f"{p.tokens_per_s:,.0f}", secs=f"{p.elapsed_s:.1f}", layers=cfg.n_layer, heads=cfg.n_head,
                  width=cfg.n_embd, block=cfg.block_size, params=f"{n_params:,}", lr=f"{p.lr:.1e}")
    if u.stopped_by:
        who = f"train.by.{u.stopped_by}"
        line += "\n\n" + i18n.t("train.stopped", lang, who=i18n.t(who, lang) if who in i18n.STRINGS else u.stopped_by)
    if name:
        line += i18n.t("train.named", lang, name=name)
    return line


class TrainView:
    """The Train tab's handlers: limits and slots are the server's; models come from ``page``."""

    def __init__(self, page: "Page", limits, picker_choices: list):
        self.page = page
        self.limits = limits
        self.slots = training_slots(limits.max_concurrent)
        self.picker_choices = picker_choices

    def preset(self, name):
        from playground.train import PRESETS

        if name not in PRESETS:
            raise ValueError(f"unknown preset {lessons.short_repr(name)}")
        m, t = PRESETS[name]
        return m["n_layer"], m["n_head"], m["n_embd"], m["block_size"], t["lr"], t["steps"]

    def stop(self, ps):
        if ps is not None:
            ps.mine.stop.set()
        return "Stopping after this step…" if ps is not None and ps.mine.training else "Nothing is training."

    def train(self, ps, preset, n_layer, n_head, n_embd, block_size, lr, steps):
        """Train a fresh model, streaming (loss curve, status, sample, attention, objective, picker)."""
        from playground.model import GPT
        from playground.train import check_request, live_training

        if ps is None or ps.session is None and not ps.gone:
            raise ValueError("the page has not finished loading; reload it")
        _tell_gone(ps)  # a freed tab trains all the same: the model goes to this tab's tombstone, its next Step keeps it
        if ps.mine.training:
            raise ValueError("this tab is already training a model; press Stop first")
        base = DEFAULT_MODEL if DEFAULT_MODEL in self.page.choices and not self.page.choices[DEFAULT_MODEL] else None
        if base is None:
            raise ValueError("training needs the embedded model's tokenizer, which is not available here")
        _, tok = self.page.models.get(base)
        mcfg, tcfg = train_configs(tok, preset, n_layer, n_head, n_embd, block_size, lr, steps)
        check_request(mcfg, tcfg, self.limits)
        with self.slots:  # "busy" when full; released when the run ends, fails, or the tab goes away
            ps.mine.training = True
            ps.mine.stop.clear()
            try:
                yield from self._run(ps, tok, mcfg, tcfg, GPT, live_training)
            finally:
                ps.mine.training = False

    def _run(self, ps, tok, mcfg, tcfg, GPT, live_training):
        import torch

        from playground.train import SAMPLE_TEMPERATURE

        train_ids, val_ids = encoded_corpus(tok)
        torch.manual_seed(tcfg.seed)
        model = GPT(mcfg)
        n_params = model.num_parameters()
        steps, losses, val_steps, val_losses = [], [], [], []
        shown = 0.0
        for u in live_training(model, tok, train_ids, val_ids, tcfg, self.limits, should_stop=ps.mine.stop.is_set,
                               every=max(1, min(25, tcfg.steps // 8))):
            p = u.progress
            steps.append(p.step + 1)  # counted from 1, as the status line counts
            losses.append(p.loss)
            if p.val_loss is not None:
                val_steps.append(p.step + 1)
                val_losses.append(p.val_loss)
            name = None
            if u.stopped_by:
                ps.mine.trained += 1
                name = f"my model {ps.mine.trained} ({mcfg.n_layer}×{mcfg.n_head}×{mcfg.n_embd}, {p.step + 1} steps)"
                ps.mine.models[name] = (model.eval(), tok)
                while len(ps.mine.models) > MAX_OWN_MODELS:  # the oldest goes (a session using it keeps it)
                    ps.mine.models.pop(next(iter(ps.mine.models)))
            elif u.sample is None and time.perf_counter() - shown < TRAIN_PUSH_S:
                continue
            shown = time.perf_counter()
            curve = figures.loss_curves(steps, losses, val_steps, val_losses, total_steps=tcfg.steps, lang=ps.lang)
            out = [curve, train_status(u, mcfg, tcfg, n_params, name, ps.lang)]
            if u.sample is not None:
                shown_text = md_text("ROMEO:" + u.sample)
                out.append(i18n.t("train.sample", ps.lang, step=p.step + 1, t=SAMPLE_TEMPERATURE) +
                           f"<code>{shown_text}</code>")
                out.append(figures.attention_heatmap(u.probe_attention, u.probe_tokens, mcfg.n_layer - 1, 0, height=460,
                                                     lang=ps.lang))
                o = u.objective
                out.append(figures.objective_panel(o.inputs, o.targets, o.target_probs, o.losses, o.mean_loss,
                                                   lang=ps.lang))
            else:
                out += [gr.skip()] * 3
            mine = [(n, n) for n in ps.mine.models]
            out.append(gr.update(choices=self.picker_choices + mine) if name else gr.skip())
            yield tuple(out)

    def gqa_compare(self, ps):
        """Cache bytes of the multi-head and the GQA shipped models: formula lines and measured caches."""
        import torch

        from playground.model import KVCache

        names = [DEFAULT_MODEL, GQA_MODEL]
        for n in names:
            if self.page.choices.get(n, "not offered by this server"):
                raise ValueError(f"the comparison needs the {n} model, which is not available: "
                                 f"{self.page.choices.get(n, 'not offered by this server')}")
        models = [self.page.models.get(n)[0] for n in names]
        cfgs = [m.config for m in models]
        block = min(c.block_size for c in cfgs)
        positions = [max(1, block // 8), block // 4, block // 2, block]
        measured = [[], []]
        with torch.no_grad():
            for k, m in enumerate(models):
                for P in positions:  # the cache's size depends on how many positions it holds, not on which tokens
                    measured[k].append(m(torch.zeros((1, P), dtype=torch.long)).kv.nbytes)
        per_pos = [KVCache.formula_bytes(c, 1, 1) for c in cfgs]
        fig = figures.gqa_cache(names, per_pos, [c.n_kv_head for c in cfgs], block, positions, measured,
                                lang=getattr(ps, "lang", "en"))
        if isinstance(ps, PageState):
            ps.extras["gqa"] = lambda lang: figures.gqa_cache(names, per_pos, [c.n_kv_head for c in cfgs], block,
                                                              positions, measured, lang=lang)
        lang = getattr(ps, "lang", "en")
        rows = [i18n.t("gqa.head", lang), "|---|---|---|---|"]
        for n, c, b in zip(names, cfgs, per_pos):
            rows.append(f"| {n} | {c.n_head} / {c.n_kv_head} | {b:,} | {_held_out(n)} |")
        note = i18n.t("gqa.note", lang, formula=KVCache.formula_text(cfgs[1], 1, block),
                      g=cfgs[1].n_head // cfgs[1].n_kv_head, kv=cfgs[1].n_kv_head, h=cfgs[1].n_head,
                      less=round(100 * (1 - cfgs[1].n_kv_head / cfgs[1].n_head)))
        return fig, "\n".join(rows) + "\n\n" + note


GQA_MODEL = "shakespeare-gqa"


def _held_out(name: str) -> str:
    """A shipped model's validation loss from its train_log.json ("—" when there is none)."""
    import json

    try:
        from playground.weights import resolve

        ev = json.loads((resolve(name) / "train_log.json").read_text())["eval"]
        return f"{ev['nats_per_char']:.4f} nats/char"
    except Exception:
        return "—"



# -- inside the model -----------------------------------------------------------------------------------
# One forward pass of the selected step's input, captured with its intermediates (model(..., capture=True)
# through inside.walkthrough). Opt-in: it runs only while the "Inside the model" tab is open (or its button
# is pressed), never on an ordinary Step, which reads one token through the fast fused path.
INSIDE_TAB = "Inside the model"
INSIDE_NAMES = ("inside_layer", "inside_head")
INSIDE_PLOTS = 9  # stack, five walkthrough rows, output head, logit lens, parameter counts


def inside_input(ps: PageState, v: View) -> tuple[list[int], int | None, str]:
    """(ids the forward reads, the token chosen after them or None, a phrase saying which step)."""
    s = ps.session
    if v.step is None:
        return list(s.ids), None, i18n.t("inside.prompt", ps.lang, n=len(s.ids))
    rec = s.records[v.step]
    return (list(s.ids[:rec.position]), rec.token_id,
            i18n.t("inside.step", ps.lang, step=rec.step, pos=rec.position, tok=md_text(rec.token)))


def render_inside(ps: PageState, v: View) -> tuple:
    """(note markdown, *INSIDE_PLOTS figures) for the view's step, layer and head.

    A pass longer than the model's ``inside.max_positions`` (its captured intermediates would
    not fit ``inside.PASS_BUDGET``) is not run: the note says so and how to pick a shorter one.
    """
    from playground.inside import LENS_POSITIONS, max_positions, param_counts, pass_bytes
    from playground.model import KVCache

    t0 = time.perf_counter()
    s = ps.session
    model, tok, cfg = s.model, s.tokenizer, s.model.config
    ids, next_id, where = inside_input(ps, v)
    lang = ps.lang
    limit = max_positions(cfg)
    if len(ids) > limit:
        pc = param_counts(model)
        return (i18n.t("inside.too_long", lang, where=where, T=len(ids), N=limit,
                       mb=f"{pass_bytes(cfg, limit) / 2**20:.0f}"),
                figures.forward_stack(cfg.n_layer, v.layer, cfg.n_head, v.head, len(ids), cfg.n_embd, cfg.vocab_size,
                                      lang=lang),
                *[figures.placeholder(i18n.t("inside.too_long_fig", lang, N=limit))] * (INSIDE_PLOTS - 2),
                figures.param_counts(pc.components, pc.total, pc.total_untied, pc.tied, pc.kv_bytes_per_token,
                                     KVCache.formula_text(cfg, 1, 1), lang=lang))
    w = walkthrough(model, tok, ids, v.layer, v.head, next_id=next_id, lens_positions=LENS_POSITIONS)
    d = w.dims
    figs = [figures.forward_stack(cfg.n_layer, v.layer, cfg.n_head, v.head, d["T"], d["C"], d["V"], lang=lang)]
    figs += figures.walkthrough_figures(w.tokens, w.stages, d, v.layer, v.head, lang=lang)
    figs.append(figures.output_head(w.tokens, w.stages["ln_final"], w.top_tokens, w.stages["logits"][-1][w.top_ids],
                                    w.top_probs, d["V"], lang=lang))
    lens = w.lens
    figs.append(figures.logit_lens(lens.layer_names, w.tokens, lens.top_tokens, lens.top_probs,
                                   [tok.token_str(int(i)) for i in lens.target_ids], lens.target_probs, lens.resid_norm,
                                   lang=lang))
    pc = param_counts(model)
    figs.append(figures.param_counts(pc.components, pc.total, pc.total_untied, pc.tied, pc.kv_bytes_per_token,
                                     KVCache.formula_text(cfg, 1, 1), lang=lang))
    ms = (time.perf_counter() - t0) * 1e3
    note = i18n.t("inside.note", ps.lang, where=where, layer=v.layer, head=v.head, T=d["T"], C=d["C"], H=d["n_head"],
                  hd=d["head_dim"], mlp=d["d_mlp"], V=f"{d['V']:,}", ms=f"{ms:.0f}")
    return (note, *figs)


class InsideView:
    """The "Inside the model" tab's handlers; sessions come from ``page`` like every other view."""

    def __init__(self, page: Page):
        self.page = page

    def draw(self, ps, model_name, prompt, kv, opened, layer, head, *rest):
        """Draw (and mark the tab open): its button, its pickers, and opening the tab."""
        params, view = self.page._split(rest)
        ps = self.page.current(ps, model_name, prompt, params, kv)
        v = self.page._view(ps, view[0] if ps.session.records else None, (view[0], layer, head, view[3]))
        cfg = ps.session.model.config
        pickers = (gr.update(choices=list(range(cfg.n_layer)), value=v.layer),
                   gr.update(choices=list(range(cfg.n_head)), value=v.head))
        return (ps, True, *pickers, *render_inside(ps, v))

    def tab_select(self, evt: gr.EventData, ps, model_name, prompt, kv, opened, layer, head, *rest):
        """Any view tab was selected: draw when it is this one; otherwise remember the tab is closed."""
        data = _event_object(evt)  # not an object (an API client's): not this tab
        if data.get("value") == INSIDE_TAB or data.get("id") == "inside":
            return self.draw(ps, model_name, prompt, kv, opened, layer, head, *rest)
        # skip, not ps: writing back the state read when this event started could undo a newer event's
        return (gr.skip(), False, *[gr.skip()] * (3 + INSIDE_PLOTS))

    def follow(self, ps, model_name, prompt, kv, opened, layer, head, *rest):
        """The page moved to another step (status changed): redraw only while the tab is open."""
        if not opened or ps is None or ps.session is None:
            return (gr.skip(), opened, *[gr.skip()] * (3 + INSIDE_PLOTS))
        return self.draw(ps, model_name, prompt, kv, opened, layer, head, *rest)


def inside_tab(strings: "Strings | None" = None) -> dict:
    """The tab's components (called inside ``gr.Tabs``); ``wire_inside`` connects them."""
    c: dict = {}
    strings = strings if strings is not None else Strings()
    with strings.add(gr.Tab(INSIDE_TAB, id="inside", elem_id="tab-inside"), "tab.inside", "tab"):
        note_box(strings, "inside")
        c["intro"] = gr.Markdown("Follow one forward pass through the network: the real numbers, with the model's real sizes. "
                    "Blue = negative, red = positive (each panel its own scale); rows are tokens.")
        with gr.Row(equal_height=True):
            # choices follow the model on the first draw; a custom value (an API call first) is clamped
            c["layer"] = gr.Dropdown([0], value=0, label="Layer", elem_id="inside_layer", info="Which block to open",
                                     allow_custom_value=True)
            c["head"] = gr.Dropdown([0], value=0, label="Head", elem_id="inside_head", info="Which attention head",
                                    allow_custom_value=True)
            c["button"] = gr.Button("Draw this forward pass", elem_id="inside_btn")
        c["note"] = gr.Markdown("Open this tab or press the button: the selected step's forward pass is drawn here.",
                                elem_id="inside-note")
        ids = ["inside-stack", "inside-input", "inside-qkv", "inside-pattern", "inside-attn-out", "inside-mlp",
               "inside-output", "inside-lens", "inside-params"]
        c["plots"] = [gr.Plot(elem_id=i, label=i.removeprefix("inside-")) for i in ids]
        c["opened"] = gr.State(False)
    return c


def wire_inside(page: Page, c: dict, tabs, status, state, model, prompt, kv, sampling: list, view: list) -> None:
    iv = InsideView(page)
    inputs = [state, model, prompt, kv, c["opened"], c["layer"], c["head"], *sampling, *view]
    outputs = [state, c["opened"], c["layer"], c["head"], c["note"], *c["plots"]]
    extra = ("inside_open", *INSIDE_NAMES)
    gr.on([c["button"].click, c["layer"].input, c["head"].input], endpoint(iv.draw, extra), inputs, outputs,
          api_name="inside", trigger_mode="always_last")
    tabs.select(endpoint(iv.tab_select, extra, event=True), inputs, outputs, api_name="inside_tab")
    # the status changes on every step, back and step pick; the empty js hop lets the same update reach the
    # step slider first, so ``follow`` reads the step now shown (a direct status.change saw the one before)
    status.change(None, js="() => null").then(endpoint(iv.follow, extra), inputs, outputs, api_name="inside_follow",
                                              trigger_mode="always_last")


# -- classroom mode ---------------------------------------------------------------------------------------
# Lessons (presets from playground.lessons), "What am I looking at?" notes, the English / 中文 switch, the
# share link and the Compare tab. Strings come from playground.i18n; lesson data and the link format from
# playground.lessons; these handlers only route values between them and the page.
LATEX = [{"left": "$$", "right": "$$", "display": True}, {"left": "$", "right": "$", "display": False}]
DEFAULT_SIDES = (lessons.Side(temperature=0.0), lessons.Side(temperature=1.0), lessons.OFF, lessons.OFF)
COMPARE_MAX_TOKENS = 120  # tokens each Compare column writes at most
SIDE_LETTERS = "ABCD"


class Strings:
    """Every translated component with how to relabel it: (component, key, kind)."""

    def __init__(self):
        self.items: list[tuple] = []

    def add(self, comp, key: str, kind="label"):
        self.items.append((comp, key, kind))
        return comp

    @property
    def components(self) -> list:
        return [c for c, _, _ in self.items]

    def updates(self, lang: str, keep: dict | None = None) -> list:
        """One gr.update per component; ``keep`` (key -> value) re-sends a value that a change of choices would drop."""
        out = []
        for _, key, kind in self.items:
            if callable(kind):
                out.append(kind(lang))
            elif kind == "label":
                info = key + ".info"
                out.append(gr.update(label=i18n.t(key, lang), **({"info": i18n.t(info, lang)} if info in i18n.STRINGS else {})))
            elif kind == "label_only":
                out.append(gr.update(label=i18n.t(key, lang)))
            elif kind == "value":
                out.append(gr.update(value=i18n.t(key, lang)))
            else:  # tab, accordion, dataset: a label only
                out.append(gr.update(label=i18n.t(key, lang)))
            if keep and key in keep and isinstance(out[-1], dict):
                out[-1]["value"] = keep[key]
        return out


def note_box(strings: Strings, view: str) -> None:
    """A closed "What am I looking at?" accordion with the view's explanation (math rendered)."""
    with strings.add(gr.Accordion(i18n.t("note"), open=False, elem_id=f"note-{view}", elem_classes="note"),
                     "note", "accordion"):
        strings.add(gr.Markdown(i18n.t(f"note.{view}"), latex_delimiters=LATEX, elem_id=f"note-{view}-text"),
                    f"note.{view}", "value")


def side_settings(side: lessons.Side, lang: str) -> str:
    """A column's settings as plain text (its prompt quoted, cut): the figure and the table each escape it."""
    bits = [i18n.t("cmp_greedy", lang) if side.temperature == 0 else f"T = {side.temperature:g}"]
    if side.top_k:
        bits.append(f"top-k {side.top_k}")
    if side.top_p < 1:
        bits.append(f"top-p {side.top_p:g}")
    if side.repetition_penalty != 1:
        bits.append(f"{i18n.t('cmp_penalty', lang)} {side.repetition_penalty:g}")
    if side.prompt:
        bits.append(f"“{side.prompt if len(side.prompt) <= 18 else side.prompt[:17] + '…'}”")
    return " · ".join(bits)


def compare_figure(runs: list, lang: str):
    """runs: (letter, Side, Session, vocab) of each column -> the side-by-side figure."""
    panels = []
    for letter, side, s, vocab in runs:
        rec = s.records[0]
        st = rec.stages[-1]
        n = max(1, min(8, st.kept))  # the tokens this setting kept (a filter that keeps 2 shows 2 bars)
        ids = st.top_ids.tolist()[:n]
        panels.append(dict(side=letter, settings=figures.label(side_settings(side, lang), 200),
                           tokens=list(st.top_tokens)[:n],
                           probs=st.top_probs[:n], chosen=ids.index(rec.token_id) if rec.token_id in ids else None,
                           kept=st.kept, vocab=vocab, entropy=rec.entropy))
    return figures.compare_distributions(panels, lang=lang)


def compare_table(runs: list, lang: str) -> str:
    rows = [i18n.t("cmp_table_head", lang), "|---|---|---|"]
    for letter, side, s, _ in runs:
        text = s.text[len(s.prompt):] if s.text.startswith(s.prompt) else s.text
        rows.append(f"| **{letter}** | {md_text(side_settings(side, lang))} | <code>{md_text(s.prompt, 30)}</code>"
                    f"{md_text(text)} |")
    return "\n".join(rows)


def lesson_md_text(key: str, lang: str) -> str:
    return f"### {i18n.t(f'lesson.{key}.title', lang)}\n\n{i18n.t(f'lesson.{key}.body', lang)}"


class Classroom:
    """Lessons, language, share link and the Compare tab, on top of the page's handlers."""

    def __init__(self, page: Page, trainer: "TrainView", strings: Strings):
        self.page, self.trainer, self.strings = page, trainer, strings
        self.n_relabel_outputs = 0  # set by build_demo: outputs of the language switch besides the state

    # -- the Compare tab
    def compare(self, ps, model_name, prompt, kv, *rest):
        """Each switched-on column: a run from its prompt (blank = the page's) with its settings."""
        n_side = lessons.COMPARE_SIDES * (1 + len(lessons.SIDE_FIELDS))
        values, rest = list(rest[:n_side]), rest[n_side:]
        params, view = self.page._split(rest)
        sides = lessons.sides_from_values(values)  # their prompts checked before anything is tokenized
        ps = self.page.current(ps, model_name, prompt, params, kv)
        model, tok = ps.session.model, ps.session.tokenizer
        runs = []
        for k, side in sides:
            p = side.params(params)
            s = Session(model, tok, side.prompt or prompt, p, capture_attention=False)
            room = model.config.block_size - len(s.prompt_ids)
            s.set_params(replace(p, max_new_tokens=max(1, min(p.max_new_tokens, COMPARE_MAX_TOKENS, room))))
            s.run()
            runs.append((SIDE_LETTERS[k], side, s, model.config.vocab_size))
        fig, md = compare_figure(runs, ps.lang), compare_table(runs, ps.lang)
        ps.extras["cmp"] = lambda lang: (compare_figure(runs, lang), compare_table(runs, lang))
        return ps, fig, md

    # -- language
    def relabel(self, ps, lang, steps, model_name, prompt, kv, *rest):
        """Set the page's language (and, after a shared link, take its steps): every label, view and figure."""
        lang = lang if lang in i18n.LANGS else "en"
        params, view = self.page._split(rest)
        if ps is None or ps.session is None:
            ps = _carry_lang(ps, self.page.new_state(model_name, prompt, params, kv))
        ps.lang = lang
        n = _finite_int(steps, 0)
        with ps.lock:
            if n > 0 and params.strategy == "beam":
                ps.beam = ps.session.beam_search()
            for _ in range(max(0, min(n, lessons.MAX_LINK_STEPS))):
                if ps.session.stop is not None:
                    break
                ps.session.step()
        recs = len(ps.session.records)
        v = self.page._view(ps, recs - 1 if recs and n > 0 else view[0] if recs else None, view)
        extras = []
        for key, msg, height in (("leak", "fig.press_leak", 260), ("cache", "fig.press_compare_cache", 260),
                                 ("gqa", "fig.press_gqa", 260), ("cmp", "cmp_placeholder", 260)):
            got = ps.extras.get(key)
            if got is None:
                extras.append(figures.placeholder(i18n.t(msg, lang), height))
            else:
                out = got(lang)
                extras.append(out[0] if isinstance(out, tuple) else out)
        cmp = ps.extras.get("cmp")
        cmp_md = cmp(lang)[1] if cmp is not None else gr.skip()
        trained = ps.mine.training or bool(ps.mine.models)  # a curve on screen stays; an empty tab says what to do
        train = [gr.skip()] * 4 if trained else [figures.placeholder(i18n.t(k, lang)) for k in
                                                  ("fig.press_train", "fig.train_attn", "fig.objective")]
        train += [] if trained else [i18n.t("train_hint", lang)]
        les = ps.extras.get("lesson")
        lesson_text = lesson_md_text(les, lang) if les else i18n.t("lesson_note", lang)
        keep = {"lang": lang, "strategy": params.strategy, "mode": view[3] if view[3] in MODES else MODES[0]}
        return (ps, *render(ps, v), *extras, cmp_md, *train, lesson_text, *self.strings.updates(lang, keep))

    def apply_link(self, ps, lang, steps, model_name, prompt, kv, *rest):
        """After the page loaded: the link's steps and the page's language (nothing to do for English, no steps)."""
        if lang == "en" and not _finite_int(steps, 0) and isinstance(ps, PageState):
            ps.lang = "en"
            return (ps, *[gr.skip()] * self.n_relabel_outputs)
        return self.relabel(ps, lang, steps, model_name, prompt, kv, *rest)

    def relabel_now(self, ps, lang, steps, model_name, prompt, kv, *rest):
        """The language switch: relabel and redraw, taking no steps."""
        return self.relabel(ps, lang, 0, model_name, prompt, kv, *rest)

    @staticmethod
    def tab_seen(evt: gr.EventData):
        """Which view tab is open (the share link names it)."""
        tab = _event_object(evt).get("id")
        return tab if isinstance(tab, str) and tab in lessons.TABS else gr.skip()

    # -- the link
    def restore(self, request: gr.Request):
        """Read the page's URL (and the browser's language): control values, tab, language, a note on problems."""
        query = dict(request.query_params) if request is not None else {}
        c, problems = lessons.decode_link(query, self.page.choices)
        if "lang" not in query or any(p.startswith("lang=") for p in problems):
            header = request.headers.get("accept-language") if request is not None else None
            c["lang"] = i18n.lang_from_accept(header)
        note = ""
        if problems:  # they quote the link's values: escaped for the Markdown note and for the toast's HTML
            note = "⚠️ " + i18n.t("link_problems", c["lang"], problems=md_text("; ".join(problems)))
            gr.Warning("⚠️ " + i18n.t("link_problems", c["lang"], problems=toast_text("; ".join(problems))))
        elif set(query) - {"lang"}:
            note = i18n.t("link_restored", c["lang"], what=md_text(", ".join(sorted(query))))
        # only what the link names: a control the link does not mention keeps what the page (or the user) has
        bad = {p.split("=", 1)[0] for p in problems}
        given = {k for k in query if k in c and k not in bad}
        pick = lambda k: c[k] if k in given else gr.skip()  # noqa: E731
        values = [pick("model"), pick("prompt"), pick("kv"), *[pick(f) for f in lessons.SAMPLING_FIELDS]]
        tab = gr.Tabs(selected=c["tab"]) if "tab" in given else gr.skip()
        return (*values, c["lang"], pick("projector"), tab, pick("tab"), c["steps"] if "steps" in given else 0,
                gr.update(value=note, visible=bool(note)))

    def link(self, ps, lang, projector, tab, model_name, prompt, kv, *sampling):
        """The query string that rebuilds this page (the js around it adds the address)."""
        c = dict(zip(lessons.SAMPLING_FIELDS, sampling))
        steps = len(ps.session.records) if ps is not None and ps.session is not None else 0
        if ps is not None and ps.beam is not None and c.get("strategy") == "beam":
            steps = max(steps, 1)
        c.update(model=model_name, prompt=prompt, kv=bool(kv), lang=lang, projector=bool(projector),
                 tab=tab if tab in lessons.TABS else "next", steps=steps)
        return lessons.encode_link(c)

    # -- lessons
    def lesson_setup(self, index, lang):
        """A lesson was clicked: its control values, its tab, its explanation."""
        i = _finite_int(index, -1)
        if not 0 <= i < len(lessons.LESSONS):
            raise ValueError(f"pick a lesson from the list (0 to {len(lessons.LESSONS) - 1}); "
                             f"got {lessons.short_repr(index)}")
        les = lessons.LESSONS[i]
        c = les.all_controls()
        values = [c["model"], c["prompt"], c["kv"], *[c[f] for f in lessons.SAMPLING_FIELDS]]
        body = lesson_md_text(les.key, lang)
        sides = lessons.side_values(les.sides) if les.sides else [gr.skip()] * len(lessons.side_values(()))
        x = les.extra
        return (*values, gr.Tabs(selected=les.tab), les.tab, les.key, gr.update(value=body, visible=True),
                x.get("leak_pos", gr.skip()), x.get("leak_text", gr.skip()), x.get("compare_n", gr.skip()), *sides)

    def lesson_run(self, ps, key, leak_pos, leak_text, compare_n, model_name, prompt, kv, *rest):
        """After lesson_setup: start over with the lesson's settings, step, and run what the lesson shows."""
        n_side = lessons.COMPARE_SIDES * (1 + len(lessons.SIDE_FIELDS))
        side_vals, rest = list(rest[:n_side]), rest[n_side:]
        les = lessons.lesson(key)
        lang = ps.lang if isinstance(ps, PageState) else "en"
        ps = self.page.load(ps, model_name, prompt, kv, *rest)[0]
        ps.lang = lang
        ps.extras["lesson"] = les.key
        params, view = self.page._split(rest)
        with ps.lock:
            for _ in range(les.steps):
                if ps.session.stop is not None:
                    break
                ps.session.step()
        skip = gr.skip()
        leak = cache = gqa = gqa_md = cmp = cmp_md = skip
        if les.action == "leak":
            _, leak = self.page.leak_check(ps, model_name, prompt, kv, leak_pos, leak_text, *rest)
        elif les.action == "compare":
            _, cmp, cmp_md = self.compare(ps, model_name, prompt, kv, *side_vals, *rest)
        elif les.action == "beam":
            with ps.lock:
                ps.beam = ps.session.beam_search()
        elif les.action == "kv_compare":
            _, cache = self.page.compare_cache(ps, model_name, prompt, kv, compare_n, *rest)
        elif les.action == "gqa":
            try:
                gqa, gqa_md = self.trainer.gqa_compare(ps)
            except ValueError as e:
                why = str(e)
                gqa = figures.placeholder(i18n.t("lesson.gqa.missing_short", lang), 260)
                gqa_md = "⚠️ " + i18n.t("lesson.gqa.missing", lang, why=no_paths(why))
        recs = len(ps.session.records)
        v = self.page._view(ps, recs - 1 if recs else None, view)
        cfg = ps.session.model.config
        pickers = (gr.update(choices=list(range(cfg.n_layer)), value=v.layer),
                   gr.update(choices=list(range(cfg.n_head)), value=v.head))
        return (ps, *render(ps, v), *pickers, leak, cache, gqa, gqa_md, cmp, cmp_md)


def compare_names() -> list[str]:
    """API parameter names of the Compare columns: cmp_a_on, cmp_a_prompt, cmp_a_temperature, ..."""
    return [f"cmp_{letter.lower()}_{f}" for letter in SIDE_LETTERS for f in ("on", *lessons.SIDE_FIELDS)]


PROJECTOR_JS = """(on) => {
  document.documentElement.classList.toggle('projector', !!on);
  setTimeout(() => window.dispatchEvent(new Event('resize')), 50);
}"""
LINK_JS = """(q) => {
  const url = window.location.origin + window.location.pathname + (q ? '?' + q : '');
  try { window.history.replaceState(null, '', url); } catch (e) {}
  try { navigator.clipboard && navigator.clipboard.writeText(url).catch(() => {}); } catch (e) {}
  return url;
}"""


def compare_tab(strings: Strings) -> dict:
    """The Compare tab's components (called inside gr.Tabs)."""
    c: dict = {"values": []}
    with strings.add(gr.Tab(i18n.t("tab.compare"), id="compare", elem_id="tab-compare"), "tab.compare", "tab"):
        note_box(strings, "compare")
        strings.add(gr.Markdown(i18n.t("cmp_intro"), elem_id="cmp-intro"), "cmp_intro", "value")
        defaults = lessons.side_values(DEFAULT_SIDES)
        n = 1 + len(lessons.SIDE_FIELDS)
        for k, letter in enumerate(SIDE_LETTERS):
            on, prompt, temp, top_k, top_p, pen = defaults[k * n:(k + 1) * n]
            with gr.Row(equal_height=True, elem_classes="cmp-row"):
                col = gr.Checkbox(on, label=i18n.t("cmp_on", side=letter), elem_id=f"cmp_on_{k}", scale=1, min_width=120)
                strings.add(col, "cmp_on", lambda lang, letter=letter: gr.update(label=i18n.t("cmp_on", lang, side=letter)))
                widgets = [
                    strings.add(gr.Textbox(prompt, label=i18n.t("cmp_prompt"), elem_id=f"cmp_prompt_{k}", scale=3,
                                           lines=1, max_lines=2, min_width=160), "cmp_prompt"),
                    strings.add(gr.Number(temp, label=i18n.t("temperature"), minimum=0, step=0.1,
                                          elem_id=f"cmp_temperature_{k}", min_width=90), "temperature", "label_only"),
                    strings.add(gr.Number(top_k, label=i18n.t("top_k"), minimum=0, precision=0, elem_id=f"cmp_top_k_{k}",
                                          min_width=90), "top_k", "label_only"),
                    strings.add(gr.Number(top_p, label=i18n.t("top_p"), minimum=0.01, maximum=1, step=0.05,
                                          elem_id=f"cmp_top_p_{k}", min_width=90), "top_p", "label_only"),
                    strings.add(gr.Number(pen, label=i18n.t("penalty"), minimum=0.01, step=0.05,
                                          elem_id=f"cmp_penalty_{k}", min_width=90), "penalty", "label_only"),
                ]
            c["values"] += [col, *widgets]
        c["button"] = strings.add(gr.Button(i18n.t("cmp_btn"), variant="primary", elem_id="cmp_btn"), "cmp_btn", "value")
        c["plot"] = strings.add(gr.Plot(figures.placeholder(i18n.t("cmp_placeholder"), 260), elem_id="cmp-plot",
                                        label=i18n.t("cmp_plot")), "cmp_plot")
        c["md"] = gr.Markdown(elem_id="cmp-md")
    return c


# -- the page ---------------------------------------------------------------------------------------
CSS = """
.gradio-container {max-width: 100% !important; padding: 0 12px !important}
#chips .chips {display:flex; flex-wrap:wrap; gap:4px; line-height:1.9}
#chips .tok {font-family:'DejaVu Sans Mono','WenQuanYi Micro Hei','Noto Sans Mono CJK SC',monospace; font-size:18px;
             border:1px solid #9aa; border-radius:5px; padding:1px 6px; white-space:pre}
#chips .tok.prompt {background:#ececec; color:#222}
#chips .tok.gen {cursor:pointer}
#chips .tok.sel {outline:3px solid #F58518; outline-offset:1px}
#chips .chip-legend {font-size:14px; color:#555; margin-top:6px}
#chips .chip-legend .tok {font-size:14px; padding:0 4px}
#status {font-size:15px}
.controls .info {font-size:14px !important}
#lesson-md {font-size:16px; border-left:4px solid #F58518; padding:2px 12px; background:#fffaf3}
#lessons button {font-size:15px}
.note .prose {font-size:16px}
#cmp-md td:nth-child(-n+2), #cmp-md th:nth-child(-n+2) {white-space:nowrap}
/* projector mode: larger type, black on white, thicker borders (toggled on <html> by PROJECTOR_JS) */
html.projector .gradio-container {--body-text-color:#000; --body-text-color-subdued:#111; --block-label-text-color:#000;
  --block-info-text-color:#111; --block-title-text-color:#000; --border-color-primary:#444; --block-border-width:2px;
  --text-sm:17px; --text-md:19px; --text-lg:21px; --text-xl:24px; --block-label-text-size:17px;
  --block-info-text-size:16px; --input-text-size:19px; --button-large-text-size:20px; --button-small-text-size:18px;
  --section-header-text-size:18px}
html.projector .gradio-container .prose, html.projector #status, html.projector #lesson-md {font-size:19px !important;
  color:#000 !important}
html.projector #chips .tok {font-size:23px; border-color:#222}
html.projector #chips .chip-legend {font-size:16px; color:#000}
html.projector #lessons button {font-size:18px; border-color:#444}
html.projector #views [role=tab] {font-size:17px}
"""

# A click on a coloured chip selects that step; a click on a tile of the all-heads overview opens
# that head. gr.Plot has no click event in Gradio 6, and plotly covers the page with a drag layer
# on mousedown (so the later "click" lands elsewhere); a capture-phase mousedown listener reads the
# point plotly keeps under the mouse (gd._hoverdata) instead.
CHIPS_JS = """
element.addEventListener('click', (e) => {
  const chip = e.target.closest('[data-step]');
  if (chip) trigger('pick_step', {step: Number(chip.dataset.step)});
});
if (!window.__playgroundOverview) {
  window.__playgroundOverview = true;
  document.addEventListener('mousedown', (e) => {
    const gd = e.target.closest && e.target.closest('#attn-overview .js-plotly-plot');
    if (!gd || !gd._hoverdata || !gd._hoverdata.length) return;
    const cd = gd._hoverdata[0].customdata;
    if (cd && cd.length === 2) trigger('pick_head', {layer: Number(cd[0]), head: Number(cd[1])});
  }, true);
}
"""


def _labelled(component, preprocess, payload):
    """``preprocess(payload)``, its out-of-range message prefixed by the control's label."""
    try:
        return preprocess(payload)
    except gr.Error as e:
        raise gr.Error(toast_text(f"{component.label}: {e.message}")) from None


def _finite_payload(component, payload):
    """Refuse what is not a finite number (a string, None, NaN, ±inf sent by an API client) with a plain
    message naming the control; Gradio's own bounds check fails on them with a bare "Error"."""
    if payload is None and isinstance(component, gr.Number):
        return  # an emptied box: the handler decides (the seed says "got None")
    if isinstance(payload, bool) or not isinstance(payload, numbers.Real) or not math.isfinite(payload):
        raise gr.Error(toast_text(f"{component.label or 'this setting'} must be a finite number; "
                                  f"got {lessons.short_repr(payload)}"))


class CheckedSlider(gr.Slider):
    """gr.Slider with ``_finite_payload``; the browser draws it as a slider."""

    def get_block_name(self) -> str:
        return "slider"

    get_block_class = get_block_name

    def preprocess(self, payload):
        _finite_payload(self, payload)
        return _labelled(self, super().preprocess, payload)


class CheckedNumber(gr.Number):
    """gr.Number with ``_finite_payload``; the browser draws it as a number box."""

    def get_block_name(self) -> str:
        return "number"

    get_block_class = get_block_name

    def preprocess(self, payload):
        _finite_payload(self, payload)
        return _labelled(self, super().preprocess, payload)


def _choice_error(component, preprocess, payload):
    """``preprocess(payload)``; a value not among the choices is refused with the control's label."""
    try:
        return preprocess(payload)
    except gr.Error:
        values = ", ".join(str(v) for _, v in component.choices)
        raise gr.Error(toast_text(f"{component.label}: {lessons.short_repr(payload)} is not one of the choices "
                                  f"({values[:300]})")) from None


class CheckedDropdown(gr.Dropdown):
    """gr.Dropdown whose refusal names the control (Gradio's prints Python types)."""

    def get_block_name(self) -> str:
        return "dropdown"

    get_block_class = get_block_name

    def preprocess(self, payload):
        return _choice_error(self, super().preprocess, payload)


class CheckedRadio(gr.Radio):
    """gr.Radio whose refusal names the control (Gradio's prints Python types)."""

    def get_block_name(self) -> str:
        return "radio"

    get_block_class = get_block_name

    def preprocess(self, payload):
        return _choice_error(self, super().preprocess, payload)


CHECKED = {gr.Slider: CheckedSlider, gr.Number: CheckedNumber, gr.Dropdown: CheckedDropdown, gr.Radio: CheckedRadio}


def _check_inputs(demo: gr.Blocks) -> None:
    """Give every slider, number box, dropdown and radio of ``demo`` the checks above: a bad value sent by
    an API client is refused with a message naming the control. (Gradio rebuilds an updated component
    from its class, so the checks survive ``gr.update``.)"""
    for block in demo.blocks.values():
        if type(block) in CHECKED:
            block.__class__ = CHECKED[type(block)]


def _short(reason: str, limit: int = 160) -> str:
    """The first sentence of a long reason (the whole of it shows when that model is picked)."""
    first = no_paths(reason).split(". ")[0]
    return first if len(first) <= limit else first[: limit - 1] + "…"


def build_demo(model_loader: Loader | None = None, choices: dict[str, str | None] | None = None,
               train_limits=None) -> gr.Blocks:
    """The whole page. ``model_loader(name) -> (model, tokenizer)`` replaces ``weights.load_model``
    (tests inject a tiny random model); ``choices`` maps model names to None or why they are unavailable;
    ``train_limits`` (a ``train.TrainLimits``) replaces ``TrainLimits.from_env()``."""
    models = _MODELS if model_loader is None else ModelCache(model_loader)
    if choices is None:
        if model_loader is None:
            from playground.weights import model_choices

            choices = model_choices()
        else:
            choices = {DEFAULT_MODEL: None}
    page = Page(models, choices)
    names = list(choices)
    default_model = DEFAULT_MODEL if DEFAULT_MODEL in choices else names[0]
    picker_choices = [(n if choices[n] is None else f"{n} (unavailable)", n) for n in names]
    unavailable = "".join(f"\n- {i18n.t('unavailable', 'en', name=n, why=_short(r))}" for n, r in choices.items() if r)
    from playground.train import PRESETS, TrainLimits

    limits = TrainLimits.from_env() if train_limits is None else train_limits
    trainer = TrainView(page, limits, picker_choices)
    strings = Strings()
    classroom = Classroom(page, trainer, strings)

    with gr.Blocks(title="GPT Playground") as demo:
        state = gr.State(None, time_to_live=STATE_TTL_S, delete_callback=_forget)
        # the settings live in a sidebar that stays on screen while the views scroll: move a slider, watch a chart
        with gr.Sidebar(width=310, elem_id="settings", elem_classes="controls"):
            model = gr.Dropdown(picker_choices, value=default_model, label="Model", elem_id="model",
                                info="The embedded Shakespeare GPT, or GPT-2 when it can be loaded")
            if unavailable:
                strings.add(gr.Markdown(unavailable, elem_id="unavailable"), "unavailable", lambda lg: gr.update(
                    value="".join(f"\n- {i18n.t('unavailable', lg, name=n, why=_short(r))}" for n, r in choices.items()
                                  if r)))
            kv = gr.Checkbox(True, label="KV cache", elem_id="kv",
                             info="Keep every token's keys and values, so a step reads only the newest token")
            strategy = gr.Radio(["greedy", "sample", "beam"], value="sample", label="Decoding", elem_id="strategy",
                                info="greedy: always the most likely token · sample: draw from the distribution · "
                                     "beam: keep several candidate texts")
            temperature = gr.Slider(0, 2, 1.0, step=0.05, label="Temperature", elem_id="temperature",
                                    info="Divides the logits: below 1 sharpens, above 1 flattens; 0 = greedy")
            top_k = gr.Slider(0, 200, 0, step=1, label="Top-k", elem_id="top_k",
                              info="Keep only the k most likely tokens (0 = off)")
            top_p = gr.Slider(0.01, 1, 1.0, step=0.01, label="Top-p (nucleus)", elem_id="top_p",
                              info="Keep the likeliest tokens until they add up to p (1 = off)")
            min_p = gr.Slider(0, 0.5, 0.0, step=0.01, label="Min-p", elem_id="min_p",
                              info="Drop tokens below min-p × the top token's probability (0 = off)")
            penalty = gr.Slider(0.5, 2, 1.0, step=0.05, label="Repetition penalty", elem_id="penalty",
                                info="Above 1, tokens already in the text become less likely (1 = off)")
            seed = gr.Number(0, label="Seed", precision=0, minimum=0, elem_id="seed",
                             info="Same seed and settings = same tokens (press Enter to apply)")
            max_new = gr.Slider(1, 256, 50, step=1, label="Max new tokens", elem_id="max_new",
                                info="Run stops after this many generated tokens")
            stop = gr.Textbox("", label="Stop strings", lines=1, max_lines=4, elem_id="stop",
                              info="One per line; generation stops when one appears (\\n = newline)")
            with strings.add(gr.Accordion("Beam search settings", open=False), "beam_settings", "accordion"):
                num_beams = gr.Slider(1, 8, 4, step=1, label="Beams", elem_id="num_beams",
                                      info="How many candidate texts beam search keeps at each step")
                length_penalty = gr.Slider(-1, 3, 1.0, step=0.1, label="Length penalty", elem_id="length_penalty",
                                           info="Score = log p / length^this; above 0 favours longer texts")
        title = gr.Markdown("## GPT Playground · watch a small GPT write one token at a time", elem_id="title")
        # -- classroom bar: language, projector, share link, lessons
        with gr.Row(equal_height=True, elem_id="classroom-bar"):
            lang = gr.Radio([(i18n.LANG_NAMES[x], x) for x in i18n.LANGS], value="en", label=i18n.t("lang"), info=i18n.t("lang.info"),
                            elem_id="lang", scale=1, min_width=160)
            projector = gr.Checkbox(False, label=i18n.t("projector"), info=i18n.t("projector.info"), elem_id="projector",
                                    scale=1, min_width=160)
            share_btn = gr.Button(i18n.t("share"), elem_id="share_btn", scale=0, min_width=130)
            link_box = gr.Textbox("", label=i18n.t("link"), info=i18n.t("link.info"), elem_id="link", scale=3,
                                  interactive=False, buttons=["copy"], lines=1, max_lines=2)
        link_note = gr.Markdown("", elem_id="link-note", visible=False)
        lesson_list = gr.Dataset(components=["textbox"], samples=[[i18n.t(f"lesson.{x}.title")] for x in lessons.LESSON_KEYS],
                                 type="index", label=i18n.t("lessons"), elem_id="lessons", samples_per_page=20)
        lesson_md = gr.Markdown(i18n.t("lesson_note"), latex_delimiters=LATEX, elem_id="lesson-md",
                                elem_classes="lesson")
        link_query, tab_now = gr.Textbox("", visible=False, elem_id="link_query"), gr.State("next")
        link_steps, lesson_key = gr.State(0), gr.State(lessons.LESSON_KEYS[0])
        with gr.Row(equal_height=True):
            prompt = gr.Textbox(EXAMPLES[0], label="Prompt", lines=1, max_lines=6, scale=3, elem_id="prompt",
                                info="The text the model continues. Changing it starts over (Enter or Reset).")
            with gr.Column(scale=2, min_width=380):
                with gr.Row():
                    step_btn = gr.Button("Step ▶", variant="primary", elem_id="step", min_width=80)
                    run_btn = gr.Button("Run ▶▶", elem_id="run", min_width=80)
                with gr.Row():
                    back_btn = gr.Button("◀ Back", elem_id="back", min_width=80)
                    reset_btn = gr.Button("Reset ↺", elem_id="reset", min_width=80)
        examples = gr.Examples([[e] for e in EXAMPLES], inputs=[prompt], label="Example prompts")
        chips = gr.HTML("", label="Tokens", elem_id="chips", js_on_load=CHIPS_JS, padding=False)
        status = gr.Markdown(label="Status", elem_id="status")
        with gr.Row():
            view_step = gr.Slider(0, 1, 0, step=1, label="Inspect step", elem_id="view_step", interactive=False, scale=2,
                                  info="Which generated token the views below explain (or click a coloured token)")
            text = gr.Textbox(label="Text so far", lines=2, max_lines=4, interactive=False, elem_id="text", scale=3)
        with gr.Tabs(elem_id="views") as tabs:
            with strings.add(gr.Tab("Next token", id="next", elem_id="tab-next"), "tab.next", "tab"):
                note_box(strings, "next")
                mode = gr.Radio(MODES, value=MODES[0], label="Bars show", elem_id="mode",
                                info="Probabilities after softmax, or the scores (logits) before it")
                next_plot = gr.Plot(elem_id="next-plot", label="Next-token distribution by decoding stage")
            with strings.add(gr.Tab("Attention", id="attention", elem_id="tab-attention"), "tab.attention", "tab"):
                note_box(strings, "attention")
                with gr.Row():
                    layer = gr.Dropdown([0], value=0, label="Layer", elem_id="layer", info="Which transformer block")
                    head = gr.Dropdown([0], value=0, label="Head", elem_id="head",
                                       info="Which attention head of that block (or click a tile below)")
                attn_plot = gr.Plot(elem_id="attn-heatmap", label="One head")
                overview_plot = gr.Plot(elem_id="attn-overview", label="Every layer and head")
            with strings.add(gr.Tab("Causal mask", id="mask", elem_id="tab-mask"), "tab.mask", "tab"):
                note_box(strings, "mask")
                mask_intro = gr.Markdown("Each token may only look at itself and earlier tokens. The four panels follow one head "
                            "(pick it in the Attention tab): the cells the mask allows, the raw scores QKᵀ/√d, the same "
                            "scores with the future set to −∞, and softmax, which turns −∞ into exactly 0.")
                mask_plot = gr.Plot(elem_id="mask-plot", label="Causal mask")
                with gr.Row(equal_height=True):
                    leak_pos = gr.Number(3, label="Change the token at position", precision=0, minimum=0,
                                         elem_id="leak_pos", info=i18n.t("leak_pos.info"))
                    leak_text = gr.Textbox(" the", label="Put this token there", elem_id="leak_text",
                                           info="Its first token is used")
                    leak_btn = gr.Button("Run the leak check", elem_id="leak_btn")
                leak_plot = gr.Plot(figures.placeholder("Change a later token: earlier predictions must not move"),
                                    elem_id="leak-plot", label="Leak check")
            with strings.add(gr.Tab("KV cache", id="kv", elem_id="tab-kv"), "tab.kv", "tab"):
                note_box(strings, "kv")
                latency_plot = gr.Plot(elem_id="latency-plot", label="Time per step")
                memory_plot = gr.Plot(elem_id="memory-plot", label="Cache memory")
                with gr.Row(equal_height=True):
                    compare_n = gr.Slider(4, 256, 64, step=1, label="Tokens to generate", elem_id="compare_n",
                                          info=i18n.t("compare_n.info"))
                    compare_btn = gr.Button("Compare cache on / off", elem_id="compare_btn")
                compare_plot = gr.Plot(figures.placeholder("Press “Compare cache on / off”"), elem_id="compare-plot",
                                       label="Cache on vs off")
                gqa_btn = gr.Button("Compare with grouped-query attention (shakespeare vs shakespeare-gqa)",
                                    elem_id="gqa_btn")
                gqa_plot = gr.Plot(figures.placeholder("Press the button: cache bytes of the two shipped models"),
                                   elem_id="gqa-plot", label="Multi-head vs grouped-query KV cache")
                gqa_md = gr.Markdown(elem_id="gqa-md")
            with strings.add(gr.Tab("Beam search", id="beam", elem_id="tab-beam"), "tab.beam", "tab"):
                note_box(strings, "beam")
                beam_btn = gr.Button("Run beam search", elem_id="beam_btn")
                beam_plot = gr.Plot(elem_id="beam-plot", label="Beam search tree")
                beam_md = gr.Markdown(label="Beam hypotheses", elem_id="beam-md")
            cmp = compare_tab(strings)
            # -- train view
            with strings.add(gr.Tab("Train", id="train", elem_id="tab-train"), "tab.train", "tab"):
                note_box(strings, "train")
                first = next(iter(PRESETS))
                (m0, t0) = PRESETS[first]
                off = "" if limits.enabled else " **Training is turned off on this server.**"
                train_intro = gr.Markdown("Train a small GPT from scratch on the Shakespeare corpus and watch it learn: the loss "
                            "falls, the sample turns from gibberish into words, attention takes shape. The objective: "
                            "the logits at each position predict the *next* token (targets = inputs shifted by one), "
                            f"scored by cross-entropy. Server limits: {limits.max_steps:,} steps, "
                            f"{limits.max_seconds:g} s, {limits.max_params:,} parameters, {limits.max_block}-token "
                            f"context, {limits.max_concurrent} training(s) at a time.{off}", elem_id="train-intro")
                with gr.Row(equal_height=True):
                    preset = gr.Dropdown(list(PRESETS), value=first, label="Preset", elem_id="train_preset", scale=2,
                                         info="Sizes that finish in under a minute on 2 CPU cores")
                    train_btn = gr.Button("Train ▶", variant="primary", elem_id="train_btn", interactive=limits.enabled)
                    stop_btn = gr.Button("Stop ■", variant="stop", elem_id="train_stop")
                with gr.Row():
                    t_layers = gr.Slider(1, 8, m0["n_layer"], step=1, label="Layers", elem_id="train_layers",
                                         info=i18n.t("t_layers.info"))
                    t_heads = gr.Slider(1, 8, m0["n_head"], step=1, label="Heads", elem_id="train_heads",
                                        info="Must divide the width")
                    t_width = gr.Slider(16, 256, m0["n_embd"], step=16, label="Width (n_embd)", elem_id="train_width",
                                        info=i18n.t("t_width.info"))
                    t_block = gr.Slider(8, 256, min(m0["block_size"], limits.max_block), step=8,
                                        label="Context (tokens)", elem_id="train_block",
                                        info=f"This server allows up to {limits.max_block}")
                    t_lr = gr.Number(t0["lr"], label="Learning rate", elem_id="train_lr", minimum=0,
                                     info=i18n.t("t_lr.info"))
                    t_steps = gr.Slider(1, 2000, min(t0["steps"], limits.max_steps), step=1, label="Steps",
                                        elem_id="train_steps", info=f"This server allows up to {limits.max_steps:,}")
                train_md = gr.Markdown("Pick a preset and press **Train**.", elem_id="train-status")
                sample_md = gr.Markdown(elem_id="train-sample", label="Sample")
                with gr.Row():
                    loss_plot = gr.Plot(figures.placeholder("Press Train: the loss curves appear here"),
                                        elem_id="loss-plot", label="Loss")
                    train_attn = gr.Plot(figures.placeholder("Attention of one head on a fixed sentence"),
                                         elem_id="train-attn", label="Attention while training")
                objective_plot = gr.Plot(figures.placeholder("The objective on one training row"),
                                         elem_id="objective-plot", label="The objective")
            # -- inside the model
            inside = inside_tab(strings)

        # -- classroom: every translated component (the classroom bar, notes and tabs registered themselves)
        for comp, key in ((model, "model"), (kv, "kv"), (temperature, "temperature"), (top_k, "top_k"), (top_p, "top_p"),
                          (min_p, "min_p"), (penalty, "penalty"), (seed, "seed"), (max_new, "max_new"), (stop, "stop"),
                          (num_beams, "num_beams"), (length_penalty, "length_penalty"), (prompt, "prompt"),
                          (view_step, "view_step"), (text, "text"), (next_plot, "next_plot"), (layer, "layer"),
                          (head, "head"), (attn_plot, "attn_plot"), (overview_plot, "overview_plot"),
                          (mask_plot, "mask_plot"), (leak_pos, "leak_pos"), (leak_text, "leak_text"),
                          (leak_plot, "leak_plot"), (latency_plot, "latency_plot"), (memory_plot, "memory_plot"),
                          (compare_n, "compare_n"), (compare_plot, "compare_plot"), (gqa_plot, "gqa_plot"),
                          (beam_plot, "beam_plot"), (preset, "preset"), (t_layers, "t_layers"), (t_heads, "t_heads"),
                          (t_width, "t_width"), (t_block, "t_block"), (t_lr, "t_lr"), (t_steps, "t_steps"),
                          (inside["layer"], "inside_layer"), (inside["head"], "inside_head"), (lang, "lang"),
                          (projector, "projector"), (link_box, "link"), (loss_plot, "loss_plot"),
                          (train_attn, "train_attn"), (objective_plot, "objective_plot")):
            strings.add(comp, key)
        for comp, key in ((title, "title"), (step_btn, "step"), (run_btn, "run"), (back_btn, "back"), (reset_btn, "reset"),
                          (mask_intro, "mask_intro"), (leak_btn, "leak_btn"), (compare_btn, "compare_btn"),
                          (gqa_btn, "gqa_btn"), (beam_btn, "beam_btn"), (train_btn, "train_btn"), (stop_btn, "train_stop"),
                          (inside["button"], "inside_btn"), (inside["intro"], "inside_intro"), (share_btn, "share")):
            strings.add(comp, key, "value")
        strings.add(strategy, "strategy", lambda lg: gr.update(
            label=i18n.t("strategy", lg), info=i18n.t("strategy.info", lg),
            choices=[(i18n.t(f"strategy.{x}", lg), x) for x in ("greedy", "sample", "beam")]))
        strings.add(mode, "mode", lambda lg: gr.update(label=i18n.t("mode", lg), info=i18n.t("mode.info", lg),
                                                       choices=[(i18n.t(f"mode.{x}", lg), x) for x in MODES]))
        strings.add(examples.dataset, "examples", "dataset")
        strings.add(lesson_list, "lessons", lambda lg: gr.update(
            label=i18n.t("lessons", lg), samples=[[i18n.t(f"lesson.{x}.title", lg)] for x in lessons.LESSON_KEYS]))
        strings.add(train_intro, "train_intro", lambda lg: gr.update(value=i18n.t(
            "train_intro", lg, steps=f"{limits.max_steps:,}", secs=f"{limits.max_seconds:g}",
            params=f"{limits.max_params:,}", block=limits.max_block, conc=limits.max_concurrent,
            off="" if limits.enabled else i18n.t("train_off", lg))))

        sampling = [strategy, temperature, top_k, top_p, min_p, penalty, seed, max_new, stop, num_beams, length_penalty]
        view = [view_step, layer, head, mode]
        controls = [state, model, prompt, kv, *sampling, *view]
        views = [chips, text, status, view_step, next_plot, attn_plot, overview_plot, mask_plot, latency_plot,
                 memory_plot, beam_plot, beam_md]
        outputs = [state, *views]
        layer_head = [layer, head]

        def with_dropdowns(fn):
            """After (re)loading, the layer/head pickers must list this model's layers and heads."""
            def wrapped(*args):
                out = fn(*args)
                ps = out[0]
                cfg = ps.session.model.config
                return (*out, gr.update(choices=list(range(cfg.n_layer)), value=0),
                        gr.update(choices=list(range(cfg.n_head)), value=0))
            wrapped.__name__ = fn.__name__
            return wrapped

        # the page opens: a shared link's settings and the language first, then the session, then its steps and labels
        link_controls = [model, prompt, kv, *sampling]
        extra_plots = [leak_plot, compare_plot, gqa_plot, cmp["plot"], cmp["md"], loss_plot, train_attn, objective_plot, train_md,
                       lesson_md]
        relabel_in = [state, lang, link_steps, model, prompt, kv, *sampling, *view]
        relabel_out = [state, *views, *extra_plots, *strings.components]
        classroom.n_relabel_outputs = len(relabel_out) - 1
        relabel_names = ("state", "lang", "steps", "model_name", "prompt", "kv_cache", *SAMPLING_NAMES, *VIEW_NAMES)
        demo.load(user_errors(classroom.restore), None,
                  [*link_controls, lang, projector, tabs, tab_now, link_steps, link_note], api_name="restore_link").then(
            endpoint(with_dropdowns(page.load)), controls, outputs + layer_head, api_name="load_page").then(
            named(user_errors(classroom.apply_link), relabel_names), relabel_in, relabel_out, api_name="apply_link")
        lang.input(named(user_errors(functools.partial(classroom.relabel_now)), relabel_names),
                   relabel_in, relabel_out, api_name="set_language")
        projector.change(None, projector, None, js=PROJECTOR_JS)
        share_btn.click(named(user_errors(classroom.link), ("state", "lang", "projector", "tab", "model_name", "prompt",
                                                            "kv_cache", *SAMPLING_NAMES)),
                        [state, lang, projector, tab_now, *link_controls], link_query, api_name="share_link").then(
            None, link_query, link_box, js=LINK_JS)
        tabs.select(classroom.tab_seen, None, tab_now, api_name="tab_seen")
        cmp_in = [state, model, prompt, kv, *cmp["values"], *sampling, *view]
        cmp_names = ("state", "model_name", "prompt", "kv_cache", *compare_names(), *SAMPLING_NAMES, *VIEW_NAMES)
        cmp["button"].click(named(user_errors(classroom.compare), cmp_names), cmp_in, [state, cmp["plot"], cmp["md"]],
                            api_name="compare")
        lesson_list.click(named(user_errors(classroom.lesson_setup), ("lesson", "lang")), [lesson_list, lang],
                          [*link_controls, tabs, tab_now, lesson_key, lesson_md, leak_pos, leak_text, compare_n,
                           *cmp["values"]], api_name="lesson").then(
            named(user_errors(classroom.lesson_run), ("state", "lesson_key", "position", "new_token", "n_tokens",
                                                      "model_name", "prompt", "kv_cache", *compare_names(),
                                                      *SAMPLING_NAMES, *VIEW_NAMES)),
            [state, lesson_key, leak_pos, leak_text, compare_n, model, prompt, kv, *cmp["values"], *sampling, *view],
            [state, *views, layer, head, leak_plot, compare_plot, gqa_plot, gqa_md, cmp["plot"], cmp["md"]],
            api_name="lesson_run")
        reset_btn.click(endpoint(with_dropdowns(page.reset)), controls, outputs + layer_head, api_name="reset")
        prompt.submit(endpoint(with_dropdowns(page.reset)), controls, outputs + layer_head, api_name="set_prompt")
        model.input(endpoint(page.change_model), controls, [state, model, *views], api_name="change_model").then(
            lambda ps: [gr.update(choices=list(range(ps.session.model.config.n_layer)), value=0),
                        gr.update(choices=list(range(ps.session.model.config.n_head)), value=0)]
            if ps is not None and ps.session is not None else [gr.skip(), gr.skip()],
            state, layer_head, api_name="model_dropdowns")
        def view_event(name: str, handler=None, extra_outputs=(), inputs=controls, **kw):
            """(handler, inputs, outputs) for an event that redraws the views EVENT_VIEWS[name] only."""
            parts = EVENT_VIEWS[name]
            fn = endpoint(only_views(parts, handler or getattr(page, name)), **kw)
            return fn, inputs, [state, *(c for c, part in zip(views, VIEW_OUTPUTS) if part in parts), *extra_outputs]

        step_btn.click(endpoint(page.step), controls, outputs, api_name="step")
        run_btn.click(endpoint(page.run), controls, outputs, api_name="run")
        back_btn.click(*view_event("back"), api_name="back")
        gr.on([c.release for c in (temperature, top_k, top_p, min_p, penalty, max_new, num_beams, length_penalty)]
              + [strategy.input, seed.submit, stop.submit],
              *view_event("resample"), api_name="resample", trigger_mode="always_last")
        view_step.release(*view_event("select_step"), api_name="select_step")
        gr.on([layer.input, head.input], *view_event("select_head"), api_name="select_head")
        mode.input(*view_event("next_mode"), api_name="next_mode")
        kv.input(*view_event("set_kv"), api_name="set_kv_cache")
        beam_btn.click(*view_event("beam_search"), api_name="beam_search")
        compare_btn.click(endpoint(page.compare_cache, ("n_tokens",)), [state, model, prompt, kv, compare_n, *sampling, *view],
                          [state, compare_plot], api_name="compare_cache")
        leak_btn.click(endpoint(page.leak_check, ("position", "new_token")),
                       [state, model, prompt, kv, leak_pos, leak_text, *sampling, *view], [state, leak_plot],
                       api_name="leak_check")
        chips.pick_step(*view_event("select_step", page.pick_step, event=True), api_name="pick_step")
        chips.pick_head(*view_event("select_head", page.pick_head, layer_head, event=True), api_name="pick_head")
        gr.Button(visible=False).click(  # what a click on an overview tile does, callable by API clients
            *view_event("select_head", page.open_head, layer_head, [state, model, prompt, kv, layer, head, *sampling, *view],
                        extra=("layer", "head")), api_name="open_head")
        # -- train view
        train_fields = [t_layers, t_heads, t_width, t_block, t_lr, t_steps]
        preset.input(user_errors(trainer.preset), preset, train_fields, api_name="train_preset")
        train_btn.click(named(user_errors(trainer.train), ("state", *TRAIN_NAMES)), [state, preset, *train_fields],
                        [loss_plot, train_md, sample_md, train_attn, objective_plot, model], api_name="train",
                        concurrency_limit=None)  # the slots refuse with "busy"; the queue must not hold them back
        stop_btn.click(trainer.stop, state, train_md, api_name="stop_training", concurrency_limit=None)
        gqa_btn.click(named(user_errors(trainer.gqa_compare), ("state",)), state, [gqa_plot, gqa_md], api_name="gqa_cache")
        # -- inside the model
        wire_inside(page, inside, tabs, status, state, model, prompt, kv, sampling, view)
    _check_inputs(demo)
    # With monitoring off nobody reads Gradio's monitoring summary, yet by default it is recomputed
    # after every event as a pandas table over the last 10,000 events: measured here, a class's
    # median Step went 57 -> 108 -> 182 ms over three 45-second classes. Keep it small and rare.
    os.environ.setdefault("GRADIO_ANALYTICS_MAX_EVENTS", "500")
    os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "1000")
    demo.queue(default_concurrency_limit=2, max_size=64, api_open=False)
    demo._queue.__class__ = FairQueue  # at most MAX_QUEUED_PER_TAB events per tab; tabs kept by SessionHolder
    return demo


def _port(raw: str) -> int:
    if raw.isdigit() and 1 <= int(raw) <= 65535:
        return int(raw)
    raise SystemExit(f"GRADIO_SERVER_PORT must be a port number from 1 to 65535; got {raw!r}")


def launch_kwargs() -> dict:
    """``demo.launch(**launch_kwargs())``: DESIGN.md §5 settings; host/port from Gradio's env variables."""
    return dict(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        server_port=_port(os.environ.get("GRADIO_SERVER_PORT", "7860")),
        css=CSS,
        theme=gr.themes.Default(text_size=gr.themes.sizes.text_lg),
        show_error=False,  # only gr.Error messages reach users; other exceptions stay in the server log
        state_session_capacity=MAX_SESSIONS,
        enable_monitoring=False,
        max_file_size="1mb",
        app_kwargs=dict(middleware=[Middleware(NoUploads)]),  # the page takes no uploads: the route answers 403
    )
