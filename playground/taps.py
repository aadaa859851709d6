"""Named taps on a forward pass and the activations they caught (TransformerLens's HookPoint and
ActivationCache ideas, in a few lines).

A module calls ``tap("ln1", h)`` where it computes ``h``: the tap returns ``h`` unchanged and keeps it
when that name is wanted. So every intermediate is recorded by the code that computes it, on the one
path the model always runs; nothing re-implements a block to look inside it. ``GPT.forward`` makes one
``Tap`` per call: recording nothing (the usual case), only the attention patterns (``return_attn``),
or everything (``capture``), which it returns as an ``ActivationCache``.

Names, as TransformerLens spells them (shapes for batch B, T new positions, S key positions):
  embed (B, T, C), pos_embed (T, C); blocks.{i}.resid_pre, .ln1 (B, T, C);
  blocks.{i}.attn.q (B, nh, T, hs), .k / .v (B, nkv, S, hs), .scores = QKᵀ/√d, .masked_scores (-inf
  above the diagonal), .pattern (B, nh, T, S), .z = pattern @ V (B, nh, T, hs), .concat (B, T, C),
  .attn_out = c_proj(concat) (B, T, C); blocks.{i}.resid_mid, .ln2 (B, T, C); blocks.{i}.mlp.pre = c_fc
  (B, T, 4C), .mlp.post = GELU (B, T, 4C); blocks.{i}.mlp_out, .resid_post (B, T, C); ln_final (B, T, C).

What the config changes (``playground.config.GPTConfig``): ln1 / ln2 / ln_final are RMSNorm's output with
``norm="rmsnorm"``. With rotary positions there is no pos_embed; instead ``attn.q_before_rope`` (B, nh, T, hs)
and ``attn.k_before_rope`` (B, nkv, T, new positions only) are q and k before they are turned, and ``attn.q`` /
``attn.k`` are the turned ones that meet in the scores (the cache holds turned keys). With ``mlp="swiglu"``:
``mlp.pre`` = gate_proj(x), ``mlp.gate`` = silu(pre), ``mlp.pre_linear`` = up_proj(x), ``mlp.post`` = gate *
pre_linear, all (B, T, H) with H = intermediate_size (4C for GPT-2), as TransformerLens names a gated MLP.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping

import torch

HEAD_STAGES = ("q", "k", "v", "scores", "masked_scores", "pattern", "z")  # per attention head
BLOCK_STAGES = ("resid_pre", "ln1", "concat", "attn_out", "resid_mid", "ln2", "mlp_pre", "mlp_post", "mlp_out",
                "resid_post")  # whole-width values of one block, in the order they are computed


class Tap:
    """``tap(name, t)`` returns ``t``, keeping it under ``prefix + name`` when wanted.

    ``only``: the last parts of the names to keep (``{"pattern"}``), None for all of them, empty for none.
    """

    def __init__(self, only: frozenset[str] | None = frozenset(), store: dict | None = None, prefix: str = ""):
        self.only = only
        self.store: dict[str, torch.Tensor] = {} if store is None else store
        self.prefix = prefix

    def wants(self, name: str) -> bool:
        return self.only is None or name.rsplit(".", 1)[-1] in self.only

    def __call__(self, name: str, t: torch.Tensor) -> torch.Tensor:
        if self.only != frozenset() and self.wants(name):
            self.store[self.prefix + name] = t
        return t

    def scoped(self, prefix: str) -> "Tap":
        """The tap a submodule uses: the same store, its names under ``prefix`` ("blocks.0.")."""
        return self if self.only == frozenset() else Tap(self.only, self.store, self.prefix + prefix)


OFF = Tap()  # records nothing


class ActivationCache(Mapping):
    """What a captured forward computed, by name (see the top of this module), and views of it.

    The model is kept (shared, read-only) for the analysis that needs its final norm and LM head.
    """

    def __init__(self, values: dict[str, torch.Tensor], model):
        self._values = values
        self.model = model

    def __getitem__(self, name: str) -> torch.Tensor:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    @property
    def n_layer(self) -> int:
        return self.model.config.n_layer

    def residual_streams(self, batch: int = 0) -> torch.Tensor:
        """(n_layer + 1, T, C): the stream entering block 0, then the output of each block."""
        streams = [self["blocks.0.resid_pre"]] + [self[f"blocks.{i}.resid_post"] for i in range(self.n_layer)]
        return torch.stack([s[batch] for s in streams])

    def lens_probs(self, stream: torch.Tensor) -> torch.Tensor:
        """(P, V) what one residual stream (P, C) would predict if the network stopped there (logit lens)."""
        return torch.softmax(self.model.lm_head(self.model.transformer.ln_f(stream)).float(), dim=-1)

    def head(self, layer: int, head: int, batch: int = 0) -> dict[str, torch.Tensor]:
        """One head's values in ``layer``: q (T, hs), its key/value group's k and v (S, hs), scores,
        masked_scores and pattern (T, S), z (T, hs)."""
        cfg = self.model.config
        kv_head = head // (cfg.n_head // cfg.n_kv_head)  # the key/value head this query head reads
        p = f"blocks.{layer}.attn."
        return {name: self[p + name][batch, kv_head if name in ("k", "v") else head] for name in HEAD_STAGES}

    def block(self, layer: int, batch: int = 0) -> dict[str, torch.Tensor]:
        """The whole-width values of block ``layer`` (T, C), or (T, H) inside the MLP; names as BLOCK_STAGES."""
        p = f"blocks.{layer}."
        full = {"concat": "attn.concat", "attn_out": "attn.attn_out", "mlp_pre": "mlp.pre", "mlp_post": "mlp.post"}
        return {name: self[p + full.get(name, name)][batch] for name in BLOCK_STAGES}
