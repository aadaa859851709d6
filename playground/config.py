"""Frozen configuration dataclasses shared by every layer (stdlib only).

Change a config with ``dataclasses.replace``; never mutate one.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping


def env_number(name: str, default, kind=float, env: Mapping[str, str] | None = None):
    """A positive, finite number from the environment (``env``, default ``os.environ``).

    An operator's typo must not stop the server: a bad value is logged and ``default`` used.
    """
    raw = (os.environ if env is None else env).get(name)
    if raw is None:
        return default
    try:
        value = kind(raw)
        if math.isfinite(value) and value > 0:
            return value
    except ValueError:
        pass
    logging.getLogger(__name__).warning("%s=%r is not a positive %s; using the default %s", name, raw,
                                        "whole number" if kind is int else "number", default)
    return default


@dataclass(frozen=True)
class GPTConfig:
    """Shape of a decoder-only GPT in GPT-2's layout.

    ``n_kv_head`` < ``n_head`` gives grouped-query attention (1 = multi-query):
    several query heads share one key/value head, so the KV cache shrinks by
    ``n_head / n_kv_head``.
    """

    vocab_size: int = 4096
    block_size: int = 256  # context window, in tokens
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 256
    n_kv_head: int | None = None  # None = n_head (ordinary multi-head attention)
    dropout: float = 0.0
    bias: bool = True
    layer_norm_epsilon: float = 1e-5
    tie_word_embeddings: bool = True  # the LM head reuses the token embedding matrix

    def __post_init__(self) -> None:
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"GPTConfig.{name} must be a positive integer, got {value!r}")
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head})")
        if self.n_kv_head is None:
            object.__setattr__(self, "n_kv_head", self.n_head)
        if not isinstance(self.n_kv_head, int) or self.n_kv_head < 1 or self.n_head % self.n_kv_head:
            raise ValueError(f"n_kv_head ({self.n_kv_head}) must be a positive divisor of n_head ({self.n_head})")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_head

    @property
    def kv_dim(self) -> int:
        """Width of the keys (and of the values) of one token in one layer."""
        return self.n_kv_head * self.head_dim

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "GPTConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps({"format": "gpt-playground", **self.to_dict()}, indent=2) + "\n")


@dataclass(frozen=True)
class TrainConfig:
    """How to train a model (the CLI and the in-page Train view both use this)."""

    steps: int = 6000
    batch_size: int = 16
    lr: float = 2e-3
    min_lr_ratio: float = 0.1  # cosine decay ends at lr * min_lr_ratio
    warmup_steps: int = 200
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0
    eval_every: int = 250
    eval_batches: int = 20
    seed: int = 1337


STRATEGIES = ("greedy", "sample", "beam")


@dataclass(frozen=True)
class SamplingParams:
    """How the next token is chosen. Invalid values raise ValueError with a plain message.

    Whole-number fields accept integral floats (a Gradio ``step=1`` slider sends 3.0) and are
    stored as ints; 2.5, NaN, infinity and bools are refused (see ``sampling.validate_params``).

    Order of the pipeline (as Hugging Face ``transformers``): repetition penalty -> temperature
    -> top-k -> top-p -> min-p -> softmax. ``temperature == 0`` means greedy.
    """

    strategy: str = "sample"  # "greedy" | "sample" | "beam"
    temperature: float = 1.0
    top_k: int = 0  # 0 = off
    top_p: float = 1.0  # 1 = off
    min_p: float = 0.0  # 0 = off
    repetition_penalty: float = 1.0  # 1 = off
    seed: int = 0
    num_beams: int = 4
    length_penalty: float = 1.0
    early_stopping: bool = False
    max_new_tokens: int = 50
    stop: tuple[str, ...] = ()  # stop strings, matched on the decoded text

    def __post_init__(self) -> None:
        from playground.sampling import validate_params  # the rules live with the pipeline

        validate_params(self)
        # normalise what validation accepted: 3.0 from a slider -> 3, 1 -> 1.0, a list of stops -> tuple
        for name in ("top_k", "seed", "num_beams", "max_new_tokens"):
            object.__setattr__(self, name, int(getattr(self, name)))
        for name in ("temperature", "top_p", "min_p", "repetition_penalty", "length_penalty"):
            object.__setattr__(self, name, float(getattr(self, name)))
        object.__setattr__(self, "stop", tuple(self.stop))

    @property
    def greedy(self) -> bool:
        return self.strategy == "greedy" or (self.strategy == "sample" and self.temperature == 0)
