"""The shipped models as shipped: they load, fit the size rule, and their validation figures hold.

"shakespeare" is the default; "shakespeare-gqa" is its grouped-query twin (same corpus, same tokenizer)."""
from __future__ import annotations

import json
import re

import pytest
import torch

from playground import load_model
from playground.corpus import ASSETS
from playground.evaluate import evaluate_nats

MODEL_DIR = ASSETS / "model"
GQA_DIR = ASSETS / "model-gqa"
LLAMA_DIR = ASSETS / "model-llama"


@pytest.mark.parametrize("folder", [MODEL_DIR, GQA_DIR, LLAMA_DIR], ids=["shakespeare", "shakespeare-gqa", "shakespeare-llama"])
def test_files_and_size_rule(folder):
    for name in ("config.json", "model.safetensors", "tokenizer.json", "README.md", "train_log.json"):
        assert (folder / name).is_file(), name
    assert (folder / "model.safetensors").stat().st_size <= 9_000_000  # pushes to a Space without LFS


@pytest.fixture(scope="module")
def shipped():
    return load_model()


def test_loads_by_default_and_by_name(shipped):
    model, tok = shipped
    model2, _ = load_model("shakespeare")
    assert model.config == model2.config
    assert not model.training and tok.vocab_size == model.config.vocab_size
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert linears and all(type(m) is torch.nn.Linear and m.weight.is_contiguous() and m.weight.dtype == torch.float32
                           for m in linears)


@torch.no_grad()
def test_greedy_continuation_is_words(shipped):
    model, tok = shipped
    ids = torch.tensor([tok.encode_ids("ROMEO:")])
    for _ in range(30):
        ids = torch.cat([ids, model(ids, use_cache=False).logits[:, -1].argmax(-1, keepdim=True)], 1)
    text = tok.decode(ids[0].tolist())
    words = re.findall(r"[A-Za-z']+", text)
    assert len(words) >= 10
    common = {"the", "and", "i", "to", "of", "my", "a", "you", "that", "in", "is", "not", "me", "it", "with", "be", "your", "he", "his", "thou", "thee", "what", "for", "so", "will", "this", "shall", "have", "our", "we"}
    assert sum(w.lower() in common for w in words) >= 2, text


def test_validation_figure_holds_and_matches_the_model_card(shipped):
    model, tok = shipped
    result = evaluate_nats(model, tok)
    assert result["works"] == ["hamlet.txt", "sonnets.txt", "tempest.txt"]
    assert result["nats_per_char"] <= 1.45
    logged = json.loads((MODEL_DIR / "train_log.json").read_text())["eval"]["nats_per_char"]
    assert abs(result["nats_per_char"] - logged) < 1e-3
    assert f"{logged:.4f}" in (MODEL_DIR / "README.md").read_text()


def test_the_gqa_twin_shares_the_tokenizer_and_its_cache_is_smaller_by_the_head_ratio(shipped):
    from playground.model import KVCache

    model, tok = shipped
    gqa, gtok = load_model("shakespeare-gqa")
    assert (GQA_DIR / "tokenizer.json").read_bytes() == (MODEL_DIR / "tokenizer.json").read_bytes()
    c, g = model.config, gqa.config
    assert g.n_kv_head < g.n_head and (g.n_layer, g.n_embd, g.block_size) == (c.n_layer, c.n_embd, c.block_size)
    ids = torch.tensor([tok.encode_ids("ROMEO:\nBut soft, what light through yonder window breaks?")])
    with torch.no_grad():
        kv_mha, kv_gqa = model(ids).kv, gqa(ids).kv
    # per position: 2 x layers x kv_heads x head_dim x bytes; the head size differs (256/4 vs 256/8)
    assert kv_mha.nbytes == KVCache.formula_bytes(c, 1, ids.shape[1])
    assert kv_gqa.nbytes == KVCache.formula_bytes(g, 1, ids.shape[1])
    assert kv_mha.nbytes * g.n_kv_head * (g.n_embd // g.n_head) == kv_gqa.nbytes * c.n_kv_head * (c.n_embd // c.n_head)


@pytest.mark.parametrize("folder", [GQA_DIR, LLAMA_DIR], ids=["shakespeare-gqa", "shakespeare-llama"])
def test_the_twins_validation_figure_matches_its_card(folder):
    model, tok = load_model(str(folder))
    result = evaluate_nats(model, tok)
    logged = json.loads((folder / "train_log.json").read_text())["eval"]["nats_per_char"]
    assert abs(result["nats_per_char"] - logged) < 1e-3
    assert f"{logged:.4f}" in (folder / "README.md").read_text()


@torch.no_grad()
def test_the_llama_model_is_the_modern_block_on_the_same_tokens_and_writes_words(shipped):
    model, tok = shipped
    llama, ltok = load_model("shakespeare-llama")
    c = llama.config
    assert (c.norm, c.positions, c.mlp, c.n_head, c.n_kv_head, c.bias) == ("rmsnorm", "rotary", "swiglu", 8, 2, False)
    assert (LLAMA_DIR / "tokenizer.json").read_bytes() == (MODEL_DIR / "tokenizer.json").read_bytes()
    assert (LLAMA_DIR / "model.safetensors").stat().st_size <= 9 * 2**20
    ids = torch.tensor([ltok.encode_ids("ROMEO:")])
    for _ in range(30):
        ids = torch.cat([ids, llama(ids, use_cache=False).logits[:, -1].argmax(-1, keepdim=True)], 1)
    words = re.findall(r"[A-Za-z']+", ltok.decode(ids[0].tolist()))
    assert len(words) >= 10, words
    # the card's equal-step comparison quotes the training logs: the figures are the logged ones
    card = (LLAMA_DIR / "README.md").read_text()
    for log, step in ((LLAMA_DIR, 499), (GQA_DIR, 500), (MODEL_DIR, 500)):
        hist = {h["step"]: h["val_loss"] for h in json.loads((log / "train_log.json").read_text())["history"]}
        assert f"{hist[step]:.4f}" in card, (log, step)
