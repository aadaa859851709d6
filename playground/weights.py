"""Load and save checkpoints, and find a model by name: ``load_model(source) -> (model, tokenizer)``.

Our own format (``assets/model/``): ``config.json`` (GPTConfig fields, ``"format":
"gpt-playground"``), ``model.safetensors`` (fp16, tied head stored once) and ``tokenizer.json``.
Hugging Face folders (GPT-2, and the Llama family: Llama, SmolLM, TinyLlama, Qwen2, Mistral) are
read by ``playground.hf_formats``; tensors are read one at a time by ``playground.checkpoint``.
A name is an embedded model, a folder, or a Hub id taken from the Hugging Face cache or downloaded.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch
from safetensors.torch import save_file

from playground.checkpoint import (  # noqa: F401  (CheckpointError is re-exported: callers catch it from here)
    WEIGHT_FILES,
    CheckpointError,
    assemble,
    read_json,
    read_tokenizer,
    require,
    safetensors_items,
)
from playground.config import GPTConfig
from playground.corpus import ASSETS
from playground.hf_formats import LLAMA_FAMILY, gpt2_config, llama_config, load_gpt2, load_llama  # noqa: F401
from playground.model import GPT
from playground.tokenizer import Tokenizer

# shipped with the app: the default, and its grouped-query twin (8 query heads share 2 key/value heads;
# same corpus and tokenizer) that makes the KV-cache saving of GQA measurable
EMBEDDED = {"shakespeare": ASSETS / "model", "shakespeare-gqa": ASSETS / "model-gqa"}
# the speculative-decoding draft of "shakespeare" (same tokenizer, 2 layers, width 128): loadable by name, not
# in the model picker, where a model that writes worse text on purpose would only confuse
EMBEDDED["shakespeare-tiny"] = ASSETS / "model-tiny"
# the modern decoder (RMSNorm, rotary positions, SwiGLU, 8 query / 2 KV heads), same corpus and tokenizer
EMBEDDED["shakespeare-llama"] = ASSETS / "model-llama"
OFFERED_MODELS = ("shakespeare", "shakespeare-gqa", "shakespeare-llama", "gpt2", "SmolLM2-135M", "Qwen2.5-0.5B")  # what the app lists
GPT2_ENV = "PLAYGROUND_GPT2_DIR"  # a local GPT-2 folder that "gpt2" resolves to
# short names -> canonical Hub repos (the short GPT-2 ones still redirect on the Hub)
HUB_ALIASES = {
    "gpt2": "openai-community/gpt2",
    "gpt2-medium": "openai-community/gpt2-medium",
    "gpt2-large": "openai-community/gpt2-large",
    "gpt2-xl": "openai-community/gpt2-xl",
    "distilgpt2": "distilbert/distilgpt2",
    "SmolLM2-135M": "HuggingFaceTB/SmolLM2-135M",
    "Qwen2.5-0.5B": "Qwen/Qwen2.5-0.5B",
}
# a local folder that an offered Hub model resolves to, when the variable is set
MODEL_ENVS = {
    "openai-community/gpt2": GPT2_ENV,
    "HuggingFaceTB/SmolLM2-135M": "PLAYGROUND_SMOLLM2_DIR",
    "Qwen/Qwen2.5-0.5B": "PLAYGROUND_QWEN2_DIR",
}
HUB_TIMEOUT_S = 5.0  # one metadata request decides whether the Hub is reachable
TOKENIZER_FILES = ("tokenizer.json", "vocab.json", "merges.txt")


class ModelUnavailable(CheckpointError):
    """A named model is neither on this machine nor downloadable now (e.g. no network)."""


class HubUnreachable(ModelUnavailable):
    """The Hugging Face Hub did not answer (no network, timeout, proxy...)."""


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
    require(folder, ("config.json", "model.safetensors", "tokenizer.json"))
    try:
        config = GPTConfig.from_dict(read_json(folder / "config.json"))
    except (ValueError, TypeError) as e:
        raise CheckpointError(f"{folder / 'config.json'} is not a valid config: {e}") from e
    path = folder / "model.safetensors"
    # strict: every tensor must be one of ours, under our own name (a tied head may be stored too)
    items = (
        (name, t, False, f"{path}: tensor {name!r}")
        for name, t in safetensors_items(path)
        if not (name == "lm_head.weight" and config.tie_word_embeddings)
    )
    model = assemble(config, items, str(path))
    return model, read_tokenizer(folder / "tokenizer.json")


def missing_files(folder: str | Path) -> list[str]:
    """What a checkpoint folder lacks (empty when complete); reads config.json only."""
    folder = Path(folder)
    if not folder.is_dir():
        return [f"the folder {folder}"]
    if not (folder / "config.json").is_file():
        return [str(folder / "config.json")]
    try:
        ours = read_json(folder / "config.json").get("format") == "gpt-playground"
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

    Looks only at the disk: the embedded model, ``$PLAYGROUND_GPT2_DIR`` for "gpt2" (and the other
    ``MODEL_ENVS``), a folder, then the Hugging Face cache.
    """
    if isinstance(source, str) and source in EMBEDDED:
        return EMBEDDED[source]
    repo = HUB_ALIASES.get(source, source) if isinstance(source, str) else None
    env = MODEL_ENVS.get(repo)
    if env and os.environ.get(env):
        folder = Path(os.environ[env]).expanduser()
        if not folder.is_dir():
            raise CheckpointError(f"{env}={os.environ[env]} is not a folder")
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
        raise HubUnreachable(_unavailable(repo, f"{type(e).__name__}: {(str(e).splitlines() or [''])[0][:200]}")) from e
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

    env = f" or set {MODEL_ENVS[repo]} to such a folder," if repo in MODEL_ENVS else ""
    return (
        f"{repo} is not in the Hugging Face cache ({constants.HF_HUB_CACHE}) and cannot be downloaded now ({reason}). "
        f"Give a local folder with config.json, model.safetensors (or pytorch_model.bin) and tokenizer.json "
        f"(or vocab.json + merges.txt) instead,{env} or download it once where there is internet: "
        f"hf download {repo} config.json model.safetensors tokenizer.json"
    )


def load_model(source: str | Path = "shakespeare") -> tuple[GPT, Tokenizer]:
    """Load a model and its tokenizer; ``load_model()`` is the embedded default.

    ``source``: "shakespeare"; a folder in our format or in Hugging Face GPT-2 or Llama-family
    format; or a Hub id ("gpt2", "openai-community/gpt2", "distilgpt2", "SmolLM2-135M",
    "Qwen/Qwen2.5-0.5B", "TinyLlama/TinyLlama-1.1B-Chat-v1.0"...), taken from the Hugging Face cache
    or downloaded into it. "gpt2" means ``$PLAYGROUND_GPT2_DIR`` when set (see ``MODEL_ENVS``).
    """
    where = resolve(source)
    folder = where if isinstance(where, Path) else _download(where)
    require(folder, ("config.json",))
    data = read_json(folder / "config.json")
    if data.get("format") == "gpt-playground":
        return load_checkpoint(folder)
    if data.get("model_type") in LLAMA_FAMILY:
        return load_llama(folder)
    return load_gpt2(folder)


def model_choices(probe_hub: bool = True) -> dict[str, str | None]:
    """Each offered model -> None when it can be loaded, else the reason it cannot.

    Cheap: looks for files (embedded, ``$PLAYGROUND_GPT2_DIR``, the Hugging Face cache) and loads no
    weights. A Hub model not cached counts as loadable when the Hub answers one metadata request
    within ``HUB_TIMEOUT_S`` (skip with ``probe_hub=False``: then it is reported as not cached).
    """
    choices: dict[str, str | None] = {}
    hub_down = None if probe_hub else "the Hub was not asked"  # after one unanswered request, ask no more
    for name in OFFERED_MODELS:
        try:
            where = resolve(name)
            if isinstance(where, Path):
                lacks = missing_files(where)
                if lacks:
                    raise CheckpointError(f"{name}: missing {', '.join(lacks)}")
            elif hub_down:
                raise ModelUnavailable(_unavailable(where, hub_down))
            else:
                try:
                    _hub_files(where)
                except HubUnreachable:
                    hub_down = "the Hub did not answer a request just before"
                    raise
            choices[name] = None
        except CheckpointError as e:
            choices[name] = str(e)
    return choices
