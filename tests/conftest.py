"""Shared fixtures: small tokenizers and random models built locally (no downloads)."""
from __future__ import annotations

import os

import pytest
import torch

from playground.config import GPTConfig
from playground.corpus import works
from playground.model import GPT
from playground.tokenizer import Tokenizer

torch.set_num_threads(int(os.environ.get("PLAYGROUND_TEST_THREADS", "1")))


@pytest.fixture(scope="session")
def small_tokenizer() -> Tokenizer:
    """A 512-token byte-level BPE trained on ~200 KB of the corpus (about a second)."""
    text = works("train")["macbeth.txt"]
    return Tokenizer.train([text], vocab_size=512)


def tiny_gpt(vocab_size: int = 512, **overrides) -> GPT:
    cfg = dict(vocab_size=vocab_size, block_size=64, n_layer=2, n_head=4, n_embd=32)
    cfg.update(overrides)
    torch.manual_seed(0)
    return GPT(GPTConfig(**cfg)).eval()


@pytest.fixture
def tiny_model() -> GPT:
    return tiny_gpt()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """pytest-playwright's browser is Debian's chromium (its own download cannot work here)."""
    return {
        **browser_type_launch_args,
        "executable_path": os.environ.get("CHROMIUM", "/usr/bin/chromium"),
        "args": ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"],
    }
