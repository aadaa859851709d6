"""Server-side cost of the "Inside the model" view: one captured forward + every figure, serialised.

Usage: python -m benchmarks.inside_speed [--tokens 100] [--repeat 10] [--model shakespeare|random]
With ``--model random`` (or when the shipped model cannot be loaded) a random model of the embedded
model's shape (4 layers, 256 wide) is used: the cost depends on the shape, not on the weights.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from playground import ui
from playground.figures import MODES
from playground.ui.inside import render_inside
from playground.config import GPTConfig, SamplingParams
from playground.corpus import works
from playground.model import GPT
from playground.tokenizer import Tokenizer
from playground.session import Session


def model_and_tokenizer(which: str):
    if which == "shakespeare":
        try:
            from playground.weights import load_model

            return load_model("shakespeare")
        except Exception as e:  # noqa: BLE001 - fall back to the same shape
            print(f"shipped model unavailable ({e}); using a random model of its shape")
    tok = Tokenizer.train([works("train")["macbeth.txt"]], vocab_size=2048)
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=tok.vocab_size, block_size=256, n_layer=4, n_head=4, n_embd=256)).eval(), tok


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--model", default="shakespeare", choices=["shakespeare", "random"])
    ap.add_argument("--threads", type=int, default=1, help="torch threads (app.py runs 1 per event)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    model, tok = model_and_tokenizer(a.model)
    text = works("train")["macbeth.txt"][:4000]
    prompt = tok.decode(tok.encode_ids(text)[: a.tokens - 1])
    ps = ui.PageState("bench", Session(model, tok, prompt, SamplingParams(seed=0)))
    ps.session.step()  # the view explains step 0: the prompt's tokens
    v = ui.Selection(step=0, layer=model.config.n_layer - 1, head=0, mode=MODES[0])
    T = ps.session.records[0].position
    times = []
    for i in range(a.repeat + 1):
        t = time.perf_counter()
        out = render_inside(ps, v)
        for fig in out[1:]:
            fig.to_json()  # what Gradio sends
        if i:  # the first call warms up
            times.append((time.perf_counter() - t) * 1e3)
    cfg = model.config
    print(f"model {cfg.n_layer} layers × {cfg.n_embd} wide, V={cfg.vocab_size}, T={T} tokens, {a.threads} threads")
    print(f"render_inside + to_json: median {statistics.median(times):.1f} ms, max {max(times):.1f} ms "
          f"over {len(times)} runs")


if __name__ == "__main__":
    main()
