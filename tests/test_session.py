"""Generation sessions (playground.session): step/back/resample, the KV-cache toggle, records."""
from __future__ import annotations

import copy
import dataclasses
import sys
import types

import numpy as np
import pytest
import torch

import playground
from playground.config import GPTConfig, SamplingParams
from playground.model import GPT, KVCache
from playground.records import MEASURED_FIELDS, StepRecord, nbytes
from playground.session import TOP_N, GenerationStopped, Session
from playground.tokenizer import complete_text

GREEDY = SamplingParams(strategy="greedy", max_new_tokens=40)
SAMPLE = SamplingParams(strategy="sample", temperature=1.3, top_k=50, seed=7, max_new_tokens=40)
PROMPT = "First Witch:\nWhen shall we three meet again"


def count_forwards(model: GPT, monkeypatch) -> list[int]:
    """Wrap model.forward; the returned list grows by the number of positions each call reads."""
    calls, inner = [], model.forward

    def forward(idx, *args, **kwargs):
        calls.append(idx.shape[1])
        return inner(idx, *args, **kwargs)

    monkeypatch.setattr(model, "forward", forward)
    return calls


def force_tokens(model: GPT, monkeypatch, by_position: dict[int, int]) -> None:
    """Make the model predict ``by_position[p]`` for position p (a huge logit), else leave it."""
    inner = model.forward

    def forward(idx, past_kv=None, return_attn=False, use_cache=True):
        out = inner(idx, past_kv=past_kv, return_attn=return_attn, use_cache=use_cache)
        S = (past_kv.length if past_kv is not None else 0) + idx.shape[1]  # the position predicted
        if S not in by_position:
            return out
        bump = torch.zeros_like(out.logits)
        bump[0, -1, by_position[S]] = 1e4
        return dataclasses.replace(out, logits=out.logits + bump)

    monkeypatch.setattr(model, "forward", forward)


def assert_same_record(a: StepRecord, b: StepRecord) -> None:
    """Every field equal, except the live measurements (timings, RSS, allocator capacity)."""
    for f in dataclasses.fields(StepRecord):
        if f.name in MEASURED_FIELDS:
            continue
        x, y = getattr(a, f.name), getattr(b, f.name)
        if f.name == "stages":
            for sa, sb in zip(x, y, strict=True):
                for g in dataclasses.fields(sa):
                    u, v = getattr(sa, g.name), getattr(sb, g.name)
                    if isinstance(u, np.ndarray):
                        np.testing.assert_array_equal(u, v)
                    else:
                        assert u == v, (f.name, g.name)
        elif isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
            np.testing.assert_array_equal(x, y, err_msg=f.name)
        else:
            assert x == y, f.name


def test_step_records_facts(tiny_model, small_tokenizer):
    s = Session(tiny_model, small_tokenizer, PROMPT, GREEDY)
    P = len(s.prompt_ids)
    recs = s.run(4)
    assert [r.tokens_processed for r in recs] == [P, 1, 1, 1]  # prefill, then only the newest token
    assert [r.position for r in recs] == [P, P + 1, P + 2, P + 3]
    r = recs[-1]
    assert r.input_ids.tolist() == [s.ids[P + 2]] and r.input_tokens == (s.tokens[P + 2],)
    cfg = tiny_model.config
    assert r.kv_bytes == r.kv_formula_bytes == 2 * cfg.n_layer * cfg.n_kv_head * r.position * cfg.head_dim * 4
    assert f"{r.position} positions" in r.kv_formula and f"{r.kv_bytes:,} bytes" in r.kv_formula
    assert r.forward_ms > 0 and r.step_ms >= 0 and r.rss_bytes > 10_000_000
    # the attention row of the step's query: (n_layer, n_head, S), kept in float16; each head's row sums to 1
    # within float16's rounding (each weight to 2^-11 of itself, so the sum to 2^-11)
    assert r.attention.shape == (cfg.n_layer, cfg.n_head, r.position) and r.attention.dtype == np.float16
    np.testing.assert_allclose(r.attention.astype(np.float64).sum(-1), 1.0, atol=2.0**-11 + 1e-6)
    # greedy: the chosen token is the most likely one, and its probability is the final one
    assert r.rank == 0 and r.greedy and r.token_id == int(r.stages[-1].top_ids[0])
    assert r.prob == pytest.approx(float(r.final_probs[r.token_id]))
    p = r.final_probs.astype(np.float64)
    assert r.entropy == pytest.approx(float(-(p[p > 0] * np.log(p[p > 0])).sum()), rel=1e-4)
    assert [st.name for st in r.stages] == ["raw", "repetition_penalty", "temperature", "top_k", "top_p", "min_p"]
    assert all(len(st.top_ids) == TOP_N and st.removed == 0 and st.kept_mass == 1.0 for st in r.stages)


def test_stage_summaries_follow_the_filters(tiny_model, small_tokenizer):
    params = SamplingParams(strategy="sample", temperature=0.8, top_k=5, seed=3)
    s = Session(tiny_model, small_tokenizer, PROMPT, params)
    r = s.step()
    with torch.no_grad():
        raw = tiny_model(torch.tensor([list(s.prompt_ids)]), use_cache=False).logits[0, -1]  # (V,)
    scaled = torch.softmax(raw / 0.8, -1)  # the temperature stage, computed here independently
    top_k = next(st for st in r.stages if st.name == "top_k")
    V = tiny_model.config.vocab_size
    assert top_k.kept == 5 and top_k.removed == V - 5
    assert top_k.kept_mass == pytest.approx(float(scaled.topk(5).values.sum()), rel=1e-4)
    assert np.isinf(top_k.top_logits[5:]).all() and (top_k.top_probs[5:] == 0).all()
    assert r.token_id in top_k.top_ids[:5].tolist() and (r.final_probs > 0).sum() == 5


@pytest.mark.parametrize("params", [GREEDY, SAMPLE], ids=["greedy", "seeded-sample"])
@pytest.mark.parametrize("use_cache", [True, False], ids=["cache", "no-cache"])
def test_step_back_step_gives_the_same_record(tiny_model, small_tokenizer, params, use_cache):
    s = Session(tiny_model, small_tokenizer, PROMPT, params, use_kv_cache=use_cache)
    first = s.step()  # step 0 includes the prefill
    assert_same_record(s.back(), first)
    assert s.ids == s.prompt_ids and s.records == ()
    assert_same_record(s.step(), first)
    s.run(3)
    before = s.records[-1]
    s.back()
    if use_cache:
        assert s._kv.length == before.input_start == before.position - 1  # cache cut back one position
    again = s.step()
    assert again.tokens_processed == before.tokens_processed
    assert_same_record(again, before)


def test_back_lets_the_next_step_differ(tiny_model, small_tokenizer, monkeypatch):
    s = Session(tiny_model, small_tokenizer, PROMPT, GREEDY)
    s.run(3)
    undone = s.back()
    calls = count_forwards(tiny_model, monkeypatch)
    s.set_params(dataclasses.replace(SAMPLE, temperature=5.0, top_k=0))  # near-uniform over the vocabulary
    redone = s.step()
    assert calls == [1]  # the cut-back cache re-reads only the newest token
    assert redone.position == undone.position and redone.token_id != undone.token_id
    np.testing.assert_array_equal(redone.stages[0].top_logits, undone.stages[0].top_logits)  # same raw logits


def test_resample_runs_no_forward_and_matches_a_fresh_run(tiny_model, small_tokenizer, monkeypatch):
    s = Session(tiny_model, small_tokenizer, PROMPT, GREEDY)
    s.run(3)
    calls = count_forwards(tiny_model, monkeypatch)
    new = dataclasses.replace(SAMPLE, temperature=2.0, top_k=0, seed=11)
    r = s.resample(new)
    assert calls == [] and r.resampled and r.tokens_processed == 0 and r.forward_ms == 0.0
    assert len(s.records) == 3 and s.params == new
    # a session that took the first two steps greedy and the third with `new` decides the same
    fresh = Session(tiny_model, small_tokenizer, PROMPT, GREEDY)
    fresh.run(2)
    fresh.set_params(new)
    expected = fresh.step()
    assert r.token_id == expected.token_id and s.ids == fresh.ids
    np.testing.assert_allclose(r.final_probs, expected.final_probs, atol=1e-6)
    # right after back() the newest record's logits were not kept: one forward of one position
    s.back()
    calls.clear()
    assert s.resample(GREEDY).token_id == fresh.records[1].token_id
    assert calls == [1]
    s.resample(new)
    assert calls == [1]  # and later resamples are free again


def test_resample_after_reading_ahead_forgets_the_replaced_token(tiny_model, small_tokenizer):
    new = dataclasses.replace(SAMPLE, temperature=3.0, seed=2)
    s = Session(tiny_model, small_tokenizer, PROMPT, GREEDY)
    greedy_token = s.run(2)[-1].token_id
    s.prefill()  # reads the newest token ahead of the next step
    replaced = s.resample(new)
    assert replaced.token_id != greedy_token
    nxt = s.step()
    ref = Session(tiny_model, small_tokenizer, PROMPT, GREEDY)
    ref.run(1)
    ref.set_params(new)
    ref.run(2)
    assert s.ids == ref.ids and nxt.input_ids.tolist() == [replaced.token_id]
    np.testing.assert_allclose(s.attention(1, 3), ref.attention(1, 3), atol=1e-6)


def test_cached_and_uncached_sessions_agree(tiny_model, small_tokenizer):
    on = Session(tiny_model, small_tokenizer, PROMPT, GREEDY, use_kv_cache=True)
    off = Session(tiny_model, small_tokenizer, PROMPT, GREEDY, use_kv_cache=False)
    on.run(12)
    off.run(12)
    assert on.generated_ids == off.generated_ids
    P = len(on.prompt_ids)
    assert [r.tokens_processed for r in off.records] == list(range(P, P + 12))  # every position, every step
    assert all(r.kv_bytes == 0 and r.kv_formula_bytes > 0 for r in off.records)
    cfg = tiny_model.config
    for layer in range(cfg.n_layer):
        for head in range(cfg.n_head):
            a, b = on.attention(layer, head), off.attention(layer, head)  # assembled vs recomputed
            assert a.shape == b.shape == (P + 11, P + 11)
            np.testing.assert_allclose(a, b, rtol=2.0**-10, atol=1e-6)  # float16 keeps 11 significant bits
            assert (np.triu(a, 1) == 0).all()
            np.testing.assert_allclose(a.astype(np.float64).sum(-1), 1.0, atol=2.0**-11 + 1e-6)
    for r in on.records:  # each record's row is the matrix's row of its query
        np.testing.assert_array_equal(r.attention[1, 2], on.attention(1, 2)[r.position - 1, : r.position])


def test_seeded_sampling_does_not_depend_on_the_cache(tiny_model, small_tokenizer):
    runs = []
    for use_cache in (True, False):
        s = Session(tiny_model, small_tokenizer, PROMPT, SAMPLE, use_kv_cache=use_cache)
        s.run(15)
        runs.append(s.generated_ids)
    assert runs[0] == runs[1]
    assert any(not r.greedy and r.rank > 0 for r in s.records)  # it really sampled
    other = Session(tiny_model, small_tokenizer, PROMPT, dataclasses.replace(SAMPLE, seed=8))
    other.run(15)
    assert other.generated_ids != runs[0]


def test_switching_the_cache_mid_session_keeps_the_tokens(tiny_model, small_tokenizer):
    ref = Session(tiny_model, small_tokenizer, PROMPT, GREEDY)
    ref.run(12)
    s = Session(tiny_model, small_tokenizer, PROMPT, GREEDY)
    s.run(4)
    s.set_kv_cache(False)
    assert s.kv_bytes == 0
    s.run(4)
    s.set_kv_cache(True)
    s.run(4)
    assert s.generated_ids == ref.generated_ids
    P = len(s.prompt_ids)
    assert [r.tokens_processed for r in s.records] == [P, 1, 1, 1] + [P + i for i in range(4, 8)] + [P + 8, 1, 1, 1]
    assert s.records[-1].kv_bytes == ref.records[-1].kv_bytes  # the cache was rebuilt
    np.testing.assert_allclose(s.attention(0, 1), ref.attention(0, 1), atol=1e-5)


def test_records_and_sessions_survive_deepcopy(tiny_model, small_tokenizer):
    s = Session(tiny_model, small_tokenizer, PROMPT, SAMPLE)
    s.run(3)
    recs = copy.deepcopy(s.records)
    for a, b in zip(recs, s.records, strict=True):
        assert_same_record(a, b)
        assert a.attention is not b.attention
    c = copy.deepcopy(s)
    assert c.model is s.model and c.tokenizer is s.tokenizer  # shared read-only
    c.run(3)
    s.run(3)
    assert c.generated_ids == s.generated_ids and len(copy.deepcopy(s).records) == 6
    c.back()
    assert len(s.records) == 6 and len(c.records) == 5  # independent state


def test_stop_on_eos(tiny_model, small_tokenizer, monkeypatch):
    s = Session(tiny_model, small_tokenizer, PROMPT, GREEDY)
    P = len(s.prompt_ids)
    force_tokens(tiny_model, monkeypatch, {P + 2: small_tokenizer.eos_id})
    recs = s.run()
    assert [r.stop for r in recs] == [None, None, "eos"] and s.stop == "eos"
    with pytest.raises(GenerationStopped, match="eos"):
        s.step()
    assert s.run() == []
    s.back()  # going back lifts the stop
    assert s.stop is None


def test_stop_on_stop_string(tiny_model, small_tokenizer, monkeypatch):
    word = small_tokenizer.encode_ids(" Macbeth")
    assert len(word) >= 1
    params = dataclasses.replace(GREEDY, stop=("Macbeth",))
    s = Session(tiny_model, small_tokenizer, PROMPT, params)
    P = len(s.prompt_ids)
    force_tokens(tiny_model, monkeypatch, {P + 1 + i: t for i, t in enumerate(word)})
    recs = s.run()
    assert recs[-1].stop == "stop_string" and len(recs) == 1 + len(word)
    assert all(r.stop is None for r in recs[:-1]) and s.text.endswith(" Macbeth")


def test_stop_on_max_new_tokens_and_full_context(small_tokenizer):
    from tests.conftest import tiny_gpt

    model = tiny_gpt(block_size=24)
    s = Session(model, small_tokenizer, "Thane", dataclasses.replace(GREEDY, max_new_tokens=5))
    assert len(s.run()) == 5 and s.stop == "max_new_tokens"
    prompt = "When shall we three meet again in thunder"
    P = len(small_tokenizer.encode_ids(prompt))
    assert P < 24
    s = Session(model, small_tokenizer, prompt, dataclasses.replace(GREEDY, max_new_tokens=100))
    recs = s.run()  # max_new_tokens is capped by the window
    assert s.stop == "context_full" and len(recs) == 24 - P and len(s.ids) == 24
    with pytest.raises(ValueError, match="context window holds 24"):
        Session(model, small_tokenizer, prompt * 3, GREEDY)


def test_empty_prompt_starts_from_a_document_start(tiny_model, small_tokenizer):
    s = Session(tiny_model, small_tokenizer, "", GREEDY)
    assert s.prompt_ids == (small_tokenizer.eos_id,) and s.text == ""
    s.run(3)
    assert s.text == complete_text(small_tokenizer.token_bytes(s.generated_ids))


def test_memory_of_a_200_step_session_stays_bounded(small_tokenizer):
    """The shipped model's shape (4 layers × 4 heads, 256 wide, 256 positions), random weights.

    Bound: each record holds its attention row (n_layer × n_head × S float16, the one thing that
    grows with the context), six top-20 stage tables (ids, probabilities, logits, strings: about
    3.6 KB serialized) and about 1 KB of scalars and formula text; only the newest keeps the full
    distribution (V float32). So we allow 6 KB per record on top of the exact attention bytes.
    Keeping the full distribution in every record would add 200 × V × 4 (3.3 MB at the shipped
    V = 4096), which the first assertion rules out directly.
    """
    torch.manual_seed(0)
    cfg = GPTConfig(vocab_size=small_tokenizer.vocab_size, block_size=256, n_layer=4, n_head=4, n_embd=256)
    model = GPT(cfg).eval()
    s = Session(model, small_tokenizer, PROMPT, dataclasses.replace(GREEDY, max_new_tokens=200))
    recs = s.run()
    assert len(recs) == 200 and s.stop == "max_new_tokens"
    assert [r.final_probs is not None for r in s.records] == [False] * 199 + [True]
    attention = sum(r.attention.nbytes for r in s.records)
    V = cfg.vocab_size
    total = sum(nbytes(r) for r in s.records)
    bound = attention + 200 * 6 * 1024 + V * 4
    print(f"\n200 steps: records {total / 1e6:.2f} MB (attention rows {attention / 1e6:.2f} MB), "
          f"whole session state {s.state_nbytes() / 1e6:.2f} MB")
    assert attention < total < bound
    # the session's rows are the records' rows (one array each, counted once), float16: a triangle of
    # 2 bytes a weight; then the KV buffers (≤ the whole window) and two kept distributions
    rows = sum(r.nbytes for r in s._rows)
    assert rows == 2 * cfg.n_layer * cfg.n_head * len(s._rows) * (len(s._rows) + 1) // 2
    assert all(r.attention is s._rows[r.position - 1] for r in s.records)
    window_kv = KVCache.formula_bytes(cfg, 1, cfg.block_size)
    unshared = s._rows[: s.records[0].position - 1]  # the prompt's rows before the first step's query
    assert s.state_nbytes() <= nbytes(s._records) + nbytes(unshared) + window_kv + 2 * V * 4


def test_complete_text_hides_only_unfinished_characters():
    smile = "🙂".encode()  # 4 bytes
    assert complete_text(b"hi " + smile[:1]) == "hi "
    assert complete_text(b"hi " + smile[:3]) == "hi "
    assert complete_text(b"hi " + smile) == "hi 🙂"
    assert complete_text("猫".encode() + smile[:2]) == "猫"
    assert complete_text(b"a\x80b") == "a\ufffdb"  # a byte that can never start a character stays visible


def test_text_never_shows_a_stray_replacement_char(tiny_model, small_tokenizer, monkeypatch):
    emoji = small_tokenizer.encode_ids("🙂")
    assert len(emoji) == 4  # the Shakespeare tokenizer has no emoji: one byte token each
    s = Session(tiny_model, small_tokenizer, "Witch ", GREEDY)
    P = len(s.prompt_ids)
    force_tokens(tiny_model, monkeypatch, {P + i: t for i, t in enumerate(emoji)})
    shown = []
    for _ in range(4):
        s.step()
        shown.append(s.text)
    assert shown[:3] == ["Witch "] * 3 and shown[3] == "Witch 🙂"
    assert "\ufffd" in small_tokenizer.decode(s.generated_ids[:2])  # what naive decoding would show
    assert s.records[0].token == "<0xF0>"


def test_compare_cache(tiny_model, small_tokenizer):
    s = Session(tiny_model, small_tokenizer, PROMPT, GREEDY)
    c = s.compare_cache(10)
    P = len(s.prompt_ids)
    assert c.same_tokens and c.cached_ids == c.uncached_ids and len(c.cached_ids) == 10
    assert c.max_logit_diff < 1e-4
    assert c.positions.tolist() == list(range(P, P + 10))
    assert c.cached_ms.shape == c.uncached_ms.shape == (10,) and (c.cached_ms > 0).all()
    assert c.speedup == pytest.approx(c.uncached_ms.sum() / c.cached_ms.sum())
    assert c.decode_speedup == pytest.approx(c.uncached_ms[1:].sum() / c.cached_ms[1:].sum())
    assert f"{P + 9} positions" in c.kv_formula
    ref = Session(tiny_model, small_tokenizer, PROMPT, GREEDY)
    ref.run(10)
    assert c.cached_ids == ref.generated_ids  # the session itself did not move
    assert s.records == ()
    with pytest.raises(ValueError, match="new tokens fit"):
        s.compare_cache(500)


def test_bad_inputs_raise_plain_errors(tiny_model, small_tokenizer):
    s = Session(tiny_model, small_tokenizer, PROMPT, GREEDY)
    with pytest.raises(ValueError, match="nothing to undo"):
        s.back()
    with pytest.raises(ValueError, match="take a step first"):
        s.resample(GREEDY)
    with pytest.raises(ValueError, match="layer must be"):
        s.attention(9, 0)
    with pytest.raises(ValueError, match="n must be"):
        s.run(-1)
    with pytest.raises(ValueError, match="beam_search"):
        Session(tiny_model, small_tokenizer, PROMPT, dataclasses.replace(GREEDY, strategy="beam")).step()
    tiny_model.train()
    with pytest.raises(ValueError, match="eval"):
        Session(tiny_model, small_tokenizer, PROMPT, GREEDY)


def test_beam_search_is_delegated(tiny_model, small_tokenizer, monkeypatch):
    seen = {}
    fake = types.SimpleNamespace(beam_search=lambda *a: seen.setdefault("args", a))
    monkeypatch.setitem(sys.modules, "playground.beam", fake)
    monkeypatch.setattr(playground, "beam", fake, raising=False)
    params = dataclasses.replace(GREEDY, strategy="beam", num_beams=3)
    s = Session(tiny_model, small_tokenizer, PROMPT, params)
    assert s.beam_search() is seen["args"]
    assert seen["args"] == (tiny_model, list(s.prompt_ids), params, small_tokenizer.eos_id)
