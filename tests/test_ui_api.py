"""Drive every endpoint of the running page with gradio_client, on a tiny random model.

The server runs in this process on 127.0.0.1 (a free port) with the app's own launch settings
(queue, api_open=False). Each test opens its own Client, which is a separate browser session
with its own gr.State.
"""
from __future__ import annotations

import copy
import json
import os
import re
import socket
import urllib.error
import urllib.request

import gradio as gr
import numpy as np
import pytest
import torch
from gradio_client import Client
from gradio_client.exceptions import AppError

from playground import figures, ui
from playground.figures import MODES
from playground.ui import inside as inside_tab
from playground.config import SamplingParams
from tests.conftest import tiny_gpt
from tests.test_figures import dense

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
PROMPT = "ROMEO:"
VIEWS = ["chips", "text", "status", "view_step", "next", "attn", "overview", "mask", "latency", "memory", "beam", "beam_md"]
ENDPOINTS = {"load_page", "reset", "set_prompt", "change_model", "model_dropdowns", "step", "run", "back", "resample",
             "select_step", "select_head", "next_mode", "set_kv_cache", "beam_search", "compare_cache", "leak_check",
             "pick_step", "pick_head", "open_head",
             "train_preset", "train", "stop_training", "gqa_cache",  # the train view (tests/test_train_view.py)
             "inside",  # the inside-the-model view (its button, pickers, tab; static/follow.js on a new step)
             "restore_link", "apply_link", "set_language", "share_link", "tab_seen", "compare", "lesson",
             "lesson_run", "lesson_show",  # classroom mode (tests/test_classroom.py)
             "batch_sweep", "batch_queue", "faster_relabel", "faster_lesson",  # the faster tab (tests/test_faster_view.py)
             "speculative", "quantize", "faster_spec_relabel", "faster_spec_lesson",  # its speculative/quantise parts
             "arch_calc", "arch_pair", "arch_rope", "arch_relabel", "arch_lesson"}  # the architecture tab (test_arch_view)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def model_and_tok(small_tokenizer):
    """A random tiny GPT with sharpened weights: GPT-2's initialisation gives near-uniform next-token
    distributions and attention, which would make every chart (and screenshot) flat."""
    model = tiny_gpt(vocab_size=small_tokenizer.vocab_size, block_size=96)
    with torch.no_grad():
        model.transformer.wte.weight.mul_(12)  # logits spread over a few units: entropy ~3 nats (the head is tied)
        for block in model.transformer.h:
            block.attn.c_attn.weight.mul_(10)  # attention scores of order 1: patterns, not a flat average
    return model, small_tokenizer


@pytest.fixture(scope="module")
def server(model_and_tok):
    calls = []

    def loader(name):
        calls.append(name)
        return model_and_tok

    demo = ui.build_demo(loader, {"shakespeare": None, "gpt2": "not in the Hugging Face cache and no network here"})
    kw = ui.launch_kwargs()
    kw.update(server_port=free_port(), prevent_thread_lock=True, quiet=True)
    demo.launch(**kw)
    yield demo, calls
    demo.close()


@pytest.fixture
def client(server):
    demo, _ = server
    c = Client(demo.local_url, verbose=False)
    yield c
    c.close()


EVENTS = {"set_kv_cache": "set_kv", "pick_step": "select_step", "pick_head": "select_head", "open_head": "select_head"}


def call(client: Client, api: str, **kw) -> dict:
    """Call an endpoint; name its outputs (plots parsed from their JSON)."""
    out = client.predict(api_name="/" + api, **kw)
    out = out if isinstance(out, tuple) else (out,)
    event = EVENTS.get(api, api)
    parts = ui.EVENT_VIEWS.get(event, ui.PAGE_VIEWS.names)  # an event returns only the views it can redraw
    views = [name for name, out in zip(VIEWS, ui.PAGE_VIEWS.outputs()) if out in ui.PAGE_VIEWS.outputs(parts)]
    names = views + (["layer", "head"] if len(out) == len(views) + 2 else [])
    if api in ("compare_cache", "leak_check"):
        names = ["plot"]
    res = dict(zip(names, out))
    for k, v in res.items():
        if isinstance(v, dict) and v.get("type") == "plotly":
            res[k] = plain(json.loads(v["plot"]))
    return res


def plain(x):
    """Plotly's base64 typed arrays back into lists, so tests can read every figure the same way."""
    if isinstance(x, dict):
        return dense(x).tolist() if "bdata" in x else {k: plain(v) for k, v in x.items()}
    if isinstance(x, list):
        return [plain(v) for v in x]
    return x


def generated_steps(chips_html: str) -> list[int]:
    return [int(s) for s in re.findall(r'data-step="(\d+)"', chips_html)]


def title(fig: dict) -> str:
    return fig["layout"]["title"]["text"]


# -- the API itself ------------------------------------------------------------------------------
def test_every_event_is_a_named_endpoint_and_nothing_else(client):
    info = client.view_api(return_format="dict", print_info=False)
    assert {n.lstrip("/") for n in info["named_endpoints"]} == ENDPOINTS
    assert not info["unnamed_endpoints"]
    params = [p["parameter_name"] for p in info["named_endpoints"]["/step"]["parameters"]]
    assert params == ["model_name", "prompt", "kv_cache", *ui.SAMPLING_NAMES, *ui.VIEW_NAMES]


def test_queue_and_launch_settings(server, monkeypatch):
    demo, _ = server
    assert demo._queue.max_size == 64 and demo._queue.default_concurrency_limit == 2
    assert demo.api_open is False
    kw = ui.launch_kwargs()
    assert kw["server_name"] == "127.0.0.1" and kw["show_error"] is False and kw["enable_monitoring"] is False
    assert kw["css"] and kw["theme"] is not None
    assert kw["state_session_capacity"] == ui.MAX_SESSIONS <= 2000  # sized to memory (tests/test_sessions.py)
    # the monitoring summary (nobody reads it with monitoring off) is not recomputed after every event
    assert demo._queue.ANALYTICS_MAX_EVENTS <= 500 and demo._queue.ANAYLTICS_CACHE_FREQUENCY >= 1000
    with pytest.raises(SystemExit, match="GRADIO_SERVER_PORT must be a port number"):
        monkeypatch.setenv("GRADIO_SERVER_PORT", "http")
        ui.launch_kwargs()
    monkeypatch.setenv("GRADIO_SERVER_NAME", "0.0.0.0")
    monkeypatch.setenv("GRADIO_SERVER_PORT", "7999")
    assert (ui.launch_kwargs()["server_name"], ui.launch_kwargs()["server_port"]) == ("0.0.0.0", 7999)


def test_direct_posts_cannot_skip_the_queue(server):
    demo, _ = server
    req = urllib.request.Request(demo.local_url + "gradio_api/run/step", data=b'{"data": []}',
                                 headers={"Content-Type": "application/json"}, method="POST")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=10)
    assert e.value.code == 404


def test_the_model_is_loaded_once_for_every_session(server, client):
    _, calls = server
    for _ in range(2):
        c = Client(server[0].local_url, verbose=False)
        call(c, "load_page")
        call(c, "step")
        c.close()
    assert calls == ["shakespeare"]


# -- generating ------------------------------------------------------------------------------------
def test_load_page_shows_the_prompt_as_chips_and_says_what_to_do(client, model_and_tok):
    _, tok = model_and_tok
    r = call(client, "load_page")
    assert r["chips"].count('class="tok prompt"') == len(tok.encode_ids(PROMPT))
    assert generated_steps(r["chips"]) == []
    assert "Press **Step**" in r["status"]
    # the next-token chart is drawn for the prompt at once (issue 18): the first step's distribution, no step taken
    assert title(r["next"]).startswith("Before step 1") and len(r["next"]["data"]) >= 6
    assert len(r["mask"]["data"]) == 4  # the causal mask of the prompt is there from the start
    assert [c[1] for c in r["layer"]["choices"]] == [0, 1] and [c[1] for c in r["head"]["choices"]] == [0, 1, 2, 3]


def test_five_steps_fill_every_view(client, model_and_tok):
    model, tok = model_and_tok
    n_prompt = len(tok.encode_ids(PROMPT))
    call(client, "load_page")
    for i in range(5):
        r = call(client, "step", seed=3)
        assert generated_steps(r["chips"]) == list(range(i + 1))
    assert "Step **5** of 5" in r["status"] and r["text"].startswith(PROMPT)
    assert r["view_step"]["value"] == 4 and r["view_step"]["maximum"] == 4
    assert title(r["next"]).startswith("Step 5: chose")
    bars = [t for t in r["next"]["data"] if t.get("showlegend") is False]
    assert len(bars) == 6  # raw, penalty, temperature, top-k, top-p, min-p
    heat = r["attn"]["data"][0]
    S = n_prompt + 4  # step 4 read the prompt and 4 generated tokens
    assert len(heat["x"]) == S and heat["x"][0].endswith(tok.token_str(tok.encode_ids(PROMPT)[0]))
    assert r["overview"]["layout"]["meta"]["n_layer"] == model.config.n_layer
    on, off, line = r["latency"]["data"]
    assert len(line["x"]) == 5 and not off["x"]
    measured = r["memory"]["data"][2]
    assert len(measured["x"]) == 5


def test_back_and_select_step(client):
    call(client, "load_page")
    for _ in range(3):
        call(client, "step")
    r = call(client, "back")
    assert generated_steps(r["chips"]) == [0, 1] and "Step **2** of 2" in r["status"]
    r = call(client, "select_step", view_step=0)
    assert "Step **1** of 2" in r["status"] and title(r["next"]).startswith("Step 1")
    assert re.search(r'class="tok gen sel" data-step="0"', r["chips"])
    band = r["latency"]["layout"]["shapes"]  # the KV view marks the inspected step too
    assert len(band) == 1 and band[0]["x0"] < 0 < band[0]["x1"]


def test_same_seed_same_tokens_in_separate_sessions(server):
    texts = []
    for seed in (7, 7, 8):
        c = Client(server[0].local_url, verbose=False)
        call(c, "load_page")
        for _ in range(4):
            r = call(c, "step", seed=seed)
        texts.append((c, r["text"]))
    (a, ta), (_, tb), (_, tc) = texts
    assert ta == tb and ta != tc
    assert call(a, "select_step", view_step=3)["text"] == ta  # session a is untouched by the others
    for c, _ in texts:
        c.close()


def test_run_goes_to_a_stop_and_step_after_it_is_refused(client):
    call(client, "load_page")
    r = call(client, "run", max_new_tokens=6)
    assert generated_steps(r["chips"]) == list(range(6))
    assert "Stopped: max new tokens" in r["status"]
    with pytest.raises(AppError, match="stopped"):
        call(client, "step", max_new_tokens=6)
    r = call(client, "back", max_new_tokens=6)  # back makes room again
    assert generated_steps(r["chips"]) == list(range(5))


def test_stop_string_ends_the_run(client, model_and_tok):
    call(client, "load_page")
    first = call(client, "step", strategy="greedy")["text"][len(PROMPT):]
    call(client, "back", strategy="greedy")
    r = call(client, "run", strategy="greedy", stop=first, max_new_tokens=20)
    assert "Stopped: a stop string" in r["status"] and generated_steps(r["chips"]) == [0]


# -- re-deciding from cached logits ------------------------------------------------------------------
def test_a_slider_redraws_the_newest_step_without_a_forward(client):
    call(client, "load_page")
    call(client, "step", temperature=1.5, seed=1)
    r = call(client, "resample", temperature=0.0, seed=1)
    assert "rank 1 " in r["status"]  # temperature 0 = greedy: the most likely token
    assert "forward 0.0 ms reading 0 token(s)" in r["status"]  # no model run
    assert "re-decided from cached logits" in title(r["next"])
    assert generated_steps(r["chips"]) == [0]


def test_top_k_removes_all_but_k_tokens_in_the_next_token_view(client):
    call(client, "load_page")
    r = call(client, "step", top_k=3, strategy="greedy")
    panels = [t for t in r["next"]["data"] if t.get("showlegend") is False]
    top_k = panels[3]
    kept = [t for t in top_k["text"] if t not in ("removed", "below top list")]
    assert len(kept) == 3 and top_k["text"].count("removed") == len(top_k["text"]) - 3
    assert "top-k −" in json.dumps(r["next"]["layout"]["annotations"], ensure_ascii=False)
    r = call(client, "next_mode", top_k=3, strategy="greedy", bars="logits")
    assert r["next"]["layout"]["annotations"][-1]["text"].startswith("bar = logit")


def test_kv_cache_off_reads_every_position(client, model_and_tok):
    _, tok = model_and_tok
    n_prompt = len(tok.encode_ids(PROMPT))
    call(client, "load_page")
    call(client, "step")
    r = call(client, "set_kv_cache", kv_cache=False)  # the switch takes step 1 again, without the cache
    assert "KV cache **off**" in r["status"] and f"reading {n_prompt} token(s)" in r["status"]
    r = call(client, "step", kv_cache=False)
    assert f"reading {n_prompt + 1} token(s)" in r["status"]
    on, off, _ = r["latency"]["data"]
    assert list(on["x"]) == [] and list(off["x"]) == [0, 1]


# -- attention, mask, cache, beams ---------------------------------------------------------------------
def test_select_head_and_open_head(client):
    call(client, "load_page")
    call(client, "step")
    r = call(client, "select_head", view_layer=1, view_head=3)
    assert "layer 1, head 3" in title(r["attn"]) and "layer 1, head 3" in title(r["mask"])
    r = call(client, "open_head", layer=1, head=2)
    assert (r["layer"], r["head"]) == (1, 2)  # plain values: only the pickers' values change
    assert "layer 1, head 2" in title(r["attn"])
    x0 = r["overview"]["layout"]["shapes"][0]["x0"]  # the selected tile is outlined
    assert x0 > 2 * r["overview"]["layout"]["meta"]["window"]


def test_compare_cache_and_leak_check(client):
    call(client, "load_page", prompt="To be, or not to be")
    r = call(client, "compare_cache", prompt="To be, or not to be", n_tokens=8)
    assert "same tokens ✓" in title(r["plot"]) and len(r["plot"]["data"][0]["x"]) == 8
    r = call(client, "leak_check", prompt="To be, or not to be", position=3, new_token=" the")
    assert "positions 0–2: unchanged, exactly ✓" in title(r["plot"])
    with pytest.raises(AppError, match="position to change"):
        call(client, "leak_check", prompt="To be, or not to be", position=500, new_token=" the")


def test_beam_search_draws_the_tree_and_lists_hypotheses(client):
    call(client, "load_page")
    r = call(client, "beam_search", num_beams=3, max_new_tokens=5)
    assert "3 finished hypotheses" in r["beam_md"]
    names = {t.get("name") for t in r["beam"]["data"]}
    assert {"kept", "pruned", "finished"} <= names
    r = call(client, "step", strategy="beam", num_beams=2, max_new_tokens=4)  # Step in beam mode runs the search
    assert "2 finished hypotheses" in r["beam_md"]


# -- choosing the model, and mistakes --------------------------------------------------------------------
def test_an_unavailable_model_is_refused_and_the_page_keeps_its_model(client):
    call(client, "load_page")
    out = client.predict(model_name="gpt2", api_name="/change_model")
    assert out[0]["value"] == "shakespeare"
    r = call(client, "model_dropdowns")
    assert r  # the follow-up event answers (layer/head pickers for the current model)
    with pytest.raises(AppError, match="gpt2 is not available: not in the Hugging Face cache"):
        call(client, "step", model_name="gpt2")


def test_user_mistakes_get_plain_messages_and_the_session_survives(client):
    call(client, "load_page")
    with pytest.raises(AppError, match="nothing to undo"):
        call(client, "back")
    with pytest.raises(AppError, match="top_k must be a whole number"):
        call(client, "step", top_k=2.5)
    with pytest.raises(AppError, match="context window holds 96"):
        call(client, "set_prompt", prompt="thee " * 200)
    r = call(client, "step")  # still usable
    assert generated_steps(r["chips"]) == [0]


def test_set_prompt_starts_over(client, model_and_tok):
    _, tok = model_and_tok
    call(client, "load_page")
    call(client, "step")
    r = call(client, "set_prompt", prompt="To be, or not to be")
    assert generated_steps(r["chips"]) == []
    assert r["chips"].count('class="tok prompt"') == len(tok.encode_ids("To be, or not to be"))
    r = call(client, "reset", prompt="To be, or not to be")
    assert "Press **Step**" in r["status"]


# -- handlers that only a browser can trigger (custom JS events carrying data) ---------------------------
def test_chip_and_tile_clicks_select_a_step_and_a_head(model_and_tok):
    page = ui.Page(ui.AppContext.build(lambda name: model_and_tok, {"shakespeare": None}))
    controls = ("shakespeare", PROMPT, True, *ui.params_values(SamplingParams(seed=2)), 0, 0, 0, MODES[0])
    ps = page.load(None, *controls)[0]
    for _ in range(3):
        page.step(ps, *controls)
    out = page.pick_step(gr.EventData(None, {"step": 1}), ps, *controls)
    assert "Step **2** of 3" in out[3]
    out = page.pick_head(gr.EventData(None, {"layer": 1, "head": 3}), ps, *controls)
    assert out[-2:] == (1, 3)
    assert "layer 1, head 3" in out[6].layout.title.text


# -- state ------------------------------------------------------------------------------------------------------
def test_page_state_deep_copies_and_shares_the_model(model_and_tok):
    page = ui.Page(ui.AppContext.build(lambda name: model_and_tok, {"shakespeare": None}))
    controls = ("shakespeare", PROMPT, True, *ui.params_values(SamplingParams()), 0, 0, 0, MODES[0])
    ps = page.load(None, *controls)[0]
    page.step(ps, *controls)
    twin = copy.deepcopy(ps)
    assert twin.session.model is ps.session.model and twin.lock is not ps.lock
    page.step(twin, *controls)
    assert len(twin.session.records) == 2 and len(ps.session.records) == 1  # independent
    live = page.ctx.live_states
    page.ctx.forget(ps)
    assert ps.session is None and page.ctx.live_states == live - 1


def test_stage_table_accounts_for_the_whole_vocabulary(model_and_tok):
    page = ui.Page(ui.AppContext.build(lambda name: model_and_tok, {"shakespeare": None}))
    controls = ("shakespeare", PROMPT, True, *ui.params_values(SamplingParams(top_k=5, temperature=0.7, seed=4)),
                0, 0, 0, MODES[0])
    ps = page.load(None, *controls)[0]
    rec = page.step(ps, *controls)[0].session.records[-1]
    t = figures.stage_table(rec, rows=8)
    assert t["tokens"][t["chosen"]] == rec.token and "" not in t["tokens"]
    for s, st in enumerate(rec.stages):
        alive = ~t["removed"][s]
        assert t["rest_count"][s] + alive.sum() == st.kept  # drawn + "more" = every candidate
        shown = np.nansum(np.where(alive, t["values"][s], 0.0))
        assert shown + t["rest_mass"][s] == pytest.approx(1.0, abs=1e-5)
    assert (~t["removed"][3]).sum() == 5  # top-k = 5 kept five of the drawn rows


# -- inside the model ------------------------------------------------------------------------------------------
INSIDE = ["layer", "head", "note", *[p for p in ("stack", "input", "norm", "qkv", "rope", "heads", "pattern", "attn_out",
                                                   "mlp", "output", "lens", "params")]]


def inside(client: Client, **kw) -> dict:
    out = client.predict(api_name="/inside", **kw)
    res = dict(zip(INSIDE, out))
    for k, v in res.items():
        if isinstance(v, dict) and v.get("type") == "plotly":
            res[k] = plain(json.loads(v["plot"]))
    return res


def texts(fig: dict) -> str:
    """Every title and annotation of a figure, as one string to search."""
    return " ".join([title(fig)] + [a.get("text", "") for a in fig["layout"].get("annotations", [])])


def next_probs(model, ids: list[int]) -> np.ndarray:
    with torch.no_grad():
        return torch.softmax(model(torch.tensor([ids])).logits[0, -1], -1).numpy()


def test_inside_view_draws_the_forward_pass_of_the_selected_step(client, model_and_tok):
    model, tok = model_and_tok
    cfg = model.config
    prompt_ids = tok.encode_ids(PROMPT)
    call(client, "load_page", prompt=PROMPT)
    at_prompt = inside(client, prompt=PROMPT, inside_layer=1, inside_head=2)
    T = len(prompt_ids)
    assert "the prompt" in at_prompt["note"] and "only while this tab is open" in at_prompt["note"]
    assert "block 1 of 2, head 2" in title(at_prompt["stack"])
    assert f"Q · head 2</b><br>(T={T}, hs={cfg.head_dim})" in texts(at_prompt["qkv"])
    assert f"(T={T}, 4C={4 * cfg.n_embd})" in texts(at_prompt["mlp"])
    bars = at_prompt["output"]["data"][1]
    p = next_probs(model, prompt_ids)
    np.testing.assert_allclose(bars["x"], np.sort(p)[::-1][:len(bars["x"])], atol=1e-5)  # the model's own top tokens
    lens = at_prompt["lens"]["data"][0]
    assert np.asarray(lens["z"]).shape == (cfg.n_layer + 1, min(T, 16))
    assert np.asarray(lens["z"])[-1, -1] == pytest.approx(p.max(), abs=1e-5)  # the last layer's lens = the model
    params = at_prompt["params"]
    assert f"{sum(q.numel() for q in model.parameters()):,} parameters" in title(params)

    for _ in range(3):
        call(client, "step", prompt=PROMPT, temperature=0)
    out = inside(client, prompt=PROMPT, temperature=0, view_step=1, inside_layer=0, inside_head=1)
    ids = tok.encode_ids(PROMPT)
    ids += [int(np.argmax(next_probs(model, ids)))]  # greedy: step 0's token, the input of step 1 ends with it
    assert "step 2" in out["note"] and f"T={len(ids)}" in title(out["stack"]).replace("T = ", "T=") + texts(out["input"])
    np.testing.assert_allclose(out["output"]["data"][1]["x"][0], next_probs(model, ids).max(), atol=1e-5)
    assert "block 0 of 2, head 1" in title(out["stack"])


def test_inside_view_is_opt_in(model_and_tok, monkeypatch):
    """A Step never captures intermediates, and no server event follows the steps: the status line's change is a
    js-only event (static/follow.js presses the tab's button when the tab is on screen; test_browser.py checks
    that in the browser). A draw reads the step the view slider names and the chosen layer."""
    page = ui.Page(ui.AppContext.build(lambda name: model_and_tok, {"shakespeare": None}))
    drawn = []
    real = inside_tab.render_inside
    monkeypatch.setattr(inside_tab, "render_inside", lambda ps, v: drawn.append(v) or real(ps, v))
    controls = ("shakespeare", PROMPT, True, *ui.params_values(SamplingParams()), 0, 0, 0, MODES[0])
    ps = page.load(None, *controls)[0]
    for _ in range(2):
        ps = page.step(ps, *controls)[0]
    assert not drawn
    demo = ui.build_demo(lambda name: model_and_tok, {"shakespeare": None})
    status = next(b._id for b in demo.blocks.values() if getattr(b, "elem_id", None) == "status")
    on_status = [fn for fn in demo.fns.values() if (status, "change") in [tuple(t) for t in fn.targets]]
    assert on_status and all(fn.fn is None and "playgroundFollow" in fn.js for fn in on_status)
    newest = (*controls[3:-4], 1, 0, 0, MODES[0])  # the view slider on step 1, as after the second Step
    out = inside_tab.InsideView(page).draw(ps, "shakespeare", PROMPT, True, 1, 0, *newest)
    assert len(drawn) == 1 and len(out) == 1 + len(inside_tab.OUTPUTS) == 16
    assert drawn[0].layer == 1 and drawn[0].step == 1  # the newest step's input, the chosen layer


def test_step_slider_is_rebuilt_only_when_its_range_changes(model_and_tok):
    """A property update costs Gradio a component rebuild per event (~10 ms); the view slider's range
    changes on a Step, not on a re-draw or a head switch, which send only its value."""
    page = ui.Page(ui.AppContext.build(lambda name: model_and_tok, {"shakespeare": None}))
    controls = ("shakespeare", PROMPT, True, *ui.params_values(SamplingParams(seed=2)), 0, 0, 0, MODES[0])
    ps = page.load(None, *controls)[0]
    slider = 4  # outputs: state, chips, text, status, slider, ...
    assert page.load(None, *controls)[slider]["maximum"] == 1  # a new state: the slider is set up once
    out = page.step(ps, *controls)
    assert out[slider] == 0  # one step: range 0..1, not interactive, as the prompt left it
    for n in (2, 3):
        out = page.step(ps, *controls)
        assert out[slider]["__type__"] == "update" and out[slider]["maximum"] == n - 1
        assert out[slider]["interactive"] is True and out[slider]["value"] == n - 1
    out = page.resample(ps, *controls)
    assert out[slider] == 2  # same range (3 steps): the value alone
    out = page.select_step(ps, *controls[:-4], 1, *controls[-3:])
    assert out[slider] == 1
    out = page.back(ps, *controls)
    assert out[slider]["maximum"] == 1  # one step fewer: the range shrinks


def test_an_event_returns_only_the_views_it_lists():
    """Outputs outside EVENT_VIEWS[event] are dropped (each gr.skip() costs Gradio a component rebuild);
    a handler that redraws a view its event does not list is a programming error, not a silent loss."""
    skip = gr.skip()
    every = [v.name for v in ui.PAGE_VIEWS.views for _ in v.outputs]  # each output's view
    full = ("state", *[f"drawn {part}" if part in ("tokens", "next") else skip for part in every], "extra")
    cut = ui.PAGE_VIEWS.cut(("tokens", "next", "beam"), lambda *a: full)()
    assert cut == ("state", "drawn tokens", "drawn tokens", "drawn tokens", "drawn tokens", "drawn next", skip, skip,
                   "extra")
    with pytest.raises(RuntimeError, match="outside"):
        ui.PAGE_VIEWS.cut(("tokens",), lambda *a: full)()
    for event, parts in ui.EVENT_VIEWS.items():
        assert set(parts) <= set(ui.PAGE_VIEWS.names) and hasattr(ui.Page, event), event
