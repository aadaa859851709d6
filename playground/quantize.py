"""Weight-only quantisation: int8 per output channel, int4 in groups of 32 inputs, on torch's own CPU kernels.

    qmodel = quantize(model, 8)          # a new model; ``model`` is left as it was
    weight_bytes(model), weight_bytes(qmodel)

Every linear layer (the LM head included) and the token embedding are stored quantised; LayerNorms, biases
and learned positions stay fp32. Activations stay floating point ("weight-only"):

* int8: w ≈ q · s with one scale s per output row (symmetric, q in −127..127); the matmul is
  ``torch.ops.aten._weight_int8pack_mm``.
* int4: w ≈ q · s + m per group of 32 inputs of a row (asymmetric, q in 0..15, s and m per group); the matmul
  is ``torch.ops.aten._weight_int4pack_mm_for_cpu`` on its own packed layout. The embedding's lookup keeps a
  plain two-per-byte copy (a lookup reads rows, which the packed layout interleaves), so a tied model stores
  its int4 table twice, and ``weight_bytes`` counts both.

Both kernels multiply bf16 activations (their fast path here; with fp32 activations they ran several times
slower than the fp32 matmul), so a quantised layer rounds its input to bf16 and returns fp32.
Why not torchao: 0.18 loads on torch 2.13 CPU, but its int8 weight-only linear converts the whole int8 matrix
to the activation's dtype on every call (reading more bytes than fp32 does), and its CPU int4 layout is a
prototype. torch's kernels need widths divisible by 16 (int8) or 32 (int4); ``quantize`` checks that.

``compare`` measures what it gives: weight bytes, ms per token, max |Δlogit|, KL to fp32, top-1 agreement and
the held-out loss (``playground.evaluate``) of both models, and the next-token probabilities side by side.
"""
from __future__ import annotations

import copy
import statistics
from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F

from playground.corpus import works
from playground.evaluate import score_text
from playground.model import GPT, WeightOnly, decode

BITS = (8, 4)
GROUP = 32  # int4 group size (inputs sharing one scale and minimum)
ALIGN = {8: 16, 4: GROUP}  # the kernels' width requirement (the int8 one returns garbage otherwise)


# -- packing ------------------------------------------------------------------------------------------
def int8_rows(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, K) float -> (int8 (N, K), scale (N,)): symmetric, one scale per row, w ≈ q · s."""
    scale = w.abs().amax(dim=1).clamp(min=1e-8) / 127  # (N,)
    return torch.round(w / scale[:, None]).clamp(-127, 127).to(torch.int8), scale


def int4_groups(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(N, K) float -> (q 0..15 uint8 (N, K), scale (N, K/G), minimum (N, K/G)): w ≈ q · s + m per group."""
    N, K = w.shape
    g = w.reshape(N, K // GROUP, GROUP)  # (N, K/G, G)
    low, high = g.amin(dim=-1), g.amax(dim=-1)  # (N, K/G)
    scale = ((high - low) / 15).clamp(min=1e-8)  # (N, K/G)
    q = torch.round((g - low[..., None]) / scale[..., None]).clamp(0, 15).to(torch.uint8)  # (N, K/G, G)
    return q.reshape(N, K), scale, low


def dequantize(module: WeightOnly) -> torch.Tensor:
    """The float weight (N, K) a quantised linear layer multiplies by (for tests and error analysis)."""
    if module.bits == 8:
        return module.qweight.float() * module.scales.float()[:, None]
    eye = torch.eye(module.in_features, dtype=torch.bfloat16)  # (K, K): x = I gives W^T
    return module(eye.float()).T.float() - (module.bias[:, None] if module.bias is not None else 0)


# -- the kernels --------------------------------------------------------------------------------------
def _finish(m: WeightOnly, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    y = y[:, : m.out_features].to(x.dtype).reshape(*x.shape[:-1], m.out_features)  # (..., N)
    return y if m.bias is None else y + m.bias


def _linear_int8(m: WeightOnly, x: torch.Tensor) -> torch.Tensor:
    x2 = x.reshape(-1, x.shape[-1]).to(torch.bfloat16)  # (M, K)
    return _finish(m, x, torch.ops.aten._weight_int8pack_mm(x2, m.qweight, m.scales))  # (M, N)


def _linear_int4(m: WeightOnly, x: torch.Tensor) -> torch.Tensor:
    x2 = x.reshape(-1, x.shape[-1]).to(torch.bfloat16)  # (M, K)
    return _finish(m, x, torch.ops.aten._weight_int4pack_mm_for_cpu(x2, m.qweight, GROUP, m.scales_zeros))


def _lookup_int8(m: WeightOnly, idx: torch.Tensor) -> torch.Tensor:
    return m.qweight[idx].float() * m.scales[idx].float()[..., None]  # (..., C)


def _lookup_int4(m: WeightOnly, idx: torch.Tensor) -> torch.Tensor:
    rows = m.table[idx]  # (..., C/2) uint8: two values a byte, low nibble first
    q = torch.stack((rows & 15, rows >> 4), dim=-1).flatten(-2).float()  # (..., C)
    q = q.unflatten(-1, (-1, GROUP))  # (..., C/G, G)
    return (q * m.scale[idx][..., None] + m.low[idx][..., None]).flatten(-2)  # (..., C)


def _quant_linear(lin: torch.nn.Linear, bits: int) -> WeightOnly:
    w = lin.weight.detach().float()  # (N, K)
    bias = None if lin.bias is None else lin.bias.detach().float().clone()
    if bits == 8:
        q, scale = int8_rows(w)
        m = WeightOnly(_linear_int8, qweight=q, scales=scale.to(torch.bfloat16), bias=bias)
    else:
        N = w.shape[0]
        pad = -N % 16  # the int4 kernel wants N divisible by 16: zero rows, cut from the output
        q, scale, low = int4_groups(F.pad(w, (0, 0, 0, pad)))
        packed = torch.ops.aten._convert_weight_to_int4pack_for_cpu(q.to(torch.int32), 1)  # (N', K/2) uint8
        # the kernel's convention: w = (q − 8) · s + z, so z = m + 8 s; laid out (K/G, N', 2)
        sz = torch.stack((scale.T, (low + 8 * scale).T), dim=-1).contiguous().to(torch.bfloat16)
        m = WeightOnly(_linear_int4, qweight=packed, scales_zeros=sz, bias=bias)
    m.bits, m.in_features, m.out_features = bits, w.shape[1], w.shape[0]
    return m


def _quant_embedding(weight: torch.Tensor, bits: int, head: WeightOnly | None) -> WeightOnly:
    """The token embedding; an int8 one shares the tied head's buffers (the same rows and scales)."""
    if bits == 8:
        if head is not None:
            return WeightOnly(_lookup_int8, qweight=head.qweight, scales=head.scales)
        q, scale = int8_rows(weight.detach().float())
        return WeightOnly(_lookup_int8, qweight=q, scales=scale.to(torch.bfloat16))
    q, scale, low = int4_groups(weight.detach().float())
    table = q[:, 0::2] | (q[:, 1::2] << 4)  # (V, C/2) uint8
    return WeightOnly(_lookup_int4, table=table, scale=scale, low=low)


def check_quantizable(model: GPT, bits: int) -> None:
    if bits not in BITS:
        raise ValueError(f"bits must be 8 or 4; got {bits!r}")
    for name, mod in model.named_modules():
        if isinstance(mod, torch.nn.Linear) and mod.in_features % ALIGN[bits]:
            raise ValueError(f"{name} takes {mod.in_features} inputs; torch's int{bits} kernel needs a multiple of "
                             f"{ALIGN[bits]}")
    if bits == 4 and model.config.n_embd % GROUP:
        raise ValueError(f"the embedding width {model.config.n_embd} is not a multiple of the group size {GROUP}")


@torch.no_grad()
def quantize(model: GPT, bits: int) -> GPT:
    """A copy of ``model`` with int8 (per-channel) or int4 (group-wise) weights; ``model`` is untouched."""
    check_quantizable(model, bits)
    tied = model.lm_head.weight is model.transformer.wte.weight
    # the copy shares the big float weights instead of copying them (they are replaced below): no second fp32 model
    big = {id(m.weight): m.weight for m in model.modules() if isinstance(m, (torch.nn.Linear, torch.nn.Embedding))}
    q = copy.deepcopy(model, memo=big).eval()
    for mod in list(q.modules()):
        for name, child in list(mod.named_children()):
            if isinstance(child, torch.nn.Linear):
                setattr(mod, name, _quant_linear(child, bits))
    q.transformer.wte = _quant_embedding(model.transformer.wte.weight, bits, q.lm_head if tied else None)
    q.quant_bits = bits
    return q


def weight_bytes(model: GPT) -> int:
    """Bytes of the model's parameters and buffers, each tensor counted once (a tied table is one tensor)."""
    seen = {}
    for t in list(model.parameters()) + list(model.buffers()):
        seen[(t.data_ptr(), t.numel())] = t.numel() * t.element_size()
    return sum(seen.values())


# -- what it gives --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class QuantReport:
    bits: int
    fp32_bytes: int
    quant_bytes: int
    fp32_ms: float  # median ms of a cached single-token decode step
    quant_ms: float
    max_abs_dlogit: float  # over every compared position and token
    kl: float  # mean KL(fp32 ‖ quantised) per position, nats
    top1: float  # share of positions whose most likely token is the same
    positions: int  # positions compared (teacher-forced on the held-out excerpt)
    fp32_loss: float  # held-out nats per character
    quant_loss: float
    chars: int  # characters of held-out text scored
    tokens: tuple[str, ...]  # the prompt's likeliest next tokens under fp32
    fp32_probs: tuple[float, ...]  # their probability under each model
    quant_probs: tuple[float, ...]

    @property
    def bytes_ratio(self) -> float:
        return self.quant_bytes / self.fp32_bytes

    @property
    def ms_ratio(self) -> float:
        return self.quant_ms / self.fp32_ms

    @property
    def loss_change(self) -> float:
        return self.quant_loss - self.fp32_loss


def held_out_text(max_chars: int | None) -> str:
    """The shipped held-out works, joined (their first ``max_chars`` characters, or all)."""
    text = "\n\n".join(works("val").values())
    return text if max_chars is None else text[:max_chars]


def step_ms(models: Sequence[GPT], prompt_ids: Sequence[int], n: int, repeats: int = 3) -> list[float]:
    """Median ms of a cached single-token greedy decode step of each model, runs interleaved."""
    times: list[list[float]] = [[] for _ in models]
    for _ in range(repeats):
        for i, m in enumerate(models):
            steps = list(decode(m, prompt_ids, n + 1, lambda logits: int(torch.argmax(logits))))
            times[i] += [s.forward_ms for s in steps[1:]]  # the prefill left out
    return [statistics.median(t) for t in times]


@torch.no_grad()
def logit_agreement(model: GPT, qmodel: GPT, ids: Sequence[int]) -> tuple[float, float, float, int]:
    """(max |Δlogit|, mean KL(fp32 ‖ quantised), top-1 agreement, positions) teacher-forced over ``ids``."""
    block, worst, kl_sum, same, n = model.config.block_size, 0.0, 0.0, 0, 0
    for lo in range(0, max(1, len(ids) - 1), block):
        x = torch.tensor([list(ids[lo: lo + block])])  # (1, T)
        a = model(x, use_cache=False).logits[0].float()  # (T, V)
        b = qmodel(x, use_cache=False).logits[0].float()  # (T, V)
        worst = max(worst, float((a - b).abs().max()))
        kl_sum += float(F.kl_div(b.log_softmax(-1), a.log_softmax(-1), log_target=True, reduction="sum"))
        same += int((a.argmax(-1) == b.argmax(-1)).sum())
        n += a.shape[0]
    return worst, kl_sum / n, same / n, n


@dataclass(frozen=True)
class Quality:
    """How close the quantised model stays to fp32 on held-out text (teacher-forced; no timing)."""

    max_abs_dlogit: float  # over every compared position and token
    kl: float  # mean KL(fp32 ‖ quantised) per position, nats
    top1: float  # share of positions whose most likely token is the same
    positions: int
    fp32_loss: float  # held-out nats per character (playground.evaluate.score_text)
    quant_loss: float
    chars: int  # characters of held-out text scored


@torch.no_grad()
def quality(model: GPT, qmodel: GPT, tokenizer, max_chars: int | None = 20_000) -> Quality:
    """Logit agreement and held-out loss of both models on the first ``max_chars`` held-out characters."""
    text = held_out_text(max_chars)
    worst, kl, top1, positions = logit_agreement(model, qmodel, [tokenizer.eos_id] + tokenizer.encode_ids(text))
    losses = [score_text(m, tokenizer, text)[0] / len(text) for m in (model, qmodel)]
    return Quality(worst, kl, top1, positions, losses[0], losses[1], len(text))


@torch.no_grad()
def compare(model: GPT, qmodel: GPT, tokenizer, prompt: str = "ROMEO:", max_chars: int | None = 20_000,
            n_tokens: int = 32, top: int = 10, held_out: Quality | None = None) -> QuantReport:
    """Measure the quantised model against the original (see the module's docstring); ``held_out``: a
    ``quality`` already measured for this pair (the page keeps one per model and bits)."""
    q = held_out or quality(model, qmodel, tokenizer, max_chars)
    prompt_ids = tokenizer.encode_ids(prompt) or [tokenizer.eos_id]
    room = model.config.block_size - len(prompt_ids) - 1
    if room < 1:
        raise ValueError(f"the prompt is {len(prompt_ids)} tokens; the context window holds "
                         f"{model.config.block_size}: shorten it to time a few new tokens")
    ms = step_ms([model, qmodel], prompt_ids, min(n_tokens, room))
    x = torch.tensor([prompt_ids])  # (1, T)
    p = model(x, use_cache=False).logits[0, -1].float().softmax(-1)  # (V,)
    pq = qmodel(x, use_cache=False).logits[0, -1].float().softmax(-1)  # (V,)
    order = torch.argsort(p, descending=True)[:top].tolist()
    return QuantReport(
        qmodel.quant_bits, weight_bytes(model), weight_bytes(qmodel), ms[0], ms[1], q.max_abs_dlogit, q.kl, q.top1,
        q.positions, q.fp32_loss, q.quant_loss, q.chars, tuple(tokenizer.decode([i]) for i in order),
        tuple(float(p[i]) for i in order), tuple(float(pq[i]) for i in order))
