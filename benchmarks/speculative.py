"""Speculative decoding on the shipped pair (shakespeare-tiny drafts for shakespeare) and, when both can be
loaded, distilgpt2 for gpt2: acceptance, tokens per target forward and the wall-clock speedup over plain
decoding, beside the paper's formula (Leviathan et al. 2023) at the measured α and cost ratio c.

    python -m benchmarks.speculative                      # k = 1, 2, 4, 6; greedy; 3 held-out prompts
    python -m benchmarks.speculative --tokens 96 --out logs/speculative.md

Each row pools three prompts from the held-out works; each prompt is measured by
``playground.speculative.measure`` (plain target, speculative, plain draft, in turn, ``--repeats`` times; medians),
and the row gives α over all checked drafts, the mean ms per token of each way, their ratio, and the median c.
Greedy rows also check that the tokens are the target's own. Other jobs on the same cores move the absolute
numbers: read the ratios.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

from playground.config import SamplingParams
from playground.corpus import works
from playground.speculative import expected_speedup, expected_tokens_per_round, measure

PAIRS = (("shakespeare", "shakespeare-tiny"), ("gpt2", "distilgpt2"))
PROMPT_WORKS = ("hamlet.txt", "tempest.txt", "sonnets.txt")


def prompts(tok, n_tokens: int = 24) -> list[list[int]]:
    """The first ``n_tokens`` tokens after the first 2,000 characters of three held-out works."""
    val = works("val")
    return [tok.encode_ids(val[w][2000:4000])[:n_tokens] for w in PROMPT_WORKS]


def row(target, draft, tok, k: int, tokens: int, repeats: int, params: SamplingParams | None) -> str:
    reports = [measure(target, draft, p, tokens, k, params, 0, repeats) for p in prompts(tok)]
    acc = sum(r.result.accepted for r in reports)
    tested = sum(r.result.tested for r in reports)
    alpha = acc / tested if tested else float("nan")
    per_fwd = sum(r.result.new_tokens for r in reports) / sum(r.result.target_forwards for r in reports)
    c = statistics.median(r.cost_ratio for r in reports)
    plain = statistics.mean(r.plain_ms_per_token for r in reports)  # the same tokens per prompt: a fair mean
    spec = statistics.mean(r.spec_ms_per_token for r in reports)
    speed = plain / spec
    same = "yes" if all(r.same_as_plain for r in reports) else "NO"
    mode = "greedy" if params is None else f"sample T={params.temperature:g}"
    return (f"| {mode} | {k} | {alpha:.2f} | {per_fwd:.2f} / {expected_tokens_per_round(alpha, k):.2f} | {c:.2f} | "
            f"{plain:.2f} / {spec:.2f} | **{speed:.2f}×** / {expected_speedup(alpha, k, c):.2f}× | "
            f"{same if params is None else '—'} |")


def pair_rows(target_name: str, draft_name: str, ks: list[int], tokens: int, repeats: int) -> list[str]:
    from playground.weights import load_model

    try:
        target, tok = load_model(target_name)
        draft, _ = load_model(draft_name)
    except Exception as e:  # noqa: BLE001 - offline here: say so, as the page does
        return [f"\n**{draft_name} → {target_name}: unavailable** ({str(e).splitlines()[0][:200]})\n"]
    head = [f"\n**{draft_name} → {target_name}** ({draft.num_parameters() / 1e6:.2f} M → "
            f"{target.num_parameters() / 1e6:.2f} M parameters), {tokens} new tokens per prompt\n",
            "| decoding | k | α | tokens per target forward: measured / formula | c | ms per token: plain / "
            "speculative | speedup: measured / formula | target's tokens |", "|---|---|---|---|---|---|---|---|"]
    rows = [row(target, draft, tok, k, tokens, repeats, None) for k in ks]
    rows.append(row(target, draft, tok, 4, tokens, repeats, SamplingParams(temperature=0.8)))
    return head + rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--k", type=int, nargs="+", default=[1, 2, 4, 6])
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--draft", default=None, help="another draft for shakespeare (e.g. to try the script)")
    ap.add_argument("--out", default="logs/speculative.md")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    pairs = ((PAIRS[0][0], a.draft),) if a.draft else PAIRS
    cmd = " ".join(["python -m benchmarks.speculative", *(sys.argv[1:] if argv is None else argv)])
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = [f"# Speculative decoding on CPU\n\n`{cmd}` · torch {torch.__version__}, {a.threads} threads, {when}"]
    for target, draft in pairs:
        lines += pair_rows(target, draft, a.k, a.tokens, a.repeats)
        print("\n".join(lines), flush=True)
    text = "\n".join(lines) + "\n"
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(text)


if __name__ == "__main__":
    main()
