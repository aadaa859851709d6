"""Frozen configuration dataclasses shared by every layer (stdlib only).

Change a config with ``dataclasses.replace``; never mutate one.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import math
import numbers
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping


DEFAULT_MODEL = "shakespeare"  # the model a page opens with (the embedded multi-head one)
GQA_MODEL = "shakespeare-gqa"  # its grouped-query twin, for the KV cache comparison


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


NORMS = ("layernorm", "rmsnorm")
POSITIONS = ("learned", "rotary")
MLPS = ("gelu", "swiglu")


@dataclass(frozen=True)
class GPTConfig:
    """Shape of a decoder-only transformer; the defaults are GPT-2's layout.

    GPT-2: LayerNorm, learned positions, GELU MLP (4C wide), biases everywhere, tied head.
    Llama: ``norm="rmsnorm"``, ``positions="rotary"``, ``mlp="swiglu"``, ``bias=False``, and
    usually an untied head; Qwen2 adds ``qkv_bias=True``. ``n_kv_head`` < ``n_head`` gives
    grouped-query attention (1 = multi-query): several query heads share one key/value head,
    so the KV cache shrinks by ``n_head / n_kv_head``.
    """

    vocab_size: int = 4096
    block_size: int = 256  # context window, in tokens
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 256
    n_kv_head: int | None = None  # None = n_head (ordinary multi-head attention)
    dropout: float = 0.0
    bias: bool = True  # biases in the linear layers and LayerNorms
    layer_norm_epsilon: float = 1e-5  # the eps of LayerNorm or RMSNorm
    tie_word_embeddings: bool = True  # the LM head reuses the token embedding matrix
    norm: str = "layernorm"  # "layernorm" (GPT-2) | "rmsnorm" (Llama)
    positions: str = "learned"  # "learned" (a wpe table, GPT-2) | "rotary" (RoPE: q and k turned by position)
    rope_theta: float = 10000.0  # RoPE's base: pair i turns by position / rope_theta ** (2i / head_dim)
    mlp: str = "gelu"  # "gelu" (c_fc -> GELU -> c_proj) | "swiglu" (down(silu(gate(x)) * up(x)))
    intermediate_size: int | None = None  # the MLP's hidden width; None = 4 * n_embd
    qkv_bias: bool | None = None  # biases on the q/k/v projection; None = ``bias`` (Qwen2: True with bias=False)

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
        for name, allowed in (("norm", NORMS), ("positions", POSITIONS), ("mlp", MLPS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"GPTConfig.{name} must be one of {', '.join(map(repr, allowed))}, "
                                 f"got {getattr(self, name)!r}")
        if self.positions == "rotary" and self.head_dim % 2:
            raise ValueError(f"rotary positions turn pairs of dimensions: head_dim ({self.head_dim}) must be even")
        if isinstance(self.rope_theta, bool) or not isinstance(self.rope_theta, (int, float)) or not (
                math.isfinite(self.rope_theta) and self.rope_theta > 1):
            raise ValueError(f"rope_theta must be a finite number > 1, got {self.rope_theta!r}")
        if self.intermediate_size is None:
            object.__setattr__(self, "intermediate_size", 4 * self.n_embd)
        if not isinstance(self.intermediate_size, int) or self.intermediate_size < 1:
            raise ValueError(f"intermediate_size must be a positive integer, got {self.intermediate_size!r}")
        if self.qkv_bias is None:
            object.__setattr__(self, "qkv_bias", self.bias)

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
MAX_BEAMS = 16
MAX_SEED = 2**63 - 1


@dataclass(frozen=True)
class SamplingParams:
    """How the next token is chosen. Invalid values raise ValueError with a plain message.

    Whole-number fields accept integral floats (a Gradio ``step=1`` slider sends 3.0) and are
    stored as ints; 2.5, NaN, infinity and bools are refused (see ``validate_params`` below).

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


# -- validating SamplingParams -----------------------------------------------------------------
RULES = {  # field -> (whole number?, allowed, what to tell the student)
    "temperature": (False, lambda t: t >= 0, "a number ≥ 0 (0 = always take the most likely token)"),
    "top_k": (True, lambda k: k >= 0, "a whole number ≥ 0 (0 = off; 40 keeps the 40 most likely tokens)"),
    "top_p": (False, lambda p: 0 < p <= 1,
              "more than 0 and at most 1 (1 = off; 0.9 keeps the most likely tokens up to 90% of the probability)"),
    "min_p": (False, lambda m: 0 <= m < 1,
              "at least 0 and less than 1 (0 = off; 0.1 drops tokens under 10% of the top token's probability)"),
    "repetition_penalty": (False, lambda r: r > 0, "a number > 0 (1 = off; above 1 discourages repeats)"),
    "num_beams": (True, lambda n: 1 <= n <= MAX_BEAMS, f"a whole number from 1 to {MAX_BEAMS}"),
    "length_penalty": (False, lambda x: True,
                       "a finite number (1 = rank beams by average log-probability per token)"),
    "max_new_tokens": (True, lambda n: n >= 1, "a whole number ≥ 1"),
    "seed": (True, lambda n: 0 <= n <= MAX_SEED, "a whole number from 0 to 2**63 - 1"),
}


def _number_ok(value, whole: bool) -> bool:
    """A real, finite number; bools and strings are refused. Whole-number fields accept integral
    floats (3.0), because a Gradio slider with ``step=1`` still delivers floats, but not 2.5."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        return False
    return not whole or value == int(value)


def validate_params(p: SamplingParams) -> None:
    """Raise ValueError, with a message a student can act on, for any setting that is out of range."""
    if p.strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {', '.join(map(repr, STRATEGIES))}; got {p.strategy!r}")
    for name, (whole, allowed, rule) in RULES.items():
        value = getattr(p, name)
        if not _number_ok(value, whole) or not allowed(value):
            shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:39] + "…"  # not 10**308's digits
            raise ValueError(f"{name} must be {rule}; got {shown}")
    if not isinstance(p.early_stopping, bool):
        raise ValueError(f"early_stopping must be True or False; got {p.early_stopping!r}")
    if isinstance(p.stop, str) or not isinstance(p.stop, (tuple, list)):
        raise ValueError(f"stop must be a list of strings (e.g. ['\\n\\n']); got {p.stop!r}")
    for s in p.stop:
        if not isinstance(s, str) or not s:
            raise ValueError(f"every stop string must be non-empty text; got {s!r}")
