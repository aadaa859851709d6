"""Invariants of the GPT core: causality, attention, KV cache, GQA."""
from __future__ import annotations

import copy

import pytest
import torch

from playground.config import GPTConfig
from playground.model import GPT, ContextWindowFull, KVCache, apply_rope, causal_mask, rope_angles
from tests.conftest import tiny_gpt


@torch.no_grad()
def test_changing_a_later_token_changes_no_earlier_logits(tiny_model):
    torch.manual_seed(1)
    idx = torch.randint(0, 512, (1, 20))
    base = tiny_model(idx).logits
    for j in (3, 10, 19):
        changed = idx.clone()
        changed[0, j] = (changed[0, j] + 7) % 512
        out = tiny_model(changed).logits
        assert torch.equal(out[:, :j], base[:, :j]), f"positions before {j} changed"
        assert not torch.allclose(out[:, j], base[:, j]), "the changed position itself must change"


@torch.no_grad()
def test_attention_rows_sum_to_one_and_upper_triangle_is_exactly_zero(tiny_model):
    idx = torch.randint(0, 512, (2, 17))
    out = tiny_model(idx, return_attn=True)
    assert len(out.attn) == tiny_model.config.n_layer
    upper = ~causal_mask(17, 17)
    for a in out.attn:
        assert a.shape == (2, tiny_model.config.n_head, 17, 17)
        torch.testing.assert_close(a.sum(-1), torch.ones(2, 4, 17), atol=1e-6, rtol=0)
        assert (a[..., upper] == 0).all()


@torch.no_grad()
def test_explicit_attention_path_equals_fused_path(tiny_model):
    idx = torch.randint(0, 512, (1, 30))
    fused = tiny_model(idx).logits
    explicit = tiny_model(idx, return_attn=True).logits
    assert (fused - explicit).abs().max() < 1e-5


@torch.no_grad()
def test_attention_off_by_default():
    out = tiny_gpt()(torch.zeros(1, 3, dtype=torch.long))
    assert out.attn is None and out.logits.shape == (1, 3, 512)


@torch.no_grad()
@pytest.mark.parametrize("n_kv_head", [4, 2, 1])
def test_cached_decoding_equals_uncached_for_50_greedy_steps(n_kv_head):
    model = tiny_gpt(n_kv_head=n_kv_head, block_size=64)
    prompt = torch.randint(0, 512, (1, 8))
    # cached: prefill then one token at a time
    out = model(prompt)
    kv, ids = out.kv, prompt
    cached_logits = []
    for _ in range(50):
        nxt = out.logits[:, -1].argmax(-1, keepdim=True)  # (1, 1)
        cached_logits.append(out.logits[0, -1])
        ids = torch.cat([ids, nxt], dim=1)
        out = model(nxt, past_kv=kv)
        kv = out.kv
    assert kv.length == 58
    # uncached: the whole sequence every step
    ids2 = prompt
    for step in range(50):
        logits = model(ids2, use_cache=False).logits[0, -1]
        assert (logits - cached_logits[step]).abs().max() <= 1e-4
        ids2 = torch.cat([ids2, logits.argmax().view(1, 1)], dim=1)
    assert torch.equal(ids, ids2)


@torch.no_grad()
def test_cached_attention_rows_equal_full_matrix(tiny_model):
    idx = torch.randint(0, 512, (1, 12))
    full = tiny_model(idx, return_attn=True).attn
    pre = tiny_model(idx[:, :9], return_attn=True)
    step = tiny_model(idx[:, 9:], past_kv=pre.kv, return_attn=True)  # 3 new tokens after a cache
    for layer in range(2):
        torch.testing.assert_close(step.attn[layer], full[layer][:, :, 9:, :], atol=1e-6, rtol=0)


@torch.no_grad()
def test_forward_never_changes_a_cache_the_caller_holds(tiny_model):
    idx = torch.randint(0, 512, (1, 10))
    base = tiny_model(idx)
    snapshot = [k.clone() for k in base.kv.keys]
    a = tiny_model(torch.tensor([[5]]), past_kv=base.kv)  # extends in place (fast path)
    b = tiny_model(torch.tensor([[6]]), past_kv=base.kv)  # a branch from the same point: must copy
    assert base.kv.length == 10
    assert all(torch.equal(k, s) for k, s in zip(base.kv.keys, snapshot))
    assert not torch.equal(a.kv.keys[0][:, :, 10], b.kv.keys[0][:, :, 10])
    # the first branch still sees its own token 10 after the second one was written
    again = tiny_model(torch.tensor([[5]]), past_kv=base.kv)
    assert torch.equal(again.kv.keys[0], a.kv.keys[0])
    copy.deepcopy(a.kv)  # plain data: deep-copyable


@torch.no_grad()
def test_crop_steps_back_and_the_next_step_can_differ(tiny_model):
    idx = torch.randint(0, 512, (1, 6))
    out = tiny_model(idx)
    s1 = tiny_model(torch.tensor([[1]]), past_kv=out.kv)
    back = s1.kv.crop(6)
    s2 = tiny_model(torch.tensor([[2]]), past_kv=back)
    ref = tiny_model(torch.cat([idx, torch.tensor([[2]])], 1), use_cache=False).logits[:, -1]
    assert (s2.logits[:, -1] - ref).abs().max() < 1e-5
    with pytest.raises(ValueError):
        s1.kv.crop(8)


@torch.no_grad()
def test_kv_bytes_measured_equal_formula_and_gqa_is_smaller():
    sizes = {}
    for n_kv in (4, 2, 1):
        model = tiny_gpt(n_kv_head=n_kv)
        kv = model(torch.randint(0, 512, (3, 20))).kv
        expected = KVCache.formula_bytes(model.config, batch=3, positions=20, bytes_per_value=4)
        assert kv.nbytes == expected == sum(t.numel() * t.element_size() for t in kv.keys + kv.values)
        assert kv.allocated_nbytes >= kv.nbytes
        sizes[n_kv] = kv.nbytes
    assert sizes[4] == 2 * sizes[2] == 4 * sizes[1]  # n_head / n_kv_head times smaller
    assert "2 × 2 layers × 1 batch × 1 kv_heads × 5 positions × 8 head_dim × 4 bytes = 640 bytes" == \
        KVCache.formula_text(tiny_gpt(n_kv_head=1).config, 1, 5)


@torch.no_grad()
def test_going_past_the_context_window_is_a_clear_error(tiny_model):
    with pytest.raises(ContextWindowFull, match="context window holds 64 tokens"):
        tiny_model(torch.zeros(1, 65, dtype=torch.long))
    kv = tiny_model(torch.zeros(1, 64, dtype=torch.long)).kv
    with pytest.raises(ContextWindowFull, match="64 cached \\+ 1 new"):
        tiny_model(torch.zeros(1, 1, dtype=torch.long), past_kv=kv)


@torch.no_grad()
def test_beam_reorder_select_copies_rows(tiny_model):
    kv = tiny_model(torch.randint(0, 512, (3, 5))).kv
    sel = kv.select(torch.tensor([2, 2, 0]))
    assert torch.equal(sel.keys[1][0], kv.keys[1][2]) and torch.equal(sel.keys[1][2], kv.keys[1][0])


def test_weight_tying_and_gpt2_parameter_names(tiny_model):
    assert tiny_model.lm_head.weight is tiny_model.transformer.wte.weight
    names = set(dict(tiny_model.named_parameters()))
    assert {"transformer.wte.weight", "transformer.wpe.weight", "transformer.h.0.attn.c_attn.weight",
            "transformer.h.1.mlp.c_proj.bias", "transformer.ln_f.weight"} <= names
    assert tiny_model.num_parameters() == sum(p.numel() for p in tiny_model.parameters())


def test_linears_are_plain_nn_linear_with_contiguous_weights_and_a_tied_head(tiny_model):
    """One path per module: torch's own nn.Linear, (out, in) weights in torch's usual memory order."""
    linears = [m for m in tiny_model.modules() if isinstance(m, torch.nn.Linear)]
    assert len(linears) == 4 * tiny_model.config.n_layer + 1  # c_attn, c_proj, c_fc, c_proj per block; lm_head
    assert all(type(m) is torch.nn.Linear and m.weight.is_contiguous() for m in linears)
    head = tiny_model.lm_head.weight
    assert head is tiny_model.transformer.wte.weight and head.shape == (512, tiny_model.config.n_embd)
    state = tiny_model.state_dict()
    fresh = GPT(tiny_model.config)
    fresh.load_state_dict(state)
    assert all(torch.equal(p, state[n]) for n, p in fresh.state_dict().items())
    assert fresh.lm_head.weight is fresh.transformer.wte.weight


@torch.no_grad()
@pytest.mark.parametrize("n_kv_head", [4, 1])
def test_decode_reads_one_token_a_step_with_the_cache_and_agrees_without_it(n_kv_head, monkeypatch):
    from playground.model import decode

    model = tiny_gpt(n_kv_head=n_kv_head)
    prompt = torch.randint(0, 512, (6,)).tolist()
    reads, inner = [], model.forward
    monkeypatch.setattr(model, "forward", lambda idx, **kw: reads.append(idx.shape[1]) or inner(idx, **kw))
    greedy = lambda logits: int(logits.argmax())  # noqa: E731
    cached = list(decode(model, prompt, 5, greedy))
    assert reads == [6, 1, 1, 1, 1]  # the prompt, then only the newest token; the last choice is never fed
    reads.clear()
    uncached = list(decode(model, prompt, 5, greedy, use_cache=False))
    assert reads == [6, 7, 8, 9, 10] and uncached[-1].kv is None and cached[-1].kv.length == 10
    assert [d.token for d in cached] == [d.token for d in uncached]
    for c, u in zip(cached, uncached):
        assert (c.logits - u.logits).abs().max() < 1e-4 and c.logits.shape == (512,)
        assert c.token == int(c.logits.argmax())


# -- the config-driven block: GPT-2 is one configuration, Llama's layout another ----------------------
LLAMA_STYLE = dict(norm="rmsnorm", positions="rotary", mlp="swiglu", bias=False, tie_word_embeddings=False,
                   intermediate_size=48, n_kv_head=2)


def test_gpt2_is_the_default_configuration():
    cfg = GPTConfig()
    assert (cfg.norm, cfg.positions, cfg.mlp, cfg.bias, cfg.qkv_bias) == ("layernorm", "learned", "gelu", True, True)
    assert cfg.intermediate_size == 4 * cfg.n_embd and cfg.tie_word_embeddings
    names = [n for n, _ in tiny_gpt().named_parameters()]
    assert names[:2] == ["transformer.wte.weight", "transformer.wpe.weight"]
    assert "transformer.h.0.mlp.c_fc.weight" in names and "transformer.h.0.ln_1.bias" in names


def test_a_llama_style_block_has_its_own_modules_and_no_biases():
    model = tiny_gpt(**LLAMA_STYLE)
    params = dict(model.named_parameters())
    assert "transformer.wpe.weight" not in params and not any(n.endswith(".bias") for n in params)
    assert isinstance(model.transformer.h[0].ln_1, torch.nn.RMSNorm)
    assert params["transformer.h.0.mlp.gate_proj.weight"].shape == (48, 32)
    assert params["transformer.h.0.mlp.down_proj.weight"].shape == (32, 48)
    assert params["transformer.h.0.attn.c_attn.weight"].shape == (32 + 2 * 2 * 8, 32)  # q | k | v, 2 KV heads
    assert model.lm_head.weight is not model.transformer.wte.weight
    qwen = dict(tiny_gpt(**LLAMA_STYLE, qkv_bias=True).named_parameters())  # biases on q, k, v only
    assert [n for n in qwen if n.endswith(".bias")] == [f"transformer.h.{i}.attn.c_attn.bias" for i in (0, 1)]


@pytest.mark.parametrize("bad, message", [
    (dict(norm="batchnorm"), "GPTConfig.norm must be one of 'layernorm', 'rmsnorm'"),
    (dict(positions="alibi"), "GPTConfig.positions must be one of 'learned', 'rotary'"),
    (dict(mlp="relu"), "GPTConfig.mlp must be one of 'gelu', 'swiglu'"),
    (dict(positions="rotary", n_embd=36, n_head=4), r"head_dim \(9\) must be even"),
    (dict(rope_theta=float("nan")), "rope_theta must be a finite number > 1"),
    (dict(intermediate_size=0), "intermediate_size must be a positive integer"),
])
def test_bad_block_settings_are_refused_by_name(bad, message):
    with pytest.raises(ValueError, match=message):
        GPTConfig(**{**dict(n_embd=32, n_head=4), **bad})


def test_rope_scores_depend_only_on_the_offset():
    """Shift q's and k's positions together by any amount: q·k is the same; the angles grow with position."""
    torch.manual_seed(0)
    q, k = torch.randn(1, 1, 1, 16), torch.randn(1, 1, 1, 16)
    score = lambda m, n: (apply_rope(q, m, 1e4) * apply_rope(k, n, 1e4)).sum()  # noqa: E731
    for shift in (1, 17, 200):
        torch.testing.assert_close(score(5 + shift, 2 + shift), score(5, 2), atol=1e-4, rtol=0)
    assert not torch.allclose(score(5, 2), score(5, 3), atol=1e-3)
    torch.testing.assert_close(apply_rope(q, 0, 1e4), q)  # position 0: not turned
    angles = rope_angles(torch.arange(3), 16, 1e4)  # (P, hs/2)
    assert angles.shape == (3, 8) and angles[1, 0] == 1.0 and angles[2, 7] < angles[2, 0]
    assert torch.allclose(apply_rope(q, 9, 1e4).norm(), q.norm())  # a rotation keeps the length


@torch.no_grad()
@pytest.mark.parametrize("mix", [LLAMA_STYLE, dict(positions="rotary"), dict(norm="rmsnorm", mlp="swiglu")],
                         ids=["llama", "gpt2-with-rope", "rmsnorm-swiglu-learned"])
def test_every_mix_of_the_block_decodes_the_same_with_and_without_the_cache(mix):
    model = tiny_gpt(**mix)
    idx = torch.randint(0, 512, (1, 12))
    full = model(idx).logits
    kv, steps = None, []
    for t in range(12):
        out = model(idx[:, t:t + 1], past_kv=kv)
        kv = out.kv
        steps.append(out.logits)
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=1e-5, rtol=0)
    torch.testing.assert_close(model(idx, return_attn=True).logits, full, atol=1e-5, rtol=0)  # explicit = fused


@torch.no_grad()
def test_taps_show_q_and_k_before_and_after_rotation_and_the_swiglu_gate():
    model = tiny_gpt(**LLAMA_STYLE)
    idx = torch.randint(0, 512, (1, 6))
    c = model(idx, capture=True).captured
    p = "blocks.1."
    assert "pos_embed" not in c
    assert c[p + "attn.q_before_rope"].shape == (1, 4, 6, 8) and c[p + "attn.k_before_rope"].shape == (1, 2, 6, 8)
    torch.testing.assert_close(apply_rope(c[p + "attn.q_before_rope"], 0, 1e4), c[p + "attn.q"])
    torch.testing.assert_close(apply_rope(c[p + "attn.k_before_rope"], 0, 1e4), c[p + "attn.k"])
    assert not torch.allclose(c[p + "attn.q_before_rope"], c[p + "attn.q"])
    torch.testing.assert_close(c[p + "mlp.gate"], torch.nn.functional.silu(c[p + "mlp.pre"]))
    torch.testing.assert_close(c[p + "mlp.post"], c[p + "mlp.gate"] * c[p + "mlp.pre_linear"])
    assert c.block(1)["mlp_post"].shape == (6, 48)
    lens = c.lens_probs(c.residual_streams()[-1])  # the model's own final norm (RMSNorm) and untied head
    torch.testing.assert_close(lens, torch.softmax(model(idx).logits[0], dim=-1))
