"""Inside one forward pass: the real intermediate values, a logit lens, parameter counts.

Everything here is plain data (numpy arrays, ints, strings) computed from one
``model(ids, capture=True)`` call, so the figures can draw it without torch.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from playground.model import GPT, KVCache
from playground.tokenizer import Tokenizer


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
    row is the model's own prediction. Columns are positions.
    """

    layer_names: list[str]  # n_layer + 1
    top_ids: np.ndarray  # (n_layer + 1, T) int
    top_tokens: list[list[str]]  # (n_layer + 1) x T readable strings
    top_probs: np.ndarray  # (n_layer + 1, T)
    target_ids: np.ndarray  # (T,) the token that actually came next (the chosen one at the end)
    target_probs: np.ndarray  # (n_layer + 1, T) probability each layer gives that token
    resid_norm: np.ndarray  # (n_layer + 1, T) L2 norm of the residual stream


@torch.no_grad()
def logit_lens(model: GPT, tokenizer: Tokenizer, captured: dict[str, torch.Tensor], target_ids: list[int]) -> LogitLens:
    n = model.config.n_layer
    streams = [captured["blocks.0.resid_pre"]] + [captured[f"blocks.{i}.resid_post"] for i in range(n)]
    resid = torch.stack([s[0] for s in streams])  # (n+1, T, C)
    logits = model.lm_head(model.transformer.ln_f(resid))  # (n+1, T, V)
    probs = torch.softmax(logits.float(), dim=-1)  # (n+1, T, V)
    top_p, top_i = probs.max(dim=-1)  # (n+1, T)
    tgt = torch.as_tensor(target_ids, dtype=torch.long)  # (T,)
    if tgt.shape != (resid.shape[1],):
        raise ValueError(f"need one target per position ({resid.shape[1]}), got {tuple(tgt.shape)}")
    tgt_p = probs.gather(-1, tgt.expand(n + 1, -1)[..., None])[..., 0]  # (n+1, T)
    return LogitLens(
        layer_names=["embed"] + [f"block {i}" for i in range(n)],
        top_ids=top_i.numpy(),
        top_tokens=[[tokenizer.token_str(t) for t in row] for row in top_i.tolist()],
        top_probs=top_p.numpy(),
        target_ids=tgt.numpy(),
        target_probs=tgt_p.numpy(),
        resid_norm=resid.norm(dim=-1).numpy(),
    )


# -- walkthrough of one pass ------------------------------------------------------------------
@dataclass(frozen=True)
class Walkthrough:
    """The data of one forward pass for one chosen layer and head, all as numpy arrays."""

    tokens: list[str]  # T readable tokens
    layer: int
    head: int
    dims: dict[str, int]  # T, C, n_head, head_dim, n_kv_head, d_mlp, V, n_layer
    stages: dict[str, np.ndarray]  # name -> values (see ``walkthrough``)
    top_ids: np.ndarray  # (k,) of the last position's next-token distribution
    top_tokens: list[str]
    top_probs: np.ndarray  # (k,)
    lens: LogitLens


@torch.no_grad()
def walkthrough(model: GPT, tokenizer: Tokenizer, ids: list[int], layer: int, head: int,
                next_id: int | None = None, top: int = 10) -> Walkthrough:
    """Run ``ids`` once with capture and keep what the views need for ``layer``/``head``.

    ``next_id`` is the token chosen after the last position (for the logit lens); by default
    the model's own top guess.
    """
    cfg = model.config
    if not 0 <= layer < cfg.n_layer or not 0 <= head < cfg.n_head:
        raise ValueError(f"layer must be in 0..{cfg.n_layer - 1} and head in 0..{cfg.n_head - 1}")
    if not ids:
        raise ValueError("the walkthrough needs at least one token")
    out = model(torch.tensor([ids]), use_cache=False, capture=True)
    c = out.captured
    kv_head = head // (cfg.n_head // cfg.n_kv_head)  # the key/value head this query head reads
    p = f"blocks.{layer}."
    probs = torch.softmax(out.logits[0, -1].float(), -1)  # (V,)
    top_p, top_i = probs.topk(min(top, cfg.vocab_size))
    stages = {
        "embed": c["embed"][0],  # (T, C) token embedding rows
        "pos_embed": c["pos_embed"],  # (T, C)
        "resid_pre": c[p + "resid_pre"][0],  # (T, C) this block's input
        "ln1": c[p + "ln1"][0],  # (T, C)
        "q": c[p + "attn.q"][0, head],  # (T, hs)
        "k": c[p + "attn.k"][0, kv_head],  # (T, hs)
        "v": c[p + "attn.v"][0, kv_head],  # (T, hs)
        "scores": c[p + "attn.scores"][0, head],  # (T, T) QKᵀ/√d
        "masked_scores": c[p + "attn.masked_scores"][0, head],  # (T, T) -inf above the diagonal
        "pattern": c[p + "attn.pattern"][0, head],  # (T, T) softmax
        "z": c[p + "attn.z"][0, head],  # (T, hs) pattern @ V
        "concat": c[p + "attn.concat"][0],  # (T, C) all heads side by side
        "attn_out": c[p + "attn.attn_out"][0],  # (T, C) after c_proj
        "resid_mid": c[p + "resid_mid"][0],  # (T, C)
        "ln2": c[p + "ln2"][0],  # (T, C)
        "mlp_pre": c[p + "mlp.pre"][0],  # (T, 4C)
        "mlp_post": c[p + "mlp.post"][0],  # (T, 4C) GELU
        "mlp_out": c[p + "mlp_out"][0],  # (T, C)
        "resid_post": c[p + "resid_post"][0],  # (T, C)
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
                  d_mlp=4 * cfg.n_embd, V=cfg.vocab_size, n_layer=cfg.n_layer),
        stages={k: v.float().numpy().copy() for k, v in stages.items()},
        top_ids=top_i.numpy(),
        top_tokens=[tokenizer.token_str(i) for i in top_i.tolist()],
        top_probs=top_p.numpy(),
        lens=logit_lens(model, tokenizer, c, targets),
    )
