"""Serve the real playground page on one chosen model, for the UI latency benchmark.

    python -m benchmarks.serve --model embedded|gpt2-small|tiny --port 7861

The page is ``playground.ui.build_demo`` with the launch settings of ``app.py`` (one torch
thread, the same queue), only the model differs:
  embedded    the shipped Shakespeare model if ``assets/model`` holds it, else a random model
              of the same size (4 layers, 256 wide, 4 heads, vocabulary 4,096, window 256);
  gpt2-small  a random GPT-2 small written in Hugging Face's layout by ``load_memory.py`` and
              read back with ``weights.load_model`` (the path real GPT-2 weights take);
  tiny        a 2-layer, 32-wide random model (for the smoke test).
Prints one line ``READY {json}`` describing the model once it is loaded, before serving.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

import torch


def build_model(kind: str) -> tuple[object, object, str]:
    """(model, tokenizer, what it is) for ``kind``."""
    from playground.weights import load_model

    if kind == "embedded":
        try:
            model, tok = load_model("shakespeare")
            return model, tok, "shipped weights (assets/model)"
        except Exception as e:  # still training, or not shipped: same size, random weights
            from benchmarks.ui_speed import random_model

            model, tok = random_model()
            return model, tok, f"random weights of the embedded size (shipped model not loadable: {type(e).__name__})"
    if kind == "gpt2-small":
        from benchmarks.load_memory import write_checkpoint

        with tempfile.TemporaryDirectory() as tmp:
            write_checkpoint(Path(tmp), "safetensors")
            model, tok = load_model(tmp)
        return model, tok, "random GPT-2 small weights in Hugging Face's layout"
    if kind == "tiny":
        from playground.config import GPTConfig
        from playground.corpus import works
        from playground.model import GPT
        from playground.tokenizer import Tokenizer

        tok = Tokenizer.train([works("train")["macbeth.txt"]], vocab_size=512)
        torch.manual_seed(0)
        return GPT(GPTConfig(vocab_size=512, block_size=64, n_layer=2, n_head=4, n_embd=32)).eval(), tok, "tiny random"
    raise ValueError(f"unknown model kind {kind!r}: choose embedded, gpt2-small or tiny")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="embedded")
    ap.add_argument("--port", type=int, required=True)
    a = ap.parse_args(argv)
    torch.set_num_threads(int(os.environ.get("PLAYGROUND_TORCH_THREADS", "1")))  # as app.py
    from playground.ui import build_demo, launch_kwargs

    model, tok, what = build_model(a.model)
    model.eval()
    cfg = model.config
    demo = build_demo(model_loader=lambda name: (model, tok), choices={"shakespeare": None})
    print("READY " + json.dumps(dict(model=a.model, weights=what, n_layer=cfg.n_layer, n_head=cfg.n_head,
                                     n_embd=cfg.n_embd, vocab_size=cfg.vocab_size, block_size=cfg.block_size,
                                     params=model.num_parameters(), torch_threads=torch.get_num_threads())),
          flush=True)
    demo.launch(**{**launch_kwargs(), "server_name": "127.0.0.1", "server_port": a.port})


if __name__ == "__main__":
    main()
