"""Bad inputs through the running page: every one gets a plain message, and the session survives it.

The server runs in this process on 127.0.0.1 with the app's own settings and a tiny random model
(the ``server`` fixture of tests/test_ui_api.py; its window is 96 tokens). Inputs go in the way a
hand-written client sends them: raw HTTP (``QueueSession``: POST /gradio_api/queue/join, then the
server-sent events of /gradio_api/queue/data), which can send NaN, ±Infinity, strings and nulls
where numbers belong, and gradio_client, which the API page advertises.

Each case checks two things:
  * the answer: refused with a message a student can read (it names the control or the limit; no
    traceback, no file path, not Gradio's bare "Error"), or accepted and shown as it is;
  * the session afterwards: its next Step continues the same text (Step 1 after the Step 0 taken
    before the bad input), so nothing was lost or reset.

What each kind of input does (the decisions these tests pin down):
  * empty prompt: accepted; the model starts from the end-of-text token, and the status says so;
  * whitespace, NUL, zero-width, right-to-left override, emoji, CJK, combining marks, HTML: accepted
    as text and shown escaped, byte for byte;
  * a lone surrogate (JSON "\\ud800"): refused, naming it;
  * a prompt longer than the context window: refused (not truncated), naming the window and how many
    tokens to cut; over 20,000 characters: refused before tokenizing;
  * NaN / ±inf / strings / null in a number control: refused, naming the control;
  * out of the control's range: refused, naming the control and the bound; fractional top-k, max new
    tokens and beams: refused; a fractional seed is rounded by the number box (same tokens as the
    rounded seed);
  * max new tokens past the window: accepted; generation stops when the window is full and says so;
  * an unknown model: refused, listing the choices; an unavailable or corrupt one: a warning, and the
    page keeps its model and its text.
"""
from __future__ import annotations

import re

import numpy as np
import pytest
from gradio_client.exceptions import AppError

from benchmarks.classroom_load import QueueSession, controls
from playground import ui, weights
from playground.ui import sessions
from playground.train import PRESETS
from tests.test_ui_api import call, free_port, generated_steps, model_and_tok, server, client  # noqa: F401

PATHLIKE = re.compile(r"(?:/[\w.~-]+){2,}")  # /etc/passwd, /work/main/x.py ...
WINDOW = 96  # the tiny model's context window (tests/test_ui_api.py model_and_tok)


def assert_human(message) -> None:
    """A message for a student: present, short, plain text; no traceback, path or Python internals."""
    assert isinstance(message, str) and 10 <= len(message) <= 600, message
    for bad in ("Traceback", 'File "', "<class", "upstream Gradio app", "Exception:", "Error:"):
        assert bad not in message, message
    assert not PATHLIKE.search(message), message


def label(demo, elem_id: str) -> str:
    """The label a control has on the page (what its messages must name)."""
    for block in demo.blocks.values():
        if getattr(block, "elem_id", None) == elem_id:
            return block.label
    raise KeyError(elem_id)


def session(demo, **kw) -> QueueSession:
    """A fresh session that has taken Step 1 (so a later Step must say Step 2 of 2)."""
    q = QueueSession(demo.local_url)
    r = q.call("step", controls(**kw))
    assert r.ok and "Step **1** of 1" in r.status, r.error
    return q


def still_works(q: QueueSession, step: int = 1, **kw) -> None:
    """The session goes on from where it was: the next Step is number ``step``."""
    r = q.call("step", controls(**kw))
    assert r.ok, r.error
    assert f"Step **{step + 1}** of {step + 1}" in r.status, r.status
    q.close()


def refused(r, *needles: str) -> None:
    assert not r.ok and r.kind == "event_failed", (r.kind, r.error, r.status)
    assert_human(r.error)
    for n in needles:
        assert n.lower() in r.error.lower(), (n, r.error)


# -- every number control: NaN, ±inf, negative, zero, huge, a string, null --------------------------------------
NUMBERS = {  # API name -> (elem_id, values it accepts among the probes)
    "temperature": ("temperature", {0}),
    "top_k": ("top_k", {0}),
    "top_p": ("top_p", set()),
    "min_p": ("min_p", {0}),
    "repetition_penalty": ("penalty", set()),
    "seed": ("seed", {0}),
    "max_new_tokens": ("max_new", set()),
    "num_beams": ("num_beams", set()),
    "length_penalty": ("length_penalty", {-1, 0}),
    "view_step": ("view_step", {0}),
}
PROBES = [float("nan"), float("inf"), float("-inf"), -1, 0, 1e30, "abc", None]
NUMBER_CASES = [pytest.param(name, v, id=f"{name}={v!r}") for name in NUMBERS for v in PROBES]


@pytest.mark.parametrize("name,value", NUMBER_CASES)
def test_number_controls_refuse_what_is_not_a_number_in_range(server, name, value):
    demo, _ = server
    q = session(demo)
    r = q.call("step", controls(**{name: value}))
    elem_id, accepted = NUMBERS[name]
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value in accepted:
        assert r.ok and "Step **2** of 2" in r.status, r.error
        still_works(q, step=2)
        return
    # the control's label ("Temperature", "Top-k"...) or, for the seed's own range rule, its name
    refused(r)
    assert label(demo, elem_id).lower() in r.error.lower() or name in r.error, r.error
    if isinstance(value, float) and not np.isfinite(value) or value is None and name != "seed" or value == "abc":
        assert "finite number" in r.error
    elif value in (-1, 0, 1e30) and name != "seed":
        assert re.search(r"(less than minimum|greater than maximum) value", r.error), r.error
    still_works(q)


@pytest.mark.parametrize("name,value,needle", [
    ("top_k", 2.5, "top_k must be a whole number"),
    ("max_new_tokens", 2.5, "max_new_tokens must be a whole number"),
    ("num_beams", 2.5, "num_beams must be a whole number"),
    ("seed", 1e30, "seed must be a whole number from 0 to 2**63 - 1"),
    ("temperature", True, "must be a finite number"),  # JSON true is not a number here
    ("top_p", [0.5], "must be a finite number"),
    ("min_p", {"value": 0.1}, "must be a finite number"),
])
def test_fractions_and_wrong_types_are_refused_by_name(server, name, value, needle):
    demo, _ = server
    q = session(demo)
    refused(q.call("step", controls(**{name: value})), needle)
    still_works(q)


def test_a_fractional_seed_is_rounded_by_the_number_box(server):
    demo, _ = server
    texts = []
    for seed in (2.4, 2, 3):
        q = QueueSession(demo.local_url)
        for _ in range(4):
            r = q.call("step", controls(seed=seed))
            assert r.ok, r.error
        texts.append(r.text)
        q.close()
    assert texts[0] == texts[1] != texts[2]


# -- pickers: layer, head, decoding, bars, model --------------------------------------------------------------
@pytest.mark.parametrize("name,value,elem_id", [
    ("view_layer", 99, "layer"), ("view_layer", -1, "layer"), ("view_layer", float("nan"), "layer"),
    ("view_layer", "abc", "layer"), ("view_head", 2.5, "head"), ("view_head", 1e30, "head"),
    ("strategy", "bogus", "strategy"), ("bars", 5, "mode"), ("model_name", "no-such-model", "model"),
])
def test_pickers_refuse_values_that_are_not_among_their_choices(server, name, value, elem_id):
    demo, _ = server
    q = session(demo)
    r = q.call("step", controls(**{name: value}))
    refused(r, label(demo, elem_id), "is not one of the choices")
    still_works(q)


# -- prompts ------------------------------------------------------------------------------------------------------
ODD_PROMPTS = {
    "whitespace": "   \t\n  ",
    "nul": "ROMEO\x00:",
    "zero-width": "RO\u200bME\u200dO\ufeff:",
    "rtl-override": "\u202eROMEO: evil.exe",
    "emoji": "🎭 😀 👨\u200d👩\u200d👧",
    "cjk": "我喜欢猫。",
    "combining": "Ro\u0301me\u0302o\u0303 e\u0301\u0302\u0303\u0304",
    "html": "<script>alert(1)</script> & <b>",
}


@pytest.mark.parametrize("prompt", ODD_PROMPTS.values(), ids=ODD_PROMPTS.keys())
def test_odd_prompts_are_text_and_shown_as_typed(client, model_and_tok, prompt):
    """Through gradio_client: the prompt is tokenized byte for byte, shown escaped, and stepping goes on."""
    _, tok = model_and_tok
    r = call(client, "set_prompt", prompt=prompt)
    n = len(tok.encode_ids(prompt))
    assert f"prompt {n} tokens" in r["status"] and r["chips"].count('class="tok prompt"') == n
    assert "<script>" not in r["chips"] and "<b>" not in r["chips"]  # the chips are escaped HTML
    for i in range(2):
        r = call(client, "step", prompt=prompt)
        assert generated_steps(r["chips"]) == list(range(i + 1))
    assert r["text"].startswith(prompt)  # the typed text comes back unchanged
    assert "\ufffd" not in r["text"][: len(prompt)]


def test_an_empty_prompt_starts_from_the_end_of_text_token_and_says_so(client):
    r = call(client, "set_prompt", prompt="")
    assert "prompt 1 tokens" in r["status"] and "prompt is empty" in r["status"] and "end-of-text" in r["status"]
    r = call(client, "step", prompt="")
    assert generated_steps(r["chips"]) == [0]


@pytest.mark.parametrize("prompt,needles", [
    pytest.param("thee " * 200, [f"context window holds {WINDOW}", "shorten the prompt by at least"], id="200-words"),
    pytest.param("x" * 200_000, ["200,000 characters", f"holds {WINDOW} tokens"], id="200k-chars"),
    pytest.param("ROMEO\ud800:", ["U+D800", "surrogate"], id="lone-surrogate"),
    pytest.param(None, ["Prompt: must be text"], id="null"),
])
def test_prompts_that_cannot_be_read_are_refused_and_say_why(server, prompt, needles):
    demo, _ = server
    q = session(demo)
    refused(q.call("set_prompt", controls(prompt=prompt)), *needles)
    refused(q.call("step", controls(prompt=prompt)), *needles)  # Step with it, too
    still_works(q)


def test_too_long_prompt_through_gradio_client(client):
    call(client, "step")
    with pytest.raises(AppError) as e:
        call(client, "set_prompt", prompt="To be, or not to be " * 40)
    assert_human(str(e.value))
    assert f"context window holds {WINDOW}" in str(e.value)
    r = call(client, "step")
    assert generated_steps(r["chips"]) == [0, 1]


def test_a_number_as_prompt_is_text(server):
    demo, _ = server
    q = QueueSession(demo.local_url)
    r = q.call("step", controls(prompt=12345))
    assert r.ok and r.text.startswith("12345")
    still_works(q, prompt="12345")


# -- the session's own limits ----------------------------------------------------------------------------------
def test_back_at_the_start(server):
    demo, _ = server
    q = QueueSession(demo.local_url)
    assert q.call("load_page", controls()).ok
    refused(q.call("back", controls()), "nothing to undo")
    r = q.call("step", controls())
    assert r.ok and "Step **1** of 1" in r.status
    still_works(q)


def test_step_and_run_after_a_stop(server):
    demo, _ = server
    q = QueueSession(demo.local_url)
    r = q.call("run", controls(max_new_tokens=3))
    assert r.ok and "Stopped: max new tokens" in r.status
    for api in ("step", "run"):
        refused(q.call(api, controls(max_new_tokens=3)), "generation has stopped", "max new tokens", "Back")
    assert q.call("back", controls(max_new_tokens=3)).ok
    r = q.call("step", controls(max_new_tokens=3))
    assert r.ok and "Step **3** of 3" in r.status  # the same text, its last token drawn again


def test_max_new_tokens_past_the_window_stops_when_the_window_is_full(server, model_and_tok):
    demo, _ = server
    _, tok = model_and_tok
    q = QueueSession(demo.local_url)
    r = q.call("run", controls(max_new_tokens=256, prompt="ROMEO:"))
    assert r.ok, r.error
    assert "Stopped: the context window is full" in r.status
    assert len(generated_steps(r.data[1])) == WINDOW - len(tok.encode_ids("ROMEO:"))
    refused(q.call("step", controls(max_new_tokens=256)), "context window is full")
    q.close()


def test_rapid_clicks_on_one_session_leave_a_consistent_text(server):
    """16 Steps sent at once from one tab: each is answered, and the text holds exactly the steps that succeeded."""
    demo, _ = server
    q = QueueSession(demo.local_url)
    assert q.call("load_page", controls(seed=4)).ok
    ids = []
    for _ in range(16):
        eid, refusal = q.join("step", controls(seed=4))
        if refusal is not None:  # past the per-tab queue limit: refused at once, in words, and never run
            assert refusal.kind == "http_429" and "requests waiting or running" in refusal.error, refusal
            continue
        ids.append(eid)
    assert len(ids) >= sessions.MAX_QUEUED_PER_TAB
    results = q.wait(ids)
    ok = [r for r in results.values() if r.ok]
    for r in results.values():
        if not r.ok:
            assert_human(r.error)
    shown = sorted(int(re.search(r"Step \*\*(\d+)\*\* of", r.status).group(1)) for r in ok)
    assert shown == list(range(1, len(ok) + 1))  # every success added exactly one token, none twice
    r = q.call("select_step", controls(seed=4, view_step=0))
    assert generated_steps(r.data[1]) == list(range(len(ok)))
    alone = QueueSession(demo.local_url)  # the same seed, stepped one at a time, writes the same text
    for _ in range(len(ok)):
        a = alone.call("step", controls(seed=4))
    assert a.text == r.text
    alone.close()
    still_works(q, step=len(ok), seed=4)


def test_steps_and_backs_racing_on_one_session_add_up(server):
    """Steps and Backs sent at once from one tab (two run at a time): the final text adds up."""
    demo, _ = server
    q = QueueSession(demo.local_url)
    assert q.call("step", controls()).ok
    sent = []
    for i in range(12):
        api = "back" if i % 3 == 2 else "step"
        eid, refusal = q.join(api, controls())
        if refusal is not None:  # past the per-tab queue limit: refused at once, in words, and never run
            assert refusal.kind == "http_429" and "requests waiting or running" in refusal.error, refusal
            continue
        sent.append((api, eid))
    assert len(sent) >= sessions.MAX_QUEUED_PER_TAB
    results = q.wait([eid for _, eid in sent])
    done = {"step": 0, "back": 0}
    for api, eid in sent:
        r = results[eid]
        if not r.ok:
            assert_human(r.error)
        done[api] += r.ok
    assert done["step"] >= 1
    r = q.call("select_step", controls())
    assert r.ok and len(generated_steps(r.data[1])) == 1 + done["step"] - done["back"]
    still_works(q, step=1 + done["step"] - done["back"])


# -- other controls: the cache comparison, the leak check, training ---------------------------------------------
@pytest.mark.parametrize("value,needle", [(float("nan"), "finite number"), ("abc", "finite number"),
                                          (0, "less than minimum"), (1e9, "greater than maximum")])
def test_compare_cache_token_count(server, value, needle):
    demo, _ = server
    q = session(demo)
    data = controls()
    data.insert(4, value)  # state, model, prompt, kv, n_tokens, *sampling, *view
    refused(q.call("compare_cache", data), label(demo, "compare_n"), needle)
    still_works(q)


@pytest.mark.parametrize("position,text,needle", [
    (float("nan"), " the", "finite number"), (-1, " the", "less than minimum"),
    (10**6, " the", "position to change must be a whole number from 0 to"), (1, "", "type the token"),
])
def test_leak_check_inputs(server, position, text, needle):
    demo, _ = server
    q = session(demo)
    data = controls()
    data[4:4] = [position, text]  # state, model, prompt, kv, position, new token, ...
    refused(q.call("leak_check", data), needle)
    still_works(q)


@pytest.mark.parametrize("field,value,needle", [
    ("lr", float("nan"), "finite number"), ("lr", "abc", "finite number"), ("lr", 5.0, "learning rate"),
    ("steps", 1e9, "greater than maximum"), ("n_head", 3, "divisible"),
])
def test_training_settings_are_checked_before_anything_trains(server, field, value, needle):
    demo, _ = server
    q = session(demo)
    fields = dict(n_layer=1, n_head=2, n_embd=32, block_size=16, lr=1e-3, steps=5)
    fields[field] = value
    preset = next(iter(PRESETS))
    refused(q.call("train", [None, preset, *fields.values()]), needle)
    still_works(q)


# -- models: unknown, unavailable, corrupt -----------------------------------------------------------------------
def test_an_unknown_model_is_refused_with_the_choices(server):
    demo, _ = server
    q = session(demo)
    for api in ("change_model", "step"):
        refused(q.call(api, controls(model_name="gpt-17")), "gpt-17", "is not one of the choices", "shakespeare")
    still_works(q)


def test_an_unavailable_model_is_a_warning_and_the_page_keeps_its_model(server):
    demo, _ = server
    q = session(demo)
    r = q.call("change_model", controls(model_name="gpt2"))
    assert r.ok and r.data[1]["value"] == "shakespeare"
    (level, message), = r.logs
    assert level == "warning" and "gpt2 is not available" in message
    assert_human(message)
    still_works(q)


@pytest.fixture(scope="module")
def broken_server(model_and_tok, tmp_path_factory):
    """A page offering a second model whose checkpoint folder is corrupt (its weights are garbage)."""
    model, tok = model_and_tok
    folder = tmp_path_factory.mktemp("broken") / "model"
    weights.save_checkpoint(model, tok, folder)
    (folder / "model.safetensors").write_bytes(b"\x00garbage, not a safetensors file" * 10)

    def loader(name):
        return model_and_tok if name == "shakespeare" else weights.load_model(folder)

    demo = ui.build_demo(loader, {"shakespeare": None, "broken": None})
    kw = ui.launch_kwargs()
    kw.update(server_port=free_port(), prevent_thread_lock=True, quiet=True)
    demo.launch(**kw)
    yield demo, folder
    demo.close()


def test_a_corrupt_checkpoint_is_reported_and_the_old_model_stays(broken_server):
    demo, folder = broken_server
    with pytest.raises(weights.CheckpointError, match=re.escape(str(folder))):  # the real error names the file...
        weights.load_model(folder)
    q = session(demo)
    r = q.call("change_model", controls(model_name="broken"))
    assert r.ok and r.data[1]["value"] == "shakespeare"  # the picker goes back
    (level, message), = r.logs
    assert level == "warning" and "broken could not be loaded" in message and "model.safetensors" in message
    assert_human(message)  # ...the page names only the file
    assert str(folder) not in message
    still_works(q)  # the old model, and its text, go on: Step 1


def test_a_corrupt_checkpoint_picked_by_a_step_is_refused_plainly(broken_server):
    demo, folder = broken_server
    q = session(demo)
    refused(q.call("step", controls(model_name="broken")), "model.safetensors")
    r = q.call("step", controls(model_name="broken"))
    assert str(folder) not in r.error
    still_works(q)
