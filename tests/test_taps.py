"""One path per module: the blocks run on their own, and what the page looks at is caught by named taps."""
from __future__ import annotations

import pytest
import torch

from playground.taps import BLOCK_STAGES, HEAD_STAGES, OFF, Tap
from tests.conftest import tiny_gpt


@pytest.fixture(params=[4, 2], ids=["mha", "gqa"])
def model(request):
    return tiny_gpt(n_kv_head=request.param)


@torch.no_grad()
def test_blocks_run_by_hand_give_the_models_logits(model):
    """GPT.forward is embeddings, the blocks' own forward, the final norm and the head: nothing else."""
    idx = torch.randint(0, 512, (2, 9))
    t = model.transformer
    x = t.drop(t.wte(idx) + t.wpe(torch.arange(9)))  # (B, T, C)
    for block in t.h:
        x = block(x)
    assert torch.equal(model.lm_head(t.ln_f(x)), model(idx, use_cache=False).logits)


@torch.no_grad()
def test_a_tap_inside_a_block_records_its_intermediates_and_changes_nothing(model):
    x = torch.randn(1, 6, model.config.n_embd)
    block = model.transformer.h[0]
    tap = Tap(None)
    # recording needs the explicit attention; it agrees with the fused one
    torch.testing.assert_close(block(x, None, tap), block(x, None, OFF), atol=1e-5, rtol=0)
    assert set(tap.store) == {f"attn.{n}" for n in ("q", "k", "v", "scores", "masked_scores", "pattern", "z",
                                                     "concat", "attn_out")} | {"mlp.pre", "mlp.post"} | {
        "resid_pre", "ln1", "resid_mid", "ln2", "mlp_out", "resid_post"}
    torch.testing.assert_close(tap.store["resid_mid"] + tap.store["mlp_out"], tap.store["resid_post"])


@torch.no_grad()
def test_return_attn_keeps_only_the_patterns(model):
    tap = Tap(frozenset({"pattern"}))
    model.transformer.h[1](torch.randn(1, 5, model.config.n_embd), None, tap)
    assert list(tap.store) == ["attn.pattern"] and tap.store["attn.pattern"].shape == (1, 4, 5, 5)
    OFF("x", torch.zeros(1))
    assert OFF.store == {}


@torch.no_grad()
def test_the_activation_cache_answers_per_head_and_per_block(model):
    out = model(torch.randint(0, 512, (1, 7)), capture=True)
    c = out.captured
    cfg = model.config
    head = c.head(1, 3)
    assert list(head) == list(HEAD_STAGES)
    kv_head = 3 // (cfg.n_head // cfg.n_kv_head)
    assert torch.equal(head["k"], c["blocks.1.attn.k"][0, kv_head]) and torch.equal(head["q"], c["blocks.1.attn.q"][0, 3])
    blk = c.block(1)
    assert list(blk) == list(BLOCK_STAGES) and torch.equal(blk["mlp_post"], c["blocks.1.mlp.post"][0])
    streams = c.residual_streams()  # (n_layer + 1, T, C)
    assert streams.shape == (cfg.n_layer + 1, 7, cfg.n_embd)
    torch.testing.assert_close(c.lens_probs(streams[-1]), torch.softmax(out.logits[0], -1), atol=1e-6, rtol=0)
