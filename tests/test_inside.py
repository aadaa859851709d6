"""The walkthrough's numbers are the ones the forward pass used: recompose them."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from playground.inside import logit_lens, measured_cache_bytes, param_counts, walkthrough
from tests.conftest import tiny_gpt


@pytest.fixture(params=[4, 2], ids=["mha", "gqa"])
def model(request):
    return tiny_gpt(n_kv_head=request.param)


@torch.no_grad()
def test_capture_changes_nothing(model):
    idx = torch.randint(0, 512, (1, 11))
    plain, cap = model(idx), model(idx, capture=True)
    assert (plain.logits - cap.logits).abs().max() < 1e-5 and plain.captured is None


@torch.no_grad()
def test_heads_concatenated_and_projected_equal_the_attention_output(model):
    c = model(torch.randint(0, 512, (1, 9)), capture=True).captured
    for i, block in enumerate(model.transformer.h):
        z = c[f"blocks.{i}.attn.z"]  # (1, nh, T, hs)
        concat = z.transpose(1, 2).reshape(1, 9, -1)
        torch.testing.assert_close(concat, c[f"blocks.{i}.attn.concat"])
        torch.testing.assert_close(block.attn.c_proj(concat), c[f"blocks.{i}.attn.attn_out"], atol=1e-6, rtol=0)
        # and z is the pattern times the values of the head's kv group
        groups = model.config.n_head // model.config.n_kv_head
        v = c[f"blocks.{i}.attn.v"].repeat_interleave(groups, dim=1)
        torch.testing.assert_close(c[f"blocks.{i}.attn.pattern"] @ v, z, atol=1e-6, rtol=0)
        # scores are QKᵀ/√d
        k = c[f"blocks.{i}.attn.k"].repeat_interleave(groups, dim=1)
        q = c[f"blocks.{i}.attn.q"]
        torch.testing.assert_close(q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]), c[f"blocks.{i}.attn.scores"])


@torch.no_grad()
def test_residual_stream_adds_up(model):
    c = model(torch.randint(0, 512, (1, 7)), capture=True).captured
    torch.testing.assert_close(c["embed"] + c["pos_embed"], c["blocks.0.resid_pre"])
    for i, block in enumerate(model.transformer.h):
        p = f"blocks.{i}."
        torch.testing.assert_close(c[p + "resid_pre"] + c[p + "attn.attn_out"], c[p + "resid_mid"])
        # the MLP's parts: c_fc -> GELU -> c_proj, then the residual add
        torch.testing.assert_close(F.gelu(c[p + "mlp.pre"], approximate="tanh"), c[p + "mlp.post"])
        torch.testing.assert_close(block.mlp.c_proj(c[p + "mlp.post"]), c[p + "mlp_out"])
        torch.testing.assert_close(c[p + "resid_mid"] + c[p + "mlp_out"], c[p + "resid_post"])
        if i + 1 < model.config.n_layer:
            assert torch.equal(c[p + "resid_post"], c[f"blocks.{i + 1}.resid_pre"])


@torch.no_grad()
def test_lm_head_on_final_normalised_residual_equals_logits(model):
    out = model(torch.randint(0, 512, (1, 6)), capture=True)
    last = out.captured[f"blocks.{model.config.n_layer - 1}.resid_post"]
    assert (model.lm_head(model.transformer.ln_f(last)) - out.logits).abs().max() <= 1e-5


@torch.no_grad()
def test_logit_lens_last_layer_is_the_final_distribution(model, small_tokenizer):
    ids = torch.randint(0, 512, (1, 8))
    out = model(ids, capture=True)
    targets = ids[0, 1:].tolist() + [3]
    lens = logit_lens(model, small_tokenizer, out.captured, targets)
    probs = torch.softmax(out.logits[0], -1)  # (T, V)
    assert lens.top_probs.shape == (model.config.n_layer + 1, 8)
    assert (lens.top_ids[-1] == probs.argmax(-1).numpy()).all()
    torch.testing.assert_close(torch.from_numpy(lens.target_probs[-1]), probs[torch.arange(8), targets], atol=1e-6, rtol=0)
    assert (lens.resid_norm > 0).all()


def test_walkthrough_shapes_and_values(model, small_tokenizer):
    ids = small_tokenizer.encode_ids("ROMEO: But soft")
    w = walkthrough(model, small_tokenizer, ids, layer=1, head=3)
    T, C = len(ids), model.config.n_embd
    assert w.stages["q"].shape == (T, model.config.head_dim) and w.stages["mlp_post"].shape == (T, 4 * C)
    assert w.stages["pattern"].shape == (T, T) and (w.stages["pattern"][~torch.ones(T, T).tril().bool().numpy()] == 0).all()
    assert w.dims["T"] == T and len(w.tokens) == T and w.top_probs[0] >= w.top_probs[-1]
    with pytest.raises(ValueError, match="layer must be"):
        walkthrough(model, small_tokenizer, ids, layer=9, head=0)


def test_parameter_counts_match_numel_with_and_without_tying(model):
    pc = param_counts(model)
    assert pc.total == sum(p.numel() for p in model.parameters()) == model.num_parameters()
    assert pc.tied and pc.components["head"] == 0
    assert pc.total_untied - pc.total == model.config.vocab_size * model.config.n_embd
    untied = tiny_gpt(n_kv_head=model.config.n_kv_head, tie_word_embeddings=False)
    assert param_counts(untied).total == pc.total_untied == sum(p.numel() for p in untied.parameters())
    cfg = model.config
    assert pc.kv_bytes_per_token == 2 * cfg.n_layer * cfg.n_kv_head * cfg.head_dim * 4


@pytest.mark.parametrize("n_kv_head", [4, 1])
def test_measured_cache_bytes_match_the_formula(n_kv_head):
    from playground.model import KVCache

    model = tiny_gpt(n_kv_head=n_kv_head)
    positions = [1, 5, model.config.block_size]
    assert measured_cache_bytes(model, positions) == [KVCache.formula_bytes(model.config, 1, P) for P in positions]
