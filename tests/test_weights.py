"""Loading and saving checkpoints: our format, GPT-2 folders, the Hub cache, and every failure.

Nothing here touches the network: Hub lookups run against a local cache layout written by the
test, an offline flag, or a local socket that never answers.
"""
from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from types import SimpleNamespace

import huggingface_hub
import huggingface_hub.constants
import pytest
import torch
from safetensors.torch import save_file

from playground import weights
from playground.checkpoint import safetensors_items
from playground.weights import (
    GPT2_ENV,
    CheckpointError,
    ModelUnavailable,
    gpt2_config,
    load_checkpoint,
    load_model,
    model_choices,
    save_checkpoint,
)
from tests.conftest import tiny_gpt
from tests.test_gpt2_parity import hf_gpt2, write_hf_folder


@pytest.fixture
def saved(tmp_path, small_tokenizer):
    """Our format, fp16 (as shipped)."""
    model = tiny_gpt()
    save_checkpoint(model, small_tokenizer, tmp_path)
    return model, tmp_path


@pytest.fixture
def gpt2_folder(tmp_path, small_tokenizer):
    """A tiny random GPT-2 in Hugging Face layout (model.safetensors + vocab.json/merges.txt)."""
    hf = hf_gpt2(small_tokenizer)
    return hf, write_hf_folder(tmp_path / "gpt2", hf, small_tokenizer)


def edit_json(path: Path, **changes) -> None:
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


# -- our format ---------------------------------------------------------------------------------
@torch.no_grad()
def test_round_trip_fp16_gives_the_fp16_weights_in_fp32_and_ties_the_head(saved, small_tokenizer):
    model, folder = saved
    loaded, tok = load_model(folder)
    assert loaded.config == model.config and not loaded.training
    want = model.state_dict()
    for name, p in loaded.state_dict().items():
        assert p.dtype == torch.float32 and not p.is_meta
        assert torch.equal(p, want[name].half().float()), name
    assert loaded.lm_head.weight is loaded.transformer.wte.weight
    assert loaded.num_parameters() == model.num_parameters()
    text = "Is this a dagger which I see before me?"
    assert tok.encode_ids(text) == small_tokenizer.encode_ids(text)


@torch.no_grad()
def test_round_trip_fp32_gives_identical_logits(tmp_path, small_tokenizer):
    model = tiny_gpt()
    save_checkpoint(model, small_tokenizer, tmp_path, dtype=torch.float32)
    loaded, _ = load_checkpoint(tmp_path)
    idx = torch.randint(0, 512, (2, 20))
    assert torch.equal(loaded(idx).logits, model(idx).logits)


@pytest.mark.parametrize("name", ["config.json", "model.safetensors", "tokenizer.json"])
def test_missing_file_is_named(saved, name):
    _, folder = saved
    (folder / name).unlink()
    with pytest.raises(CheckpointError, match=str(folder / name)):
        load_model(folder)


def test_corrupt_safetensors_is_named(saved):
    _, folder = saved
    (folder / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00not json at all!" + bytes(100))
    with pytest.raises(CheckpointError, match=r"model\.safetensors is not a readable safetensors file"):
        load_model(folder)


def test_truncated_safetensors_names_file_and_tensor(saved):
    _, folder = saved
    path = folder / "model.safetensors"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointError, match=r"model\.safetensors is truncated: tensor 'transformer\.[\w.]+'"):
        load_model(folder)


def test_shape_mismatch_names_file_tensor_and_shapes(saved):
    _, folder = saved
    edit_json(folder / "config.json", n_embd=64)  # the weights are 32 wide
    with pytest.raises(CheckpointError) as e:
        load_model(folder)
    msg = str(e.value)
    assert "model.safetensors: tensor 'transformer." in msg and "has shape" in msg and "n_embd=64" in msg


def test_unknown_tensor_name_is_refused(saved):
    _, folder = saved
    path = folder / "model.safetensors"
    state = {name: t for name, t in safetensors_items(path)}
    save_file({**state, "transformer.h.7.attn.c_attn.weight": torch.zeros(96, 32)}, str(path))
    with pytest.raises(CheckpointError, match=r"tensor 'transformer\.h\.7\.attn\.c_attn\.weight' has no place"):
        load_model(folder)


def test_missing_tensor_is_named(saved):
    _, folder = saved
    path = folder / "model.safetensors"
    state = {name: t for name, t in safetensors_items(path) if name != "transformer.ln_f.bias"}
    save_file(state, str(path))
    with pytest.raises(CheckpointError, match=r"lacks tensor\(s\) transformer\.ln_f\.bias"):
        load_model(folder)


def test_unknown_model_names_and_missing_folders_are_refused(tmp_path):
    with pytest.raises(CheckpointError, match="no model folder"):
        load_model(tmp_path / "nowhere")
    with pytest.raises(CheckpointError, match="no model folder"):
        load_model("./no/such/folder")
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "falcon"}))
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(CheckpointError, match="model_type is 'falcon'; supported: 'gpt2', 'llama', 'qwen2', 'mistral'"):
        load_model(tmp_path)


# -- GPT-2 folders ------------------------------------------------------------------------------
@torch.no_grad()
def test_gpt2_folder_loads_with_the_same_logits(gpt2_folder):
    hf, folder = gpt2_folder
    model, tok = load_model(str(folder))  # a str path works as well as a Path
    ids = torch.tensor([tok.encode_ids("Thou art a boil, a plague sore")])
    assert (model(ids).logits - hf(ids).logits).abs().max() <= 1e-4


@pytest.mark.parametrize("name", ["config.json", "model.safetensors", "vocab.json", "merges.txt"])
def test_gpt2_missing_file_is_named(gpt2_folder, name):
    _, folder = gpt2_folder
    (folder / name).unlink()
    with pytest.raises(CheckpointError) as e:
        load_model(folder)
    expected = "has no weights" if name == "model.safetensors" else str(folder / name)
    assert expected in str(e.value)


@torch.no_grad()
def test_gpt2_sharded_weights_with_extra_heads_load(gpt2_folder, caplog):
    """Sharded safetensors (an index + shards, as save_pretrained writes for big models); tensors
    of other heads (GPT2DoubleHeadsModel's) are ignored with a warning, mask buffers silently."""
    hf, folder = gpt2_folder
    path = folder / "model.safetensors"
    state = dict(safetensors_items(path))
    names = sorted(state)
    shards = {"model-00001-of-00002.safetensors": names[: len(names) // 2],
              "model-00002-of-00002.safetensors": names[len(names) // 2:]}
    shards["model-00002-of-00002.safetensors"] += ["multiple_choice_head.summary.weight", "transformer.h.0.attn.bias"]
    state["multiple_choice_head.summary.weight"] = torch.zeros(1, 64)
    state["transformer.h.0.attn.bias"] = torch.ones(1, 1, 128, 128).tril()
    for file, keys in shards.items():
        save_file({k: state[k] for k in keys}, str(folder / file))
    (folder / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {}, "weight_map": {k: f for f, keys in shards.items() for k in keys}}))
    path.unlink()
    with caplog.at_level("WARNING", logger="playground.weights"):
        model, tok = load_model(folder)
    assert "multiple_choice_head.summary.weight" in caplog.text and "attn.bias" not in caplog.text
    ids = torch.tensor([tok.encode_ids("Something is rotten in the state of Denmark")])
    assert (model(ids).logits - hf(ids).logits).abs().max() <= 1e-4
    (folder / "model-00002-of-00002.safetensors").unlink()
    with pytest.raises(CheckpointError, match=r"model-00002-of-00002\.safetensors is missing \(listed in"):
        load_model(folder)


def test_gpt2_duplicate_tensor_is_refused(gpt2_folder):
    _, folder = gpt2_folder
    path = folder / "model.safetensors"
    state = dict(safetensors_items(path))
    save_file({**state, "wpe.weight": state["transformer.wpe.weight"].clone()}, str(path))
    with pytest.raises(CheckpointError, match="is a second copy of transformer.wpe.weight"):
        load_model(folder)


def test_gpt2_truncated_weights_name_file_and_tensor(gpt2_folder):
    _, folder = gpt2_folder
    path = folder / "model.safetensors"
    path.write_bytes(path.read_bytes()[:-1000])
    with pytest.raises(CheckpointError, match=rf"{path} is truncated: tensor 'transformer\.[\w.]+'"):
        load_model(folder)


def test_gpt2_truncated_bin_is_named(tmp_path, small_tokenizer):
    folder = write_hf_folder(tmp_path, hf_gpt2(small_tokenizer), small_tokenizer, "bin")
    path = folder / "pytorch_model.bin"
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(CheckpointError, match=rf"{path} cannot be read"):
        load_model(folder)


def test_gpt2_config_that_does_not_fit_the_weights(gpt2_folder):
    _, folder = gpt2_folder
    cfg = folder / "config.json"
    edit_json(cfg, n_embd=128)
    with pytest.raises(CheckpointError, match=r"model\.safetensors: tensor 'transformer\.[\w.]+' has shape \("):
        load_model(folder)
    edit_json(cfg, n_embd=64, n_layer=3)
    with pytest.raises(CheckpointError, match=r"lacks tensor\(s\) transformer\.h\.2\."):
        load_model(folder)
    edit_json(cfg, n_layer=1)
    with pytest.raises(CheckpointError, match=r"tensor 'transformer\.h\.1\.[\w.]+' has no place"):
        load_model(folder)


def test_gpt2_conv1d_weights_are_transposed_and_checked(gpt2_folder):
    """A square Conv1D weight (c_proj) would fit untransposed: compare it with HF explicitly."""
    hf, folder = gpt2_folder
    model, _ = load_model(folder)
    ours = model.transformer.h[0].attn.c_proj.weight
    theirs = hf.transformer.h[0].attn.c_proj.weight  # (in, out)
    assert torch.equal(ours, theirs.t()) and not torch.equal(ours, theirs)
    theirs = dict(hf.named_parameters())
    for name, p in model.named_parameters():  # every Conv1D weight lands as a plain contiguous (out, in) tensor
        if name.endswith(("c_attn.weight", "c_proj.weight", "c_fc.weight")):
            assert p.is_contiguous() and torch.equal(p, theirs[name].t()), name


def test_gpt2_tokenizer_larger_than_the_model_is_refused(tmp_path, small_tokenizer):
    hf = hf_gpt2(small_tokenizer, vocab_size=small_tokenizer.vocab_size - 10)
    folder = write_hf_folder(tmp_path, hf, small_tokenizer)
    with pytest.raises(CheckpointError, match="the tokenizer has 512 tokens but the model only 502"):
        load_model(folder)


def test_gpt2_config_defaults_and_unsupported_variants():
    small = gpt2_config({"model_type": "gpt2", "n_ctx": 1024, "activation_function": "gelu_new", "n_inner": None})
    assert (small.n_layer, small.n_embd, small.n_head, small.vocab_size, small.block_size) == (12, 768, 12, 50257, 1024)
    assert small.tie_word_embeddings and small.layer_norm_epsilon == 1e-5
    medium = gpt2_config({"n_embd": 1024, "n_layer": 24, "n_head": 16, "n_positions": 1024})
    assert medium.head_dim == 64
    for bad in ({"activation_function": "relu"}, {"n_inner": 100}, {"scale_attn_by_inverse_layer_idx": True}):
        with pytest.raises(CheckpointError, match=f"{next(iter(bad))}=.* is not supported"):
            gpt2_config(bad, "x/config.json")


# -- names, the Hub cache, offline behaviour ----------------------------------------------------
@pytest.fixture
def empty_hub(tmp_path, monkeypatch):
    """An empty Hugging Face cache and an endpoint that accepts connections but never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", f"http://127.0.0.1:{server.getsockname()[1]}")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.delenv(GPT2_ENV, raising=False)
    yield tmp_path / "hub"
    server.close()


def test_hub_id_not_cached_fails_fast_when_the_hub_does_not_answer(empty_hub, monkeypatch):
    monkeypatch.setattr(weights, "HUB_TIMEOUT_S", 1.0)
    assert 0 < weights.HUB_TIMEOUT_S <= 10
    t0 = time.perf_counter()
    with pytest.raises(ModelUnavailable) as e:
        load_model("gpt2")
    # bounded by HUB_TIMEOUT_S plus huggingface_hub's own once-per-process telemetry fetch (3 s cap)
    assert time.perf_counter() - t0 < 8.0
    msg = str(e.value)
    for needed in ("openai-community/gpt2", "not in the Hugging Face cache", str(empty_hub), GPT2_ENV, "config.json",
                   "Timeout"):
        assert needed in msg, needed


def test_hub_id_offline_mode_fails_at_once_and_model_choices_says_why(empty_hub, monkeypatch):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    t0 = time.perf_counter()
    with pytest.raises(ModelUnavailable, match="HF_HUB_OFFLINE is set"):
        load_model("distilgpt2")
    choices = model_choices()
    assert time.perf_counter() - t0 < 2.0
    assert set(choices) == {"shakespeare", "shakespeare-gqa", "shakespeare-llama", "gpt2", "SmolLM2-135M", "Qwen2.5-0.5B"}
    assert GPT2_ENV in choices["gpt2"] and "HF_HUB_OFFLINE" in choices["gpt2"]
    for name, repo, env in (("SmolLM2-135M", "HuggingFaceTB/SmolLM2-135M", "PLAYGROUND_SMOLLM2_DIR"),
                            ("Qwen2.5-0.5B", "Qwen/Qwen2.5-0.5B", "PLAYGROUND_QWEN2_DIR")):
        assert repo in choices[name] and env in choices[name] and "HF_HUB_OFFLINE" in choices[name]
    for name in ("shakespeare", "shakespeare-gqa", "shakespeare-llama"):  # shipped: available exactly when their files are there
        assert (choices[name] is None) == (weights.missing_files(weights.EMBEDDED[name]) == [])


@torch.no_grad()
def test_env_var_makes_gpt2_resolve_to_a_folder(empty_hub, gpt2_folder, monkeypatch):
    hf, folder = gpt2_folder
    monkeypatch.setenv(GPT2_ENV, str(folder))
    assert model_choices(probe_hub=False)["gpt2"] is None
    for name in ("gpt2", "openai-community/gpt2"):
        model, tok = load_model(name)
        ids = torch.tensor([tok.encode_ids("Out, damned spot!")])
        assert (model(ids).logits - hf(ids).logits).abs().max() <= 1e-4
    (folder / "model.safetensors").unlink()
    assert "model.safetensors" in model_choices(probe_hub=False)["gpt2"]
    monkeypatch.setenv(GPT2_ENV, str(folder / "nope"))
    assert f"{GPT2_ENV}={folder / 'nope'} is not a folder" in model_choices(probe_hub=False)["gpt2"]


@torch.no_grad()
@pytest.mark.parametrize("repo", ["openai-community/gpt2", "gpt2"])  # new and legacy cache names
def test_hub_id_loads_from_the_cache_without_network(empty_hub, gpt2_folder, repo, monkeypatch):
    hf, folder = gpt2_folder
    monkeypatch.setattr(weights, "HUB_TIMEOUT_S", 30.0)  # a network call would show as a long wait
    sha = "0123456789abcdef0123456789abcdef01234567"
    repo_dir = empty_hub / f"models--{repo.replace('/', '--')}"
    snapshot = repo_dir / "snapshots" / sha
    snapshot.mkdir(parents=True)
    for f in folder.iterdir():
        (snapshot / f.name).write_bytes(f.read_bytes())
    (repo_dir / "refs").mkdir()
    (repo_dir / "refs" / "main").write_text(sha)
    t0 = time.perf_counter()
    assert model_choices(probe_hub=False)["gpt2"] is None  # found without asking the Hub
    model, tok = load_model("gpt2")
    assert time.perf_counter() - t0 < 10.0
    ids = torch.tensor([tok.encode_ids("Now is the winter of our discontent")])
    assert (model(ids).logits - hf(ids).logits).abs().max() <= 1e-4


@torch.no_grad()
def test_hub_download_asks_only_for_the_files_it_needs(empty_hub, gpt2_folder, monkeypatch):
    """The Spaces path, with the network replaced: which files are fetched, then the load."""
    hf, folder = gpt2_folder
    repo_files = ["config.json", "model.safetensors", "pytorch_model.bin", "flax_model.msgpack", "onnx/model.onnx",
                  "vocab.json", "merges.txt", "tokenizer.json", "64-8bits.tflite", "README.md"]
    info = SimpleNamespace(siblings=[SimpleNamespace(rfilename=f) for f in repo_files])
    monkeypatch.setattr(huggingface_hub.HfApi, "model_info", lambda self, repo, timeout=None: info)
    asked = {}

    def fake_snapshot_download(repo, allow_patterns=None, local_files_only=False, **kw):
        if local_files_only:
            raise huggingface_hub.errors.LocalEntryNotFoundError("empty cache")
        asked["repo"], asked["files"] = repo, allow_patterns
        return str(folder)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    model, tok = load_model("distilgpt2")
    assert asked == {"repo": "distilbert/distilgpt2", "files": ["config.json", "model.safetensors", "tokenizer.json"]}
    ids = torch.tensor([tok.encode_ids("To be, or not to be")])
    assert (model(ids).logits - hf(ids).logits).abs().max() <= 1e-4
    assert model_choices()["gpt2"] is None  # reachable Hub: loadable (it would download on first use)

    info.siblings = [SimpleNamespace(rfilename=f) for f in (
        "config.json", "model.safetensors.index.json", "model-00001-of-00002.safetensors",
        "model-00002-of-00002.safetensors", "pytorch_model.bin", "vocab.json", "merges.txt")]
    assert weights._hub_files("x/y") == ["config.json", "model.safetensors.index.json",
                                         "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
                                         "vocab.json", "merges.txt"]
    info.siblings = [SimpleNamespace(rfilename="config.json")]
    with pytest.raises(CheckpointError, match="has no model.safetensors or pytorch_model.bin"):
        weights._hub_files("x/y")


# -- the config-driven block in our own format; the offered Llama-family models ---------------------
@torch.no_grad()
def test_a_llama_style_model_round_trips_in_our_format(tmp_path, small_tokenizer):
    model = tiny_gpt(norm="rmsnorm", positions="rotary", mlp="swiglu", bias=False, qkv_bias=True,
                     tie_word_embeddings=False, intermediate_size=48, n_kv_head=1, rope_theta=500.0)
    save_checkpoint(model, small_tokenizer, tmp_path, dtype=torch.float32)
    loaded, _ = load_model(tmp_path)
    assert loaded.config == model.config
    idx = torch.randint(0, 512, (2, 20))
    assert torch.equal(loaded(idx).logits, model(idx).logits)


def test_a_config_json_without_the_new_fields_loads_as_gpt2(saved):
    """Files written before the block became configurable (assets/model/config.json) load unchanged."""
    model, folder = saved
    data = json.loads((folder / "config.json").read_text())
    for key in ("norm", "positions", "rope_theta", "mlp", "intermediate_size", "qkv_bias"):
        data.pop(key)
    (folder / "config.json").write_text(json.dumps(data))
    assert load_model(folder)[0].config == model.config


def test_model_choices_asks_an_unanswering_hub_once(empty_hub, monkeypatch):
    asked = []

    def no_answer(self, repo, timeout=None):
        asked.append(repo)
        raise TimeoutError("no answer")

    monkeypatch.setattr(huggingface_hub.HfApi, "model_info", no_answer)
    choices = model_choices()
    assert asked == ["openai-community/gpt2"]
    assert "TimeoutError" in choices["gpt2"]
    for name in ("SmolLM2-135M", "Qwen2.5-0.5B"):
        assert "the Hub did not answer a request just before" in choices[name]
        assert weights.HUB_ALIASES[name] in choices[name] and weights.MODEL_ENVS[weights.HUB_ALIASES[name]] in choices[name]


@torch.no_grad()
def test_an_env_var_makes_an_offered_llama_model_resolve_to_its_folder(empty_hub, small_tokenizer, tmp_path,
                                                                       monkeypatch):
    from tests.test_llama_parity import hf_model, write_folder

    hf = hf_model("qwen2-bias-tied", small_tokenizer.vocab_size)
    folder = write_folder(tmp_path / "qwen", hf, small_tokenizer)
    monkeypatch.setenv("PLAYGROUND_QWEN2_DIR", str(folder))
    assert model_choices(probe_hub=False)["Qwen2.5-0.5B"] is None
    model, tok = load_model("Qwen2.5-0.5B")
    ids = torch.tensor([tok.encode_ids("Fair is foul, and foul is fair")])
    assert (model(ids).logits - hf(ids).logits).abs().max() <= 1e-4
