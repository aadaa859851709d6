"""How big a decoder is, and how much memory its KV cache takes, from its config alone (stdlib only).

Takes a config as Hugging Face writes it (``config.json``): GPT-2's (``n_embd``, ``n_layer``,
``n_head``, ``n_positions``, ``n_inner``...), or the Llama family's (``hidden_size``,
``num_hidden_layers``, ``num_attention_heads``, ``num_key_value_heads``, ``intermediate_size``,
``head_dim``, ``tie_word_embeddings``, ``attention_bias``, ``mlp_bias``...; model types llama, qwen2,
mistral), or our own (``"format": "gpt-playground"``, the fields of ``GPTConfig``). No weights are
read: every count follows from the shapes.

    count_params(config)                    distinct parameters (a tied head counts once)
    kv_cache_bytes(config, positions, ...)  2 × layers × batch × kv_heads × positions × head_dim × bytes
    breakdown(config)                       per component, tied and untied totals

``assets/configs/`` ships the published configs of GPT-2 small to XL, Llama-2 7B/13B/70B, Llama-3
8B/70B, Mistral-7B, Qwen2.5 0.5B/7B and SmolLM2-135M (configs only, no weights). A config that this
module cannot read raises ``ConfigError`` (a ValueError) naming the field and what it should be.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from playground.config import GPTConfig
from playground.corpus import ASSETS

CONFIGS_DIR = ASSETS / "configs"
# display name -> file in assets/configs (the Hub repo's name), in the order the page lists them
SHIPPED = {
    "GPT-2 small": "gpt2", "GPT-2 medium": "gpt2-medium", "GPT-2 large": "gpt2-large", "GPT-2 XL": "gpt2-xl",
    "Llama-2-7B": "Llama-2-7b-hf", "Llama-2-13B": "Llama-2-13b-hf", "Llama-2-70B": "Llama-2-70b-hf",
    "Llama-3-8B": "Meta-Llama-3-8B", "Llama-3-70B": "Meta-Llama-3-70B", "Mistral-7B": "Mistral-7B-v0.1",
    "Qwen2.5-0.5B": "Qwen2.5-0.5B", "Qwen2.5-7B": "Qwen2.5-7B", "SmolLM2-135M": "SmolLM2-135M",
}
MODEL_TYPES = ("gpt2", "llama", "qwen2", "mistral")
OURS = "gpt-playground"  # the "format" of our own config.json
MAX_CONFIG_BYTES = 64 * 1024  # a pasted config.json (real ones are 1-2 KB)
MAX_SIZE = 2**31 - 1  # the largest layer count, width, vocabulary... accepted
COMPONENTS = ("embeddings", "attention", "mlp", "norms", "head")  # as inside.param_counts groups them
DTYPES = {"fp32": 4, "fp16": 2, "bf16": 2, "fp8": 1, "int8": 1}  # bytes per value of a cache or a weight
# required fields of each kind of config, in the order a message lists the missing ones
REQUIRED = {
    "gpt2": ("vocab_size", "n_embd", "n_layer", "n_head"),
    "llama": ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size"),
    OURS: ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"),
}
# what transformers assumes when a config leaves these out
DEFAULT_CONTEXT = {"gpt2": 1024, "llama": 2048, "qwen2": 32768, "mistral": 4096 * 32}
DEFAULT_KV_HEADS = {"mistral": 8, "qwen2": 32}  # Llama: as many as the query heads


class ConfigError(ValueError):
    """A config this module cannot read; the message names the field and what it should be."""


@dataclass(frozen=True)
class Shape:
    """The shapes of a decoder (our GPTConfig's names), read from any supported config."""

    model_type: str  # gpt2 | llama | qwen2 | mistral | gpt-playground
    vocab_size: int
    n_embd: int  # hidden size C
    n_layer: int
    n_head: int
    n_kv_head: int
    head_dim: int
    intermediate_size: int  # the MLP's hidden width
    context: int  # positions the model was built for (max_position_embeddings / n_positions)
    norm: str  # layernorm | rmsnorm
    positions: str  # learned | rotary
    mlp: str  # gelu | swiglu
    rope_theta: float | None  # rotary only
    qkv_bias: bool
    out_bias: bool  # on the attention output projection
    mlp_bias: bool
    norm_bias: bool  # LayerNorm's beta
    tied: bool  # the LM head is the token embedding
    sliding_window: int | None = None  # Mistral: attention reaches this many positions back

    @property
    def q_dim(self) -> int:
        return self.n_head * self.head_dim

    @property
    def kv_dim(self) -> int:
        return self.n_kv_head * self.head_dim


@dataclass(frozen=True)
class Breakdown:
    """Parameters per component (``COMPONENTS``; head = 0 when tied) and the totals."""

    components: dict[str, int]
    total: int  # distinct parameters, as sum(p.numel() for p in model.parameters())
    total_tied: int  # the same model with its head tied to the embedding
    total_untied: int  # ... with a separate head matrix
    tied: bool


# -- reading a config --------------------------------------------------------------------------------
def parse_json(text: str, name: str = "config.json") -> dict:
    """The object in a pasted ``config.json``; ConfigError says why it is not one (size, syntax, type)."""
    if not isinstance(text, str):
        raise ConfigError(f"{name} must be text; got {type(text).__name__}")
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise ConfigError(f"{name} holds half of a surrogate pair, not a character: paste it again") from None
    if size > MAX_CONFIG_BYTES:
        raise ConfigError(f"{name} is {size:,} bytes, over the limit of {MAX_CONFIG_BYTES:,} (64 KB): "
                          "paste the model's config.json only")
    if not text.strip():
        raise ConfigError(f"{name} is empty: paste a model's config.json")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(f"{name} is not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}") from None
    except (RecursionError, ValueError) as e:  # nested thousands deep; a number of thousands of digits
        raise ConfigError(f"{name} is not a config.json: {str(e)[:80] or 'nested too deeply'}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{name} must be a JSON object {{...}}; got a JSON {type(data).__name__}")
    return data


def kind_of(config: dict) -> str:
    """``gpt2``, ``llama``, ``qwen2``, ``mistral`` or ``gpt-playground``; ConfigError for anything else."""
    if not isinstance(config, dict):
        raise ConfigError(f"a config must be a dict (a config.json object); got {type(config).__name__}")
    if config.get("format") == OURS:
        return OURS
    model_type = config.get("model_type")
    if model_type is None:
        raise ConfigError(f"the config has no model_type: it must say which architecture it is "
                          f"(supported: {', '.join(MODEL_TYPES)}, or our own format {OURS!r})")
    if model_type not in MODEL_TYPES:
        shown = model_type if isinstance(model_type, str) and len(model_type) <= 40 else "(not a short name)"
        raise ConfigError(f"model_type {shown!r} is not supported here; supported: {', '.join(MODEL_TYPES)}")
    return model_type


def _int(config: dict, key: str, default=None) -> int:
    value = config.get(key, default) if default is not None else config[key]
    if value is None and default is not None:
        value = default
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_SIZE:
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:39] + "…"
        raise ConfigError(f"{key} must be a whole number from 1 to {MAX_SIZE:,}; got {shown}")
    return value


def _flag(config: dict, key: str, default: bool) -> bool:
    value = config.get(key, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise ConfigError(f"{key} must be true or false; got {value!r:.40}")
    return value


def _theta(config: dict) -> float:
    rope = config.get("rope_parameters") or config.get("rope_scaling") or {}
    theta = (rope.get("rope_theta") if isinstance(rope, dict) else None) or config.get("rope_theta", 10000.0)
    if isinstance(theta, bool) or not isinstance(theta, (int, float)) or not (math.isfinite(theta) and theta > 1):
        raise ConfigError(f"rope_theta must be a number > 1; got {theta!r:.40}")
    return float(theta)


def shape(config: dict) -> Shape:
    """The ``Shape`` a config describes; ConfigError names a missing or bad field."""
    kind = kind_of(config)
    missing = [k for k in REQUIRED["gpt2" if kind == "gpt2" else OURS if kind == OURS else "llama"]
               if config.get(k) is None]
    if missing:
        raise ConfigError(f"this {kind} config lacks {', '.join(missing)}: the counts need "
                          f"{'it' if len(missing) == 1 else 'them'}")
    if kind == "gpt2":
        s = _gpt2_shape(config)
    elif kind == OURS:
        s = _our_shape(config)
    else:
        s = _llama_shape(config, kind)
    if s.n_head % s.n_kv_head:
        raise ConfigError(f"the number of query heads ({s.n_head}) must be a multiple of the number of "
                          f"key/value heads ({s.n_kv_head})")
    return s


def _heads(config: dict, hidden: int, heads: int, hidden_key: str, heads_key: str) -> int:
    if config.get("head_dim") is not None:
        return _int(config, "head_dim")
    if hidden % heads:
        raise ConfigError(f"{hidden_key} ({hidden:,}) must be divisible by {heads_key} ({heads:,}), "
                          "or the config must give head_dim")
    return hidden // heads


def _gpt2_shape(c: dict) -> Shape:
    C, H = _int(c, "n_embd"), _int(c, "n_head")
    return Shape("gpt2", _int(c, "vocab_size"), C, _int(c, "n_layer"), H, H, _heads(c, C, H, "n_embd", "n_head"),
                 _int(c, "n_inner", 4 * C), _int(c, "n_positions", _int(c, "n_ctx", 1024)), "layernorm", "learned",
                 "gelu", None, True, True, True, True, _flag(c, "tie_word_embeddings", True))


def _llama_shape(c: dict, kind: str) -> Shape:
    C, H = _int(c, "hidden_size"), _int(c, "num_attention_heads")
    attn_bias = _flag(c, "attention_bias", False)  # Llama: on q, k, v and o; Qwen2: always on q, k, v only
    window = c.get("sliding_window") if kind == "mistral" or _flag(c, "use_sliding_window", False) else None
    kv_heads = _int(c, "num_key_value_heads", DEFAULT_KV_HEADS.get(kind, H))
    return Shape(kind, _int(c, "vocab_size"), C, _int(c, "num_hidden_layers"), H, kv_heads,
                 _heads(c, C, H, "hidden_size", "num_attention_heads"), _int(c, "intermediate_size"),
                 _int(c, "max_position_embeddings", DEFAULT_CONTEXT[kind]), "rmsnorm", "rotary", "swiglu", _theta(c),
                 kind == "qwen2" or attn_bias, attn_bias and kind != "qwen2", _flag(c, "mlp_bias", False), False,
                 _flag(c, "tie_word_embeddings", False),
                 _int(c, "sliding_window") if window is not None else None)


def _our_shape(c: dict) -> Shape:
    try:
        cfg = GPTConfig.from_dict(c)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"this {OURS} config is not valid: {e}") from None
    return Shape(OURS, cfg.vocab_size, cfg.n_embd, cfg.n_layer, cfg.n_head, cfg.n_kv_head, cfg.head_dim,
                 cfg.intermediate_size, cfg.block_size, cfg.norm, cfg.positions, cfg.mlp,
                 cfg.rope_theta if cfg.positions == "rotary" else None, cfg.qkv_bias, cfg.bias, cfg.bias, cfg.bias,
                 cfg.norm == "layernorm" and cfg.bias, cfg.tie_word_embeddings)


# -- counting ------------------------------------------------------------------------------------------
def breakdown(config: dict | Shape) -> Breakdown:
    """Parameters per component: embeddings (token, and learned positions), attention (q, k, v, output and
    their biases), MLP (GELU: up and down; SwiGLU: gate, up and down), norms (two per block and the final
    one), head (0 when tied: it is the token embedding)."""
    s = config if isinstance(config, Shape) else shape(config)
    C, L = s.n_embd, s.n_layer
    embeddings = s.vocab_size * C + (s.context * C if s.positions == "learned" else 0)
    attention = C * s.q_dim + 2 * C * s.kv_dim + s.q_dim * C  # W_q, W_k, W_v, W_o
    attention += (s.q_dim + 2 * s.kv_dim) * s.qkv_bias + C * s.out_bias
    n_mats = 3 if s.mlp == "swiglu" else 2
    mlp = n_mats * C * s.intermediate_size + ((n_mats - 1) * s.intermediate_size + C) * s.mlp_bias
    norm = C * (2 if s.norm_bias else 1)
    head = s.vocab_size * C
    components = dict(embeddings=embeddings, attention=L * attention, mlp=L * mlp, norms=(2 * L + 1) * norm,
                      head=0 if s.tied else head)
    total = sum(components.values())
    return Breakdown(components, total, total - components["head"], total - components["head"] + head, s.tied)


def count_params(config: dict) -> int:
    """Distinct parameters of the model a Hugging Face (or our) config describes; a tied head counts once.

    Llama-2-7B: 6,738,415,616."""
    return breakdown(config).total


def kv_cache_bytes(config: dict, positions: int, batch: int = 1, bytes_per_value: int = 2) -> int:
    """Bytes of the keys and values cached for ``positions`` positions of ``batch`` sequences:
    2 (K and V) × layers × batch × kv_heads × positions × head_dim × bytes_per_value.

    Llama-2-7B in fp16 at 4,096 positions: exactly 2 GiB (512 MiB with 8 KV heads)."""
    s = config if isinstance(config, Shape) else shape(config)
    for name, value, low in (("positions", positions, 0), ("batch", batch, 1), ("bytes_per_value", bytes_per_value, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be a whole number ≥ {low}; got {value!r:.40}")
    return 2 * s.n_layer * batch * s.n_kv_head * positions * s.head_dim * bytes_per_value


def kv_formula(config: dict | Shape, positions: int, batch: int = 1, bytes_per_value: int = 2) -> str:
    """The formula with this config's numbers: ``2 × 32 layers × 1 batch × ... = 2,147,483,648 bytes``."""
    s = config if isinstance(config, Shape) else shape(config)
    total = kv_cache_bytes(s, positions, batch, bytes_per_value)
    return (f"2 × {s.n_layer} layers × {batch} batch × {s.n_kv_head} kv_heads × {positions:,} positions × "
            f"{s.head_dim} head_dim × {bytes_per_value} bytes = {total:,} bytes")


def with_kv_heads(config: dict | Shape, n_kv_head: int) -> Shape:
    """The same shape with ``n_kv_head`` key/value heads (what GQA would save); ConfigError if it does not divide."""
    import dataclasses

    s = config if isinstance(config, Shape) else shape(config)
    if isinstance(n_kv_head, bool) or not isinstance(n_kv_head, int) or n_kv_head < 1 or s.n_head % n_kv_head:
        divisors = [d for d in range(1, s.n_head + 1) if s.n_head % d == 0]
        shown = ", ".join(map(str, divisors)) if len(divisors) <= 12 else f"{', '.join(map(str, divisors[:11]))}, …"
        raise ConfigError(f"{n_kv_head!r:.20} key/value heads cannot serve {s.n_head} query heads: "
                          f"choose a divisor of {s.n_head} ({shown})")
    return dataclasses.replace(s, n_kv_head=n_kv_head)


# -- our GPTConfig as a Hugging Face config ---------------------------------------------------------------
def hf_config(cfg: GPTConfig) -> dict:
    """The Hugging Face ``config.json`` (gpt2, llama or qwen2) of a GPTConfig that one of them can express;
    ConfigError for a mix none of them has (e.g. grouped-query attention with learned positions: use
    ``our_config``)."""
    gpt2_like = (cfg.norm, cfg.positions, cfg.mlp) == ("layernorm", "learned", "gelu")
    if gpt2_like and cfg.bias and cfg.qkv_bias and cfg.n_kv_head == cfg.n_head:
        return dict(model_type="gpt2", architectures=["GPT2LMHeadModel"], vocab_size=cfg.vocab_size,
                    n_positions=cfg.block_size, n_embd=cfg.n_embd, n_layer=cfg.n_layer, n_head=cfg.n_head,
                    n_inner=cfg.intermediate_size, layer_norm_epsilon=cfg.layer_norm_epsilon,
                    activation_function="gelu_new", tie_word_embeddings=cfg.tie_word_embeddings)
    llama_like = (cfg.norm, cfg.positions, cfg.mlp) == ("rmsnorm", "rotary", "swiglu") and not cfg.bias
    if llama_like:
        kind = "qwen2" if cfg.qkv_bias else "llama"
        arch = {"llama": "LlamaForCausalLM", "qwen2": "Qwen2ForCausalLM"}[kind]
        return dict(model_type=kind, architectures=[arch], vocab_size=cfg.vocab_size, hidden_size=cfg.n_embd,
                    num_hidden_layers=cfg.n_layer, num_attention_heads=cfg.n_head, num_key_value_heads=cfg.n_kv_head,
                    intermediate_size=cfg.intermediate_size, max_position_embeddings=cfg.block_size,
                    rms_norm_eps=cfg.layer_norm_epsilon, rope_theta=cfg.rope_theta, hidden_act="silu",
                    tie_word_embeddings=cfg.tie_word_embeddings)
    raise ConfigError(f"no Hugging Face model type has this mix (norm={cfg.norm}, positions={cfg.positions}, "
                      f"mlp={cfg.mlp}, bias={cfg.bias}, {cfg.n_kv_head} of {cfg.n_head} heads for keys and values): "
                      f"describe it in our own format (arch.our_config)")


def our_config(cfg: GPTConfig) -> dict:
    """A GPTConfig as our own config.json writes it (``"format": "gpt-playground"``)."""
    return {"format": OURS, **cfg.to_dict()}


# -- the shipped configs --------------------------------------------------------------------------------
def shipped(name: str) -> dict:
    """A shipped config by display name (``SHIPPED``), as published on the Hugging Face Hub."""
    if name not in SHIPPED:
        raise ConfigError(f"no shipped config {name!r:.40}: choose one of {', '.join(SHIPPED)}")
    return json.loads((CONFIGS_DIR / f"{SHIPPED[name]}.json").read_text(encoding="utf-8"))


# -- comparing two architectures -------------------------------------------------------------------------
FIELDS = ("model_type", "norm", "positions", "rope_theta", "mlp", "n_embd", "n_layer", "n_head", "n_kv_head",
          "head_dim", "intermediate_size", "vocab_size", "context", "tied", "qkv_bias", "out_bias", "mlp_bias",
          "norm_bias", "sliding_window")


def differences(a: Shape, b: Shape) -> list[tuple[str, object, object]]:
    """(field, a's value, b's value) for each ``FIELDS`` entry where the two shapes differ."""
    return [(f, getattr(a, f), getattr(b, f)) for f in FIELDS if getattr(a, f) != getattr(b, f)]
