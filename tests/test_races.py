"""Two events of one tab at the same time, through the running server (issue 16, point 7).

One browser session (one ``session_hash``) joins the queue twice, as a double click or a Reset
pressed during a Run does; the queue runs them at once. The model sleeps 20 ms in every forward,
so a Run of its 48-token window lasts about a second and the second event surely lands
inside it.
"""
from __future__ import annotations

import json
import time

import httpx
import pytest
import torch

from benchmarks.classroom_load import QueueSession, Result, controls
from playground import ui
from playground.model import GPT
from tests.test_ui_api import free_port

WINDOW = 48


class SlowGPT(GPT):
    """A tiny GPT whose every forward takes at least 20 ms: long enough Runs to press something during."""

    def forward(self, *args, **kwargs):
        time.sleep(0.02)
        return super().forward(*args, **kwargs)


@pytest.fixture(scope="module")
def slow_server(small_tokenizer):
    from tests.conftest import tiny_gpt

    fast = tiny_gpt(vocab_size=small_tokenizer.vocab_size, block_size=WINDOW)
    model = SlowGPT(fast.config).eval()
    with torch.no_grad():
        model.load_state_dict(fast.state_dict())
    demo = ui.build_demo(lambda name: (model, small_tokenizer), {"shakespeare": None})
    kw = ui.launch_kwargs()
    kw.update(server_port=free_port(), prevent_thread_lock=True, quiet=True)
    demo.launch(**kw)
    yield demo
    demo.close()


def together(q: QueueSession, first: tuple, second: tuple, after: str) -> tuple[Result, Result]:
    """Join ``first`` (api, data); once the server sends its ``after`` message, join ``second``.

    Returns both results (read from the session's one event stream, as a browser does).
    """
    a, _ = q.join(*first)
    b = None
    done: dict[str, Result] = {}
    with q.http.stream("GET", q.base + "/gradio_api/queue/data", params={"session_hash": q.session_hash}) as r:
        for line in r.iter_lines():
            if not line.startswith("data:"):
                continue
            msg = json.loads(line[5:])
            if b is None and msg.get("event_id") == a and msg.get("msg") == after:
                with httpx.Client(timeout=30) as other:  # the stream holds q's connection
                    tab = QueueSession(q.base, q.events, http=other)
                    tab.session_hash = q.session_hash  # the same tab
                    b, _ = tab.join(*second)
            if msg.get("msg") == "process_completed" and msg.get("event_id") in (a, b):
                out = msg.get("output") or {}
                done[msg["event_id"]] = (Result(True, data=out.get("data")) if msg.get("success")
                                         else Result(False, error=out.get("error"), kind="event_failed"))
                if b is not None and len(done) == 2:
                    break
    return done[a], done[b]


def test_reset_during_a_run_wins(slow_server):
    """The Run stops and sends nothing more; the page keeps the reset text, and the next Step is Step 0."""
    q = QueueSession(slow_server.local_url)
    run, reset = together(q, ("run", controls(max_new_tokens=WINDOW)), ("reset", controls()), "process_generating")
    assert run.ok and reset.ok, (run.error, reset.error)
    assert "Press **Step**" in reset.status  # the reset page: no step yet
    assert "Stopped" not in str(run.data[3])  # the Run's late output does not repaint the finished text
    after = q.call("step", controls())
    assert after.ok and "Step **1** of 1" in after.status, (after.error, after.status)  # the state is the reset one
    q.close()


def test_a_double_clicked_run_ends_once_without_an_error(slow_server):
    """Both Runs end on the finished text, the one a single Run gives; neither says 'generation has stopped'."""
    q = QueueSession(slow_server.local_url)
    assert q.call("load_page", controls()).ok  # the tab has its state: both Runs step that one
    first, second = together(q, ("run", controls(max_new_tokens=30, seed=5)), ("run", controls(max_new_tokens=30, seed=5)),
                             "process_starts")
    assert first.ok and second.ok, (first.error, second.error)
    alone = QueueSession(slow_server.local_url)
    single = alone.call("run", controls(max_new_tokens=30, seed=5))
    for r in (first, second):
        assert "Step **30** of 30" in r.status and "Stopped: max new tokens" in r.status, r.status
        assert r.text == single.text
    q.close()
    alone.close()
