"""Load and save checkpoints: our own format, and GPT-2 in Hugging Face's layout.

Our own format (``assets/model/``): ``config.json`` (GPTConfig fields, ``"format":
"gpt-playground"``), ``model.safetensors`` (fp16, tied head stored once) and ``tokenizer.json``.

Hugging Face GPT-2 format (a local folder, or a Hub repo fetched into the Hugging Face cache):
``config.json`` (``model_type: gpt2``); ``model.safetensors`` or ``pytorch_model.bin`` (or
sharded, with an ``.index.json``); ``tokenizer.json``, or ``vocab.json`` + ``merges.txt``.
Our parameter names are GPT-2's, so loading is a name-by-name copy with shape checks; only
GPT-2's ``Conv1D`` weights are stored (in, out) and need a transpose for ``nn.Linear``.

Memory: the GPT is built on the meta device (shapes, no storage) and each tensor is read,
converted to fp32 and assigned one at a time, so a load never holds two copies of the weights.
"""
from __future__ import annotations

import json
import logging
import os
import pickle
import struct
import zipfile
from pathlib import Path
from typing import Iterable, Iterator

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from tokenizers import AddedToken, decoders, models, pre_tokenizers
from tokenizers import Tokenizer as HFTokenizer

from playground.config import GPTConfig
from playground.corpus import ASSETS
from playground.model import GPT
from playground.tokenizer import EOS, Tokenizer

log = logging.getLogger(__name__)

# shipped with the app: the default, and its grouped-query twin (8 query heads share 2 key/value heads;
# same corpus and tokenizer) that makes the KV-cache saving of GQA measurable
EMBEDDED = {"shakespeare": ASSETS / "model", "shakespeare-gqa": ASSETS / "model-gqa"}
OFFERED_MODELS = ("shakespeare", "shakespeare-gqa", "gpt2")  # what the app lists
GPT2_ENV = "PLAYGROUND_GPT2_DIR"  # a local GPT-2 folder that "gpt2" resolves to
# short names -> canonical Hub repos (the short ones still redirect on the Hub)
HUB_ALIASES = {
    "gpt2": "openai-community/gpt2",
    "gpt2-medium": "openai-community/gpt2-medium",
    "gpt2-large": "openai-community/gpt2-large",
    "gpt2-xl": "openai-community/gpt2-xl",
    "distilgpt2": "distilbert/distilgpt2",
}
HUB_TIMEOUT_S = 5.0  # one metadata request decides whether the Hub is reachable

# GPT2Config's defaults, for keys a config.json leaves out (as transformers would)
GPT2_DEFAULTS = dict(vocab_size=50257, n_positions=1024, n_embd=768, n_layer=12, n_head=12, layer_norm_epsilon=1e-5)
# GPT-2's Conv1D stores its weight as (in, out); nn.Linear wants (out, in)
MASK_BUFFERS = (".attn.bias", ".attn.masked_bias")  # saved by older transformers; not weights
CONV1D_WEIGHTS = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json")
TOKENIZER_FILES = ("tokenizer.json", "vocab.json", "merges.txt")


class CheckpointError(ValueError):
    """A checkpoint is missing, unreadable or does not fit its config."""


class ModelUnavailable(CheckpointError):
    """A named model is neither on this machine nor downloadable now (e.g. no network)."""


# -- our own format -------------------------------------------------------------------------
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
    _require(folder, ("config.json", "model.safetensors", "tokenizer.json"))
    try:
        config = GPTConfig.from_dict(_read_json(folder / "config.json"))
    except (ValueError, TypeError) as e:
        raise CheckpointError(f"{folder / 'config.json'} is not a valid config: {e}") from e
    path = folder / "model.safetensors"
    # strict: every tensor must be one of ours, under our own name (a tied head may be stored too)
    items = (
        (name, t, False, f"{path}: tensor {name!r}")
        for name, t in _safetensors_items(path)
        if not (name == "lm_head.weight" and config.tie_word_embeddings)
    )
    model = _assemble(config, items, str(path))
    return model, _read_tokenizer(folder / "tokenizer.json")


# -- Hugging Face GPT-2 format ---------------------------------------------------------------
def gpt2_config(data: dict, path: str | Path = "config.json") -> GPTConfig:
    """Our GPTConfig for a Hugging Face GPT-2 ``config.json``; refuses variants our GPT cannot run."""
    if data.get("model_type", "gpt2") != "gpt2":
        raise CheckpointError(f"{path}: model_type is {data['model_type']!r}; only GPT-2-family checkpoints load")
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
    _require(folder, ("config.json",))
    config = gpt2_config(_read_json(folder / "config.json"), folder / "config.json")
    files = _weight_files(folder)
    model = _assemble(config, _gpt2_items(files, config), ", ".join(str(f) for f in files))
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
        items = _safetensors_items(path) if path.suffix == ".safetensors" else _torch_bin_items(path)
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


def _weight_files(folder: Path) -> list[Path]:
    """The weight file(s) of a Hugging Face folder, safetensors first (as transformers prefers)."""
    for name in WEIGHT_FILES:
        path = folder / name
        if not path.is_file():
            continue
        if not name.endswith(".index.json"):
            return [path]
        weight_map = _read_json(path).get("weight_map")
        if not isinstance(weight_map, dict):
            raise CheckpointError(f"{path} has no weight_map")
        shards = [folder / f for f in dict.fromkeys(weight_map.values())]
        for shard in shards:
            if not shard.is_file():
                raise CheckpointError(f"{shard} is missing (listed in {path})")
        return shards
    raise CheckpointError(f"{folder} has no weights: expected {' or '.join(WEIGHT_FILES[::2])}")


def _gpt2_tokenizer(folder: Path) -> Tokenizer:
    """GPT-2's byte-level BPE from tokenizer.json, or rebuilt from vocab.json + merges.txt."""
    if (folder / "tokenizer.json").is_file():
        return _read_tokenizer(folder / "tokenizer.json")
    _require(folder, ("vocab.json", "merges.txt"), hint="(or tokenizer.json)")
    try:
        hf = HFTokenizer(models.BPE.from_file(str(folder / "vocab.json"), str(folder / "merges.txt")))
    except Exception as e:  # tokenizers raises plain Exception subclasses
        raise CheckpointError(f"{folder / 'vocab.json'} + {folder / 'merges.txt'} cannot be read ({e})") from e
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    hf.decoder = decoders.ByteLevel()
    if hf.token_to_id(EOS) is not None:  # as GPT2Tokenizer: "<|endoftext|>" in a text is one token
        hf.add_special_tokens([AddedToken(EOS, special=True)])
    return Tokenizer(hf)


# -- reading tensors one at a time -------------------------------------------------------------
def _assemble(config: GPTConfig, items: Iterable[tuple[str, torch.Tensor, bool, str]], source: str) -> GPT:
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


def _safetensors_items(path: Path) -> Iterator[tuple[str, torch.Tensor]]:
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


def _torch_bin_items(path: Path) -> Iterator[tuple[str, torch.Tensor]]:
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


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise CheckpointError(f"{path} cannot be read ({e})") from e
    if not isinstance(data, dict):
        raise CheckpointError(f"{path} does not hold a JSON object")
    return data


def _read_tokenizer(path: Path) -> Tokenizer:
    try:
        return Tokenizer.from_file(path)
    except Exception as e:  # tokenizers raises plain Exception subclasses
        raise CheckpointError(f"{path} cannot be read ({e})") from e


def _require(folder: Path, names: Iterable[str], hint: str = "") -> None:
    for name in names:
        if not (folder / name).is_file():
            raise CheckpointError(f"{folder / name} is missing{' ' + hint if hint else ''}")


def missing_files(folder: str | Path) -> list[str]:
    """What a checkpoint folder lacks (empty when complete); reads config.json only."""
    folder = Path(folder)
    if not folder.is_dir():
        return [f"the folder {folder}"]
    if not (folder / "config.json").is_file():
        return [str(folder / "config.json")]
    try:
        ours = _read_json(folder / "config.json").get("format") == "gpt-playground"
    except CheckpointError:
        return [f"{folder / 'config.json'} (unreadable)"]
    if ours:
        return [str(folder / n) for n in ("model.safetensors", "tokenizer.json") if not (folder / n).is_file()]
    lacks = []
    if not any((folder / n).is_file() for n in WEIGHT_FILES):
        lacks.append(f"{folder}/model.safetensors (or pytorch_model.bin)")
    if not (folder / "tokenizer.json").is_file() and not all((folder / n).is_file() for n in TOKENIZER_FILES[1:]):
        lacks.append(f"{folder}/tokenizer.json (or vocab.json + merges.txt)")
    return lacks


# -- finding a model by name ------------------------------------------------------------------
def _is_path(source: str | Path) -> bool:
    """A Path, or a string that can only be a path (a Hub id is "name" or "owner/name")."""
    return (
        isinstance(source, Path)
        or source.startswith((".", "/", "~"))
        or "\\" in source
        or source.count("/") > 1
        or Path(source).is_dir()
    )


def resolve(source: str | Path) -> Path | str:
    """Where ``source`` lives: a local folder, or (as a str) a Hub repo id still to download.

    Looks only at the disk: the embedded model, ``$PLAYGROUND_GPT2_DIR`` for "gpt2", a folder,
    then the Hugging Face cache.
    """
    if isinstance(source, str) and source in EMBEDDED:
        return EMBEDDED[source]
    repo = HUB_ALIASES.get(source, source) if isinstance(source, str) else None
    if repo == HUB_ALIASES["gpt2"] and os.environ.get(GPT2_ENV):
        folder = Path(os.environ[GPT2_ENV]).expanduser()
        if not folder.is_dir():
            raise CheckpointError(f"{GPT2_ENV}={os.environ[GPT2_ENV]} is not a folder")
        return folder
    if _is_path(source):
        folder = Path(source).expanduser()
        if not folder.is_dir():
            raise CheckpointError(
                f"no model folder {folder}: give a folder with config.json, or one of {sorted(EMBEDDED)}, or a Hub id"
            )
        return folder
    return _cached_hub_folder(source, repo) or repo


def _cached_hub_folder(*repos: str) -> Path | None:
    """A complete snapshot of one of ``repos`` in the Hugging Face cache, without any network."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError

    for repo in dict.fromkeys(repos):
        try:
            folder = Path(snapshot_download(repo, local_files_only=True))
        except (LocalEntryNotFoundError, HFValidationError, OSError):
            continue
        if not missing_files(folder):
            return folder
    return None


def _hub_files(repo: str) -> list[str]:
    """The files of ``repo`` we need, asked of the Hub with a short timeout (fails fast offline)."""
    from huggingface_hub import HfApi, constants
    from huggingface_hub.errors import HFValidationError, RepositoryNotFoundError

    if constants.HF_HUB_OFFLINE:
        raise ModelUnavailable(_unavailable(repo, "HF_HUB_OFFLINE is set"))
    try:
        info = HfApi().model_info(repo, timeout=HUB_TIMEOUT_S)
    except (RepositoryNotFoundError, HFValidationError) as e:
        raise ModelUnavailable(f"no model {repo!r} on the Hugging Face Hub ({type(e).__name__})") from e
    except Exception as e:  # any network failure (DNS, refused, timeout, proxy, HTTP error)
        raise ModelUnavailable(_unavailable(repo, f"{type(e).__name__}: {str(e).splitlines()[0][:200]}")) from e
    present = {s.rfilename for s in info.siblings or []}
    if "config.json" not in present:
        raise CheckpointError(f"Hub repo {repo!r} has no config.json")
    weights = next((n for n in WEIGHT_FILES if n in present), None)
    if weights is None:
        raise CheckpointError(f"Hub repo {repo!r} has no {' or '.join(WEIGHT_FILES[::2])}")
    files = ["config.json", weights]
    if weights.endswith(".index.json"):  # shards: "model-00001-of-00002.safetensors", "pytorch_model-00001-of-00003.bin"
        stem, ext = weights.split(".")[0], ".safetensors" if "safetensors" in weights else ".bin"
        files += sorted(n for n in present if n.startswith(stem + "-") and n.endswith(ext))
    return files + (["tokenizer.json"] if "tokenizer.json" in present else ["vocab.json", "merges.txt"])


def _download(repo: str) -> Path:
    from huggingface_hub import snapshot_download

    files = _hub_files(repo)
    try:
        return Path(snapshot_download(repo, allow_patterns=files))
    except Exception as e:  # network lost mid-download, disk full...
        raise ModelUnavailable(_unavailable(repo, f"download failed: {type(e).__name__}: {e}")) from e


def _unavailable(repo: str, reason: str) -> str:
    from huggingface_hub import constants

    env = f" or set {GPT2_ENV} to such a folder," if repo == HUB_ALIASES["gpt2"] else ""
    return (
        f"{repo} is not in the Hugging Face cache ({constants.HF_HUB_CACHE}) and cannot be downloaded now ({reason}). "
        f"Give a local folder with config.json, model.safetensors (or pytorch_model.bin) and tokenizer.json "
        f"(or vocab.json + merges.txt) instead,{env} or download it once where there is internet: "
        f"hf download {repo} config.json model.safetensors tokenizer.json"
    )


def load_model(source: str | Path = "shakespeare") -> tuple[GPT, Tokenizer]:
    """Load a model and its tokenizer; ``load_model()`` is the embedded default.

    ``source``: "shakespeare"; a folder in our format or in Hugging Face GPT-2 format; or a Hub
    id ("gpt2", "openai-community/gpt2", "distilgpt2", "gpt2-medium"...), taken from the
    Hugging Face cache or downloaded into it. "gpt2" means ``$PLAYGROUND_GPT2_DIR`` when set.
    """
    where = resolve(source)
    folder = where if isinstance(where, Path) else _download(where)
    _require(folder, ("config.json",))
    if _read_json(folder / "config.json").get("format") == "gpt-playground":
        return load_checkpoint(folder)
    return load_gpt2(folder)


def model_choices(probe_hub: bool = True) -> dict[str, str | None]:
    """Each offered model -> None when it can be loaded, else the reason it cannot.

    Cheap: looks for files (embedded, ``$PLAYGROUND_GPT2_DIR``, the Hugging Face cache) and loads no
    weights. A Hub model not cached counts as loadable when the Hub answers one metadata request
    within ``HUB_TIMEOUT_S`` (skip with ``probe_hub=False``: then it is reported as not cached).
    """
    choices: dict[str, str | None] = {}
    for name in OFFERED_MODELS:
        try:
            where = resolve(name)
            if isinstance(where, Path):
                lacks = missing_files(where)
                if lacks:
                    raise CheckpointError(f"{name}: missing {', '.join(lacks)}")
            elif probe_hub:
                _hub_files(where)
            else:
                raise ModelUnavailable(_unavailable(where, "the Hub was not asked"))
            choices[name] = None
        except CheckpointError as e:
            choices[name] = str(e)
    return choices
