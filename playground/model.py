"""A decoder-only GPT in GPT-2's layout, returning its attention and KV cache as data.

Reads top to bottom in dependency order: KVCache -> CausalSelfAttention -> MLP -> Block -> GPT.
Parameter names are GPT-2's (``transformer.wte``, ``h.{i}.attn.c_attn``, ``ln_f``...), so
loading GPT-2 weights is a name-by-name copy (see ``playground.weights``).

Dimension names used in shape comments:
  B = batch, T = new tokens in this call, L = positions already in the cache,
  S = L + T (all key positions), C = n_embd, nh = n_head, nkv = n_kv_head, hs = head size,
  V = vocabulary.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from playground.config import GPTConfig


class ContextWindowFull(ValueError):
    """Raised when a forward pass would go past the model's context window."""


class _Storage:
    """Pre-allocated key/value buffers shared by a chain of KVCache views.

    ``filled`` is how far some view has written. A view of length L may write in place
    only while ``filled == L``; otherwise another view already extended from this point
    (e.g. after ``crop`` for "step back"), so it copies first. This keeps every KVCache
    object immutable as seen by its holder, without copying the cache on every step.
    """

    def __init__(self, k: list[torch.Tensor], v: list[torch.Tensor], filled: int):
        self.k = k  # per layer (B, nkv, capacity, hs)
        self.v = v
        self.filled = filled

    @property
    def capacity(self) -> int:
        return self.k[0].shape[2]


@dataclass(frozen=True)
class KVCache:
    """Per-layer keys and values of the first ``length`` positions.

    ``keys[i]`` / ``values[i]`` are views ``(B, n_kv_head, length, head_dim)``.
    """

    storage: _Storage
    length: int

    @property
    def n_layer(self) -> int:
        return len(self.storage.k)

    def layer(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.storage.k[i][:, :, : self.length], self.storage.v[i][:, :, : self.length]

    @property
    def keys(self) -> list[torch.Tensor]:
        return [k[:, :, : self.length] for k in self.storage.k]

    @property
    def values(self) -> list[torch.Tensor]:
        return [v[:, :, : self.length] for v in self.storage.v]

    @property
    def nbytes(self) -> int:
        """Bytes of the keys and values in use, measured as numel * element_size."""
        return sum(t.numel() * t.element_size() for t in self.keys + self.values)

    @property
    def allocated_nbytes(self) -> int:
        """Bytes actually reserved (twice the positions needed when (re)allocated, up to the context window)."""
        return sum(t.numel() * t.element_size() for t in self.storage.k + self.storage.v)

    def crop(self, length: int) -> "KVCache":
        """The cache of the first ``length`` positions (for "step back"); shares storage."""
        if not 0 <= length <= self.length:
            raise ValueError(f"cannot crop a cache of {self.length} positions to {length}")
        return KVCache(self.storage, length)

    def select(self, batch_index: torch.Tensor) -> "KVCache":
        """A new cache whose batch rows are ``batch_index`` (beam search reorders beams)."""
        k = [t[batch_index, :, : self.length].clone() for t in self.storage.k]
        v = [t[batch_index, :, : self.length].clone() for t in self.storage.v]
        return KVCache(_Storage(k, v, self.length), self.length)

    @staticmethod
    def formula_bytes(config: GPTConfig, batch: int, positions: int, bytes_per_value: int = 4) -> int:
        """2 (K and V) x layers x batch x kv_heads x positions x head_dim x bytes."""
        return 2 * config.n_layer * batch * config.n_kv_head * positions * config.head_dim * bytes_per_value

    @staticmethod
    def formula_text(config: GPTConfig, batch: int, positions: int, bytes_per_value: int = 4) -> str:
        total = KVCache.formula_bytes(config, batch, positions, bytes_per_value)
        return (
            f"2 × {config.n_layer} layers × {batch} batch × {config.n_kv_head} kv_heads × "
            f"{positions} positions × {config.head_dim} head_dim × {bytes_per_value} bytes = {total:,} bytes"
        )

    # -- writing (used by the model only) ----------------------------------------------------
    def _writable(self, T: int, block_size: int) -> _Storage:
        """Storage into which positions ``length .. length+T`` may be written.

        Copies first (copy-on-write) when another view already wrote past ``length``, and
        grows by doubling when full, so no KVCache object ever sees its positions change.
        A decode step (T = 1, the usual case) writes one position in place and copies nothing.
        """
        st, end = self.storage, self.length + T
        if st.filled != self.length or end > st.capacity:
            capacity = min(block_size, max(2 * end, 16))  # room to decode as many again
            st = _Storage(
                [_grow(t, self.length, capacity) for t in st.k],
                [_grow(t, self.length, capacity) for t in st.v],
                self.length,
            )
        return st

    @staticmethod
    def _empty(config: GPTConfig, like: torch.Tensor, batch: int) -> "KVCache":
        shape = (batch, config.n_kv_head, 0, config.head_dim)
        k = [like.new_empty(shape) for _ in range(config.n_layer)]
        v = [like.new_empty(shape) for _ in range(config.n_layer)]
        return KVCache(_Storage(k, v, 0), 0)


def _grow(t: torch.Tensor, keep: int, capacity: int) -> torch.Tensor:
    B, H, _, D = t.shape
    out = t.new_empty(B, H, capacity, D)
    out[:, :, :keep] = t[:, :, :keep]
    return out


@dataclass(frozen=True)
class ForwardOut:
    logits: torch.Tensor  # (B, T, V); (B, 1, V) with last_logits_only
    attn: tuple[torch.Tensor, ...] | None  # per layer (B, nh, T, S), only when asked
    kv: KVCache | None  # the cache after this call (S positions); None when use_cache=False
    captured: dict[str, torch.Tensor] | None = None  # intermediates, only with capture=True


class CausalSelfAttention(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.n_head = config.n_head
        self.n_kv_head = config.n_kv_head
        self.head_dim = config.head_dim
        self.n_embd = config.n_embd
        # one fused projection, as GPT-2: [queries (C) | keys (nkv*hs) | values (nkv*hs)]
        self.c_attn = nn.Linear(config.n_embd, config.n_embd + 2 * config.kv_dim, bias=config.bias)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.attn_dropout = nn.Dropout(config.dropout)
        self.resid_dropout = nn.Dropout(config.dropout)
        self.dropout = config.dropout

    def qkv(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        B, T, C = x.shape
        kv_dim = self.n_kv_head * self.head_dim
        q, k, v = self.c_attn(x).split([C, kv_dim, kv_dim], dim=2)
        q = q.view(B, T, self.n_head, self.head_dim).transpose(1, 2)  # (B, nh, T, hs)
        k = k.view(B, T, self.n_kv_head, self.head_dim).transpose(1, 2)  # (B, nkv, T, hs)
        v = v.view(B, T, self.n_kv_head, self.head_dim).transpose(1, 2)  # (B, nkv, T, hs)
        return q, k, v

    def forward(
        self, x: torch.Tensor, k: torch.Tensor, v: torch.Tensor, q: torch.Tensor, return_attn: bool,
        capture: dict[str, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Attend the new queries ``q`` (B, nh, T, hs) over all keys/values (B, nkv, S, hs).

        ``capture`` (opt-in) receives the intermediates under the names listed in ``GPT.forward``.
        """
        B, T, C = x.shape
        S = k.shape[2]
        L = S - T  # positions before this call's tokens
        groups = self.n_head // self.n_kv_head
        att = None
        if return_attn or capture is not None:
            if groups > 1:  # each kv head serves `groups` consecutive query heads
                k = k.repeat_interleave(groups, dim=1)  # (B, nh, S, hs)
                v = v.repeat_interleave(groups, dim=1)
            scores = (q @ k.transpose(-2, -1)) / math.sqrt(self.head_dim)  # (B, nh, T, S)
            masked = scores.masked_fill(~causal_mask(T, S, x.device), float("-inf"))
            att = F.softmax(masked, dim=-1)  # (B, nh, T, S); exactly 0 above the diagonal
            y = self.attn_dropout(att) @ v  # (B, nh, T, hs)
            if capture is not None:
                capture.update(scores=scores, masked_scores=masked, pattern=att, z=y)
        else:
            # torch's fused attention; it never materialises the weights
            if T == 1:
                mask, causal = None, False  # one new query may see every cached key
            elif L == 0:
                mask, causal = None, True
            else:
                mask, causal = causal_mask(T, S, x.device), False
            y = F.scaled_dot_product_attention(
                q, k, v, attn_mask=mask, is_causal=causal,
                dropout_p=self.dropout if self.training else 0.0, enable_gqa=groups > 1,
            )  # (B, nh, T, hs)
        return self._project(y, B, T, C, capture), att if return_attn else None

    def _project(self, y: torch.Tensor, B: int, T: int, C: int, capture: dict | None) -> torch.Tensor:
        y = y.transpose(1, 2).reshape(B, T, C)  # (B, nh, T, hs) -> (B, T, C): heads side by side
        out = self.resid_dropout(self.c_proj(y))  # (B, T, C)
        if capture is not None:
            capture.update(concat=y, attn_out=out)
        return out


def causal_mask(T: int, S: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """(T, S) bool, True where query t (at absolute position S-T+t) may see key s."""
    return torch.ones(T, S, dtype=torch.bool, device=device).tril(diagonal=S - T)


class MLP(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.gelu = nn.GELU(approximate="tanh")  # GPT-2's "gelu_new"
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))  # (B, T, 4C) inside, (B, T, C) out


class Block(nn.Module):
    """Pre-LayerNorm transformer block: x + attn(ln_1(x)), then + mlp(ln_2(x))."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon, bias=config.bias)
        self.mlp = MLP(config)


class GPT(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        self.transformer = nn.ModuleDict(
            dict(
                wte=nn.Embedding(config.vocab_size, config.n_embd),
                wpe=nn.Embedding(config.block_size, config.n_embd),
                drop=nn.Dropout(config.dropout),
                h=nn.ModuleList([Block(config) for _ in range(config.n_layer)]),
                ln_f=nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon, bias=config.bias),
            )
        )
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        if config.tie_word_embeddings:
            self.lm_head.weight = self.transformer.wte.weight  # weight tying (as GPT-2)
        self.apply(self._init_weights)
        for name, p in self.named_parameters():  # GPT-2: scale residual projections by depth
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def num_parameters(self) -> int:
        """Distinct parameters (a tied head counts once)."""
        return sum(p.numel() for p in self.parameters())

    def forward(
        self,
        idx: torch.Tensor,
        past_kv: KVCache | None = None,
        return_attn: bool = False,
        use_cache: bool = True,
        capture: bool = False,
        last_logits_only: bool = False,
    ) -> ForwardOut:
        """Run ``idx`` (B, T) after the positions held in ``past_kv``.

        Returns the logits of the new positions, their attention (per layer (B, nh, T, S), only
        if asked) and a new KVCache covering all S positions (``None`` if ``use_cache=False``,
        as in training). ``past_kv`` is left as it was. ``last_logits_only=True`` computes the LM
        head for the last position only (logits (B, 1, V)): all that choosing the next token needs,
        and the LM head is the largest matrix (V x C) of a small GPT.

        ``capture=True`` (opt-in; it costs memory and the fused attention) also returns the
        intermediates the pass used, in ``ForwardOut.captured``, named as TransformerLens does:
          embed, pos_embed, blocks.{i}.resid_pre (B, T, C); blocks.{i}.ln1 (B, T, C);
          blocks.{i}.attn.q (B, nh, T, hs), .k / .v (B, nkv, S, hs), .scores = QKᵀ/√d and
          .masked_scores (-inf above the diagonal) and .pattern (B, nh, T, S), .z = pattern @ V
          (B, nh, T, hs), .concat (B, T, C), .attn_out = c_proj(concat) (B, T, C);
          blocks.{i}.resid_mid; blocks.{i}.ln2; blocks.{i}.mlp.pre = c_fc (B, T, 4C), .post = GELU,
          .mlp_out (B, T, C); blocks.{i}.resid_post; ln_final (B, T, C).
        """
        B, T = idx.shape
        cfg = self.config
        L = past_kv.length if past_kv is not None else 0
        if T < 1:
            raise ValueError("forward needs at least one token")
        if L + T > cfg.block_size:
            raise ContextWindowFull(
                f"the context window holds {cfg.block_size} tokens; {L} cached + {T} new = {L + T} is too many"
            )
        S = L + T
        store = None
        if use_cache or past_kv is not None:
            if past_kv is None:
                past_kv = KVCache._empty(cfg, self.transformer.wte.weight.detach(), B)
            store = past_kv._writable(T, cfg.block_size)
        pos = torch.arange(L, S, device=idx.device)  # (T,)
        tok_emb = self.transformer.wte(idx)  # (B, T, C)
        pos_emb = self.transformer.wpe(pos)  # (T, C)
        x = self.transformer.drop(tok_emb + pos_emb)  # (B, T, C)
        cap: dict[str, torch.Tensor] | None = {"embed": tok_emb, "pos_embed": pos_emb} if capture else None
        attn = []
        for i, block in enumerate(self.transformer.h):
            a_cap: dict[str, torch.Tensor] | None = {} if capture else None
            h = block.ln_1(x)  # (B, T, C)
            q, k, v = block.attn.qkv(h)  # q (B, nh, T, hs); k, v (B, nkv, T, hs)
            if store is not None:
                store.k[i][:, :, L:S] = k
                store.v[i][:, :, L:S] = v
                k, v = store.k[i][:, :, :S], store.v[i][:, :, :S]  # (B, nkv, S, hs)
            y, a = block.attn(h, k, v, q, return_attn, a_cap)
            if cap is not None:
                p = f"blocks.{i}."
                cap.update({p + "resid_pre": x, p + "ln1": h, p + "attn.q": q, p + "attn.k": k, p + "attn.v": v})
                cap.update({p + "attn." + name: t for name, t in a_cap.items()})
            x = x + y  # residual
            if cap is not None:
                cap[p + "resid_mid"] = x
                h2 = block.ln_2(x)  # (B, T, C)
                pre = block.mlp.c_fc(h2)  # (B, T, 4C)
                post = block.mlp.gelu(pre)  # (B, T, 4C)
                m = block.mlp.dropout(block.mlp.c_proj(post))  # (B, T, C)
                cap.update({p + "ln2": h2, p + "mlp.pre": pre, p + "mlp.post": post, p + "mlp_out": m})
            else:
                m = block.mlp(block.ln_2(x))  # (B, T, C)
            x = x + m  # residual
            if cap is not None:
                cap[p + "resid_post"] = x
            if return_attn:
                attn.append(a)
        x = self.transformer.ln_f(x)  # (B, T, C)
        if cap is not None:
            cap["ln_final"] = x
        if last_logits_only:
            x = x[:, -1:]  # (B, 1, C)
        logits = self.lm_head(x)  # (B, T, V), or (B, 1, V)
        kv = None
        if store is not None:
            store.filled = S
            kv = KVCache(store, S)
        return ForwardOut(logits=logits, attn=tuple(attn) if return_attn else None, kv=kv, captured=cap)
