"""The embedded model as shipped: it loads, fits the size rule, and its validation figure holds."""
from __future__ import annotations

import json
import re

import pytest
import torch

from playground import load_model
from playground.corpus import ASSETS
from playground.evaluate import evaluate_nats

MODEL_DIR = ASSETS / "model"


def test_files_and_size_rule():
    for name in ("config.json", "model.safetensors", "tokenizer.json", "README.md"):
        assert (MODEL_DIR / name).is_file(), name
    assert (MODEL_DIR / "model.safetensors").stat().st_size <= 9_000_000  # pushes to a Space without LFS


@pytest.fixture(scope="module")
def shipped():
    return load_model()


def test_loads_by_default_and_by_name(shipped):
    model, tok = shipped
    model2, _ = load_model("shakespeare")
    assert model.config == model2.config
    assert not model.training and tok.vocab_size == model.config.vocab_size


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
