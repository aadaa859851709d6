"""Weight-only quantisation: int8 per channel and int4 group-wise on torch's kernels, the original untouched,
weight bytes counted from the shapes, the logits close to fp32, and the report of what it gives."""
from __future__ import annotations

import pytest
import torch

from playground.model import WeightOnly, decode
from playground.quantize import (
    GROUP, compare, dequantize, int4_groups, int8_rows, logit_agreement, quantize, weight_bytes,
)
from tests.conftest import tiny_gpt


def linears(model) -> list:
    return [m for m in model.modules() if isinstance(m, torch.nn.Linear)]


@pytest.mark.parametrize("bits", [8, 4])
def test_the_original_is_untouched(bits):
    model = tiny_gpt()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    q = quantize(model, bits)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert len(linears(model)) == 2 * 4 + 1 and not linears(q)  # every Linear replaced in the copy only
    assert isinstance(q.transformer.wte, WeightOnly) and isinstance(model.transformer.wte, torch.nn.Embedding)


def test_int8_is_per_channel_and_within_half_a_step():
    w = torch.randn(48, 64) * torch.linspace(0.1, 3, 48)[:, None]  # rows of very different size
    q, scale = int8_rows(w)
    assert q.dtype == torch.int8 and scale.shape == (48,)
    assert torch.allclose(scale, w.abs().amax(1) / 127)
    assert ((q.float() * scale[:, None] - w).abs() <= scale[:, None] / 2 + 1e-6).all()


def test_int4_is_group_wise_and_within_half_a_step():
    w = torch.randn(32, 4 * GROUP)
    q, scale, low = int4_groups(w)
    assert int(q.max()) <= 15 and scale.shape == low.shape == (32, 4)
    deq = (q.float().view(32, 4, GROUP) * scale[..., None] + low[..., None]).view(32, -1)
    assert ((deq - w).abs().view(32, 4, GROUP) <= scale[..., None] / 2 + 1e-6).all()


@pytest.mark.parametrize("bits", [8, 4])
def test_the_kernel_multiplies_by_the_quantised_weight(bits):
    torch.manual_seed(0)
    lin = torch.nn.Linear(64, 40)  # 40 rows: int4 pads them to 48 for its kernel and cuts the output back
    q = quantize_linear(lin, bits)
    x = torch.randn(5, 64)
    if bits == 8:
        qw, s = int8_rows(lin.weight.detach())
        ref = qw.float() * s[:, None]
    else:
        qw, s, low = int4_groups(lin.weight.detach())
        ref = (qw.float().view(40, -1, GROUP) * s[..., None] + low[..., None]).view(40, 64)
    expected = x @ ref.T + lin.bias.detach()
    got = q(x)
    assert got.shape == (5, 40) and got.dtype == torch.float32
    torch.testing.assert_close(got, expected, atol=0.05, rtol=0.02)  # bf16 activations
    torch.testing.assert_close(dequantize(q), ref, atol=0.02, rtol=0.02)


def quantize_linear(lin, bits):
    from playground.quantize import _quant_linear

    return _quant_linear(lin, bits)


@pytest.mark.parametrize("bits", [8, 4])
def test_weight_bytes_follow_the_shapes(bits):
    model = tiny_gpt()  # tied head: the embedding table is one tensor
    fp32 = weight_bytes(model)
    assert fp32 == 4 * model.num_parameters()
    q = quantize(model, bits)
    shapes = [tuple(m.weight.shape) for m in linears(model)]
    V, C = model.transformer.wte.weight.shape
    if bits == 8:  # int8 rows + a bf16 scale per row; the embedding shares the head's
        stored = sum(n * k + 2 * n for n, k in shapes)
    else:  # packed nibbles + bf16 (scale, zero) per group, rows padded to 16; plus the lookup's own table
        stored = sum((n + -n % 16) * k // 2 + 2 * 2 * (k // GROUP) * (n + -n % 16) for n, k in shapes)
        stored += V * C // 2 + 2 * 4 * V * (C // GROUP)
    assert weight_bytes(q) == fp32 - 4 * sum(n * k for n, k in shapes) + stored
    assert weight_bytes(q) < (0.4 if bits == 8 else 0.35) * fp32


@pytest.mark.parametrize("bits, top1", [(8, 0.97), (4, 0.8)])
def test_logits_stay_close_and_decoding_works(bits, top1):
    model = tiny_gpt()
    with torch.no_grad():
        model.lm_head.weight.mul_(20)  # a tied table: larger logits, a real ranking to keep
    q = quantize(model, bits)
    ids = list(torch.randint(0, 512, (200,), generator=torch.Generator().manual_seed(0)).tolist())
    worst, kl, agree, n = logit_agreement(model, q, ids)
    assert n == 200 and 0 < worst and 0 <= kl < (0.01 if bits == 8 else 0.1) and agree >= top1
    greedy = lambda logits: int(torch.argmax(logits))  # noqa: E731
    cached = [s.token for s in decode(q, [1, 2, 3], 10, greedy)]
    assert cached == [s.token for s in decode(q, [1, 2, 3], 10, greedy, use_cache=False)]


def test_the_report_measures_both_models(small_tokenizer):
    model = tiny_gpt()
    q = quantize(model, 8)
    r = compare(model, q, small_tokenizer, prompt="ROMEO:", max_chars=1500, n_tokens=4, top=5)
    assert r.bits == 8 and r.bytes_ratio == weight_bytes(q) / weight_bytes(model)
    assert r.fp32_ms > 0 and r.quant_ms > 0 and r.chars == 1500 and r.positions > 100
    assert len(r.tokens) == len(r.fp32_probs) == len(r.quant_probs) == 5
    assert list(r.fp32_probs) == sorted(r.fp32_probs, reverse=True)
    assert r.fp32_loss > 0 and abs(r.loss_change) < 0.05 and 0.9 <= r.top1 <= 1


def test_the_shipped_model_keeps_its_predictions_in_int8():
    from playground.quantize import held_out_text
    from playground.weights import load_model

    model, tok = load_model()
    ids = [tok.eos_id] + tok.encode_ids(held_out_text(3000))
    worst, kl, agree, n = logit_agreement(model, quantize(model, 8), ids)
    assert n > 500 and agree > 0.95 and kl < 0.01


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="bits must be 8 or 4"):
        quantize(tiny_gpt(), 3)
    with pytest.raises(ValueError, match="multiple of 32"):
        quantize(tiny_gpt(n_embd=48, n_head=4), 4)


# -- the page's section (ui/faster_spec.py) -------------------------------------------------------------
def test_the_section_quantises_once_per_model_and_bits(small_tokenizer):
    import plotly.graph_objects as go

    from playground.ui.context import AppContext
    from playground.ui.faster_spec import SpecView, draw
    from playground.ui.page import Page
    from tests.test_texts import english_words, texts_of

    model = tiny_gpt(vocab_size=small_tokenizer.vocab_size, block_size=96)
    view = SpecView(Page(AppContext.build(lambda name: (model, small_tokenizer), {"shakespeare": None})))
    results, costs, bars, md = view.quantise(None, "en", "shakespeare", "ROMEO:", "int8", {"spec": None})
    r = results["quant"][0]
    assert "spec" in results and r.bits == 8 and f"({r.bytes_ratio:.2f}×)" in md and f"{r.top1:.1%}" in md
    for fig in (costs, bars):
        go.Figure(fig.to_dict())
    d = bars.to_dict()
    assert [t["name"] for t in d["data"]] == ["fp32", "int8"] and list(d["data"][1]["y"]) == list(r.quant_probs)
    cached = view._quant[("shakespeare", id(model), 8)]
    view.quantise(None, "en", "shakespeare", "To be", "int8", results)
    assert view._quant[("shakespeare", id(model), 8)] is cached and len(view._quant) == 1  # not quantised again
    results, *_ = view.quantise(None, "zh", "shakespeare", "ROMEO:", "int4", results)
    out = draw(results, "zh", ("quant",))
    b = out[1].layout  # the bars' tick labels are the model's tokens, English words among them
    md = out[2].replace("shakespeare", "")
    for s in texts_of(out[0]) + [b.title.text, b.xaxis.title.text, b.yaxis.title.text, md]:
        assert not english_words(s), s
    with pytest.raises(ValueError, match="choose int8 or int4; got 'int3'"):
        view.quantise(None, "en", "shakespeare", "ROMEO:", "int3", None)
