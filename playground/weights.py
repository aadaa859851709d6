"""Load and save checkpoints.

Our own format (``assets/model/``): ``config.json`` (GPTConfig fields, ``"format":
"gpt-playground"``), ``model.safetensors`` (fp16, tied head stored once) and ``tokenizer.json``.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from playground.config import GPTConfig
from playground.corpus import ASSETS
from playground.model import GPT
from playground.tokenizer import Tokenizer

EMBEDDED = {"shakespeare": ASSETS / "model"}


class CheckpointError(ValueError):
    """A checkpoint is missing, unreadable or does not fit its config."""


def save_checkpoint(model: GPT, tokenizer: Tokenizer, folder: str | Path, dtype: torch.dtype = torch.float16) -> None:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model.config.save(folder / "config.json")
    state = {k: v.detach().to(dtype).contiguous() for k, v in model.state_dict().items()}
    if model.config.tie_word_embeddings:
        state.pop("lm_head.weight")  # the same tensor as transformer.wte.weight
    save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})
    tokenizer.save(folder / "tokenizer.json")


def load_checkpoint(folder: str | Path) -> tuple[GPT, Tokenizer]:
    """Load one of our checkpoints into fp32 (computation runs in fp32 on the CPU)."""
    folder = Path(folder)
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        if not (folder / name).is_file():
            raise CheckpointError(f"{folder / name} is missing")
    try:
        config = GPTConfig.from_dict(json.loads((folder / "config.json").read_text()))
    except (ValueError, TypeError) as e:
        raise CheckpointError(f"{folder / 'config.json'} is not a valid config: {e}") from e
    try:
        state = load_file(str(folder / "model.safetensors"))
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{folder / 'model.safetensors'} cannot be read ({e})") from e
    model = GPT(config)
    _copy_state(model, state, folder / "model.safetensors")
    model.eval()
    try:
        tokenizer = Tokenizer.from_file(folder / "tokenizer.json")
    except Exception as e:  # tokenizers raises plain Exception subclasses
        raise CheckpointError(f"{folder / 'tokenizer.json'} cannot be read ({e})") from e
    return model, tokenizer


def _copy_state(model: GPT, state: dict[str, torch.Tensor], source: Path) -> None:
    """Copy tensors by name with shape checks; every parameter must be present."""
    own = model.state_dict()
    if model.config.tie_word_embeddings:
        own.pop("lm_head.weight")
    missing = sorted(set(own) - set(state))
    if missing:
        raise CheckpointError(f"{source} lacks tensor(s): {', '.join(missing[:5])}")
    with torch.no_grad():
        for name, target in own.items():
            t = state[name]
            if t.shape != target.shape:
                raise CheckpointError(
                    f"{source}: tensor {name} has shape {tuple(t.shape)}, the config needs {tuple(target.shape)}"
                )
            target.copy_(t.to(target.dtype))


def load_model(source: str | Path = "shakespeare") -> tuple[GPT, Tokenizer]:
    """Load a model and its tokenizer by name or folder; ``load_model()`` is the embedded default."""
    if isinstance(source, str) and source in EMBEDDED:
        return load_checkpoint(EMBEDDED[source])
    folder = Path(source)
    if folder.is_dir():
        return load_checkpoint(folder)
    raise CheckpointError(f"unknown model {source!r}: use one of {sorted(EMBEDDED)} or a checkpoint folder")
