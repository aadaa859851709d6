"""The decoding pipeline: same distributions as transformers' processors, choosing, stopping, validation."""
from __future__ import annotations

import dataclasses
import math
import random

import pytest
import torch
from transformers import (
    LogitsProcessorList,
    MinPLogitsWarper,
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from playground.config import SamplingParams
from playground.sampling import (
    STAGES,
    check_fits,
    choose,
    entropy,
    new_generator,
    run_pipeline,
    stop_reason,
)


# -- helpers ------------------------------------------------------------------------------------
def hf_processors(p: SamplingParams) -> list:
    """The processors transformers' ``generate`` builds for these settings (one per stage that is on)."""
    procs = []
    if p.repetition_penalty != 1.0:
        procs.append(RepetitionPenaltyLogitsProcessor(p.repetition_penalty))
    if p.temperature != 1.0:
        procs.append(TemperatureLogitsWarper(p.temperature))
    if p.top_k != 0:
        procs.append(TopKLogitsWarper(p.top_k))
    if p.top_p < 1.0:
        procs.append(TopPLogitsWarper(p.top_p))
    procs.append(MinPLogitsWarper(p.min_p))  # generate adds it whenever min_p is set; 0 is a no-op
    return procs


def as_input_ids(ids: list[int]) -> torch.Tensor:
    return torch.tensor([ids], dtype=torch.long) if ids else torch.zeros((1, 0), dtype=torch.long)


def hf_stage_outputs(logits: torch.Tensor, ids: list[int], p: SamplingParams) -> dict[str, torch.Tensor]:
    """transformers' scores after each of our stages (a stage that is off leaves them as they were)."""
    input_ids = as_input_ids(ids)
    x = logits[None].clone()  # (1, V)
    out = {"raw": x[0]}
    penalty = p.repetition_penalty
    by_stage = {
        "repetition_penalty": RepetitionPenaltyLogitsProcessor(penalty) if penalty != 1.0 else None,
        "temperature": TemperatureLogitsWarper(p.temperature) if p.temperature != 1.0 else None,
        "top_k": TopKLogitsWarper(p.top_k) if p.top_k else None,
        "top_p": TopPLogitsWarper(p.top_p) if p.top_p < 1.0 else None,
        "min_p": MinPLogitsWarper(p.min_p),
    }
    for name, proc in by_stage.items():
        if proc is not None:
            x = proc(input_ids, x)
        out[name] = x[0]
    return out


def random_case(rng: random.Random, V: int) -> tuple[torch.Tensor, list[int], SamplingParams]:
    g = torch.Generator().manual_seed(rng.randrange(2**31))
    kind = rng.choice(["normal", "ties", "peaked", "negative", "flat"])
    if kind == "normal":
        logits = torch.randn(V, generator=g) * rng.choice([0.5, 2.0, 5.0])
    elif kind == "ties":  # few distinct values: ties at every cut
        logits = torch.randint(-3, 4, (V,), generator=g).float() * 0.5
    elif kind == "peaked":
        logits = torch.randn(V, generator=g)
        logits[rng.randrange(V)] += 12.0
    elif kind == "negative":  # all below 0: the penalty must multiply
        logits = -torch.rand(V, generator=g) * 6 - 0.1
    else:
        logits = torch.zeros(V)
    ids = [rng.randrange(V) for _ in range(rng.randrange(0, 12))]
    params = SamplingParams(
        temperature=rng.choice([1.0, 0.7, 1.5, 1e-3, 1e-4, 3.0]),
        top_k=rng.choice([0, 0, 1, 3, 10, V, V + 7]),
        top_p=rng.choice([1.0, 1.0, 0.9, 0.5, 0.1, 1e-6]),
        min_p=rng.choice([0.0, 0.0, 0.05, 0.3, 0.99]),
        repetition_penalty=rng.choice([1.0, 1.3, 2.0, 0.7]),
    )
    return logits, ids, params


# -- the pipeline against transformers ----------------------------------------------------------
@pytest.mark.parametrize("V", [5, 50, 512])
def test_every_stage_equals_transformers_processors_on_random_cases(V):
    rng = random.Random(V)
    for case in range(150):
        logits, ids, params = random_case(rng, V)
        before = logits.clone()
        pipe = run_pipeline(logits, ids, params)
        assert torch.equal(logits, before), "the caller's logits were written into"
        theirs = hf_stage_outputs(logits, ids, params)
        assert [s.name for s in pipe.stages] == list(STAGES)
        removed_so_far = torch.zeros(V, dtype=torch.bool)
        for stage in pipe.stages:
            ref = theirs[stage.name]
            msg = f"case {case}, stage {stage.name}, {params}"
            assert torch.equal(torch.isinf(stage.logits), torch.isinf(ref)), msg
            finite = torch.isfinite(ref)
            torch.testing.assert_close(stage.logits[finite], ref[finite], rtol=1e-6, atol=1e-6, msg=msg)
            torch.testing.assert_close(stage.probs, torch.softmax(ref, -1), rtol=0, atol=1e-6, msg=msg)
            assert not (stage.removed & removed_so_far).any(), "a stage claims a token an earlier stage removed"
            removed_so_far |= stage.removed
        # the whole list, as generate would build it
        final = LogitsProcessorList(hf_processors(params))(as_input_ids(ids), logits[None].clone())[0]
        torch.testing.assert_close(pipe.final_probs, torch.softmax(final, -1), rtol=0, atol=1e-6)
        assert torch.equal(removed_so_far, torch.isinf(final) & torch.isfinite(logits))
        assert pipe.final_probs.sum().item() == pytest.approx(1.0, abs=1e-5)
        assert torch.isfinite(pipe.final_logits).any(), "a filter removed every token"


def test_top_p_one_in_transformers_only_drops_tokens_of_probability_zero():
    """We treat top_p = 1 as off (as generate does). Passing TopPLogitsWarper(1.0) by hand can only
    remove tokens whose float32 probability is already exactly 0, so the distribution is the same."""
    logits = torch.tensor([0.0, 1.0, -200.0, 2.0, -150.0])
    pipe = run_pipeline(logits, [], SamplingParams(top_p=1.0))
    theirs = TopPLogitsWarper(1.0)(None, logits[None].clone())[0]
    dropped = torch.isinf(theirs)
    assert dropped.any() and (torch.softmax(logits, -1)[dropped] == 0).all()
    assert not pipe.stage("top_p").removed.any()
    torch.testing.assert_close(pipe.final_probs, torch.softmax(theirs, -1), rtol=0, atol=1e-6)


# -- the pipeline's semantics, by hand ----------------------------------------------------------
def test_stages_that_are_off_remove_nothing_and_final_is_the_softmax():
    logits = torch.randn(40)
    pipe = run_pipeline(logits, [1, 2, 3], SamplingParams())
    for stage in pipe.stages:
        assert not stage.removed.any()
        torch.testing.assert_close(stage.probs, torch.softmax(logits, -1))
    assert pipe.stage("top_p").kept == 40


def test_top_k_keeps_every_token_tied_at_the_cut():
    logits = torch.tensor([3.0, 2.0, 2.0, 1.0, 2.0])
    pipe = run_pipeline(logits, [], SamplingParams(top_k=2))
    assert pipe.stage("top_k").removed.tolist() == [False, False, False, True, False]
    assert run_pipeline(logits, [], SamplingParams(top_k=100)).stage("top_k").kept == 5  # k capped at V


def test_top_p_keeps_the_token_that_crosses_p_and_always_the_top_one():
    probs = torch.tensor([0.1, 0.5, 0.15, 0.25])
    logits = probs.log()
    pipe = run_pipeline(logits, [], SamplingParams(top_p=0.6))
    # 0.5 alone is below 0.6, 0.5 + 0.25 crosses it: keep those two
    assert pipe.stage("top_p").removed.tolist() == [True, False, True, False]
    torch.testing.assert_close(pipe.final_probs, torch.tensor([0.0, 0.5, 0.0, 0.25]) / 0.75)
    tiny = run_pipeline(logits, [], SamplingParams(top_p=1e-9))
    assert tiny.final_probs.tolist() == [0.0, 1.0, 0.0, 0.0]


def test_min_p_drops_tokens_below_the_fraction_of_the_top_probability():
    probs = torch.tensor([0.4, 0.3, 0.19, 0.11])
    pipe = run_pipeline(probs.log(), [], SamplingParams(min_p=0.5))  # threshold 0.2
    assert pipe.stage("min_p").removed.tolist() == [False, False, True, True]


def test_repetition_penalty_divides_positive_multiplies_negative_once_per_distinct_id():
    logits = torch.tensor([2.0, -2.0, 4.0, 1.0])
    pipe = run_pipeline(logits, [0, 1, 0, 0], SamplingParams(repetition_penalty=2.0))
    assert pipe.stage("repetition_penalty").logits.tolist() == [1.0, -4.0, 4.0, 1.0]
    assert not pipe.stage("repetition_penalty").removed.any()


def test_temperature_divides_and_zero_means_greedy_without_division():
    logits = torch.tensor([1.0, 2.0, 0.5])
    hot = run_pipeline(logits, [], SamplingParams(temperature=2.0))
    assert hot.stage("temperature").logits.tolist() == [0.5, 1.0, 0.25]
    cold = run_pipeline(logits, [], SamplingParams(temperature=0.0))
    assert torch.equal(cold.stage("temperature").logits, logits)
    c = choose(cold, SamplingParams(temperature=0.0), new_generator(0))
    assert (c.token_id, c.rank, c.greedy) == (1, 0, True)


def test_bad_logits_and_ids_are_refused():
    p = SamplingParams()
    with pytest.raises(ValueError, match="1-D"):
        run_pipeline(torch.zeros(2, 5), [], p)
    with pytest.raises(ValueError, match="NaN"):
        run_pipeline(torch.tensor([0.0, float("nan")]), [], p)
    with pytest.raises(ValueError, match="outside the vocabulary"):
        run_pipeline(torch.zeros(5), [5], p)
    with pytest.raises(ValueError, match="too small"):
        run_pipeline(torch.tensor([1e30, 0.0]), [], SamplingParams(temperature=1e-10))
    with pytest.raises(ValueError, match="too small"):  # all-negative scores (GPT-2's usual) overflow to -inf
        run_pipeline(torch.tensor([-3.0, -5.0]), [], SamplingParams(temperature=1e-39))


# -- choosing -----------------------------------------------------------------------------------
def test_greedy_takes_the_argmax_and_reports_probability_and_rank():
    logits = torch.tensor([0.1, 3.0, 3.0, -1.0])
    p = SamplingParams(strategy="greedy", temperature=0.7)
    pipe = run_pipeline(logits, [], p)
    c = choose(pipe, p, None)
    assert c.token_id == 1 and c.greedy and c.rank == 0  # first index on ties, as torch.argmax
    assert c.prob == pytest.approx(float(torch.softmax(logits / 0.7, -1)[1]))


def test_seeded_sampling_is_reproducible_and_seeds_differ():
    logits = torch.randn(50, generator=torch.Generator().manual_seed(3))
    p = SamplingParams(temperature=1.5)
    pipe = run_pipeline(logits, [], p)

    def draws(seed):
        g = new_generator(seed)
        return [choose(pipe, p, g).token_id for _ in range(30)]

    assert draws(7) == draws(7)
    assert draws(7) != draws(8)
    assert choose(pipe, dataclasses.replace(p, seed=5), None) == choose(pipe, dataclasses.replace(p, seed=5), None)


def test_sampling_follows_the_final_distribution_and_never_picks_a_removed_token():
    probs = torch.tensor([0.5, 0.3, 0.15, 0.05])
    p = SamplingParams(top_k=3)
    pipe = run_pipeline(probs.log(), [], p)
    g = new_generator(0)
    counts = torch.zeros(4)
    ranks_ok = True
    for _ in range(3000):
        c = choose(pipe, p, g)
        counts[c.token_id] += 1
        ranks_ok &= c.rank == int((pipe.final_probs > pipe.final_probs[c.token_id]).sum()) and not c.greedy
    assert counts[3] == 0 and ranks_ok
    torch.testing.assert_close(counts / 3000, torch.tensor([0.5, 0.3, 0.15, 0.0]) / 0.95, atol=0.03, rtol=0)


def test_entropy_in_nats():
    assert entropy(torch.full((8,), 1 / 8)) == pytest.approx(math.log(8))
    assert entropy(torch.tensor([0.0, 1.0, 0.0])) == 0.0


# -- stopping -----------------------------------------------------------------------------------
def test_stop_reasons(small_tokenizer):
    tok = small_tokenizer
    p = SamplingParams(max_new_tokens=5)
    assert stop_reason([], tok, p, 0, 3, 64) is None
    assert stop_reason([10, 11], tok, p, None, 10, 64) is None
    assert stop_reason([10, tok.eos_id], tok, p, tok.eos_id, 10, 64) == "eos"
    assert stop_reason([10, 11, 12, 13, tok.eos_id], tok, p, tok.eos_id, 10, 64) == "eos"  # eos wins
    assert stop_reason([10, 11, 12, 13, 14], tok, p, tok.eos_id, 10, 64) == "max_new_tokens"
    assert stop_reason([10, 11], tok, p, tok.eos_id, 64, 64) == "context_full"


def test_stop_string_is_found_when_it_spans_tokens(small_tokenizer):
    text = "And wherefore art thou mad, my lord?"
    ids = small_tokenizer.encode_ids(text)
    pieces = [small_tokenizer.decode([i]) for i in ids]
    # a stop string made of the end of one token and the start of the next
    j = next(j for j in range(len(ids) - 1) if len(pieces[j]) >= 2 and len(pieces[j + 1]) >= 2)
    stop = pieces[j][-2:] + pieces[j + 1][:2]
    assert not any(stop in piece for piece in pieces)
    p = SamplingParams(stop=(stop, "never there"))
    for n in range(1, len(ids) + 1):
        expected = "stop_string" if n >= j + 2 else None
        assert stop_reason(ids[:n], small_tokenizer, p, None, n, 256) == expected, n


# -- validation ---------------------------------------------------------------------------------
BAD = [
    (dict(temperature=-0.1), "temperature"),
    (dict(temperature=float("nan")), "temperature"),
    (dict(temperature=float("inf")), "temperature"),
    (dict(top_p=0.0), "top_p"),
    (dict(top_p=1.01), "top_p"),
    (dict(top_p=float("nan")), "top_p"),
    (dict(top_k=-1), "top_k"),
    (dict(top_k=2.5), "top_k"),
    (dict(top_k=float("inf")), "top_k"),
    (dict(top_k=True), "top_k"),
    (dict(min_p=1.0), "min_p"),
    (dict(min_p=-0.01), "min_p"),
    (dict(min_p=float("nan")), "min_p"),
    (dict(repetition_penalty=0.0), "repetition_penalty"),
    (dict(repetition_penalty=float("inf")), "repetition_penalty"),
    (dict(num_beams=0), "num_beams"),
    (dict(num_beams=17), "num_beams"),
    (dict(length_penalty=float("-inf")), "length_penalty"),
    (dict(length_penalty=float("nan")), "length_penalty"),
    (dict(max_new_tokens=0), "max_new_tokens"),
    (dict(max_new_tokens=1.5), "max_new_tokens"),
    (dict(strategy="top_k"), "strategy"),
    (dict(seed=-1), "seed"),
    (dict(seed=2**63), "seed"),
    (dict(seed=float("nan")), "seed"),
    (dict(stop="\n"), "stop"),
    (dict(stop=("",)), "stop"),
    (dict(early_stopping="yes"), "early_stopping"),
    (dict(temperature="0.7"), "temperature"),
]


@pytest.mark.parametrize("kwargs, field", BAD)
def test_invalid_settings_raise_a_message_naming_the_setting(kwargs, field):
    with pytest.raises(ValueError, match=field):
        SamplingParams(**kwargs)


def test_edge_values_are_accepted_and_slider_floats_become_ints():
    p = SamplingParams(temperature=0, top_p=1, min_p=0.0, top_k=3.0, num_beams=16.0, seed=2**63 - 1,
                       max_new_tokens=7.0, stop=["\n\n"], length_penalty=-2)
    assert (p.top_k, p.num_beams, p.max_new_tokens) == (3, 16, 7)
    assert all(type(v) is int for v in (p.top_k, p.num_beams, p.max_new_tokens, p.seed))
    assert type(p.temperature) is float and p.stop == ("\n\n",)
    with pytest.raises(ValueError, match="top_k"):
        dataclasses.replace(p, top_k=0.5)


def test_check_fits_says_how_many_tokens_fit():
    check_fits(10, 54, 64)  # exactly fills the window
    with pytest.raises(ValueError, match=r"only 4 new tokens fit"):
        check_fits(60, 10, 64)
    with pytest.raises(ValueError, match="no new token fits"):
        check_fits(64, 1, 64)
    with pytest.raises(ValueError, match="shorten the prompt by at least 7"):
        check_fits(70, 1, 64)
    with pytest.raises(ValueError, match="empty"):
        check_fits(0, 1, 64)
