"""Batching (issue 20, items 1-2): the left-padded batch cache, the batch-size sweep, and the scheduler's
static and continuous batching, whose greedy tokens must be each request's tokens when run alone."""
from __future__ import annotations

import math

import pytest
import torch

from playground.batching import demo_queue, generate_batch, read_bandwidth_gbs, sweep, weight_bytes
from playground.model import KVCache, decode
from tests.conftest import tiny_gpt

LLAMA = dict(positions="rotary", norm="rmsnorm", mlp="swiglu", bias=False, n_kv_head=2, tie_word_embeddings=False)


def sharp(model):
    """Spread the logits (random init gives near-ties that make greedy choices fragile to test)."""
    with torch.no_grad():
        model.transformer.wte.weight.mul_(12)
    return model


def alone(model, prompts, news) -> list[tuple[int, ...]]:
    """Each request's greedy tokens, run by itself through the model's one decode loop."""
    return [tuple(s.token for s in decode(model, p, n, lambda logits: int(logits.argmax()))) for p, n in zip(prompts, news)]


def queue(model, n=9, seed=0):
    return demo_queue(list(range(1, model.config.vocab_size)), n=n, seed=seed, prompt_range=(2, 20),
                      new_range=(1, 14), every=2, block_size=model.config.block_size)


@pytest.mark.parametrize("layout", [{}, LLAMA], ids=["gpt2", "llama-gqa"])
@pytest.mark.parametrize("policy", ["static", "continuous"])
@pytest.mark.parametrize("max_batch", [1, 3])
def test_each_request_gets_the_tokens_it_gets_alone(layout, policy, max_batch):
    model = sharp(tiny_gpt(**layout))
    prompts, news, arrivals = queue(model)
    assert len({len(p) for p in prompts}) > 3 and len(set(news)) > 3 and 1 in news  # ragged, and a 1-token request
    run = generate_batch(model, prompts, news, policy, max_batch, arrivals)
    assert list(run.outputs) == alone(model, prompts, news)


def test_the_shipped_model_too():
    from playground import load_model
    from playground.corpus import works

    model, tok = load_model()
    ids = tok.encode_ids(next(iter(works("val").values()))[:6000])
    prompts, news, arrivals = demo_queue(ids, n=8, seed=3, new_range=(4, 24), block_size=model.config.block_size)
    expected = alone(model, prompts, news)
    for policy in ("static", "continuous"):
        assert list(generate_batch(model, prompts, news, policy, 4, arrivals).outputs) == expected, policy


def test_a_left_padded_batch_computes_what_each_row_computes_alone():
    """KVCache.pad: two prompts of different lengths in one batch cache, then one step of both rows."""
    model = tiny_gpt(**LLAMA)
    a, b = [5, 6, 7, 8, 9], [11, 12]
    own = [model(torch.tensor([p])) for p in (a, b)]
    L = len(a)
    keys = [torch.zeros(2, *k.shape[1:]) for k in own[0].kv.keys]  # (2, nkv, L, hs)
    values = [torch.zeros_like(k) for k in keys]
    for row, (o, p) in enumerate(zip(own, (a, b))):
        for buf, new in zip(keys + values, o.kv.keys + o.kv.values):
            buf[row, :, L - len(p):] = new[0]
    cache = KVCache.of(keys, values, L, pad=torch.tensor([0, L - len(b)]))
    out = model(torch.tensor([[3], [4]]), past_kv=cache, return_attn=True)  # (2, 1) next tokens
    for row, (p, nxt) in enumerate(zip((a, b), (3, 4))):
        ref = model(torch.tensor([p + [nxt]]))
        torch.testing.assert_close(out.logits[row, -1], ref.logits[0, -1], atol=1e-5, rtol=1e-5)
    assert (out.attn[0][1, :, :, : L - len(b)] == 0).all()  # row b never looks at its padding
    torch.testing.assert_close(out.attn[0].sum(-1), torch.ones(2, 4, 1))


def test_continuous_refills_a_slot_at_once_and_static_waits_for_the_longest_row():
    model = sharp(tiny_gpt())
    prompts, news, arrivals = queue(model, n=10, seed=2)
    static = generate_batch(model, prompts, news, "static", 3, arrivals)
    cont = generate_batch(model, prompts, news, "continuous", 3, arrivals)
    arrived = lambda run, t: {r.request for r in run.requests if r.arrival_ms <= t}  # noqa: E731
    done = lambda run, t: {r.request for r in run.requests if r.finish_ms <= t}  # noqa: E731
    for s in cont.steps:  # continuous: never an idle slot while an admitted-able request waits
        if s.kind == "decode" and s.busy < cont.max_batch:
            running = {r for r in s.slots if r is not None}
            assert arrived(cont, s.start_ms) <= running | done(cont, s.start_ms)
    for i, s in enumerate(static.steps):  # static: a batch is admitted only after every row before it finished
        if s.kind == "prefill":
            before = [p for p in static.steps[:i] if p.kind == "decode"]
            if before:
                assert {r for r in before[-1].slots if r is not None} <= done(static, s.start_ms)
    assert cont.decode_steps < static.decode_steps
    assert cont.utilisation > static.utilisation
    for run in (static, cont):  # every token accounted for: one from the prefill, one per decode step occupied
        for r in run.requests:
            occupied = sum(s.kind == "decode" and r.request in s.slots for s in run.steps)
            assert len(run.outputs[r.request]) == occupied + 1 == news[r.request]
            assert sum(s.kind == "prefill" and s.request == r.request for s in run.steps) == 1
            assert r.arrival_ms <= r.admitted_ms <= r.finish_ms
        starts = [s.start_ms for s in run.steps]
        assert starts == sorted(starts) and all(s.ms > 0 for s in run.steps)


def test_the_measures_are_computed_from_the_timeline():
    model = sharp(tiny_gpt())
    prompts, news, arrivals = queue(model, n=6, seed=4)
    run = generate_batch(model, prompts, news, "continuous", 2, arrivals)
    lat = sorted(r.finish_ms - r.arrival_ms for r in run.requests)
    assert math.isclose(run.mean_latency_ms, sum(lat) / len(lat))
    assert lat[-2] <= run.p95_latency_ms <= lat[-1]
    assert math.isclose(run.throughput, sum(news) / run.total_ms * 1e3)
    dec = [s for s in run.steps if s.kind == "decode"]
    assert math.isclose(run.utilisation, sum(s.busy for s in dec) / (2 * len(dec)))
    assert run.steps[-1].start_ms + run.steps[-1].ms <= run.total_ms


@pytest.mark.parametrize("kw, message", [
    (dict(policy="dynamic"), "policy must be one of static, continuous"),
    (dict(max_batch=0), "max_batch must be a whole number"),
    (dict(prompts=[]), "the queue is empty"),
    (dict(prompts=[[1, 2], []]), "request 1: the prompt must be a non-empty list"),
    (dict(prompts=[[1, 2], [1, 99999]]), "request 1: the prompt must be a non-empty list of token ids from 0 to 511"),
    (dict(max_new_tokens=[3, 0]), "request 1: max_new_tokens must be a whole number of at least 1"),
    (dict(max_new_tokens=[3, 64]), r"request 1: 2 prompt tokens \+ 64 new ones do not fit the context window of 64"),
    (dict(arrivals=[0, -1]), "request 1: the arrival step must be"),
    (dict(arrivals=[0]), "2 prompts need 2 max_new_tokens and 2 arrivals"),
])
def test_a_bad_queue_is_refused_naming_what_is_wrong(kw, message):
    args = dict(prompts=[[1, 2], [3, 4]], max_new_tokens=[3, 3], policy="continuous", max_batch=2, arrivals=None)
    args.update(kw)
    with pytest.raises(ValueError, match=message):
        generate_batch(tiny_gpt(), **args)


def test_the_sweep_times_each_batch_size_beside_the_floor():
    model = tiny_gpt()
    s = sweep(model, batches=(4, 1, 2), steps=3, repeats=1)
    assert [p.batch for p in s.points] == [1, 2, 4]
    for p in s.points:
        assert p.ms_per_step > 0 and math.isclose(p.tokens_per_s, p.batch * 1e3 / p.ms_per_step)
    assert s.weight_bytes == weight_bytes(model) == 4 * sum(p.numel() for p in model.parameters())
    assert s.bandwidth_gbs > 0 and math.isclose(s.floor_ms, s.weight_bytes / s.bandwidth_gbs / 1e6)
    assert s.context + 3 <= model.config.block_size
    with pytest.raises(ValueError, match="at least 1"):
        sweep(model, batches=(0, 2))
    small = sweep(tiny_gpt(block_size=8), batches=(1, 2), steps=8, repeats=1)  # the Train tab's smallest window
    assert small.context + small.steps <= 8


def test_read_bandwidth_is_a_finite_positive_rate():
    bw = read_bandwidth_gbs(1 << 20, readings=2, min_bytes_per_reading=8 << 20)
    assert math.isfinite(bw) and bw > 0.05


def test_the_benchmark_runs_and_writes_its_tables(tmp_path):
    from benchmarks.batching import main

    text = main(["--tiny", "--repeats", "1", "--out", str(tmp_path / "b.md")])
    assert (tmp_path / "b.md").read_text(encoding="utf-8") == text
    assert text.count("| shakespeare (shipped) |") == 1 and "| toy, random |" in text
    assert "Continuous / static: throughput" in text and "every run: yes" in text
    assert "| static |" in text and "| continuous |" in text and "python -m benchmarks.batching --tiny" in text
