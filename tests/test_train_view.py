"""The Train view: its figures, and the page's training driven by gradio_client under tight limits.

The server uses a tiny random model and a 512-token tokenizer; trainings are a few dozen steps of a
1-layer, 32-wide model (about a second each). Each Client is a separate browser session.
"""
from __future__ import annotations

import json
import re
import threading
import time

import numpy as np
import plotly.graph_objects as go
import pytest
import torch
import torch.nn.functional as F
from gradio_client import Client
from gradio_client.exceptions import AppError

from playground import figures, ui
from playground.ui.training import train_configs
from playground.config import GPTConfig
from playground.model import GPT, KVCache
from playground.train import PRESETS, TrainLimits, get_batch, objective_row
from tests.conftest import tiny_gpt
from tests.test_ui_api import free_port, plain

LIMITS = TrainLimits(max_steps=60, max_seconds=60, max_params=150_000, max_block=32, max_concurrent=1)
TINY = dict(preset=next(iter(PRESETS)), n_layer=1, n_head=2, n_embd=32, block_size=32, lr=3e-3)


# -- figures -------------------------------------------------------------------------------------
def test_loss_curves_draw_what_they_are_given():
    fig = figures.loss_curves([0, 1, 2, 3], [5.0, 4.0, 3.5, 3.0], [0, 3], [5.2, 3.4], total_steps=50)
    go.Figure(fig.to_dict())  # re-validated
    tr, va = fig.data
    assert list(tr.y) == [5.0, 4.0, 3.5, 3.0] and list(va.x) == [0, 3] and list(va.y) == [5.2, 3.4]
    assert list(fig.layout.xaxis.range) == [0, 50]  # the axis is the whole run: the curve grows into it
    assert "validation 3.400" in fig.layout.title.text
    with pytest.raises(ValueError, match="same lengths"):
        figures.loss_curves([0, 1], [1.0], [], [])


def test_objective_panel_shows_inputs_targets_probabilities_and_losses():
    p = np.array([0.5, 0.1, 0.9])
    fig = figures.objective_panel(["To", "␣be", ","], ["␣be", ",", "␣or"], p, -np.log(p), float(-np.log(p).mean()))
    go.Figure(fig.to_dict())
    probs, losses = fig.data
    assert np.allclose(probs.y, p) and np.allclose(losses.y, -np.log(p))
    ticks = fig.layout.xaxis2.ticktext
    assert "To" in ticks[0] and "␣be" in ticks[0].split("↓")[1]  # input above, its target (next token) below
    assert fig.layout.shapes[0].y0 == pytest.approx(-np.log(p).mean())
    with pytest.raises(ValueError, match="3 positions"):
        figures.objective_panel(["a", "b"], ["b", "c", "d"], p, p, 1.0)


def test_gqa_chart_gives_the_saving_from_the_two_configs():
    mha = GPTConfig(vocab_size=64, block_size=256, n_layer=4, n_head=8, n_embd=256)
    gqa = GPTConfig(vocab_size=64, block_size=256, n_layer=4, n_head=8, n_kv_head=2, n_embd=256)
    per = [KVCache.formula_bytes(c, 1, 1) for c in (mha, gqa)]
    fig = figures.gqa_cache(["multi-head", "gqa"], per, [8, 2], 256, [32, 256], [[per[0] * 32, per[0] * 256],
                                                                               [per[1] * 32, per[1] * 256]])
    go.Figure(fig.to_dict())
    assert "75 % smaller" in fig.layout.title.text  # the course notes' claim, from the formula
    with pytest.raises(ValueError, match="exactly two"):
        figures.gqa_cache(["a"], [1], [1], 8, [1], [[1]])


# -- the objective the view trains on --------------------------------------------------------------
def test_the_views_loss_is_cross_entropy_on_the_shifted_targets(small_tokenizer):
    model = tiny_gpt(vocab_size=small_tokenizer.vocab_size)
    data, _ = ui.AppContext.build(lambda name: None, {}).encoded_corpus(small_tokenizer)
    x, y = get_batch(data, 1, 32, torch.Generator().manual_seed(1))
    assert torch.equal(x[0, 1:], y[0, :-1])  # the targets are the inputs shifted by one
    row = objective_row(model, small_tokenizer, x[0], y[0])
    with torch.no_grad():
        direct = F.cross_entropy(model(x, use_cache=False).logits[0], y[0]).item()
    assert row.mean_loss == pytest.approx(direct, rel=1e-5)
    assert np.allclose(row.losses, -np.log(row.target_probs), atol=1e-5)


def test_configs_from_the_fields_and_their_errors(small_tokenizer):
    m, t = train_configs(small_tokenizer, steps=40, **TINY)
    assert (m.n_layer, m.n_head, m.n_embd, m.block_size, m.vocab_size) == (1, 2, 32, 32, small_tokenizer.vocab_size)
    assert t.steps == 40 and t.lr == 3e-3 and t.warmup_steps <= 8
    with pytest.raises(ValueError, match="divisible"):
        train_configs(small_tokenizer, steps=40, **{**TINY, "n_head": 3})
    with pytest.raises(ValueError, match="learning rate"):
        train_configs(small_tokenizer, steps=40, **{**TINY, "lr": -1})


# -- the page, through gradio_client ----------------------------------------------------------------
@pytest.fixture(scope="module")
def train_server(small_tokenizer):
    base = tiny_gpt(vocab_size=small_tokenizer.vocab_size, block_size=96)
    gqa = tiny_gpt(vocab_size=small_tokenizer.vocab_size, block_size=96, n_head=4, n_kv_head=1)
    models = {"shakespeare": (base, small_tokenizer), "shakespeare-gqa": (gqa, small_tokenizer)}
    demo = ui.build_demo(lambda name: models[name], {"shakespeare": None, "shakespeare-gqa": None}, train_limits=LIMITS)
    kw = ui.launch_kwargs()
    kw.update(server_port=free_port(), prevent_thread_lock=True, quiet=True)
    demo.launch(**kw)
    yield demo
    demo.close()


def session(server) -> Client:
    c = Client(server.local_url, verbose=False)
    c.predict(api_name="/load_page")
    return c


def train(c: Client, steps: int, **kw):
    return c.predict(api_name="/train", **{**TINY, "steps": steps, **kw})


def test_training_streams_a_falling_loss_and_the_model_is_this_sessions_only(train_server):
    a, b = session(train_server), session(train_server)
    loss, status, sample, attn, objective, picker = train(a, 40, lr=1e-2)
    curve = plain(json.loads(loss["plot"]))
    tr = curve["data"][0]["y"]
    assert len(tr) == 40 and np.mean(tr[-5:]) < np.mean(tr[:5]) - 0.3  # it learns
    assert "step 40 / 40" in status and "tokens/s" in status and "Stopped by steps" in status
    name = next(v for v, _ in picker["choices"] if v.startswith("my model"))
    assert name in status and "ROMEO:" in sample
    assert json.loads(objective["plot"])["data"][0]["type"] == "bar"
    out = a.predict(model_name=name, api_name="/change_model")  # this session: selectable, and it generates
    assert f"**{name}** · 1 layers × 2 heads, 32 wide" in out[3]  # the dropdown accepted it; the status shows it
    step = a.predict(model_name=name, api_name="/step")
    assert f"**{name}**" in step[2] and "Step **1**" in step[2]
    for api in ("/change_model", "/step"):  # another session never sees it
        with pytest.raises(AppError):
            b.predict(model_name=name, api_name=api)
    a.close(), b.close()


def test_a_request_over_the_limits_gets_a_clear_message(train_server):
    c = session(train_server)
    with pytest.raises(AppError, match="100 steps is over this server's limit of 60"):
        train(c, 100)
    with pytest.raises(AppError, match="a context of 64 is over this server's limit of 32"):
        train(c, 10, block_size=64)
    with pytest.raises(AppError, match="parameters; the server allows at most 150,000"):
        train(c, 10, n_layer=8, n_embd=128)
    c.close()


def test_a_second_training_is_told_busy_and_stop_keeps_the_model(train_server):
    a, b = session(train_server), session(train_server)
    job = a.submit(api_name="/train", **{**TINY, "steps": 60})
    t0 = time.time()
    while not job.outputs() and time.time() - t0 < 30:  # wait until it is really running
        time.sleep(0.05)
    assert job.outputs()
    with pytest.raises(AppError, match="busy"):
        train(b, 10)
    a.predict(api_name="/stop_training")
    final = job.result(timeout=60)
    assert "Stopped by stop button" in final[1]
    assert any(v.startswith("my model") for v, _ in final[5]["choices"])
    assert "step 60 / 60" not in final[1]
    assert "Stopped by steps" in train(b, 5)[1]  # the slot is free again
    a.close(), b.close()


def test_gqa_comparison_measures_both_models(train_server):
    c = session(train_server)
    plot, md = c.predict(api_name="/gqa_cache")
    fig = plain(json.loads(plot["plot"]))
    assert "75 % smaller" in fig["layout"]["title"]["text"]  # 4 query heads, 1 KV head
    formula_mha, measured_mha, formula_gqa, measured_gqa = fig["data"]
    assert np.allclose(np.array(measured_gqa["y"]) * 4, measured_mha["y"])  # measured caches, not the formula
    assert "| shakespeare-gqa | 4 / 1 |" in md
    c.close()


def test_training_can_be_turned_off(small_tokenizer):
    demo = ui.build_demo(lambda name: (tiny_gpt(vocab_size=small_tokenizer.vocab_size), small_tokenizer),
                         train_limits=TrainLimits.from_env({"PLAYGROUND_DISABLE_TRAINING": "1"}))
    kw = ui.launch_kwargs()
    kw.update(server_port=free_port(), prevent_thread_lock=True, quiet=True)
    demo.launch(**kw)
    try:
        c = session(demo)
        with pytest.raises(AppError, match="Training is turned off"):
            train(c, 5)
        c.close()
    finally:
        demo.close()


# -- in a browser ----------------------------------------------------------------------------------
def test_browser_train_tab_draws_a_live_loss_curve(train_server, page):
    from pathlib import Path

    from playwright.sync_api import expect

    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto(train_server.local_url)
    expect(page.locator("#chips .tok").first).to_be_visible(timeout=30_000)
    page.get_by_role("tab", name="Train").click()
    # record every text the status shows: a 60-step run can finish in under a second, too fast to poll
    page.evaluate("""() => { const el = document.querySelector('#train-status'); window.__seen = [];
        new MutationObserver(() => window.__seen.push(el.innerText))
            .observe(el, {subtree: true, childList: true, characterData: true}); }""")
    page.locator("#train_btn").click()
    status = page.locator("#train-status")
    expect(status).to_contain_text("Stopped by steps", timeout=60_000)
    shown = {int(m.group(1)) for t in page.evaluate("window.__seen") if (m := re.search(r"step (\d+) / 60", t))}
    assert 60 in shown and len(shown) >= 2, shown  # it updated while training, not only at the end
    curve = page.locator("#loss-plot .js-plotly-plot")
    expect(curve.locator("path.js-line").first).to_be_attached()
    assert curve.bounding_box()["height"] >= 300
    expect(page.locator("#train-sample")).to_contain_text("ROMEO:")
    expect(page.locator("#objective-plot .js-plotly-plot g.point").first).to_be_attached()
    expect(page.locator("#train-attn .js-plotly-plot .heatmaplayer image, #train-attn .js-plotly-plot g.hm image").first
           ).to_be_attached()
    shots = Path(__file__).resolve().parent.parent / "screenshots"
    shots.mkdir(exist_ok=True)
    page.wait_for_timeout(500)
    page.screenshot(path=str(shots / "train-1280.png"), full_page=True)
