"""A decoder-only GPT, GPT-2's layout or Llama's, returning its attention and KV cache as data.

Reads top to bottom in dependency order: KVCache -> rotary positions -> CausalSelfAttention ->
MLP / SwiGLU -> Block -> GPT, then ``decode``, the one loop that generates token after token
(as nanoGPT's ``generate``). The config chooses each part (``playground.config.GPTConfig``):
LayerNorm or RMSNorm, learned or rotary positions, GELU or SwiGLU MLP, MHA / GQA / MQA through
``n_kv_head``, biases, tied or untied head. Parameter names are GPT-2's (``transformer.wte``,
``h.{i}.attn.c_attn``, ``ln_f``...), so loading GPT-2 weights is a name-by-name copy, and a Llama's
q/k/v projections are stacked into ``c_attn`` (see ``playground.weights``).

Every module has one forward path, as in nanoGPT. What the page shows (attention weights, every
intermediate of a pass) is recorded by named taps inside those paths (``playground.taps``).

Dimension names used in shape comments:
  B = batch, T = new tokens in this call, L = positions already in the cache,
  S = L + T (all key positions), C = n_embd, nh = n_head, nkv = n_kv_head, hs = head size,
  V = vocabulary.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from playground.config import GPTConfig
from playground.i18n import t as _t
from playground.taps import OFF, ActivationCache, Tap


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
class LayerKV:
    """One layer's slot in a cache being extended: where this call's keys and values go."""

    storage: _Storage
    layer: int
    start: int  # positions already cached (L)
    pad: torch.Tensor | None = None  # (B,) leading padding positions of each row (KVCache.pad)

    def append(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Write the new keys/values (B, nkv, T, hs) after ``start``; return all of them (B, nkv, S, hs)."""
        end = self.start + k.shape[2]
        self.storage.k[self.layer][:, :, self.start:end] = k
        self.storage.v[self.layer][:, :, self.start:end] = v
        return self.storage.k[self.layer][:, :, :end], self.storage.v[self.layer][:, :, :end]


@dataclass(frozen=True)
class KVCache:
    """Per-layer keys and values of the first ``length`` positions.

    ``keys[i]`` / ``values[i]`` are views ``(B, n_kv_head, length, head_dim)``. A batch of rows of
    different lengths is left-padded: ``pad[b]`` leading positions of row b are padding, masked out of
    attention, and its tokens are numbered from 0 after them (``playground.batching``).
    """

    storage: _Storage
    length: int
    pad: torch.Tensor | None = None  # (B,) long, or None: no row is padded

    @property
    def n_layer(self) -> int:
        return len(self.storage.k)

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
        return KVCache(self.storage, length, self.pad)

    def rollback(self, length: int) -> "KVCache":
        """The first ``length`` positions, the rest dropped for good (rejected drafts): the next write reuses their
        place instead of copying the cache. Longer views of this storage must not be used afterwards."""
        view = self.crop(length)
        self.storage.filled = length
        return view

    def select(self, batch_index: torch.Tensor) -> "KVCache":
        """A new cache whose batch rows are ``batch_index`` (beam search reorders beams)."""
        k = [t[batch_index, :, : self.length].clone() for t in self.storage.k]
        v = [t[batch_index, :, : self.length].clone() for t in self.storage.v]
        return KVCache(_Storage(k, v, self.length), self.length, None if self.pad is None else self.pad[batch_index])

    @staticmethod
    def of(keys: list[torch.Tensor], values: list[torch.Tensor], length: int, pad=None) -> "KVCache":
        """A cache over per-layer buffers (B, nkv, capacity, hs) filled up to ``length`` (a batch scheduler's)."""
        return KVCache(_Storage(keys, values, length), length, pad)

    @staticmethod
    def formula_bytes(config: GPTConfig, batch: int, positions: int, bytes_per_value: int = 4) -> int:
        """2 (K and V) x layers x batch x kv_heads x positions x head_dim x bytes."""
        return 2 * config.n_layer * batch * config.n_kv_head * positions * config.head_dim * bytes_per_value

    @staticmethod
    def formula_text(config: GPTConfig, batch: int, positions: int, bytes_per_value: int = 4, lang: str = "en") -> str:
        """The formula with this model's numbers, in the page's language (``i18n`` "kv.formula")."""
        return _t("kv.formula", lang, L=config.n_layer, B=batch, kv=config.n_kv_head, T=positions, d=config.head_dim,
                  b=bytes_per_value, total=f"{KVCache.formula_bytes(config, batch, positions, bytes_per_value):,}")

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
    captured: ActivationCache | None = None  # every intermediate, only with capture=True


# -- rotary positions (RoPE) ----------------------------------------------------------------------
def rope_angles(positions: torch.Tensor, head_dim: int, theta: float) -> torch.Tensor:
    """(P, hs/2) angle by which dimension pair i of a query or key at each position is turned:
    position * theta ** (-2i / hs). Fast-turning pairs come first, slow ones last."""
    inv_freq = 1.0 / theta ** (torch.arange(0, head_dim, 2, device=positions.device).float() / head_dim)  # (hs/2,)
    return positions.float()[..., None] * inv_freq  # (P, hs/2), or (B, P, hs/2) for per-row positions


def apply_rope(x: torch.Tensor, start: int | torch.Tensor, theta: float) -> torch.Tensor:
    """Turn each pair of dimensions (i, i + hs/2) of x (B, H, T, hs) by its angle at positions start..start+T-1
    (or, ``start`` a (B, T) tensor, at each row's own positions: a left-padded batch).

    Llama's "rotate half" layout: the pairs are the two halves of a head, so a Hugging Face Llama
    checkpoint loads without reordering. q·k then depends only on the offset between positions.
    """
    T, hs = x.shape[2], x.shape[3]
    positions = torch.arange(start, start + T, device=x.device) if isinstance(start, int) else start  # (T,) | (B, T)
    angles = rope_angles(positions, hs, theta).unsqueeze(-3)  # (1, T, hs/2) | (B, 1, T, hs/2)
    cos, sin = torch.cat([angles.cos()] * 2, -1), torch.cat([angles.sin()] * 2, -1)  # each angle for both halves
    x1, x2 = x.chunk(2, dim=-1)  # (B, H, T, hs/2) each
    return x * cos + torch.cat((-x2, x1), dim=-1) * sin  # (B, H, T, hs): (x1, x2) -> (x1 cos - x2 sin, x2 cos + x1 sin)


class CausalSelfAttention(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.n_head = config.n_head
        self.n_kv_head = config.n_kv_head
        self.head_dim = config.head_dim
        self.rope_theta = config.rope_theta if config.positions == "rotary" else None
        # one fused projection, as GPT-2: [queries (C) | keys (nkv*hs) | values (nkv*hs)]
        self.c_attn = nn.Linear(config.n_embd, config.n_embd + 2 * config.kv_dim, bias=config.qkv_bias)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.attn_dropout = nn.Dropout(config.dropout)
        self.resid_dropout = nn.Dropout(config.dropout)
        self.dropout = config.dropout

    def forward(self, x: torch.Tensor, kv: LayerKV | None = None, tap: Tap = OFF) -> torch.Tensor:
        """Attend the new positions x (B, T, C) over the cached ones and themselves; (B, T, C) out.

        The weights are formed explicitly only when a tap wants them (the pattern); otherwise torch's
        fused attention runs, which never materialises them.
        """
        B, T, C = x.shape
        kv_dim = self.n_kv_head * self.head_dim
        q, k, v = self.c_attn(x).split([C, kv_dim, kv_dim], dim=2)
        q = q.view(B, T, self.n_head, self.head_dim).transpose(1, 2)  # (B, nh, T, hs)
        k = k.view(B, T, self.n_kv_head, self.head_dim).transpose(1, 2)  # (B, nkv, T, hs)
        v = v.view(B, T, self.n_kv_head, self.head_dim).transpose(1, 2)  # (B, nkv, T, hs)
        if self.rope_theta is not None:  # turn q and k by their positions; the cache keeps turned keys
            start = new_positions(kv.start, T, kv.pad, x.device) if kv is not None else 0  # (T,) | (B, T)
            q = apply_rope(tap("q_before_rope", q), start, self.rope_theta)  # (B, nh, T, hs)
            k = apply_rope(tap("k_before_rope", k), start, self.rope_theta)  # (B, nkv, T, hs)
        if kv is not None:
            k, v = kv.append(k, v)  # (B, nkv, S, hs)
        q, k, v = tap("q", q), tap("k", k), tap("v", v)
        pad = kv.pad if kv is not None else None
        y = self._explicit(q, k, v, tap, pad) if tap.wants("pattern") else self._fused(q, k, v, pad)
        y = tap("concat", y.transpose(1, 2).reshape(B, T, C))  # (B, nh, T, hs) -> (B, T, C): heads side by side
        return tap("attn_out", self.resid_dropout(self.c_proj(y)))  # (B, T, C)

    def _explicit(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, tap: Tap, pad=None) -> torch.Tensor:
        T, S = q.shape[2], k.shape[2]
        groups = self.n_head // self.n_kv_head
        if groups > 1:  # each kv head serves `groups` consecutive query heads
            k = k.repeat_interleave(groups, dim=1)  # (B, nh, S, hs)
            v = v.repeat_interleave(groups, dim=1)
        scores = tap("scores", (q @ k.transpose(-2, -1)) / math.sqrt(self.head_dim))  # (B, nh, T, S)
        masked = tap("masked_scores", scores.masked_fill(~attention_mask(T, S, pad, q.device), float("-inf")))
        att = tap("pattern", F.softmax(masked, dim=-1))  # (B, nh, T, S); exactly 0 above the diagonal
        return tap("z", self.attn_dropout(att) @ v)  # (B, nh, T, hs)

    def _fused(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, pad=None) -> torch.Tensor:
        T, S = q.shape[2], k.shape[2]
        if pad is not None:
            mask, causal = attention_mask(T, S, pad, q.device), False  # (B, 1, T, S)
        elif T == 1:
            mask, causal = None, False  # one new query may see every cached key
        elif S == T:
            mask, causal = None, True
        else:
            mask, causal = causal_mask(T, S, q.device), False
        return F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, is_causal=causal,
            dropout_p=self.dropout if self.training else 0.0, enable_gqa=self.n_head > self.n_kv_head,
        )  # (B, nh, T, hs)


def causal_mask(T: int, S: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """(T, S) bool, True where query t (at absolute position S-T+t) may see key s."""
    return torch.ones(T, S, dtype=torch.bool, device=device).tril(diagonal=S - T)


def attention_mask(T: int, S: int, pad: torch.Tensor | None, device: torch.device | str = "cpu") -> torch.Tensor:
    """The causal mask (T, S); with ``pad`` (B,) also no key among a row's leading padding, (B, 1, T, S), and
    each query sees itself (so a padding query's row is never empty; its output is unused)."""
    mask, keys = causal_mask(T, S, device), torch.arange(S, device=device)  # (T, S), (S,)
    if pad is None:
        return mask
    itself = keys[None] == torch.arange(S - T, S, device=device)[:, None]  # (T, S)
    return ((mask & (keys >= pad[:, None, None])) | itself)[:, None]  # (B, 1, T, S): one mask for every head


def new_positions(L: int, T: int, pad: torch.Tensor | None, device: torch.device | str = "cpu") -> torch.Tensor:
    """Positions of T new tokens after L cached ones: (T,); with ``pad`` (B,), each row's own (B, T), its
    padding not counted (a padding column gets 0)."""
    positions = torch.arange(L, L + T, device=device)  # (T,)
    return positions if pad is None else (positions[None] - pad[:, None]).clamp(min=0)  # (B, T)


class MLP(nn.Module):
    """GPT-2's MLP: widen (H = intermediate_size, 4C by default), GELU, project back."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, config.intermediate_size, bias=config.bias)
        self.gelu = nn.GELU(approximate="tanh")  # GPT-2's "gelu_new"
        self.c_proj = nn.Linear(config.intermediate_size, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, tap: Tap = OFF) -> torch.Tensor:
        h = tap("post", self.gelu(tap("pre", self.c_fc(x))))  # (B, T, H)
        return self.dropout(self.c_proj(h))  # (B, T, C)


class SwiGLU(nn.Module):
    """Llama's gated MLP: down(silu(gate(x)) * up(x)); the gate decides, per hidden unit, how much passes."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.gate_proj = nn.Linear(config.n_embd, config.intermediate_size, bias=config.bias)
        self.up_proj = nn.Linear(config.n_embd, config.intermediate_size, bias=config.bias)
        self.down_proj = nn.Linear(config.intermediate_size, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, tap: Tap = OFF) -> torch.Tensor:
        gate = tap("gate", F.silu(tap("pre", self.gate_proj(x))))  # (B, T, H)
        h = tap("post", gate * tap("pre_linear", self.up_proj(x)))  # (B, T, H)
        return self.dropout(self.down_proj(h))  # (B, T, C)


class WeightOnly(nn.Module):
    """A linear layer or token embedding holding its weight as int8 / int4 buffers, packed by ``playground.quantize``,
    which also gives ``run(self, x)``: torch's weight-only matmul, or a row lookup."""

    def __init__(self, run: Callable, **buffers: torch.Tensor | None):
        super().__init__()
        self.run = run
        for name, t in buffers.items():
            self.register_buffer(name, t)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.run(self, x)


def norm(config: GPTConfig) -> nn.Module:
    """The config's normalisation over the last dimension (C): LayerNorm or RMSNorm (no mean, no bias)."""
    if config.norm == "rmsnorm":
        return nn.RMSNorm(config.n_embd, eps=config.layer_norm_epsilon)
    return nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon, bias=config.bias)


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(ln_1(x)), then + mlp(ln_2(x))."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.ln_1 = norm(config)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = norm(config)
        self.mlp = SwiGLU(config) if config.mlp == "swiglu" else MLP(config)

    def forward(self, x: torch.Tensor, kv: LayerKV | None = None, tap: Tap = OFF) -> torch.Tensor:
        x = tap("resid_pre", x)  # (B, T, C)
        x = tap("resid_mid", x + self.attn(tap("ln1", self.ln_1(x)), kv, tap.scoped("attn.")))
        return tap("resid_post", x + tap("mlp_out", self.mlp(tap("ln2", self.ln_2(x)), tap.scoped("mlp."))))


class GPT(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        wpe = {"wpe": nn.Embedding(config.block_size, config.n_embd)} if config.positions == "learned" else {}
        self.transformer = nn.ModuleDict(
            dict(
                wte=nn.Embedding(config.vocab_size, config.n_embd),
                **wpe,  # learned positions (GPT-2); rotary ones are applied inside attention
                drop=nn.Dropout(config.dropout),
                h=nn.ModuleList([Block(config) for _ in range(config.n_layer)]),
                ln_f=norm(config),
            )
        )
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        if config.tie_word_embeddings:
            self.lm_head.weight = self.transformer.wte.weight  # weight tying (as GPT-2)
        self.apply(self._init_weights)
        for name, p in self.named_parameters():  # GPT-2: scale residual projections by depth
            if name.endswith(("c_proj.weight", "down_proj.weight")):
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

        ``capture=True`` (opt-in; it costs memory and the fused attention) also returns every
        intermediate the pass used, as an ``ActivationCache`` (names as TransformerLens's: ``playground.taps``).
        """
        B, T = idx.shape
        L = past_kv.length if past_kv is not None else 0
        pad = past_kv.pad if past_kv is not None else None  # (B,): rows of different lengths, left-padded
        store = self._storage(past_kv, use_cache, B, T)
        tap = Tap(None) if capture else Tap(frozenset({"pattern"})) if return_attn else OFF
        x = tap("embed", self.transformer.wte(idx))  # (B, T, C)
        if "wpe" in self.transformer:  # learned positions
            x = x + tap("pos_embed", self.transformer.wpe(new_positions(L, T, pad, idx.device)))  # (T, C) | (B, T, C)
        x = self.transformer.drop(x)  # (B, T, C)
        for i, block in enumerate(self.transformer.h):
            x = block(x, LayerKV(store, i, L, pad) if store is not None else None, tap.scoped(f"blocks.{i}."))
        x = tap("ln_final", self.transformer.ln_f(x))  # (B, T, C)
        if last_logits_only:
            x = x[:, -1:]  # (B, 1, C)
        logits = self.lm_head(x)  # (B, T, V), or (B, 1, V)
        kv = None
        if store is not None:
            store.filled = L + T
            kv = KVCache(store, L + T, pad)
        attn = tuple(tap.store[f"blocks.{i}.attn.pattern"] for i in range(self.config.n_layer)) if return_attn else None
        return ForwardOut(logits=logits, attn=attn, kv=kv, captured=ActivationCache(tap.store, self) if capture else None)

    def _storage(self, past_kv: KVCache | None, use_cache: bool, B: int, T: int) -> _Storage | None:
        """Where this call's keys and values go (None without a cache); refuses a full context window."""
        cfg = self.config
        L = past_kv.length if past_kv is not None else 0
        if T < 1:
            raise ValueError("forward needs at least one token")
        if L + T > cfg.block_size:
            raise ContextWindowFull(
                f"the context window holds {cfg.block_size} tokens; {L} cached + {T} new = {L + T} is too many"
            )
        if not use_cache and past_kv is None:
            return None
        if past_kv is None:
            past_kv = KVCache._empty(cfg, self.transformer.ln_f.weight.detach(), B)  # float even when quantised
        return past_kv._writable(T, cfg.block_size)


# -- generating -------------------------------------------------------------------------------------
def sync(device: torch.device) -> None:
    """Wait for the device's queued work (kernels run asynchronously on a GPU), so a timing is complete."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@dataclass(frozen=True)
class DecodeStep:
    token: int  # the token ``pick`` chose
    logits: torch.Tensor  # (V,) float32 on CPU: the scores it was chosen from
    forward_ms: float  # wall time of the forward that produced them
    kv: KVCache | None  # the cache after that forward (None without one)


@torch.no_grad()
def decode(model: GPT, ids: list[int], n: int, pick: Callable[[torch.Tensor], int],
           use_cache: bool = True) -> Iterator[DecodeStep]:
    """``n`` forwards after ``ids``, each followed by ``pick(logits)`` choosing the next token.

    With the cache a forward reads only the newest token; without it, every position again. The
    last chosen token is never fed (n forwards give n tokens). Session.step stays apart: it decides
    one token at a time for a person, keeping attention rows and what ``back``/``resample`` need;
    so does beam search, which runs K sequences as one batch and reorders their cache.
    """
    device = model.transformer.ln_f.weight.device  # (a quantised model's embedding has no float weight)
    ids, kv = list(ids), None
    for _ in range(n):
        idx = torch.tensor([ids[-1:] if kv is not None else ids], dtype=torch.long, device=device)  # (1, T)
        sync(device)
        t0 = time.perf_counter()
        out = model(idx, past_kv=kv, use_cache=use_cache, last_logits_only=True)
        sync(device)
        forward_ms = (time.perf_counter() - t0) * 1e3
        kv = out.kv
        logits = out.logits[0, -1].float().cpu()  # (V,)
        ids.append(pick(logits))
        yield DecodeStep(ids[-1], logits, forward_ms, kv)
