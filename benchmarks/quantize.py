"""Weight-only int8 / int4 quantisation on CPU: weight memory and ms per decoded token against fp32.

    python -m benchmarks.quantize                    # GPT-2-small-shaped random weights + the shipped model
    python -m benchmarks.quantize --full             # score the shipped model on all its held-out text
    python -m benchmarks.quantize --out logs/quantize.md

GPT-2 small's shape (12 layers, 768 wide, 50,257 tokens, 124 M parameters) with random weights: the time of a
step depends on the shapes, not on the values. The three variants decode in turn (interleaved repeats), and the
medians of their cached single-token steps are compared; other jobs on the same cores move the absolute numbers,
so read the ratios. The goal of issue 20 is int8 ≤ 0.5× fp32 ms per token (it reads a quarter of the bytes).
The kernel rows time one matmul of each kind alone. The shipped model's rows add what quantisation does to its
predictions on the held-out works (``playground.quantize.quality``).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

from playground.config import GPTConfig
from playground.model import GPT
from playground.quantize import quality, quantize, step_ms, weight_bytes


def kernel_rows(repeats: int) -> list[str]:
    """One (1, K) x (N, K)ᵀ product per kind, interleaved: fp32, int8 with fp32 / bf16 activations, int4."""
    from playground.quantize import GROUP, int4_groups, int8_rows

    rows = []
    for name, (N, K) in {"MLP up (3072 × 768)": (3072, 768), "LM head (50257 × 768)": (50257, 768)}.items():
        w = torch.randn(N, K) * 0.02
        q8, s8 = int8_rows(w)
        pad = -N % 16
        q4, s4, low = int4_groups(torch.nn.functional.pad(w, (0, 0, 0, pad)))
        packed = torch.ops.aten._convert_weight_to_int4pack_for_cpu(q4.to(torch.int32), 1)
        sz = torch.stack((s4.T, (low + 8 * s4).T), dim=-1).contiguous().bfloat16()
        x = torch.randn(1, K)
        xb = x.bfloat16()
        fns = {"fp32": lambda: x @ w.T,
               "int8, fp32 activations": lambda: torch.ops.aten._weight_int8pack_mm(x, q8, s8),
               "int8, bf16 activations": lambda: torch.ops.aten._weight_int8pack_mm(xb, q8, s8.bfloat16()),
               "int4, bf16 activations": lambda: torch.ops.aten._weight_int4pack_mm_for_cpu(xb, packed, GROUP, sz)}
        times: dict[str, list[float]] = {k: [] for k in fns}
        for _ in range(repeats):
            for k, f in fns.items():
                t = time.perf_counter()
                f()
                times[k].append((time.perf_counter() - t) * 1e3)
        base = statistics.median(times["fp32"])
        for k, v in times.items():
            med = statistics.median(v)
            rows.append(f"| kernel: {name} | {k} | | {med:.3f} | {med / base:.2f}× |")
    return rows


def gpt2_rows(tokens: int, repeats: int) -> list[str]:
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=50257, block_size=1024, n_layer=12, n_head=12, n_embd=768)).eval()
    variants = {"fp32": model, "int8": quantize(model, 8), "int4": quantize(model, 4)}
    prompt = list(range(100, 116))  # 16 tokens
    ms = step_ms(list(variants.values()), prompt, tokens, repeats)
    fp_bytes = weight_bytes(model)
    rows = []
    for (name, m), t in zip(variants.items(), ms):
        b = weight_bytes(m)
        rows.append(f"| GPT-2 small shape, decode step (prompt 16, {tokens} new) | {name} | {b / 2**20:,.1f} MiB "
                    f"({b / fp_bytes:.2f}×) | {t:.2f} | {t / ms[0]:.2f}× |")
    return rows


def shipped_rows(tokens: int, repeats: int, max_chars: int | None) -> list[str]:
    from playground.weights import load_model

    model, tok = load_model("shakespeare")
    rows = []
    qs = {bits: quantize(model, bits) for bits in (8, 4)}
    ms = step_ms([model, qs[8], qs[4]], tok.encode_ids("ROMEO:"), tokens, repeats)
    for (bits, q), t in zip(qs.items(), ms[1:]):
        h = quality(model, q, tok, max_chars)
        rows.append(f"| shipped shakespeare, decode step | int{bits} | {weight_bytes(q) / 2**20:.2f} MiB "
                    f"({weight_bytes(q) / weight_bytes(model):.2f}×) | {t:.2f} | {t / ms[0]:.2f}× |")
        rows.append(f"| shipped shakespeare, {h.chars:,} held-out chars | int{bits} | loss {h.fp32_loss:.4f} → "
                    f"{h.quant_loss:.4f} nats/char ({h.quant_loss - h.fp32_loss:+.4f}) | KL {h.kl:.2e}, top-1 "
                    f"{h.top1:.1%}, max abs Δlogit {h.max_abs_dlogit:.3f} ({h.positions:,} positions) | |")
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, default=24, help="new tokens per decode run")
    ap.add_argument("--repeats", type=int, default=3, help="interleaved runs of each variant")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--full", action="store_true", help="score the shipped model on all its held-out text")
    ap.add_argument("--out", default="logs/quantize.md")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    lines = ["| what | variant | weight memory | ms (median) | vs fp32 |", "|---|---|---|---|---|"]
    for part in (lambda: gpt2_rows(a.tokens, a.repeats), lambda: kernel_rows(200),
                 lambda: shipped_rows(a.tokens, a.repeats, None if a.full else 20_000)):
        lines += part()
        print("\n".join(lines[-2:]), flush=True)
    cmd = " ".join(["python -m benchmarks.quantize", *(sys.argv[1:] if argv is None else argv)])
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    text = (f"# Weight-only quantisation on CPU\n\n`{cmd}` · torch {torch.__version__}, {a.threads} threads, "
            f"{when}\n\n"
            + "\n".join(lines) + "\n")
    print(text)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(text)


if __name__ == "__main__":
    main()
