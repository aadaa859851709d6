"""Inside one forward pass: the real intermediate values, a logit lens, parameter counts.

Everything here is plain data (numpy arrays, ints, strings) computed from one
``model(ids, capture=True)`` call, so the figures can draw it without torch.

A whole-text pass holds memory that grows with the text (a captured one: every layer's
intermediates, three (heads, T, T) attention arrays each; any pass: the logits, T × V). The
page bounds it per model: ``pass_bytes`` estimates it, ``max_positions`` is the longest text
whose pass fits ``PASS_BUDGET`` (GPT-2 small: 173 tokens captured, 439 for the leak check;
the shipped model: its whole window).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from playground.config import GPTConfig
from playground.model import GPT, KVCache, rope_angles
from playground.taps import ActivationCache
from playground.tokenizer import Tokenizer

PASS_BUDGET = 256 * 2**20  # bytes one whole-text pass (Inside the model, the leak check) may hold
LENS_POSITIONS = 16  # positions the page's logit lens shows (each costs n_layer + 1 LM-head rows)
CHUNK = 64  # positions turned into distributions at a time (each is a V-wide row)


def pass_bytes(cfg: GPTConfig, T: int, capture: bool = True) -> int:
    """Estimated float32 bytes a forward over ``T`` positions holds at its peak, as the page runs it.

    Any pass: two (T, V) logits (the leak check's two texts; a walkthrough's logits and their
    copy) and one layer's working activations (~16 (T, C) and two (heads, T, T)). Captured: every
    layer's intermediates too, 20 (T, C)-sized ones (residuals, norms, q/k/v, heads, MLP 4C
    twice...) and three (heads, T, T), and the lens's (LENS_POSITIONS, V) rows; not captured:
    the leak check's (CHUNK, V) distributions. Measured on GPT-2 small's shape (benchmarks/
    session_budget.py), the peak stays within ~15 % of it.
    """
    C, V, H = cfg.n_embd, cfg.vocab_size, cfg.n_head
    values = 2 * T * V + 16 * T * C + 2 * H * T * T
    if capture:
        values += cfg.n_layer * (20 * T * C + 3 * H * T * T) + 3 * T * C + 2 * LENS_POSITIONS * V
    else:
        values += 4 * CHUNK * V
    return 4 * values


def max_positions(cfg: GPTConfig, capture: bool = True, budget: int | None = None) -> int:
    """The longest text (at most the context window) whose pass fits ``budget`` (PASS_BUDGET)."""
    budget = PASS_BUDGET if budget is None else budget
    lo, hi = 1, cfg.block_size  # pass_bytes grows with T: the largest T that fits, by bisection
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if pass_bytes(cfg, mid, capture) <= budget else (lo, mid - 1)
    return lo


# -- parameter counts ---------------------------------------------------------------------------
@dataclass(frozen=True)
class ParamCounts:
    components: dict[str, int]  # embeddings, attention, mlp, norms, head (0 when tied)
    total: int  # distinct parameters = sum(p.numel() for p in model.parameters())
    total_untied: int  # what it would be with a separate LM head matrix
    tied: bool
    kv_bytes_per_token: int  # fp32 cache bytes one more position costs, all layers


def param_counts(model: GPT) -> ParamCounts:
    cfg = model.config
    groups = {"embeddings": 0, "attention": 0, "mlp": 0, "norms": 0, "head": 0}
    seen: set[int] = set()
    for name, p in model.named_parameters():  # named_parameters yields a tied tensor once
        seen.add(id(p))
        if name.startswith(("transformer.wte", "transformer.wpe")):
            groups["embeddings"] += p.numel()
        elif ".attn." in name:
            groups["attention"] += p.numel()
        elif ".mlp." in name:
            groups["mlp"] += p.numel()
        elif ".ln_" in name or name.startswith("transformer.ln_f"):
            groups["norms"] += p.numel()
        elif name.startswith("lm_head"):
            groups["head"] += p.numel()
    total = sum(groups.values())
    tied = model.lm_head.weight is model.transformer.wte.weight
    head_matrix = cfg.vocab_size * cfg.n_embd
    return ParamCounts(
        components=groups,
        total=total,
        total_untied=total + (head_matrix if tied else 0),
        tied=tied,
        kv_bytes_per_token=KVCache.formula_bytes(cfg, batch=1, positions=1, bytes_per_value=4),
    )


# -- logit lens ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class LogitLens:
    """What each layer's residual stream would predict if the network stopped there.

    Row 0 is the embeddings (before any block), row i the output of block i-1; the last
    row is the model's own prediction. Columns are the last P positions (``start``..T-1);
    ``resid_norm`` covers all T.
    """

    layer_names: list[str]  # n_layer + 1
    top_ids: np.ndarray  # (n_layer + 1, P) int
    top_tokens: list[list[str]]  # (n_layer + 1) x P readable strings
    top_probs: np.ndarray  # (n_layer + 1, P)
    target_ids: np.ndarray  # (P,) the token that actually came next (the chosen one at the end)
    target_tokens: list[str]  # (P,) their readable strings
    target_probs: np.ndarray  # (n_layer + 1, P) probability each layer gives that token
    resid_norm: np.ndarray  # (n_layer + 1, T) L2 norm of the residual stream
    start: int = 0  # the first position of the lens's columns (P = T - start)


@torch.no_grad()
def logit_lens(model: GPT, tokenizer: Tokenizer, captured: ActivationCache, target_ids: list[int],
               positions: int | None = None) -> LogitLens:
    """The lens of the last ``positions`` positions (default: all), one layer at a time: it never
    holds more than a (P, V) distribution (all at once, GPT-2 small's 13 × 1,000 × 50,257 were 2.6 GB)."""
    n = model.config.n_layer
    resid = captured.residual_streams()  # (n+1, T, C)
    T = resid.shape[1]
    tgt = torch.as_tensor(target_ids, dtype=torch.long)  # (T,)
    if tgt.shape != (T,):
        raise ValueError(f"need one target per position ({T}), got {tuple(tgt.shape)}")
    start = max(0, T - positions) if positions is not None else 0
    tgt = tgt[start:]  # (P,)
    top_p, top_i, tgt_p = [], [], []
    for r in resid[:, start:]:  # (P, C) one layer's stream
        probs = captured.lens_probs(r)  # (P, V)
        p, i = probs.max(dim=-1)  # (P,)
        top_p.append(p)
        top_i.append(i)
        tgt_p.append(probs.gather(-1, tgt[:, None])[:, 0])  # (P,)
    top_i = torch.stack(top_i)  # (n+1, P)
    return LogitLens(
        layer_names=["embed"] + [f"block {i}" for i in range(n)],
        top_ids=top_i.numpy(),
        top_tokens=[[tokenizer.token_str(t) for t in row] for row in top_i.tolist()],
        top_probs=torch.stack(top_p).numpy(),
        target_ids=tgt.numpy(),
        target_tokens=[tokenizer.token_str(t) for t in tgt.tolist()],
        target_probs=torch.stack(tgt_p).numpy(),
        resid_norm=resid.norm(dim=-1).numpy(),
        start=start,
    )


# -- walkthrough of one pass ------------------------------------------------------------------
@dataclass(frozen=True)
class Walkthrough:
    """The data of one forward pass for one chosen layer and head, all as numpy arrays."""

    tokens: list[str]  # T readable tokens
    layer: int
    head: int
    dims: dict[str, int]  # T, C, n_head, head_dim, n_kv_head, kv_head (the K/V head this head reads), d_mlp, V, n_layer
    stages: dict[str, np.ndarray]  # name -> values (see ``walkthrough``)
    top_ids: np.ndarray  # (k,) of the last position's next-token distribution
    top_tokens: list[str]
    top_probs: np.ndarray  # (k,)
    lens: LogitLens
    block: dict[str, str] = field(default_factory=dict)  # the config's choices: norm, positions, mlp


def norm_parts(cfg: GPTConfig, x: torch.Tensor, eps: float | None) -> dict[str, torch.Tensor]:
    """The steps of the config's norm on ``x`` (T, C), before its learned scale (and shift):
    LayerNorm: mean μ (T, 1), σ = √(var + ε) (T, 1), x̂ = (x − μ) / σ; RMSNorm (no mean subtracted):
    rms = √(mean x² + ε) (T, 1), x̂ = x / rms. The model's output is x̂ · w (+ b for LayerNorm)."""
    eps = torch.finfo(x.dtype).eps if eps is None else eps  # nn.RMSNorm(eps=None) uses the dtype's
    if cfg.norm == "rmsnorm":
        scale = (x.pow(2).mean(-1, keepdim=True) + eps).sqrt()  # (T, 1)
        return {"scale": scale, "hat": x / scale}  # (T, C)
    mean = x.mean(-1, keepdim=True)  # (T, 1)
    scale = (x.var(-1, unbiased=False, keepdim=True) + eps).sqrt()  # (T, 1)
    return {"mean": mean, "scale": scale, "hat": (x - mean) / scale}  # (T, C)


def _block_stages(model: GPT, c: ActivationCache, layer: int, head: int) -> dict[str, torch.Tensor]:
    """What the walkthrough shows of block ``layer``, in the order it is computed (names: ``walkthrough``)."""
    cfg = model.config
    blk = c.block(layer)  # (T, C) each, (T, H) inside the MLP
    ln1 = model.transformer.h[layer].ln_1
    parts = norm_parts(cfg, blk["resid_pre"], ln1.eps)
    stages = {
        "resid_pre": blk.pop("resid_pre"),  # (T, C) this block's input
        **{f"ln1_{k}": v for k, v in parts.items()},  # the norm's steps: ln1_mean, ln1_scale (T, 1), ln1_hat (T, C)
        "ln1": blk.pop("ln1"),  # (T, C) the norm's output, as the pass computed it
        **c.head(layer, head),  # q (T, hs), k / v of its kv group (T, hs), scores ... pattern (T, T), z (T, hs)
    }
    if cfg.positions == "rotary":
        kv_head = head // (cfg.n_head // cfg.n_kv_head)
        p = f"blocks.{layer}.attn."
        T = stages["q"].shape[0]
        stages["q_before_rope"] = c[p + "q_before_rope"][0, head]  # (T, hs) before the turn
        stages["k_before_rope"] = c[p + "k_before_rope"][0, kv_head]  # (T, hs)
        stages["rope_angles"] = rope_angles(torch.arange(T), cfg.head_dim, cfg.rope_theta)  # (T, hs/2)
    if cfg.mlp == "swiglu":
        stages["mlp_gate"] = c[f"blocks.{layer}.mlp.gate"][0]  # (T, H) silu(gate_proj x)
        stages["mlp_up"] = c[f"blocks.{layer}.mlp.pre_linear"][0]  # (T, H) up_proj x
    return stages | blk  # concat, attn_out, resid_mid, ln2, mlp_pre, mlp_post, mlp_out, resid_post


@torch.no_grad()
def head_scores(model: GPT, ids: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Every head's raw scores QKᵀ/√d and attention weights over ``ids``, from one captured pass:
    (scores (L, H, T, T), weights (L, H, T, T)). The causal-mask view draws any head from these."""
    if not ids:
        raise ValueError("the scores need at least one token")
    c = model(torch.tensor([ids]), use_cache=False, capture=True).captured
    heads = [[c.head(l, h) for h in range(model.config.n_head)] for l in range(model.config.n_layer)]
    scores = np.stack([[hd["scores"].float().numpy() for hd in row] for row in heads])  # (L, H, T, T)
    weights = np.stack([[hd["pattern"].float().numpy() for hd in row] for row in heads])  # (L, H, T, T)
    return scores, weights


@torch.no_grad()
def walkthrough(model: GPT, tokenizer: Tokenizer, ids: list[int], layer: int, head: int,
                next_id: int | None = None, top: int = 10, lens_positions: int | None = None) -> Walkthrough:
    """Run ``ids`` once with capture and keep what the views need for ``layer``/``head``.

    Stages (T rows each): embed, pos_embed (learned positions only), resid_pre; the norm's steps
    ln1_mean (LayerNorm only), ln1_scale (σ or rms, (T, 1)), ln1_hat, and its output
    ln1; the head's q, k, v, scores, masked_scores, pattern, z; with rotary positions q_before_rope,
    k_before_rope and rope_angles (T, hs/2); concat, attn_out, resid_mid, ln2, mlp_pre (c_fc or
    gate_proj), with SwiGLU mlp_gate = silu(mlp_pre) and mlp_up = up_proj, mlp_post (GELU, or gate ⊙ up),
    mlp_out, resid_post; ln_final and logits (T, V). All but the norm's steps and the angles are the
    pass's own values (taps); those are computed from its input and checked against its output by tests.

    ``next_id`` is the token chosen after the last position (for the logit lens); by default
    the model's own top guess. ``lens_positions``: the lens covers only the last ones (the page
    shows LENS_POSITIONS). It holds about ``pass_bytes(model.config, len(ids))``.
    """
    cfg = model.config
    if not 0 <= layer < cfg.n_layer or not 0 <= head < cfg.n_head:
        raise ValueError(f"layer must be in 0..{cfg.n_layer - 1} and head in 0..{cfg.n_head - 1}")
    if not ids:
        raise ValueError("the walkthrough needs at least one token")
    out = model(torch.tensor([ids]), use_cache=False, capture=True)
    c = out.captured
    probs = torch.softmax(out.logits[0, -1].float(), -1)  # (V,)
    top_p, top_i = probs.topk(min(top, cfg.vocab_size))
    stages = {
        "embed": c["embed"][0],  # (T, C) token embedding rows
        **({"pos_embed": c["pos_embed"]} if "pos_embed" in c else {}),  # (T, C) learned positions only
        **_block_stages(model, c, layer, head),
        "ln_final": c["ln_final"][0],  # (T, C)
        "logits": out.logits[0],  # (T, V)
    }
    nxt = int(top_i[0]) if next_id is None else int(next_id)
    targets = list(ids[1:]) + [nxt]
    return Walkthrough(
        tokens=[tokenizer.token_str(i) for i in ids],
        layer=layer,
        head=head,
        dims=dict(T=len(ids), C=cfg.n_embd, n_head=cfg.n_head, head_dim=cfg.head_dim, n_kv_head=cfg.n_kv_head,
                  kv_head=head // (cfg.n_head // cfg.n_kv_head), d_mlp=cfg.intermediate_size, V=cfg.vocab_size,
                  n_layer=cfg.n_layer),
        stages={k: v.float().numpy().copy() for k, v in stages.items()},
        top_ids=top_i.numpy(),
        top_tokens=[tokenizer.token_str(i) for i in top_i.tolist()],
        top_probs=top_p.numpy(),
        lens=logit_lens(model, tokenizer, c, targets, lens_positions),
        block=dict(norm=cfg.norm, positions=cfg.positions, mlp=cfg.mlp),
    )


@torch.no_grad()
def leak_compare(model: GPT, ids: list[int], at: int, new_id: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Put ``new_id`` at position ``at`` and run both texts once (no capture).

    Returns, per position (T,): the probability the original text gives its own top next token,
    the probability the changed text gives that token, and max |Δp| over the vocabulary. In a
    causal model every position before ``at`` differs by exactly 0. Distributions are formed
    CHUNK positions at a time: it holds about ``pass_bytes(model.config, len(ids), capture=False)``.
    """
    if not 0 <= at < len(ids):
        raise ValueError(f"the position to change must be from 0 to {len(ids) - 1}; got {at}")
    changed = list(ids[:at]) + [int(new_id)] + list(ids[at + 1:])
    a = model(torch.tensor([list(ids)]), use_cache=False).logits[0]  # (T, V)
    b = model(torch.tensor([changed]), use_cache=False).logits[0]  # (T, V)
    before, after, diff = [], [], []
    for lo in range(0, len(ids), CHUNK):
        pa = torch.softmax(a[lo:lo + CHUNK].float(), -1)  # (≤CHUNK, V)
        pb = torch.softmax(b[lo:lo + CHUNK].float(), -1)
        top = pa.argmax(-1, keepdim=True)  # (≤CHUNK, 1)
        before.append(pa.gather(-1, top)[:, 0])
        after.append(pb.gather(-1, top)[:, 0])
        diff.append((pa - pb).abs().max(-1).values)
    return tuple(torch.cat(x).numpy() for x in (before, after, diff))


@torch.no_grad()
def measured_cache_bytes(model: GPT, positions: list[int]) -> list[int]:
    """Measured bytes (numel × element_size) of ``model``'s KV cache after reading P positions, for each P.

    The cache's size depends on how many positions it holds, not on which tokens, so each pass reads zeros.
    """
    return [model(torch.zeros((1, P), dtype=torch.long)).kv.nbytes for P in positions]
