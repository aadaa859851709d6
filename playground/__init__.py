"""GPT Playground: watch a small GPT think, one token at a time.

Data flows one way: tokenizer -> model -> sampling -> step records -> figures -> UI.

    >>> from playground import load_model
    >>> model, tokenizer = load_model()          # the embedded Shakespeare GPT
"""
from playground.config import GPTConfig, TrainConfig
from playground.weights import load_model

__all__ = ["GPTConfig", "TrainConfig", "load_model"]
