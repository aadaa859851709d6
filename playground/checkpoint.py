"""Reading checkpoint files one tensor at a time, and assembling a GPT from them.

Shared by every format ``playground.weights`` loads (ours, and Hugging Face's GPT-2 and Llama family).
Memory: the GPT is built on the meta device (shapes, no storage) and each tensor is read,
converted to fp32 and assigned one at a time, so a load never holds two copies of the weights.
"""
from __future__ import annotations

import json
import pickle
import struct
import zipfile
from pathlib import Path
from typing import Iterable, Iterator

import torch
from safetensors import SafetensorError, safe_open

from playground.config import GPTConfig
from playground.model import GPT
from playground.tokenizer import Tokenizer

WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json")
LOADABLE_DTYPES = (torch.float32, torch.float16, torch.bfloat16)  # converted to fp32 on load


class CheckpointError(ValueError):
    """A checkpoint is missing, unreadable or does not fit its config."""


def assemble(config: GPTConfig, items: Iterable[tuple[str, torch.Tensor, bool, str]], source: str) -> GPT:
    """Build a GPT from (our name, tensor, transpose?, where) items without a second copy.

    The model starts on the meta device (no storage, no random init); each tensor is checked
    against the shape the config implies, copied once into a contiguous fp32 tensor (GPT-2's
    (in, out) Conv1D weights transposed to ``nn.Linear``'s (out, in)), and assigned.
    """
    with torch.device("meta"):
        model = GPT(config)
    expected = {name: p.shape for name, p in model.named_parameters()}  # a tied head is listed once
    state: dict[str, torch.Tensor] = {}
    for name, t, transpose, where in items:
        if name not in expected:
            raise CheckpointError(f"{where} has no place in a model with this config ({_describe(config)})")
        if name in state:
            raise CheckpointError(f"{where} is a second copy of {name}")
        if t.dtype not in LOADABLE_DTYPES:
            raise CheckpointError(f"{where} is {str(t.dtype).removeprefix('torch.')}; only float32, float16 and "
                                  "bfloat16 weights load (quantized checkpoints are not supported)")
        shape = tuple(expected[name])
        stored = shape[::-1] if transpose else shape
        if tuple(t.shape) != stored:
            raise CheckpointError(
                f"{where} has shape {tuple(t.shape)}, but the config ({_describe(config)}) needs {stored}"
            )
        state[name] = torch.empty(shape, dtype=torch.float32).copy_(t.t() if transpose else t)
        del t  # release the file's pages before the next tensor
    missing = [name for name in expected if name not in state]
    if missing:
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise CheckpointError(f"{source} lacks tensor(s) {', '.join(missing[:5])}{more}")
    model.load_state_dict(state, strict=False, assign=True)  # the fp32 copies become the parameters
    if config.tie_word_embeddings:
        model.lm_head.weight = model.transformer.wte.weight
    return model.eval()


def _describe(config: GPTConfig) -> str:
    return (
        f"n_layer={config.n_layer}, n_embd={config.n_embd}, n_head={config.n_head}, "
        f"vocab_size={config.vocab_size}, n_positions={config.block_size}"
    )


def _safetensors_names(path: Path) -> list[str]:
    """Tensor names in file order, after checking the header and that no tensor runs past the end.

    Done by hand (the format is an 8-byte length, a JSON header, then the data) so that a
    truncated file is reported with the first tensor it cut off.
    """
    size = path.stat().st_size
    try:
        with open(path, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            if n > size - 8:
                raise ValueError(f"its header claims {n} bytes but the file has {size}")
            header = json.loads(f.read(n))
        entries = {k: v for k, v in header.items() if k != "__metadata__"}
        spans = {k: tuple(v["data_offsets"]) for k, v in entries.items()}
    except (struct.error, ValueError, TypeError, KeyError, AttributeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path} is not a readable safetensors file ({e})") from e
    data = size - 8 - n
    for name, (begin, end) in sorted(spans.items(), key=lambda kv: kv[1]):
        if end > data:
            raise CheckpointError(
                f"{path} is truncated: tensor {name!r} needs data bytes {begin}..{end}, the file holds {data}"
            )
    return sorted(spans, key=spans.get)


def safetensors_items(path: Path) -> Iterator[tuple[str, torch.Tensor]]:
    """Yield (name, tensor) one at a time.

    The file is re-opened per tensor: ``safe_open`` memory-maps it, and pages read through one
    mapping stay resident until it closes, which would count the file a second time.
    """
    for name in _safetensors_names(path):
        try:
            with safe_open(str(path), framework="pt") as f:
                t = f.get_tensor(name)
        except (SafetensorError, OSError, ValueError, TypeError) as e:
            raise CheckpointError(f"{path}: tensor {name!r} cannot be read ({e})") from e
        yield name, t


def torch_bin_items(path: Path) -> Iterator[tuple[str, torch.Tensor]]:
    """Yield the tensors of a ``pytorch_model.bin`` (weights only: no code runs on load).

    Read into memory rather than memory-mapped: a .bin is one mapping, so every page copied
    would stay resident until the last tensor is done. Each tensor has its own storage here,
    and popping it frees it once copied, so originals + copies stay about one model in size.
    """
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, EOFError, OSError, ValueError, zipfile.BadZipFile) as e:
        raise CheckpointError(f"{path} cannot be read ({type(e).__name__}: {e})") from e
    if not isinstance(state, dict):
        raise CheckpointError(f"{path} does not hold a state dict")
    for name in list(state):
        t = state.pop(name)
        if not isinstance(t, torch.Tensor):
            raise CheckpointError(f"{path}: entry {name!r} is not a tensor")
        yield name, t
        del t


def read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise CheckpointError(f"{path} cannot be read ({e})") from e
    if not isinstance(data, dict):
        raise CheckpointError(f"{path} does not hold a JSON object")
    return data


def read_tokenizer(path: Path, eos_id: int | None = None) -> Tokenizer:
    try:
        return Tokenizer.from_file(path, eos_id)
    except Exception as e:  # tokenizers raises plain Exception subclasses
        raise CheckpointError(f"{path} cannot be read ({e})") from e


def require(folder: Path, names: Iterable[str], hint: str = "") -> None:
    for name in names:
        if not (folder / name).is_file():
            raise CheckpointError(f"{folder / name} is missing{' ' + hint if hint else ''}")


def weight_files(folder: Path) -> list[Path]:
    """The weight file(s) of a Hugging Face folder, safetensors first (as transformers prefers)."""
    for name in WEIGHT_FILES:
        path = folder / name
        if not path.is_file():
            continue
        if not name.endswith(".index.json"):
            return [path]
        weight_map = read_json(path).get("weight_map")
        if not isinstance(weight_map, dict):
            raise CheckpointError(f"{path} has no weight_map")
        shards = [folder / f for f in dict.fromkeys(weight_map.values())]
        for shard in shards:
            if not shard.is_file():
                raise CheckpointError(f"{shard} is missing (listed in {path})")
        return shards
    raise CheckpointError(f"{folder} has no weights: expected {' or '.join(WEIGHT_FILES[::2])}")
