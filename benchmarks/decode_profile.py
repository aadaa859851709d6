"""Where a decode step's time goes: matrix products, attention, the rest.

    python -m benchmarks.decode_profile [--positions 16 800] [--steps 40] [--threads 2]

GPT-2-small-size random weights (as ``benchmarks.decode``). For each number of cached positions it
times the same cached step repeatedly, with every ``nn.Linear`` and every attention core (torch's
SDPA) timed too; "rest" is the step minus both: layer norms, GELU, residual adds, cache
writes and Python. Then torch's profiler's top operators. The floor is the weights plus the cached
keys and values, read once at the bandwidth measured just before.
"""
from __future__ import annotations

import argparse
import time
from contextlib import contextmanager

import torch
import torch.nn as nn
import torch.nn.functional as F

from benchmarks.decode import GPT2_SMALL, _decode_ready, _rewind, kv_bytes_per_token, read_bandwidth_gbs, weight_bytes
from playground.config import GPTConfig
from playground.model import GPT


@contextmanager
def timing(owner, name: str, totals: dict, key: str):
    """Add the wall time of every call to ``owner.name`` to ``totals[key]`` while inside the block."""
    real = getattr(owner, name)

    def timed(*a, **kw):
        t = time.perf_counter()
        out = real(*a, **kw)
        totals[key] += time.perf_counter() - t
        return out

    setattr(owner, name, timed)
    try:
        yield
    finally:
        setattr(owner, name, real)


@torch.inference_mode()
def profile(model: GPT, positions: int, steps: int) -> dict:
    """ms per cached step after ``positions`` positions: whole step, matrix products, attention core, rest."""
    ids = torch.randint(0, model.config.vocab_size, (1, positions + 1), generator=torch.Generator().manual_seed(0))
    kv = _decode_ready(model, ids[:, :positions], ids[:, positions:])
    totals = dict(linear=0.0, attention=0.0)
    bw = read_bandwidth_gbs(repeats=5)
    with timing(nn.Linear, "forward", totals, "linear"), timing(F, "scaled_dot_product_attention", totals, "attention"):
        t = time.perf_counter()
        for _ in range(steps):
            model(ids[:, positions:], past_kv=_rewind(kv))
        step = (time.perf_counter() - t) / steps * 1e3
    lin, att = (totals[k] / steps * 1e3 for k in ("linear", "attention"))
    wbytes, kvb = weight_bytes(model), kv_bytes_per_token(model, positions + 1)
    floor = (wbytes + kvb) / (bw * 1e9) * 1e3
    return dict(positions=positions, step_ms=step, linear_ms=lin, attention_ms=att, rest_ms=step - lin - att,
                linear_gbs=wbytes / lin / 1e6, attention_gbs=kvb / att / 1e6, bandwidth_gbs=bw, floor_ms=floor,
                ratio_to_floor=step / floor)


def top_ops(model: GPT, positions: int, steps: int = 10, rows: int = 8) -> str:
    from torch.profiler import profile as torch_profile

    ids = torch.randint(0, model.config.vocab_size, (1, positions + 1), generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        kv = _decode_ready(model, ids[:, :-1], ids[:, -1:])
        with torch_profile() as p:
            for _ in range(steps):
                model(ids[:, -1:], past_kv=_rewind(kv))
    return p.key_averages().table(sort_by="self_cpu_time_total", row_limit=rows)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--positions", type=int, nargs="+", default=[16, 800])
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = GPT(GPTConfig(**GPT2_SMALL)).eval()
    print(f"torch threads {a.threads}")
    print("| positions | step ms | matrix products ms (GB/s) | attention ms (GB/s) | rest ms | "
          "bandwidth GB/s | floor (weights + K/V) ms | × floor |")
    print("|---|---|---|---|---|---|---|---|")
    for P in a.positions:
        r = profile(model, P, a.steps)
        print(f"| {r['positions']} | {r['step_ms']:.1f} | {r['linear_ms']:.1f} ({r['linear_gbs']:.0f}) | "
              f"{r['attention_ms']:.2f} ({r['attention_gbs']:.0f}) | {r['rest_ms']:.1f} | "
              f"{r['bandwidth_gbs']:.0f} | {r['floor_ms']:.1f} | {r['ratio_to_floor']:.2f} |")
    for P in a.positions:
        print(f"\ntorch profiler, {P} positions, top operators by self time:")
        print(top_ops(model, P))


if __name__ == "__main__":
    main()
