"""Our config-driven block on Llama-family weights equals Hugging Face ``transformers`` (test-only dependency).

Random ``LlamaForCausalLM`` / ``Qwen2ForCausalLM`` / ``MistralForCausalLM`` models are built here and
saved with ``save_pretrained`` (nothing is downloaded), loaded with ``playground.weights.load_model``
and compared on logits, attention weights and greedy generation; then every refusal.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from tokenizers import AddedToken, models, normalizers, decoders
from tokenizers import Tokenizer as HFTokenizer
from transformers import LlamaConfig, LlamaForCausalLM, MistralConfig, MistralForCausalLM, Qwen2Config, Qwen2ForCausalLM

from playground.checkpoint import safetensors_items
from playground.model import ContextWindowFull, decode
from playground.tokenizer import Tokenizer
from playground.weights import CheckpointError, load_model

PROMPT = "MACBETH: Is this a dagger which I see before me, the handle toward my hand?"
SIZES = dict(hidden_size=64, intermediate_size=96, num_hidden_layers=2, max_position_embeddings=128,
             bos_token_id=None, eos_token_id=None, pad_token_id=None)
# name -> (transformers classes, config): the three attention layouts, biases and head tying
KINDS = {
    "llama-gqa-untied": (LlamaConfig, LlamaForCausalLM, dict(num_attention_heads=8, num_key_value_heads=2,
                                                             tie_word_embeddings=False,
                                                             rope_parameters={"rope_type": "default",
                                                                              "rope_theta": 500000.0})),
    "qwen2-bias-tied": (Qwen2Config, Qwen2ForCausalLM, dict(num_attention_heads=4, num_key_value_heads=4,
                                                            tie_word_embeddings=True)),
    "mistral-mqa": (MistralConfig, MistralForCausalLM, dict(num_attention_heads=8, num_key_value_heads=1,
                                                            tie_word_embeddings=False, sliding_window=None)),
}


def hf_model(kind: str, vocab_size: int, seed: int = 0, **overrides):
    """A random transformers model of ``kind``, eval mode, eager attention; every weight (biases and norm
    gains too) drawn at random, so that a bias or a gain that is not loaded would show."""
    config_cls, model_cls, cfg = KINDS[kind]
    torch.manual_seed(seed)
    model = model_cls(config_cls(vocab_size=vocab_size, **SIZES, **{**cfg, **overrides})).eval()
    model.set_attn_implementation("eager")  # the only implementation that returns attention weights
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.normal_(1.0, 0.1) if "norm" in name else p.normal_(0.0, 0.15)
    return model


def write_folder(folder: Path, model, tokenizer: Tokenizer, **save_kw) -> Path:
    model.save_pretrained(folder, **save_kw)
    tokenizer.save(folder / "tokenizer.json")
    return folder


def edit_config(folder: Path, **changes) -> None:
    path = folder / "config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


@pytest.fixture(scope="module", params=list(KINDS))
def pair(request, small_tokenizer, tmp_path_factory):
    """(transformers model, our model loaded from its saved folder, tokenizer)."""
    hf = hf_model(request.param, small_tokenizer.vocab_size)
    model, tok = load_model(write_folder(tmp_path_factory.mktemp(request.param), hf, small_tokenizer))
    return hf, model, tok


@torch.no_grad()
def test_config_is_the_modern_block(pair):
    hf, model, _ = pair
    cfg, hc = model.config, hf.config
    assert (cfg.norm, cfg.positions, cfg.mlp, cfg.bias) == ("rmsnorm", "rotary", "swiglu", False)
    assert (cfg.n_head, cfg.n_kv_head, cfg.intermediate_size) == (
        hc.num_attention_heads, hc.num_key_value_heads, hc.intermediate_size)
    assert cfg.qkv_bias == (hc.model_type == "qwen2")
    assert cfg.tie_word_embeddings == hc.tie_word_embeddings
    assert (model.lm_head.weight is model.transformer.wte.weight) == hc.tie_word_embeddings
    assert cfg.rope_theta == hc.rope_parameters["rope_theta"]
    assert model.num_parameters() == hf.num_parameters()


@torch.no_grad()
def test_logits_and_attention_match_transformers(pair):
    hf, model, tok = pair
    ids = torch.tensor([tok.encode_ids(PROMPT)])  # (1, T)
    ref = hf(ids, output_attentions=True)
    out = model(ids, return_attn=True)
    assert (out.logits - ref.logits).abs().max() <= 1e-4
    assert len(out.attn) == len(ref.attentions)
    for ours, theirs in zip(out.attn, ref.attentions):
        assert ours.shape == theirs.shape and (ours - theirs).abs().max() <= 1e-5


@torch.no_grad()
def test_cached_positions_are_rotated_at_their_offset(pair):
    """Prefix, then the rest on its cache: the logits of the whole text at once."""
    _, model, tok = pair
    ids = torch.tensor([tok.encode_ids(PROMPT)])
    full = model(ids).logits
    first = model(ids[:, :7])
    rest = model(ids[:, 7:], past_kv=first.kv)
    assert (torch.cat([first.logits, rest.logits], dim=1) - full).abs().max() <= 1e-5


@torch.no_grad()
def test_40_greedy_tokens_equal_transformers_generate_with_and_without_our_cache(pair):
    hf, model, tok = pair
    ids = tok.encode_ids(PROMPT)
    ref = hf.generate(torch.tensor([ids]), max_new_tokens=40, min_new_tokens=40, do_sample=False)[0, len(ids):]
    greedy = lambda logits: int(logits.argmax())  # noqa: E731
    for use_cache in (True, False):
        ours = [s.token for s in decode(model, ids, 40, greedy, use_cache=use_cache)]
        assert ours == ref.tolist(), use_cache
    assert len(set(ref.tolist())) > 3  # not one token repeated


@torch.no_grad()
def test_sharded_bf16_checkpoint_loads_to_fp32(small_tokenizer, tmp_path):
    hf = hf_model("llama-gqa-untied", small_tokenizer.vocab_size)
    for p in hf.parameters():
        p.copy_(p.bfloat16().float())  # the reference: fp32 computation on bf16-exact weights
    ids = torch.tensor([small_tokenizer.encode_ids(PROMPT)])
    ref = hf(ids).logits
    folder = write_folder(tmp_path, hf.to(torch.bfloat16), small_tokenizer, max_shard_size="40KB")
    assert json.loads((folder / "config.json").read_text())["dtype"] == "bfloat16"
    index = json.loads((folder / "model.safetensors.index.json").read_text())
    shards = set(index["weight_map"].values())
    assert len(shards) > 2 and not (folder / "model.safetensors").exists()
    model, _ = load_model(folder)
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert (model(ids).logits - ref).abs().max() <= 1e-4


@torch.no_grad()
def test_a_sliding_window_caps_the_context_window(small_tokenizer, tmp_path):
    """Mistral attends to the last ``sliding_window`` positions; within that many it is full attention."""
    hf = hf_model("mistral-mqa", small_tokenizer.vocab_size, sliding_window=16)
    model, tok = load_model(write_folder(tmp_path, hf, small_tokenizer))
    assert model.config.block_size == 16
    ids = torch.tensor([tok.encode_ids(PROMPT)[:16]])
    assert (model(ids).logits - hf(ids).logits).abs().max() <= 1e-4
    with pytest.raises(ContextWindowFull, match="holds 16 tokens"):
        model(torch.tensor([tok.encode_ids(PROMPT)[:17]]))


# -- refusals ----------------------------------------------------------------------------------------
@pytest.fixture
def llama_folder(small_tokenizer, tmp_path):
    return write_folder(tmp_path, hf_model("llama-gqa-untied", small_tokenizer.vocab_size), small_tokenizer)


@pytest.mark.parametrize("changes, message", [
    (dict(model_type="gemma"), "model_type is 'gemma'; supported: 'gpt2', 'llama', 'qwen2', 'mistral'"),
    (dict(architectures=["LlamaForSequenceClassification"]), "only LlamaForCausalLM loads"),
    (dict(rope_parameters={"rope_type": "llama3", "rope_theta": 5e5, "factor": 8.0}), "rope scaling 'llama3'"),
    (dict(rope_parameters=None, rope_theta=1e4, rope_scaling={"type": "linear", "factor": 2.0}),
     "rope scaling 'linear'"),
    (dict(hidden_act="gelu"), "hidden_act 'gelu' is not supported"),
    (dict(mlp_bias=True), "mlp_bias True is not supported"),
    (dict(quantization_config={"quant_method": "bitsandbytes"}), "quantization_config 'present'"),
    (dict(head_dim=16), "head_dim 16 × 8 heads != hidden_size 64"),
])
def test_unsupported_configs_are_refused_by_name(llama_folder, changes, message):
    edit_config(llama_folder, **changes)
    with pytest.raises(CheckpointError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_model(llama_folder)


def test_old_style_rope_theta_is_read(llama_folder):
    edit_config(llama_folder, rope_parameters=None, rope_theta=1234.0, rope_scaling=None)
    assert load_model(llama_folder)[0].config.rope_theta == 1234.0


def _rewrite_weights(folder: Path, change) -> None:
    path = folder / "model.safetensors"
    state = dict(safetensors_items(path))
    change(state)
    save_file(state, str(path), metadata={"format": "pt"})


def test_an_unsupported_dtype_is_refused_by_tensor(llama_folder):
    name = "model.layers.0.mlp.up_proj.weight"
    _rewrite_weights(llama_folder, lambda s: s.update({name: s[name].to(torch.int8)}))
    with pytest.raises(CheckpointError, match=rf"tensor '{name}' is int8; only float32, float16 and bfloat16"):
        load_model(llama_folder)


def test_a_missing_projection_is_named(llama_folder):
    _rewrite_weights(llama_folder, lambda s: s.pop("model.layers.1.self_attn.v_proj.weight"))
    with pytest.raises(CheckpointError, match=r"transformer\.h\.1\.attn\.c_attn\.weight cannot be built: "
                                              r"the checkpoint lacks v_proj"):
        load_model(llama_folder)


def test_an_unknown_tensor_is_refused(llama_folder):
    _rewrite_weights(llama_folder, lambda s: s.update({"model.layers.0.self_attn.q_norm.weight": torch.ones(8)}))
    with pytest.raises(CheckpointError, match=r"'model\.layers\.0\.self_attn\.q_norm\.weight' has no place"):
        load_model(llama_folder)


def test_a_missing_tokenizer_is_named(llama_folder):
    (llama_folder / "tokenizer.json").unlink()
    with pytest.raises(CheckpointError, match=r"tokenizer\.json is missing"):
        load_model(llama_folder)


def test_eos_comes_from_the_config(llama_folder):
    edit_config(llama_folder, eos_token_id=[7, 9])
    assert load_model(llama_folder)[1].eos_id == 7


# -- a SentencePiece-style tokenizer.json (Llama-2, TinyLlama) -------------------------------------
def sentencepiece_style(small_tokenizer: Tokenizer) -> Tokenizer:
    """Byte-fallback BPE over "▁"-spaced pieces, as Llama-2's tokenizer.json, with one added token."""
    pieces = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    words = ["▁", "▁t", "he", "▁the", "▁k", "ing", "▁king", "a", "d", "e", "h", "i", "k", "n", "g", "s", "t", "▁a"]
    vocab = {p: i for i, p in enumerate(pieces + words)}
    merges = [("▁", "t"), ("h", "e"), ("▁t", "he"), ("▁", "k"), ("i", "n"), ("in", "g"), ("▁k", "ing"), ("▁", "a")]
    vocab.update({"in": len(vocab)})
    hf = HFTokenizer(models.BPE(vocab, merges, unk_token="<unk>", byte_fallback=True))
    hf.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    hf.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                    decoders.Strip(" ", 1, 0)])
    hf.add_special_tokens([AddedToken("<|im_start|>", special=True)])
    return Tokenizer(hf, eos_id=2)


def test_a_sentencepiece_style_tokenizer_gives_bytes_and_readable_tokens(small_tokenizer):
    tok = sentencepiece_style(small_tokenizer)
    text = "the king is dead 是"
    enc = tok.encode(text)
    assert enc.tokens[:2] == ["␣the", "␣king"] and "<0xE6>" in enc.tokens  # 是 = E6 98 AF, by byte fallback
    assert tok.decode(enc.ids) == " " + text  # the space the tokenizer put in front is kept (see the module)
    assert tok.hf.decode(enc.ids) == text  # Hugging Face strips it
    assert tok.decode_complete(enc.ids[:-1]) == " the king is dead "  # 是 not complete yet
    special = tok.encode_ids("<|im_start|>the")
    assert tok.token_str(special[0]) == "<|im_start|>" and tok.decode(special) == "<|im_start|> the"
    assert tok.eos_id == 2 and tok.token_str(2) == "</s>"
