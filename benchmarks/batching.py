"""Batching (issue 20): batch-8 vs batch-1 throughput, and continuous vs static batching on one queue.

    python -m benchmarks.batching            (~1 minute on an idle 2-vCPU machine; writes logs/batching.md)
    python -m benchmarks.batching --full     (also GPT-2 small's shape at batch 16 and 32)

1. Decode steps at each batch size (``playground.batching.sweep``: every row has 16 cached positions, the
   median of 8 steps x repeats, batch sizes interleaved), on the shipped model and on random weights of
   GPT-2 small's shape; tokens/s at batch 8 over batch 1, beside the floor (weight bytes / the read bandwidth
   of a block of that size, measured in the same run).
2. The held-out queue (``held_out_queue``: 16 requests, prompts 4-40 tokens, 4-48 new tokens, one arriving
   about every 3 decode steps) served by ``generate_batch`` with 4 slots, static and continuous alternately,
   ``--repeats`` times each; medians of throughput and latency, and their ratios. Both give every request the
   same greedy tokens (checked here too).

Ratios within one run are what to read: absolute times depend on the machine and its load (logged).
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
GPT2_SMALL = dict(n_layer=12, n_head=12, n_embd=768, vocab_size=50257, block_size=1024)
TINY = dict(n_layer=2, n_head=4, n_embd=32, vocab_size=512, block_size=64)  # --tiny: the smoke test's stand-in


def sweep_rows(name: str, model, batches, repeats: int) -> dict:
    from playground.batching import sweep

    s = sweep(model, batches=batches, repeats=repeats)
    one, eight = s.point(1), s.point(8)
    return dict(model=name, weight_mb=s.weight_bytes / 1e6, bandwidth_gbs=s.bandwidth_gbs, floor_ms=s.floor_ms,
                points=[(p.batch, p.ms_per_step, p.tokens_per_s) for p in s.points],
                ratio_8=eight.tokens_per_s / one.tokens_per_s, step_ratio_8=eight.ms_per_step / one.ms_per_step,
                floor_x_1=one.ms_per_step / s.floor_ms)


def queue_rows(model, tok, repeats: int, slots: int = 4, n: int = 16) -> dict:
    from playground.batching import generate_batch, held_out_queue

    prompts, news, arrivals = held_out_queue(tok, n=n, every=3, block_size=model.config.block_size)
    generate_batch(model, prompts[:slots], [2] * slots, "continuous", slots)  # warm-up
    runs = {"static": [], "continuous": []}
    for _ in range(repeats):
        for policy in runs:
            runs[policy].append(generate_batch(model, prompts, news, policy, slots, arrivals))
    same = all(r.outputs == runs["static"][0].outputs for rs in runs.values() for r in rs)
    med = {p: dict(tps=statistics.median(r.throughput for r in rs), mean=statistics.median(r.mean_latency_ms for r in rs),
                   p95=statistics.median(r.p95_latency_ms for r in rs), util=rs[0].utilisation,
                   steps=rs[0].decode_steps, tps_all=[r.throughput for r in rs]) for p, rs in runs.items()}
    return dict(n=n, slots=slots, tokens=sum(news), same=same, med=med,
                tp_ratio=med["continuous"]["tps"] / med["static"]["tps"],
                lat_ratio=med["continuous"]["mean"] / med["static"]["mean"],
                pair_ratios=[c.throughput / s.throughput for s, c in zip(runs["static"], runs["continuous"])])


def report(sweeps: list[dict], q: dict, args, seconds: float) -> str:
    cmd = "python -m benchmarks.batching" + (" --full" if args.full else "") + (" --tiny" if args.tiny else "") + (
        f" --repeats {args.repeats}" if args.repeats != 3 else "") + (f" --threads {args.threads}" if args.threads != 1 else "")
    load = os.getloadavg()
    lines = [f"# Batching benchmark (issue 20)\n", f"Command: `{cmd}` — {seconds:.0f} s, torch {torch.__version__}, "
             f"{args.threads} torch thread(s), {os.cpu_count()} CPUs, load average {load[0]:.1f} / {load[1]:.1f} / "
             f"{load[2]:.1f} (1 / 5 / 15 min) at the end. Read the ratios: absolute times move with the load.\n",
             "## Batch size: ms per decode step and tokens/s (16 cached positions per row)\n",
             "| model | weights | read bandwidth → floor | batch: ms per step (tokens/s) | batch 8 / batch 1 tokens/s | "
             "step time batch 8 / batch 1 | batch 1 / floor |", "|---|---|---|---|---|---|---|"]
    for s in sweeps:
        pts = ", ".join(f"{b}: {ms:.2f} ({tps:,.0f})" for b, ms, tps in s["points"])
        lines.append(f"| {s['model']} | {s['weight_mb']:.3g} MB | {s['bandwidth_gbs']:.1f} GB/s → {s['floor_ms']:.2f} ms | "
                     f"{pts} | **{s['ratio_8']:.2f}×** | {s['step_ratio_8']:.2f}× | {s['floor_x_1']:.2f}× |")
    m = q["med"]
    lines += ["", f"## Continuous vs static batching, one queue ({q['n']} requests, {q['tokens']} new tokens, "
              f"{q['slots']} slots, shipped model; medians of {args.repeats} alternating runs each)\n",
              "| policy | tokens/s | mean latency ms | p95 latency ms | slots busy | decode steps |", "|---|---|---|---|---|---|"]
    for p in ("static", "continuous"):
        lines.append(f"| {p} | {m[p]['tps']:,.0f} | {m[p]['mean']:,.0f} | {m[p]['p95']:,.0f} | {m[p]['util']:.0%} | "
                     f"{m[p]['steps']} |")
    lines += ["", f"Continuous / static: throughput **{q['tp_ratio']:.2f}×** (run by run: "
              f"{', '.join(f'{r:.2f}' for r in q['pair_ratios'])}), mean latency {q['lat_ratio']:.2f}×. "
              f"Same greedy tokens for every request in every run: {'yes' if q['same'] else 'NO'}."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> str:
    from playground import load_model
    from playground.config import GPTConfig
    from playground.model import GPT

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--full", action="store_true", help="GPT-2 small's shape at batch 16 and 32 too")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (the UI server uses 1)")
    ap.add_argument("--tiny", action="store_true", help="a toy model instead of GPT-2 small's shape, a short queue")
    ap.add_argument("--out", default=str(ROOT / "logs" / "batching.md"))
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    model, tok = load_model()
    torch.manual_seed(0)
    big = GPT(GPTConfig(**(TINY if args.tiny else GPT2_SMALL))).eval()
    sweeps = [sweep_rows("shakespeare (shipped)", model, (1, 8) if args.tiny else (1, 2, 4, 8, 16, 32), args.repeats),
              sweep_rows("toy, random" if args.tiny else "GPT-2 small shape, random", big,
                         (1, 2, 4, 8, 16, 32) if args.full else (1, 2, 4, 8), args.repeats)]
    del big
    q = queue_rows(model, tok, args.repeats, n=4 if args.tiny else 16)
    text = report(sweeps, q, args, time.perf_counter() - t0)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text, encoding="utf-8")
    print(text)
    return text


if __name__ == "__main__":
    main()
