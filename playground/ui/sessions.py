"""Sessions: one browser tab's state (``PageState``), which tabs the server keeps, and what a tab whose
state was freed is told. Server limits on tabs live here (their environment variables, read once).

``PageState`` is per tab (a ``gr.State``): its ``Session``, the last beam search, a cached causal-mask
figure, the tab's own trained models and how to redraw a result figure in another language. The Session
keeps its KV cache and the newest step's raw logits as torch tensors (a Step reads one token, a slider
re-decides without a forward pass); it deep-copies, sharing the read-only model.
"""
from __future__ import annotations

import copy
import math
import threading
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import gradio as gr
import psutil
from fastapi import HTTPException
from gradio.queueing import Queue
from gradio.state_holder import SessionState, StateHolder
from starlette.responses import PlainTextResponse

from playground import i18n
from playground.config import env_number

if TYPE_CHECKING:
    from playground.session import Session

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
MAX_OWN_MODELS = 3  # a tab keeps its three newest trained models: bounded memory on a shared server


# -- per-user state ---------------------------------------------------------------------------------
@dataclass
class OwnModels:
    """One tab's own trained models (name -> (model, tokenizer)) and the flag its Stop button sets. Never in
    the shared ModelCache; carried across resets."""

    models: dict = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)
    training: bool = False
    trained: int = 0  # how many this tab has trained (names stay unique when old ones are dropped)


@dataclass
class PageState:
    """One browser tab: its session and what the views cache. Small; deep-copyable."""

    model_name: str
    session: "Session"
    beam: object | None = None  # playground.beam.BeamResult of the last beam search
    mask_key: tuple | None = None  # (ids, layer, head) the cached mask figure was drawn for
    mask_fig: object | None = None
    mask_scores: tuple | None = None  # ((model, ids), scores (L, H, T, T), weights (L, H, T, T)) of the mask view
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    own_models: OwnModels = field(default_factory=OwnModels, repr=False)  # the train view's models of this tab
    lang: str = "en"  # the page's language (classroom mode): figures and status lines are drawn in it
    redraws: dict = field(default_factory=dict, repr=False)  # result name -> redraw(lang) (the language switch)
    lesson: str | None = None  # the lesson whose note is on screen (it stays after a reset, follows the language)
    slider_shape: tuple | None = None  # (maximum, interactive) last sent for the step slider; None: not yet
    version: int = 0  # bumped (under ``lock``) when a Reset or a model change replaces this state: a Run stepping it stops
    gone: str | None = None  # "idle" / "evicted": the server freed this tab's state (free_state); its next event says so

    def __deepcopy__(self, memo):
        new = copy.copy(self)
        new.session = copy.deepcopy(self.session, memo)
        new.lock = threading.Lock()
        return new


def carry_lang(old: "PageState | None", new: PageState) -> PageState:
    """A rebuilt state keeps the page's language and lesson; a tab whose state the server freed is told so, once."""
    if isinstance(old, PageState):
        new.lang, new.lesson = old.lang, old.lesson
        tell_gone(old)
    return new


def tell_gone(ps: PageState) -> None:
    """A toast for a tab whose state was freed (``ps.gone``): what happened, and that its prompt and settings
    (which the browser sends with every event) were restored; earlier steps are gone."""
    if ps.gone:
        idle = (i18n.t("unit.minutes", ps.lang, n=f"{STATE_TTL_S / 60:g}") if STATE_TTL_S >= 120 else
                i18n.t("unit.seconds", ps.lang, n=f"{STATE_TTL_S:g}"))
        gr.Warning(i18n.t(f"session.{ps.gone}", ps.lang, idle=idle))
        ps.gone = None


def retire(ps) -> None:
    """``ps`` stops speaking for its tab (Reset, another model): a Run still stepping it stops."""
    if isinstance(ps, PageState):
        with ps.lock:  # after this, that Run takes no step and draws nothing
            ps.version += 1


def free_state(state: PageState) -> None:
    """Drop a session's records and KV cache. What is left (the language, the lesson, ``gone``) is small:
    ``SessionHolder`` keeps it so the tab's next event can say what happened."""
    state.session = None  # type: ignore[assignment]
    state.beam = state.mask_fig = state.mask_scores = None
    state.redraws = {}  # the figures go, the lesson stays
    state.own_models.stop.set()  # a training still running for a closed tab stops at its next step
    state.own_models.models.clear()


class MemoryTrimmer:
    """Soon return freed heap pages to the OS (glibc ``malloc_trim``): one trim per burst of expiries.

    A class's sessions free their tensors when they expire, but glibc keeps freed pages in its
    per-thread arenas, so without this the server's resident memory ratchets up class after class.
    Gradio frees expired states in one sweep; a trim ``delay_s`` after the first covers the sweep.
    """

    def __init__(self, delay_s: float = 2.0):
        self.delay_s = delay_s
        self.timer: threading.Timer | None = None
        self.lock = threading.Lock()

    def soon(self) -> None:
        with self.lock:
            if self.timer is not None and self.timer.is_alive():
                return
            self.timer = threading.Timer(self.delay_s, malloc_trim)
            self.timer.daemon = True
            self.timer.start()


def malloc_trim() -> None:
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
#     page, then the least recently used; never one with an event in flight. Its delete callback
#     (``AppContext.forget``) runs;
#   * a tab whose state was freed finds a tombstone on its next event (a PageState with ``gone`` set, and
#     its own slider/dropdown ranges); the handler rebuilds from the prompt and settings the browser sent
#     and ``tell_gone`` says so.
PASSIVE_EVENTS = frozenset({"restore_link", "load_page", "apply_link"})  # what opening the page runs
# The sticky cookie of deploy/haproxy.cfg.template (it names a browser's replica). A tab unknown here whose event
# carries it, and is not the page opening, opened its page on a replica that stopped (or on this one before it
# restarted): SessionHolder.adopt gives it a "moved" tombstone, so it is told as a freed tab is.
REPLICA_COOKIE = "playground_replica"


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


def in_flight(queue: Queue) -> Counter:
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

    def adopt(self, body, fn, request) -> None:
        """A tab from a replica that stopped (see REPLICA_COOKIE): its event finds a tombstone ("moved", told in its
        page's language), and view values only its old page allowed (a step slider's range, a bigger model's
        layers) go back to their defaults: its steps are gone."""
        sid = body.session_hash
        if sid is None or REPLICA_COOKIE not in request.cookies or getattr(fn, "api_name", None) in PASSIVE_EVENTS:
            return
        with self.lock:
            if sid in self.session_data or sid in self.gone:
                return
            moved = PageState("", None, lang=page_lang(request.headers), gone="moved")  # type: ignore[arg-type]
            self._bury(sid, {"states": {b._id: moved for b in fn.inputs if isinstance(b, gr.State) and b.time_to_live},
                             "inputs": {}})
        for i, block in enumerate(fn.inputs[:len(body.data)]):
            if out_of_range(block, body.data[i]):
                body.data[i] = block.value

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
                busy = in_flight(self.blocks._queue) if busy is None else busy
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
        now, busy, due = time.monotonic(), in_flight(self.blocks._queue), []
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
                              if own_range(b, self.blocks.blocks.get(k))}
        with self.lock:
            old = self.gone.pop(session_id, None)
            if old is not None:
                back = {"states": {**old["states"], **back["states"]}, "inputs": {**old["inputs"], **back["inputs"]}}
            if back["states"] or back["inputs"]:
                self._bury(session_id, back)

    def _bury(self, session_id: str, back: dict) -> None:
        """Keep what ``session_id``'s next event finds (under ``self.lock``); the oldest go past 2 × capacity."""
        self.gone[session_id] = back
        while len(self.gone) > 2 * self.capacity:
            self.gone.popitem(last=False)


def own_range(block, default) -> bool:
    """``block`` is a tab's own copy of ``default`` with another range (a slider's bounds, a dropdown's choices)."""
    if block is default or type(block) is not type(default):
        return False
    if isinstance(block, gr.Slider):
        return (block.minimum, block.maximum) != (default.minimum, default.maximum)
    if isinstance(block, (gr.Dropdown, gr.Radio)):
        return [v for _, v in block.choices] != [v for _, v in default.choices]
    return False


def out_of_range(block, value) -> bool:
    """``value`` is a finite number outside ``block``'s slider range, or a value not among its choices."""
    if isinstance(block, gr.Slider):
        return (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
                and not block.minimum <= value <= block.maximum)
    if isinstance(block, (gr.Dropdown, gr.Radio)):
        return isinstance(value, (int, str)) and value not in [v for _, v in block.choices]
    return False


def page_lang(headers) -> str:
    """The language of the page that sent a request: its address's ?lang= (the Referer), else the browser's."""
    lang = parse_qs(urlsplit(headers.get("referer") or "").query).get("lang", [""])[0]
    return lang if lang in i18n.LANGS else i18n.lang_from_accept(headers.get("accept-language"))


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
        if body.session_hash is not None and in_flight(self)[body.session_hash] >= MAX_QUEUED_PER_TAB:
            raise HTTPException(429, f"This tab already has {MAX_QUEUED_PER_TAB} requests waiting or running; "
                                     "wait for them to finish, then try again.")
        holder = getattr(self.server_app, "state_holder", None)
        fn = self.blocks.fns.get(body.fn_index)
        if isinstance(holder, SessionHolder) and fn is not None:
            holder.adopt(body, fn, request)
        out = await super().push(body, request, username)
        if out[0] and isinstance(holder, SessionHolder):
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
