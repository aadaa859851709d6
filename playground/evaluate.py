"""Score a model on the held-out works in nats per character.

    python -m playground.evaluate                     # the shipped model, as shipped
    python -m playground.evaluate --model path/to/folder

Each work is scored with overlapping windows of the full context: after the first window,
a window scores only its second half, so every token has at least half a window of context
before it (except at the very start of a work, where there is none to give). The work is
preceded by EOS, which marks a document start in training too. nats/char = the sum of the
tokens' negative log-likelihoods / the number of characters.
"""
from __future__ import annotations

import argparse
import json

import torch
import torch.nn.functional as F

from playground.corpus import works
from playground.model import GPT
from playground.tokenizer import Tokenizer


@torch.no_grad()
def score_text(model: GPT, tokenizer: Tokenizer, text: str) -> tuple[float, int]:
    """(sum of NLL in nats, number of tokens scored) for one document."""
    ids = torch.tensor([tokenizer.eos_id] + tokenizer.encode_ids(text))  # (N+1,)
    block = model.config.block_size
    stride = block // 2
    total, count = 0.0, 0
    start = 0  # first target position still to score
    while True:
        lo = max(0, min(start - stride, len(ids) - 1 - block)) if start else 0
        hi = min(lo + block, len(ids) - 1)
        x, y = ids[lo:hi][None], ids[lo + 1 : hi + 1]  # (1, T), (T,)
        logits = model(x, use_cache=False).logits[0]  # (T, V)
        nll = F.cross_entropy(logits.float(), y, reduction="none")  # (T,)
        first = start - lo  # score targets start .. hi-1
        total += nll[first:].sum().item()
        count += len(nll) - first
        start = hi
        if hi >= len(ids) - 1:
            return total, count


def evaluate_nats(model: GPT, tokenizer: Tokenizer, split: str = "val") -> dict:
    model.eval()
    nll, tokens, chars = 0.0, 0, 0
    per_work = {}
    for name, text in works(split).items():
        s, n = score_text(model, tokenizer, text)
        per_work[name] = round(s / len(text), 4)
        nll, tokens, chars = nll + s, tokens + n, chars + len(text)
    return {
        "works": list(per_work),
        "nats_per_char": nll / chars,
        "nats_per_token": nll / tokens,
        "per_work_nats_per_char": per_work,
        "tokens": tokens,
        "chars": chars,
        "min_context": model.config.block_size // 2,
    }


def main(argv: list[str] | None = None) -> None:
    from playground.weights import load_model

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="shakespeare")
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    model, tokenizer = load_model(a.model)
    print(json.dumps(evaluate_nats(model, tokenizer), indent=2))


if __name__ == "__main__":
    main()
