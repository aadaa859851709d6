"""Beam search: same hypotheses and scores as transformers' generate, and a tree that adds up."""
from __future__ import annotations

import itertools
from collections import Counter
import warnings

import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel

from playground.beam import beam_search
from playground.config import SamplingParams
from playground.weights import load_model
from tests.conftest import tiny_gpt

PROMPT = [3, 17, 42, 8, 100]


@pytest.fixture(scope="module")
def gpt2_pair(tmp_path_factory, small_tokenizer):
    """A random GPT2LMHeadModel saved like a Hugging Face folder, and the same weights in our GPT.

    A wide initialisation spreads the logits, so that beams are not decided by float noise.
    """
    eos = small_tokenizer.eos_id
    cfg = GPT2Config(vocab_size=small_tokenizer.vocab_size, n_positions=64, n_embd=32, n_layer=2, n_head=4,
                     initializer_range=0.3, bos_token_id=eos, eos_token_id=eos, pad_token_id=eos)
    torch.manual_seed(0)
    hf = GPT2LMHeadModel(cfg).eval()
    folder = tmp_path_factory.mktemp("gpt2")
    hf.save_pretrained(folder)
    small_tokenizer.save(folder / "tokenizer.json")
    ours, _ = load_model(folder)
    return hf, ours


def hf_beams(hf, params: SamplingParams, eos_id: int | None):
    x = torch.tensor([PROMPT])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return hf.generate(
            x, attention_mask=torch.ones_like(x), do_sample=False, num_beams=params.num_beams,
            num_return_sequences=params.num_beams, length_penalty=params.length_penalty,
            early_stopping=params.early_stopping, repetition_penalty=params.repetition_penalty,
            max_new_tokens=params.max_new_tokens, eos_token_id=eos_id,
            pad_token_id=eos_id if eos_id is not None else 0,
            output_scores=True, return_dict_in_generate=True,
        )


CASES = list(itertools.product([2, 3, 5], [1.0, 0.0, 2.0, -0.5], [False, True], [None, "third", "frequent"]))


@pytest.mark.parametrize("num_beams, length_penalty, early_stopping, eos", CASES)
def test_beam_search_equals_transformers_generate(gpt2_pair, num_beams, length_penalty, early_stopping, eos):
    """All K hypotheses, their scores and the number of steps equal generate's.

    The end token is none, the third token of the best beam found without one (met early), or
    the token the search looks at most often (many beams end, so the search stops early).
    """
    hf, ours = gpt2_pair
    params = SamplingParams(strategy="beam", num_beams=num_beams, length_penalty=length_penalty,
                            early_stopping=early_stopping, max_new_tokens=12,
                            repetition_penalty=1.3 if eos == "third" else 1.0)
    eos_id = None
    if eos is not None:
        plain = beam_search(ours, PROMPT, params)
        if eos == "third":
            eos_id = plain.best.tokens[2]
        else:
            eos_id = Counter(n.token_id for n in plain.nodes[1:]).most_common(1)[0][0]
    result = beam_search(ours, PROMPT, params, eos_id)
    theirs = hf_beams(hf, params, eos_id)
    assert result.steps == len(theirs.scores), "a different number of steps: the stopping rule differs"
    assert len(result.hypotheses) == num_beams
    pad = eos_id if eos_id is not None else 0
    for j, hyp in enumerate(result.hypotheses):
        seq = theirs.sequences[j, len(PROMPT):].tolist()
        assert tuple(seq[: len(hyp.tokens)]) == hyp.tokens, f"hypothesis {j}"
        assert all(t == pad for t in seq[len(hyp.tokens):]), f"hypothesis {j} is longer in transformers"
        assert hyp.score == pytest.approx(theirs.sequences_scores[j].item(), abs=1e-4)
    if eos is not None:
        assert any(n.token_id == eos_id and n.finished for n in result.nodes), "the test should exercise EOS"
    assert result.stop_reason == ("max_new_tokens" if result.steps == params.max_new_tokens else "eos")


@torch.no_grad()
@pytest.mark.parametrize("num_beams, length_penalty, eos_id", [(3, 1.0, None), (4, 0.5, 7), (2, -1.0, 11)])
def test_tree_adds_up_and_matches_uncached_log_probs(num_beams, length_penalty, eos_id):
    model = tiny_gpt(vocab_size=16, block_size=32)
    with torch.no_grad():  # spread the logits so beams differ clearly
        model.transformer.wte.weight.mul_(40)
    params = SamplingParams(strategy="beam", num_beams=num_beams, length_penalty=length_penalty, max_new_tokens=6)
    prompt = [1, 2, 3]
    r = beam_search(model, prompt, params, eos_id)
    nodes = r.nodes
    assert [n.node_id for n in nodes] == list(range(len(nodes))) and nodes[0].parent is None
    for step in range(r.steps):
        at = [n for n in nodes if n.step == step]
        assert len(at) == 2 * num_beams
        if step < r.steps - 1:
            assert sum(n.kept for n in at) == num_beams
        for n in at:
            parent = nodes[n.parent]
            assert parent.kept and parent.step == step - 1
            assert n.cum_logprob == pytest.approx(parent.cum_logprob + n.logprob, abs=1e-4)
            assert not (n.kept and n.finished)
            assert n.pruned == (not n.kept and not n.finished)
            # the log-prob the tree shows equals a fresh, uncached forward pass over the path
            ids = prompt + [m.token_id for m in r.path(n.node_id)]
            fresh = torch.log_softmax(model(torch.tensor([ids[:-1]]), use_cache=False).logits[0, -1], -1)
            assert n.logprob == pytest.approx(float(fresh[ids[-1]]), abs=1e-4)
    scores = [h.score for h in r.hypotheses]
    assert scores == sorted(scores, reverse=True) and len(r.hypotheses) == num_beams
    for h in r.hypotheses:
        path = r.path(h.node_id)
        assert tuple(m.token_id for m in path) == h.tokens
        assert nodes[h.node_id].finished and nodes[h.node_id].score == pytest.approx(h.score)
        assert h.logprob == pytest.approx(sum(m.logprob for m in path), abs=1e-4)
        assert h.score == pytest.approx(h.logprob / len(h.tokens) ** length_penalty, rel=1e-5)
        assert h.eos == (eos_id is not None and h.tokens[-1] == eos_id)
    assert r.stop_reason in ("eos", "max_new_tokens")


def test_beam_search_refuses_what_does_not_fit_the_window():
    model = tiny_gpt(block_size=16)
    with pytest.raises(ValueError, match="only 6 new tokens fit"):
        beam_search(model, list(range(10)), SamplingParams(strategy="beam", max_new_tokens=7))
