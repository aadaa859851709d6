"""GPT Playground: watch a small GPT think, one token at a time.

Data flows one way: tokenizer -> model -> sampling -> session (records) -> figures -> UI.

    >>> from playground import load_model
    >>> model, tokenizer = load_model()          # the embedded Shakespeare GPT

Importing the package loads nothing: the names below are looked up when first used, so
``import playground.figures`` (or ``playground.ui``) does not pull in torch.
"""
from __future__ import annotations

import importlib

_LAZY = {"GPTConfig": "playground.config", "TrainConfig": "playground.config", "load_model": "playground.weights"}
__all__ = list(_LAZY)


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'playground' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value  # look it up once
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
