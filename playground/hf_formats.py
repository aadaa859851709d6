"""Hugging Face checkpoint folders: GPT-2, and the Llama family (Llama, SmolLM, TinyLlama, Qwen2, Mistral).

GPT-2: ``config.json`` (``model_type: gpt2``); ``model.safetensors`` or ``pytorch_model.bin`` (or
sharded, with an ``.index.json``); ``tokenizer.json``, or ``vocab.json`` + ``merges.txt``. Our
parameter names are GPT-2's, so loading is a name-by-name copy with shape checks; only GPT-2's
``Conv1D`` weights are stored (in, out) and need a transpose for ``nn.Linear``.

Llama family (``LlamaForCausalLM`` — SmolLM, SmolLM2, TinyLlama —, ``Qwen2ForCausalLM``,
``MistralForCausalLM``): the same files, with ``tokenizer.json``. Each layer's ``q_proj``, ``k_proj``
and ``v_proj`` are stacked into our fused ``c_attn``; the other tensors are renamed one to one.
"""
from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Iterator

import torch
from tokenizers import AddedToken, decoders, models, pre_tokenizers
from tokenizers import Tokenizer as HFTokenizer

from playground.checkpoint import (CheckpointError, assemble, read_json, read_tokenizer, require, safetensors_items,
                                   torch_bin_items, weight_files)
from playground.config import GPTConfig
from playground.model import GPT
from playground.tokenizer import EOS, Tokenizer

log = logging.getLogger(__name__)

# GPT2Config's defaults, for keys a config.json leaves out (as transformers would)
GPT2_DEFAULTS = dict(vocab_size=50257, n_positions=1024, n_embd=768, n_layer=12, n_head=12, layer_norm_epsilon=1e-5)
MASK_BUFFERS = (".attn.bias", ".attn.masked_bias")  # saved by older transformers; not weights
# GPT-2's Conv1D stores its weight as (in, out); nn.Linear wants (out, in)
CONV1D_WEIGHTS = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")
# model_type -> the one architecture of it we run (a decoder-only LM with Llama's block)
LLAMA_FAMILY = {"llama": "LlamaForCausalLM", "qwen2": "Qwen2ForCausalLM", "mistral": "MistralForCausalLM"}

# -- Hugging Face GPT-2 format ---------------------------------------------------------------
def gpt2_config(data: dict, path: str | Path = "config.json") -> GPTConfig:
    """Our GPTConfig for a Hugging Face GPT-2 ``config.json``; refuses variants our GPT cannot run."""
    if data.get("model_type", "gpt2") != "gpt2":
        raise CheckpointError(f"{path}: model_type is {data['model_type']!r}; supported: {_supported()}")
    cfg = {**GPT2_DEFAULTS, **{k: v for k, v in data.items() if v is not None}}
    unsupported = {
        "activation_function": (cfg.get("activation_function", "gelu_new") not in ("gelu_new", "gelu_pytorch_tanh")),
        "n_inner": cfg.get("n_inner", 4 * cfg["n_embd"]) != 4 * cfg["n_embd"],
        "scale_attn_weights": cfg.get("scale_attn_weights", True) is not True,
        "scale_attn_by_inverse_layer_idx": cfg.get("scale_attn_by_inverse_layer_idx", False) is not False,
        "add_cross_attention": cfg.get("add_cross_attention", False) is not False,
    }
    for key, bad in unsupported.items():
        if bad:
            raise CheckpointError(f"{path}: {key}={cfg[key]!r} is not supported (our GPT is GPT-2 as published)")
    try:
        return GPTConfig(
            vocab_size=cfg["vocab_size"],
            block_size=data.get("n_positions") or data.get("n_ctx") or GPT2_DEFAULTS["n_positions"],
            n_layer=cfg["n_layer"],
            n_head=cfg["n_head"],
            n_embd=cfg["n_embd"],
            layer_norm_epsilon=float(cfg["layer_norm_epsilon"]),
            tie_word_embeddings=bool(cfg.get("tie_word_embeddings", True)),
            dropout=0.0,  # inference only
        )
    except (ValueError, TypeError) as e:
        raise CheckpointError(f"{path} is not a valid GPT-2 config: {e}") from e


def load_gpt2(folder: str | Path) -> tuple[GPT, Tokenizer]:
    """Load a folder in Hugging Face GPT-2 format (as ``save_pretrained`` or the Hub lays it out)."""
    folder = Path(folder)
    require(folder, ("config.json",))
    config = gpt2_config(read_json(folder / "config.json"), folder / "config.json")
    files = weight_files(folder)
    model = assemble(config, _gpt2_items(files, config), ", ".join(str(f) for f in files))
    tokenizer = _gpt2_tokenizer(folder)
    if tokenizer.vocab_size > config.vocab_size:
        raise CheckpointError(
            f"{folder}: the tokenizer has {tokenizer.vocab_size} tokens but the model only "
            f"{config.vocab_size} embeddings (config.json vocab_size)"
        )
    return model, tokenizer


def _gpt2_name(key: str) -> tuple[str | None, bool]:
    """Our name for a GPT-2 tensor name (None = not part of the language model), and whether
    it needs a transpose."""
    if key == "lm_head.weight":
        return key, False
    key = key.removeprefix("transformer.")  # GPT2Model files have no prefix, GPT2LMHeadModel ones do
    if not key.startswith(("wte.", "wpe.", "h.", "ln_f.")):
        return None, False  # another head (GPT2DoubleHeadsModel, ...ForSequenceClassification)
    name = "transformer." + key
    return name, name.endswith(CONV1D_WEIGHTS)


def _gpt2_items(files: list[Path], config: GPTConfig) -> Iterator[tuple[str, torch.Tensor, bool, str]]:
    for path in files:
        items = safetensors_items(path) if path.suffix == ".safetensors" else torch_bin_items(path)
        for key, t in items:
            if key.endswith(MASK_BUFFERS):
                continue  # old causal-mask buffers: we build the mask on the fly
            name, transpose = _gpt2_name(key)
            if name is None:
                log.warning("%s: ignoring tensor %r (not part of a GPT-2 language model)", path, key)
                continue
            if name == "lm_head.weight" and config.tie_word_embeddings:
                continue  # tied: the head is the token embedding
            yield name, t, transpose, f"{path}: tensor {key!r}"


# -- Hugging Face Llama family ------------------------------------------------------------------
def llama_config(data: dict, path: str | Path = "config.json") -> GPTConfig:
    """Our GPTConfig for a Llama / Qwen2 / Mistral ``config.json``; refuses what our block cannot run.

    Reads RoPE's base from ``rope_parameters`` (transformers 5) or ``rope_theta`` (older files).
    A sliding attention window caps our context window at its size: within it, sliding-window
    attention and full attention are the same computation.
    """
    model_type = data.get("model_type")
    arch = LLAMA_FAMILY.get(model_type)
    if arch is None:
        raise CheckpointError(f"{path}: model_type is {model_type!r}; supported: {_supported()}")
    if data.get("architectures", [arch]) not in ([arch], None):
        raise CheckpointError(f"{path}: architectures is {data['architectures']!r}; only {arch} loads for "
                              f"model_type {model_type!r} (a causal language model)")
    rope = data.get("rope_parameters") or data.get("rope_scaling") or {}
    if not isinstance(rope, dict):
        raise CheckpointError(f"{path}: rope_parameters / rope_scaling must be an object, got {rope!r}")
    rope_type = rope.get("rope_type", rope.get("type", "default"))
    unsupported = {
        "rope scaling": (rope_type, rope_type != "default"),
        "hidden_act": (data.get("hidden_act", "silu"), data.get("hidden_act", "silu") != "silu"),
        "attention_bias": (data.get("attention_bias"), model_type != "qwen2" and data.get("attention_bias", False)),
        "mlp_bias": (data.get("mlp_bias"), data.get("mlp_bias", False)),
        "partial_rotary_factor": (data.get("partial_rotary_factor"), data.get("partial_rotary_factor", 1.0) != 1.0),
        "quantization_config": ("present", "quantization_config" in data),
    }
    for key, (value, bad) in unsupported.items():
        if bad:
            raise CheckpointError(f"{path}: {key} {value!r} is not supported (our block runs plain RoPE, SiLU, "
                                  "no attention-output or MLP biases, unquantized weights)")
    try:
        n_embd, n_head = data["hidden_size"], data["num_attention_heads"]
        head_dim = data.get("head_dim") or n_embd // n_head
        if head_dim * n_head != n_embd:
            raise ValueError(f"head_dim {head_dim} × {n_head} heads != hidden_size {n_embd} (not supported)")
        window = data.get("sliding_window") if model_type == "mistral" or data.get("use_sliding_window") else None
        return GPTConfig(
            vocab_size=data["vocab_size"],
            block_size=min(data.get("max_position_embeddings", 2048), window or float("inf")),
            n_layer=data["num_hidden_layers"],
            n_head=n_head,
            n_embd=n_embd,
            n_kv_head=data.get("num_key_value_heads") or n_head,
            bias=False,
            qkv_bias=model_type == "qwen2",  # Qwen2: biases on q, k, v only
            layer_norm_epsilon=float(data.get("rms_norm_eps", 1e-6)),
            tie_word_embeddings=bool(data.get("tie_word_embeddings", False)),
            norm="rmsnorm",
            positions="rotary",
            rope_theta=float(rope.get("rope_theta", data.get("rope_theta", 10000.0))),
            mlp="swiglu",
            intermediate_size=data["intermediate_size"],
            dropout=0.0,  # inference only
        )
    except (KeyError, ValueError, TypeError) as e:
        missing = f"it lacks {e}" if isinstance(e, KeyError) else str(e)
        raise CheckpointError(f"{path} is not a valid {arch} config: {missing}") from e


def load_llama(folder: str | Path) -> tuple[GPT, Tokenizer]:
    """Load a Llama-family folder in Hugging Face layout (config.json, safetensors or .bin, tokenizer.json)."""
    folder = Path(folder)
    require(folder, ("config.json", "tokenizer.json"))
    data = read_json(folder / "config.json")
    config = llama_config(data, folder / "config.json")
    files = weight_files(folder)
    model = assemble(config, _llama_items(files, config), ", ".join(str(f) for f in files))
    eos = data.get("eos_token_id")  # an id, or a list of them (the first ends a text here)
    tokenizer = read_tokenizer(folder / "tokenizer.json", eos[0] if isinstance(eos, list) else eos)
    if tokenizer.vocab_size > config.vocab_size:
        raise CheckpointError(f"{folder}: the tokenizer has {tokenizer.vocab_size} tokens but the model only "
                              f"{config.vocab_size} embeddings (config.json vocab_size)")
    return model, tokenizer


LLAMA_NAMES = {"embed_tokens.weight": "transformer.wte.weight", "norm.weight": "transformer.ln_f.weight"}
LLAMA_LAYER_NAMES = {
    "input_layernorm.weight": "ln_1.weight",
    "post_attention_layernorm.weight": "ln_2.weight",
    "self_attn.o_proj.weight": "attn.c_proj.weight",
    "mlp.gate_proj.weight": "mlp.gate_proj.weight",
    "mlp.up_proj.weight": "mlp.up_proj.weight",
    "mlp.down_proj.weight": "mlp.down_proj.weight",
}
QKV_NAME = re.compile(r"layers\.(\d+)\.self_attn\.([qkv])_proj\.(weight|bias)")


def _llama_items(files: list[Path], config: GPTConfig) -> Iterator[tuple[str, torch.Tensor, bool, str]]:
    """Our names for a Llama checkpoint's tensors; q, k and v of a layer are held until all three came,
    then stacked [q; k; v] as ``c_attn`` (one layer's worth, whatever shard each is in)."""
    pending: dict[str, dict[str, torch.Tensor]] = {}
    for path in files:
        items = safetensors_items(path) if path.suffix == ".safetensors" else torch_bin_items(path)
        for key, t in items:
            where = f"{path}: tensor {key!r}"
            if key == "lm_head.weight":
                if not config.tie_word_embeddings:
                    yield key, t, False, where
                continue  # tied: the head is the token embedding
            key = key.removeprefix("model.")
            if key.endswith("rotary_emb.inv_freq"):
                continue  # older files store RoPE's frequencies; we compute them from rope_theta
            if qkv := QKV_NAME.fullmatch(key):
                layer, part, kind = qkv.groups()
                name = f"transformer.h.{layer}.attn.c_attn.{kind}"
                parts = pending.setdefault(name, {})
                parts[part] = t
                if len(parts) == 3:
                    del pending[name]
                    yield name, torch.cat([parts[p] for p in "qkv"]), False, f"{path}: q/k/v of {name}"
                continue
            layer, _, rest = key.removeprefix("layers.").partition(".")
            if key.startswith("layers.") and rest in LLAMA_LAYER_NAMES:
                yield f"transformer.h.{layer}.{LLAMA_LAYER_NAMES[rest]}", t, False, where
            else:
                yield LLAMA_NAMES.get(key, key), t, False, where  # an unknown name is refused by assemble
    for name, parts in pending.items():
        lacking = ", ".join(f"{p}_proj" for p in "qkv" if p not in parts)
        raise CheckpointError(f"{files[0].parent}: {name} cannot be built: the checkpoint lacks {lacking}")


def _supported() -> str:
    return ", ".join(repr(t) for t in ("gpt2", *LLAMA_FAMILY))


def _gpt2_tokenizer(folder: Path) -> Tokenizer:
    """GPT-2's byte-level BPE from tokenizer.json, or rebuilt from vocab.json + merges.txt."""
    if (folder / "tokenizer.json").is_file():
        return read_tokenizer(folder / "tokenizer.json")
    require(folder, ("vocab.json", "merges.txt"), hint="(or tokenizer.json)")
    try:
        hf = HFTokenizer(models.BPE.from_file(str(folder / "vocab.json"), str(folder / "merges.txt")))
    except Exception as e:  # tokenizers raises plain Exception subclasses
        raise CheckpointError(f"{folder / 'vocab.json'} + {folder / 'merges.txt'} cannot be read ({e})") from e
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    hf.decoder = decoders.ByteLevel()
    if hf.token_to_id(EOS) is not None:  # as GPT2Tokenizer: "<|endoftext|>" in a text is one token
        hf.add_special_tokens([AddedToken(EOS, special=True)])
    return Tokenizer(hf)
