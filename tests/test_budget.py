"""One session's memory, time and bytes are bounded on a big model (issue 16, point 4).

The bounds are stated here as formulas of the model's shape; ``python -m benchmarks.session_budget``
measures them on GPT-2 small's shape (logs/session-budget.md). The server tests use a model with
GPT-2 small's attention shape (12 layers × 12 heads) and a long window (512), but a tiny width and
vocabulary, so that its long sessions are quick to run here.
"""
from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch

from benchmarks.classroom_load import QueueSession, controls
from playground import inside, session, ui
from playground.config import GPTConfig, SamplingParams
from playground.corpus import works
from playground.figures import MODES
from playground.model import GPT, KVCache
from playground.tokenizer import Tokenizer
from playground.ui.attention import render_attention
from playground.session import Session
from tests.conftest import tiny_gpt
from tests.test_figures import dense
from tests.test_ui_api import free_port

GPT2_SMALL = GPTConfig(vocab_size=50257, block_size=1024, n_layer=12, n_head=12, n_embd=768)
SHIPPED = GPTConfig(vocab_size=4096, block_size=256, n_layer=4, n_head=4, n_embd=256)
GREEDY = SamplingParams(strategy="greedy", max_new_tokens=1024)


def wide_attention(vocab_size: int) -> GPT:
    """12 layers × 12 heads, a 512-token window, 48 wide: GPT-2 small's attention history per position."""
    return tiny_gpt(vocab_size=vocab_size, block_size=512, n_layer=12, n_head=12, n_embd=48)


def text_of(tok: Tokenizer, n: int) -> str:
    """About ``n`` tokens of Macbeth (a little under: decoding then encoding may merge a pair)."""
    return tok.decode(tok.encode_ids(works("train")["macbeth.txt"])[: n - 2])


def points(fig: dict) -> int:
    """The most x values any trace of a plotly figure (as JSON) has."""
    return max(len(dense(t["x"])) for t in fig["data"] if "x" in t)


def band_bytes(cfg: GPTConfig, S: int, window: int) -> int:
    """float16 attention history of S positions, each row its last ``window`` keys."""
    return 2 * cfg.n_layer * cfg.n_head * sum(min(t + 1, window) for t in range(S))


# -- the engine ---------------------------------------------------------------------------------------
def test_attention_history_keeps_float16_rows_of_the_last_window_keys(small_tokenizer):
    model = tiny_gpt(vocab_size=small_tokenizer.vocab_size)
    full = Session(model, small_tokenizer, "ROMEO:", GREEDY, attention_window=None)
    band = Session(model, small_tokenizer, "ROMEO:", GREEDY, attention_window=8)
    full.run(20)
    band.run(20)
    assert band.generated_ids == full.generated_ids
    for r in band.records:  # a row: its last 8 keys, 2 bytes a weight
        assert r.attention.dtype == np.float16 and r.attention.shape == (2, 4, min(r.position, 8))
    S = len(band._rows)
    for start, stop in ((0, 8), (S - 8, S), (5, 9)):  # any run of at most 8 positions is there
        np.testing.assert_array_equal(band.attention(1, 3, start, stop), full.attention(1, 3, start, stop))
        np.testing.assert_array_equal(band.attention_block(start, stop)[1, 3], full.attention(1, 3)[start:stop, start:stop])
    with pytest.raises(ValueError, match="keeps the last 8 keys of each attention row"):
        band.attention(0, 0)  # every position: more than it keeps
    assert band.state_nbytes() < full.state_nbytes()


def test_a_long_session_on_gpt2_sized_attention_stays_within_its_formula(small_tokenizer):
    """After 500 positions, a session holds: its attention rows (float16, the last 256 keys each), the KV
    cache's buffers (at most the whole window), ≤ 6 KB of tables per record and two V-wide distributions.
    Stored as before (the full float32 triangle, counted in the records and again in the rows), it was 3x."""
    model = wide_attention(small_tokenizer.vocab_size)
    cfg = model.config
    s = Session(model, small_tokenizer, text_of(small_tokenizer, 440), GREEDY)
    s.run(500 - len(s.prompt_ids))
    S = len(s._rows)
    assert S >= 499
    bound = (band_bytes(cfg, S, 256) + KVCache.formula_bytes(cfg, 1, cfg.block_size) + 6 * 1024 * len(s.records)
             + 2 * 4 * cfg.vocab_size + 200 * S)  # + pickling each row's header
    assert s.state_nbytes() <= bound, (s.state_nbytes(), bound)
    assert s.keys_kept == session.ATTENTION_WINDOW == 256
    assert bound < 0.5 * 4 * cfg.n_layer * cfg.n_head * S * (S + 1) // 2  # under half of one float32 triangle
    # GPT-2 small at its whole window, by the same formula: 66 MB of history instead of 302 MB
    assert band_bytes(GPT2_SMALL, 1024, 256) < 70e6 < 300e6 < 4 * 144 * 1024 * 1025 // 2


def test_a_pass_holds_no_more_than_its_estimate():
    """``pass_bytes`` covers what a captured pass keeps (every intermediate + the logits), without
    being a wild overestimate; the page's cap is the longest text under the budget."""
    model = tiny_gpt()
    T = 40
    with torch.no_grad():
        out = model(torch.randint(0, 512, (1, T)), use_cache=False, capture=True)
    storages = {t.untyped_storage().data_ptr(): t.untyped_storage().nbytes() for t in out.captured.values()}
    held = sum(storages.values()) + out.logits.numel() * 4
    assert held <= inside.pass_bytes(model.config, T) <= 3 * held
    for cfg in (GPT2_SMALL, SHIPPED):
        for capture in (True, False):
            N = inside.max_positions(cfg, capture)
            assert inside.pass_bytes(cfg, N, capture) <= inside.PASS_BUDGET
            assert N == cfg.block_size or inside.pass_bytes(cfg, N + 1, capture) > inside.PASS_BUDGET
    assert inside.max_positions(SHIPPED) == 256  # the shipped model: its whole window, as before
    assert 100 < inside.max_positions(GPT2_SMALL) < inside.max_positions(GPT2_SMALL, capture=False) < 1024


def test_the_kv_comparison_is_capped_by_its_cost():
    """GPT-2 small compares ~40 tokens after a short prompt (its uncached run re-reads every position);
    the shipped model its whole window. Beyond the cap it refuses before running anything."""
    tok = Tokenizer.from_file("assets/model/tokenizer.json")
    with torch.device("meta"):  # only the shape and the parameter count matter: nothing runs
        gpt2, shipped = GPT(GPT2_SMALL).eval(), GPT(SHIPPED).eval()
    s = Session(gpt2, tok, "ROMEO:", GREEDY)
    n = s.compare_limit()
    assert 20 <= n <= 60
    assert s.compare_work(n) <= session.COMPARE_BUDGET < s.compare_work(n + 1)
    with pytest.raises(ValueError, match=f"over this model's limit of {n} after a"):
        s.compare_cache(n + 1)
    longer = Session(gpt2, tok, text_of(tok, 400), GREEDY)
    assert 1 <= longer.compare_limit() < n  # a longer prompt: each uncached step reads more
    small = Session(shipped, tok, "ROMEO:", GREEDY)
    assert small.compare_limit() == 256 - len(small.prompt_ids)


def test_the_lens_of_the_last_positions_is_the_full_lens_cut(small_tokenizer):
    model = tiny_gpt(vocab_size=small_tokenizer.vocab_size)
    ids = small_tokenizer.encode_ids("To be, or not to be, that is the question")
    full = inside.walkthrough(model, small_tokenizer, ids, 1, 2)
    cut = inside.walkthrough(model, small_tokenizer, ids, 1, 2, lens_positions=4)
    T = len(ids)
    assert cut.lens.start == T - 4 and cut.lens.top_probs.shape == (3, 4)
    np.testing.assert_allclose(cut.lens.top_probs, full.lens.top_probs[:, -4:], atol=1e-6)
    np.testing.assert_allclose(cut.lens.target_probs, full.lens.target_probs[:, -4:], atol=1e-6)
    assert (cut.lens.top_ids == full.lens.top_ids[:, -4:]).all()
    np.testing.assert_array_equal(cut.lens.resid_norm, full.lens.resid_norm)  # the norms cover every position


def test_leak_compare_matches_the_two_distributions(small_tokenizer):
    model = tiny_gpt(vocab_size=small_tokenizer.vocab_size)
    ids = small_tokenizer.encode_ids("To be, or not to be, that is the question")
    before, after, diff = inside.leak_compare(model, ids, 4, 7)
    with torch.no_grad():
        pa = torch.softmax(model(torch.tensor([ids]), use_cache=False).logits[0], -1)  # (T, V)
        pb = torch.softmax(model(torch.tensor([ids[:4] + [7] + ids[5:]]), use_cache=False).logits[0], -1)
    top = pa.argmax(-1)
    rows = torch.arange(len(ids))
    np.testing.assert_allclose(before, pa[rows, top].numpy(), atol=1e-7)
    np.testing.assert_allclose(after, pb[rows, top].numpy(), atol=1e-7)
    np.testing.assert_allclose(diff, (pa - pb).abs().max(-1).values.numpy(), atol=1e-7)
    assert (diff[:4] == 0).all() and (diff[4:] > 0).all()  # causal: exactly nothing before the change


# -- through the running server ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def big_server(small_tokenizer):
    model = wide_attention(small_tokenizer.vocab_size)
    demo = ui.build_demo(lambda name: (model, small_tokenizer), {"shakespeare": None})
    kw = ui.launch_kwargs()
    kw.update(server_port=free_port(), prevent_thread_lock=True, quiet=True)
    demo.launch(**kw)
    yield demo, model
    demo.close()


@pytest.fixture(scope="module")
def long_tab(big_server, small_tokenizer):
    """A tab that took one Step after a ~470-token prompt: (session, prompt, that Step's outputs)."""
    demo, _ = big_server
    prompt = text_of(small_tokenizer, 472)
    q = QueueSession(demo.local_url)
    r = q.call("step", controls(prompt=prompt))
    assert r.ok, r.error
    yield q, prompt, r
    q.close()


def test_a_step_on_a_long_text_sends_only_the_last_window(long_tab, small_tokenizer):
    """At 471 positions the heatmap is the last 256 positions (what the session keeps), and the whole
    Step answer stays under 1 MB (it was 1.5 MB here, and 5.8 MB on GPT-2 small at 1,000 positions)."""
    q, prompt, r = long_tab
    S = len(small_tokenizer.encode_ids(prompt))
    size = len(json.dumps(r.data))
    assert size < 1_000_000, size
    heat = json.loads(r.data[6]["plot"])
    W = 256  # session.ATTENTION_WINDOW
    assert dense(heat["data"][0]["z"]).shape == (W, W)
    assert f"last {W} of {S} positions" in heat["layout"]["title"]["text"]
    assert heat["data"][0]["y"][0].startswith(f"{S - W} ")  # rows named by their real position


def test_inside_says_a_pass_is_too_long_instead_of_running_it(long_tab, big_server):
    q, prompt, _ = long_tab
    r = q.call("inside", controls(prompt=prompt)[:4] + [0, 0] + controls(prompt=prompt)[4:])
    assert r.ok, r.error
    note = r.data[3]
    assert "too long to capture" in note, note
    N = inside.max_positions(big_server[1].config)
    assert N < 470  # 12 layers × 12 heads: a captured 470-token pass would hold ~0.5 GB
    assert f"at most {N} tokens" in note and "earlier step" in note
    assert f"At most {N} tokens" in r.data[6]["plot"]  # the walkthrough rows say it too


def test_the_leak_check_reads_at_most_its_limit(long_tab, big_server, monkeypatch):
    q, prompt, _ = long_tab
    cfg = big_server[1].config
    monkeypatch.setattr(inside, "PASS_BUDGET", inside.pass_bytes(cfg, 100, capture=False))  # this model's limit: 100
    data = lambda pos: controls(prompt=prompt)[:4] + [pos, " the"] + controls(prompt=prompt)[4:]  # noqa: E731
    r = q.call("leak_check", data(3))
    assert r.ok, r.error
    assert any("read the first 100 of the" in m for _, m in r.logs), r.logs
    fig = json.loads(r.data[1]["plot"])
    assert points(fig) == 100
    r = q.call("leak_check", data(150))
    assert not r.ok and "at most the first 100 tokens" in r.error and "0 to 99" in r.error


def test_the_kv_comparison_is_capped_with_a_message(big_server, small_tokenizer, monkeypatch):
    demo, model = big_server
    s = Session(model, small_tokenizer, "ROMEO:", GREEDY)
    monkeypatch.setattr(session, "COMPARE_BUDGET", s.compare_work(10))  # this model may compare 10 tokens
    q = QueueSession(demo.local_url)
    r = q.call("compare_cache", controls()[:4] + [64] + controls()[4:])
    assert r.ok, r.error
    assert any("capped at 10 tokens" in m and "not 64" in m for _, m in r.logs), r.logs
    fig = json.loads(r.data[1]["plot"])
    assert points(fig) == 10
    q.close()


def test_the_attention_views_draw_within_the_sessions_window(small_tokenizer):
    """The window is the session's: a smaller one is honoured by the heatmap and the overview's tiles."""
    model = tiny_gpt(vocab_size=small_tokenizer.vocab_size)
    ps = ui.PageState("shakespeare", Session(model, small_tokenizer, "ROMEO:", GREEDY, attention_window=6))
    ps.session.run(12)
    heat, over = render_attention(ps, ui.Selection(11, 0, 0, MODES[0]))
    assert np.asarray(heat.data[0].z).shape == (6, 6)
    assert over.layout.meta["window"] == 6  # the overview's tiles: at most the window too


def test_the_controls_state_the_caps_they_have_on_gpt2_small():
    """The numbers in the compare slider's and the leak position's help lines are the caps the code computes."""
    from playground import i18n

    tok = Tokenizer.from_file("assets/model/tokenizer.json")
    with torch.device("meta"):
        gpt2 = GPT(GPT2_SMALL).eval()
    n = Session(gpt2, tok, "ROMEO:", GREEDY).compare_limit()  # a 5-token prompt
    stated = lambda key, lang: int(re.search(r"GPT-2 small[:：]\D*(\d+)", i18n.t(key, lang)).group(1))  # noqa: E731
    for lang in i18n.LANGS:
        assert stated("compare_n.info", lang) == n
        assert stated("leak_pos.info", lang) == inside.max_positions(GPT2_SMALL, capture=False)
