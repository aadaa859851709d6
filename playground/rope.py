"""Rotary positions (RoPE), as data for the page: the angle table, and the shift experiment.

RoPE turns each pair of dimensions of a query or key by ``position × θ^(-2i/d)`` (``model.rope_angles``,
the model's own function). Turning q at position m and k at position n and taking their dot product
leaves ``q · R(n - m) k``: the score depends only on the offset n - m. ``shift_demo`` runs the model's
own blocks over the same tokens twice, at positions 0..T-1 and at N..N+T-1, and compares every head's
scores. With rotary positions they agree to float rounding; with learned positions (a ``wpe`` table
added to the embeddings, as GPT-2) the second run adds other position vectors and the scores change.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from playground.model import GPT, rope_angles
from playground.taps import Tap
from playground.tokenizer import Tokenizer

MAX_TOKENS = 32  # tokens of the prompt the experiment reads (two T × T score grids per head are drawn)


@dataclass(frozen=True)
class AngleTable:
    """The angle (radians, not wrapped) by which each dimension pair is turned at each position."""

    angles: np.ndarray  # (P, hs/2): position p, pair i -> p * theta ** (-2i / hs)
    head_dim: int
    theta: float

    @property
    def periods(self) -> np.ndarray:
        """(hs/2,) positions per full turn of each pair: 2π θ^(2i/hs), from ~6 tokens to ~θ."""
        return 2 * np.pi / self.angles[1] if len(self.angles) > 1 else np.full(self.head_dim // 2, np.inf)


def angle_table(head_dim: int, theta: float, positions: int) -> AngleTable:
    """The angles of positions 0..positions-1 for a head of ``head_dim`` dimensions and RoPE base ``theta``."""
    if head_dim < 2 or head_dim % 2 or positions < 1:
        raise ValueError(f"need an even head_dim ≥ 2 and at least one position; got {head_dim} and {positions}")
    a = rope_angles(torch.arange(positions), head_dim, theta)  # (P, hs/2)
    return AngleTable(a.double().numpy(), head_dim, float(theta))


@dataclass(frozen=True)
class ShiftDemo:
    """Every head's scores QKᵀ/√d over the same tokens at positions 0.. and at ``shift``.. (causal part only:
    NaN above the diagonal, where the mask hides them), and how far apart they are."""

    tokens: list[str]  # T readable tokens
    shift: int  # N: the second run reads them at positions N..N+T-1
    positions: str  # the model's: "rotary" or "learned"
    scores: np.ndarray  # (L, H, T, T) at positions 0..T-1
    shifted: np.ndarray  # (L, H, T, T) at positions N..N+T-1
    weights_diff: float  # max |Δ| of the attention weights (after softmax), every layer and head
    cut: int  # prompt tokens left out (only the first MAX_TOKENS are read)

    @property
    def diff(self) -> np.ndarray:
        """(L, H) max |Δ score| of each head."""
        return np.nanmax(np.abs(self.scores - self.shifted), axis=(2, 3))

    @property
    def max_diff(self) -> float:
        return float(self.diff.max())

    @property
    def max_score(self) -> float:
        return float(np.nanmax(np.abs(self.scores)))


@dataclass(frozen=True)
class _NoCache:
    """Stands in for a layer's cache slot so that a block reads its tokens at positions ``start``.. with
    nothing cached before them: rotary attention takes its positions from ``start``; ``append`` keeps
    only the new keys and values."""

    start: int
    pad: None = None  # no row of the batch is padded

    def append(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return k, v  # (B, nkv, T, hs) each


@torch.no_grad()
def scores_at(model: GPT, ids: list[int], start: int) -> tuple[np.ndarray, np.ndarray]:
    """(scores (L, H, T, T), weights (L, H, T, T)) of ``ids`` read at positions start..start+T-1 through the
    model's own blocks (learned positions: the wpe rows of those positions; rotary: q and k turned by them)."""
    cfg, T = model.config, len(ids)
    if T < 1:
        raise ValueError("the shift experiment needs at least one token")
    if start < 0 or start + T > cfg.block_size:
        raise ValueError(f"the tokens would sit at positions {start}..{start + T - 1}, outside the model's context "
                         f"window of {cfg.block_size} positions: choose a shift from 0 to {cfg.block_size - T}")
    idx = torch.tensor([ids])  # (1, T)
    tap = Tap(frozenset({"scores", "pattern"}))  # the explicit attention path, which forms the scores
    x = model.transformer.wte(idx)  # (1, T, C)
    if "wpe" in model.transformer:  # learned positions
        x = x + model.transformer.wpe(torch.arange(start, start + T))  # (T, C)
    for i, block in enumerate(model.transformer.h):
        x = block(x, _NoCache(start) if start else None, tap.scoped(f"blocks.{i}."))  # (1, T, C)
    scores = torch.stack([tap.store[f"blocks.{i}.attn.scores"][0] for i in range(cfg.n_layer)])  # (L, H, T, T)
    weights = torch.stack([tap.store[f"blocks.{i}.attn.pattern"][0] for i in range(cfg.n_layer)])  # (L, H, T, T)
    return scores.float().numpy(), weights.float().numpy()


def shift_demo(model: GPT, tokenizer: Tokenizer, text: str, shift: int) -> ShiftDemo:
    """Read the first MAX_TOKENS tokens of ``text`` at positions 0.. and at ``shift``.., every head's scores."""
    ids = tokenizer.encode(text).ids
    if not ids:
        raise ValueError("the prompt is empty: type a few words to shift")
    kept = ids[:MAX_TOKENS]
    a, wa = scores_at(model, kept, 0)
    b, wb = scores_at(model, kept, shift)
    future = ~np.tri(len(kept), dtype=bool)  # (T, T) True above the diagonal: masked, never used
    a[..., future] = np.nan
    b[..., future] = np.nan
    return ShiftDemo([tokenizer.token_str(i) for i in kept], int(shift), model.config.positions, a, b,
                     float(np.abs(wa - wb).max()), len(ids) - len(kept))


__all__ = ["AngleTable", "MAX_TOKENS", "ShiftDemo", "angle_table", "scores_at", "shift_demo"]
