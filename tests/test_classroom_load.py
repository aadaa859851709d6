"""The classroom load test (benchmarks/classroom_load.py), small: 8 students for ~5 s on the tiny model.

It asserts what must hold at any load: no failed event (a "queue full" refusal would be allowed, but
8 students never fill a 64-place queue), and no cross-talk: every student's text equals the same
actions replayed alone. No timing thresholds.
"""
from __future__ import annotations

from benchmarks.classroom_load import QueueSession, controls, markdown, run_classroom
from tests.test_ui_api import free_port, model_and_tok, server  # noqa: F401  (fixtures)


def test_eight_students_at_once_get_their_own_tokens(server, model_and_tok):
    demo, _ = server
    model, tok = model_and_tok
    r = run_classroom(demo.local_url, model, tok, students=8, seconds=8.0, max_steps=8, sample_s=0.2)
    assert r["errors"] == {}, r["error_examples"]
    assert r["busy_refusals"] == 0
    assert r["steps"] >= 8  # every student stepped
    assert r["cross_talk"]["checked"] >= 6 and r["cross_talk"]["mismatches"] == 0, r["cross_talk"]["examples"]
    assert r["step_ms"]["p50"] is not None and r["rss_mb"]["peak"] >= r["rss_mb"]["before"] > 0
    assert "cross-talk" in markdown(r)


def test_the_replay_would_see_cross_talk(server, model_and_tok):
    """The check is not vacuous: a student whose session another one stepped no longer matches its replay."""
    demo, _ = server
    model, tok = model_and_tok
    from benchmarks.classroom_load import Student, replay

    a = QueueSession(demo.local_url)
    st = Student(0, seed=5, prompt="ROMEO:")
    a.call("set_prompt", controls(prompt=st.prompt, seed=st.seed))
    for _ in range(3):
        res = a.call("step", controls(prompt=st.prompt, seed=st.seed))
        st.actions.append(("step", 1.0))
    assert res.ok and replay(model, tok, st) == res.text
    intruder = QueueSession(demo.local_url)
    intruder.session_hash = a.session_hash  # another client writing into a's session
    intruder.call("step", controls(prompt=st.prompt, seed=99))
    res = a.call("select_step", controls(prompt=st.prompt, seed=st.seed, view_step=0))
    assert res.ok and replay(model, tok, st) != res.text
    a.close()
    intruder.close()


def test_the_students_sessions_are_freed_when_their_state_expires(model_and_tok, monkeypatch):
    """PLAYGROUND_STATE_TTL_S (here 3 s): once the students stop, Gradio drops their states and
    ``AppContext.forget`` frees each session (its records and KV cache)."""
    import time

    from playground import ui
    from playground.ui import sessions

    monkeypatch.setattr(sessions, "STATE_TTL_S", 3.0)
    demo = ui.build_demo(lambda name: model_and_tok, {"shakespeare": None})
    kw = ui.launch_kwargs()
    kw.update(server_port=free_port(), prevent_thread_lock=True, quiet=True)
    demo.launch(**kw)
    try:
        live = demo.app_context.live_states
        sessions = []
        for seed in range(4):
            q = QueueSession(demo.local_url)
            assert q.call("step", controls(seed=seed)).ok
            sessions.append(q)
        assert demo.app_context.live_states == live + 4
        held = [demo.state_holder.session_data[q.session_hash] for q in sessions]
        deadline = time.time() + 15
        while demo.app_context.live_states > live and time.time() < deadline:
            time.sleep(0.25)
        assert demo.app_context.live_states == live
        assert all(not s.state_data for s in held)  # Gradio let go of every PageState
        r = sessions[0].call("step", controls(seed=0))  # an expired tab starts over instead of failing
        assert r.ok and "Step **1** of 1" in r.status
    finally:
        demo.close()


def test_the_state_ttl_comes_from_the_environment():
    import os
    import subprocess
    import sys

    code = "from playground import ui; print(ui.STATE_TTL_S)"
    env = {**os.environ, "PLAYGROUND_STATE_TTL_S": "7.5"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "7.5"  # (unset, it is 1800: half an hour)


def test_a_bad_state_ttl_falls_back_to_the_default_with_a_warning():
    import os
    import subprocess
    import sys

    code = "from playground import ui; print(ui.STATE_TTL_S)"
    for bad in ("soon", "nan", "-5", "0"):
        env = {**os.environ, "PLAYGROUND_STATE_TTL_S": bad}
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True,
                             timeout=120)
        assert out.stdout.strip() == "1800.0", bad
        assert "PLAYGROUND_STATE_TTL_S" in out.stderr, bad
