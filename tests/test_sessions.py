"""Which tabs the server keeps, and what a tab whose state was freed is told (playground/ui/sessions.py).

Each test launches the page on a tiny random model with its own limits (set as the environment variables
would: ``PLAYGROUND_MAX_SESSIONS``, ``_MAX_SESSIONS_PER_CLIENT``, ``PLAYGROUND_STATE_TTL_S``) and drives it
with the browser's queue protocol (``QueueSession``). Every tab of a test comes from 127.0.0.1; a test that
needs two clients sends ``X-Forwarded-For``, which uvicorn trusts from 127.0.0.1, as it would from a proxy.
"""
from __future__ import annotations

import contextlib
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from gradio.state_holder import SessionState

from benchmarks.classroom_load import QueueSession, controls, fetch_config
from playground import train as train_module
from playground import ui
from playground.ui import sessions as ui_sessions
from playground.train import PRESETS, TrainLimits
from tests.test_ui_api import free_port, model_and_tok  # noqa: F401  (fixture)

PRESET = next(iter(PRESETS))
LIMITS = TrainLimits(max_steps=60, max_seconds=60, max_params=150_000, max_block=32, max_concurrent=1)


@contextlib.contextmanager
def page(model_and_tok, monkeypatch, sessions=None, per_client=None, ttl=None, train_limits=None):
    """The page with these limits (as their environment variables set them), served on a free port."""
    for name, value in (("MAX_SESSIONS", sessions), ("MAX_SESSIONS_PER_CLIENT", per_client), ("STATE_TTL_S", ttl)):
        if value is not None:
            monkeypatch.setattr(ui_sessions, name, value)
    demo = ui.build_demo(lambda name: model_and_tok, {"shakespeare": None}, train_limits=train_limits)
    kw = ui.launch_kwargs()
    kw.update(server_port=free_port(), prevent_thread_lock=True, quiet=True)
    demo.launch(**kw)
    try:
        yield demo
    finally:
        demo.close()


def tab(demo, client: str | None = None, events: dict | None = None) -> QueueSession:
    """A new browser tab; ``client``: the address it comes from (through a proxy on 127.0.0.1)."""
    http = httpx.Client(timeout=120, headers={"X-Forwarded-For": client} if client else None)
    return QueueSession(demo.local_url, events=events, http=http)


def flood(demo, n: int, client: str | None = None, step: bool = False) -> None:
    """``n`` new tabs open the page (and take a Step: tabs that did something), four at a time."""
    events = fetch_config(demo.local_url)

    def one(i: int) -> bool:
        q = tab(demo, client, events)
        c = controls(prompt=f"Flood {i}:", seed=i)
        ok = q.call("load_page", c).ok and (not step or q.call("step", c).ok)
        q.http.close()
        return ok

    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(one, range(n)))


def holder(demo):
    return demo.server_app.state_holder


def live_held(demo) -> int:
    """Page states (a session with its records and KV cache) the server holds."""
    return sum(isinstance(v, ui.PageState) and v.session is not None
               for s in list(holder(demo).session_data.values()) for v in list(s.state_data.values()))


def warnings(r) -> list[str]:
    return [message for level, message in r.logs if level == "warning"]


def open_and_step(q: QueueSession, c: list, steps: int) -> None:
    assert q.call("load_page", c).ok
    for k in range(steps):
        r = q.call("step", c)
        assert r.ok and f"Step **{k + 1}** of {k + 1}" in r.status, (r.error, r.status)


# -- a crowd ---------------------------------------------------------------------------------------------------
def test_a_flood_of_new_tabs_leaves_a_students_session_alone(model_and_tok, monkeypatch):
    """60 new tabs (six times the capacity, from the student's own address: one school behind NAT) open
    the page; the student's tab, which did something, keeps its steps; each dropped tab's state was forgotten (AppContext.forget)."""
    with page(model_and_tok, monkeypatch, sessions=10, per_client=10) as demo:
        live = demo.app_context.live_states
        student, c = tab(demo), controls(prompt="JULIET:", seed=3)
        open_and_step(student, c, 3)
        flood(demo, 60)
        r = student.call("step", c)
        assert r.ok and "Step **4** of 4" in r.status and not warnings(r), (r.error, r.status, r.logs)
        assert len(holder(demo).session_data) <= 10
        assert demo.app_context.live_states - live == live_held(demo)  # 61 states made; every one dropped was forgotten


def test_one_client_cannot_crowd_out_another(model_and_tok, monkeypatch):
    """A client opening 36 tabs that each take a Step keeps at most its share; a class at another address
    (three students behind one school address) keeps every session."""
    with page(model_and_tok, monkeypatch, sessions=12, per_client=6) as demo:
        students = [(tab(demo, "10.1.1.1"), controls(prompt=f"Student {k}:", seed=k)) for k in range(3)]
        for q, c in students:
            open_and_step(q, c, 2)
        flood(demo, 36, client="10.6.6.6", step=True)
        for q, c in students:
            r = q.call("step", c)
            assert r.ok and "Step **3** of 3" in r.status and not warnings(r), (r.error, r.status, r.logs)
        tabs = holder(demo).tabs
        assert sum(t.client == "10.6.6.6" for t in tabs.values()) <= 6
        assert sum(t.client == "10.1.1.1" for t in tabs.values()) == 3


# -- a tab whose state was freed ----------------------------------------------------------------------------------
def test_an_expired_tab_is_told_and_gets_its_prompt_back(model_and_tok, monkeypatch):
    """Past the time-to-live (here 2 s) the state is freed; the tab's next Step says so (in the page's
    language), starts again from the prompt and settings it sent, and the Step after it says nothing."""
    with page(model_and_tok, monkeypatch, ttl=2.0) as demo:
        prompt = "JULIET:\nO Romeo, Romeo!"
        en, zh, c = tab(demo), tab(demo), controls(prompt=prompt, seed=5, temperature=0.7)
        open_and_step(en, c, 2)
        assert zh.call("load_page", c).ok and zh.call("set_language", [None, "zh", 0, *c[1:]]).ok
        deadline = time.time() + 20
        while live_held(demo) and time.time() < deadline:
            time.sleep(0.25)
        assert live_held(demo) == 0
        r = en.call("step", c)
        assert r.ok and "Step **1** of 1" in r.status and r.text.startswith(prompt), (r.error, r.status)
        (told,) = warnings(r)
        assert "expired after 2 seconds without use" in told and "prompt and settings were restored" in told
        r = en.call("step", c)
        assert r.ok and "Step **2** of 2" in r.status and not warnings(r)
        r = zh.call("step", c)
        assert r.ok and any("已过期" in w and "已恢复" in w for w in warnings(r)), r.logs


def test_an_evicted_tab_is_told_and_its_view_controls_still_fit(model_and_tok, monkeypatch):
    """With room for 4 tabs, 8 tabs that each take a Step push out the student's (the least recently used).
    Its next Step, still showing step 2 / layer 1 / head 3 (ranges only this tab's page had), is told
    and starts again from its prompt; AppContext.forget ran for every tab that went."""
    with page(model_and_tok, monkeypatch, sessions=4, per_client=4) as demo:
        live = demo.app_context.live_states
        student, c = tab(demo), controls(prompt="KING LEAR:", seed=7)
        open_and_step(student, c, 3)
        shown = controls(prompt="KING LEAR:", seed=7, view_step=2, view_layer=1, view_head=3)
        assert student.call("select_step", shown).ok
        flood(demo, 8, step=True)
        assert student.session_hash not in holder(demo).session_data
        assert demo.app_context.live_states - live == live_held(demo)
        r = student.call("step", shown)
        assert r.ok and "Step **1** of 1" in r.status and r.text.startswith("KING LEAR:"), (r.error, r.status)
        (told,) = warnings(r)
        assert "closed to make room on a busy server" in told and "prompt and settings were restored" in told


def test_train_stop_and_presets_keep_a_tab_alive(model_and_tok, monkeypatch):
    """Events that do not write the page state still count as use: preset changes and Stop for longer than
    the time-to-live (3 s), then a training that runs longer than it; the Steps go on."""
    real = train_module.live_training

    def slow(*args, **kwargs):  # a training that outlasts the time-to-live
        for update in real(*args, **kwargs):
            time.sleep(0.5)
            yield update

    monkeypatch.setattr(train_module, "live_training", slow)
    with page(model_and_tok, monkeypatch, ttl=3.0, train_limits=LIMITS) as demo:
        q, c = tab(demo), controls(prompt="ROMEO:", seed=2)
        open_and_step(q, c, 1)
        for k in range(8):  # ~5 s
            assert q.call("train_preset" if k % 2 else "stop_training", [PRESET] if k % 2 else [None]).ok
            time.sleep(0.6)
        r = q.call("step", c)
        assert r.ok and "Step **2** of 2" in r.status and not warnings(r), (r.error, r.status, r.logs)
        t0 = time.time()
        r = q.call("train", [None, PRESET, 1, 2, 32, 32, 3e-3, 20])
        assert r.ok and time.time() - t0 > 3.0, r.error
        assert "**step 20 / 20**" in r.data[1] and "stop button" not in r.data[1], r.data[1]
        r = q.call("step", c)
        assert r.ok and "Step **3** of 3" in r.status and not warnings(r), (r.error, r.status, r.logs)


# -- the queue and the upload route -----------------------------------------------------------------------------
def test_one_tab_cannot_fill_the_queue(model_and_tok, monkeypatch):
    """One tab asks for 70 Runs at once: it gets a few, the rest are refused with a message; another
    tab's Step is still accepted and served."""
    limit = ui_sessions.MAX_QUEUED_PER_TAB
    with page(model_and_tok, monkeypatch) as demo:
        hog, other = tab(demo), tab(demo)
        joins = [hog.join("run", controls(prompt="ROMEO:", seed=k, max_new_tokens=256)) for k in range(70)]
        accepted = [event for event, _ in joins if event]
        refused = [r for _, r in joins if r is not None]
        assert len(accepted) < 2 * limit and len(refused) > 50
        assert all(r.kind == "http_429" and f"already has {limit} requests waiting or running" in r.error
                   for r in refused), {(r.kind, r.error) for r in refused}
        r = other.call("step", controls(prompt="JULIET:"))
        assert r.ok and "Step **1** of 1" in r.status, r.error
        done = hog.wait(accepted).values()  # the hog's Runs were served too (those after the text ended say so)
        assert any(res.ok for res in done) and all(res.ok or "generation has stopped" in res.error for res in done)


def test_the_upload_route_refuses_every_file(model_and_tok, monkeypatch):
    """The page takes no files: Gradio's upload route (which would keep any number of them) answers 403,
    whatever the size, and nothing is written."""
    with page(model_and_tok, monkeypatch) as demo:
        base, name = demo.local_url.rstrip("/"), f"note-{uuid.uuid4().hex}.txt"
        for path in ("/gradio_api/upload", "/gradio_api/upload/", "/gradio_api/upload?upload_id=abc"):
            for body in (b"hello", b"x" * 2_000_000):
                r = httpx.post(base + path, files={"files": (name, body)}, follow_redirects=True)
                assert r.status_code == 403 and "no file uploads" in r.text, (path, r.status_code, r.text[:200])
        assert not list(Path(demo.server_app.uploaded_file_dir).rglob(name))
        assert tab(demo).call("load_page", controls()).ok  # the page itself needs none


def test_a_lean_tab_record_has_every_field_of_gradios(model_and_tok):
    """LeanSessionState replaces SessionState.__init__: the same fields (a Gradio upgrade that adds one fails
    here), but no per-tab copy of every component's config."""
    demo = ui.build_demo(lambda name: model_and_tok, {"shakespeare": None})
    lean, stock = ui_sessions.LeanSessionState(demo), SessionState(demo)
    assert set(vars(lean)) == set(vars(stock))
    assert len(stock.config_values) > 100 and not dict(lean.config_values)
