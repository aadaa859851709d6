"""Decode speed: our GPT vs Hugging Face transformers on identical weights, and the hardware floor.

    python -m benchmarks.decode [--quick]

Both models get the same random GPT-2-small weights (fp32, 2 threads). Each measurement is a
greedy generation of N new tokens after a prompt; ours and HF's runs are interleaved and
repeated, and we report medians of ms per new token. The floor is the time to read every
weight once per token at the measured memory read bandwidth (small-batch decoding is
memory-bound). Also: the KV-cache speedup curve and the cost of capturing attention.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from playground.config import GPTConfig
from playground.model import GPT


def read_bandwidth_gbs(n_bytes: int = 1 << 30, repeats: int = 5) -> float:
    """Sustained read bandwidth: sum a 1 GiB fp32 tensor (reads every byte once)."""
    x = torch.ones(n_bytes // 4)
    x.sum()  # warm
    best = []
    for _ in range(repeats):
        t = time.perf_counter()
        x.sum()
        best.append(time.perf_counter() - t)
    return n_bytes / statistics.median(best) / 1e9


def hf_and_ours(n_layer: int = 12, n_embd: int = 768, n_head: int = 12, vocab: int = 50257, block: int = 1024):
    """A random GPT2LMHeadModel and our GPT holding exactly the same weights."""
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    hf_cfg = GPT2Config(n_layer=n_layer, n_embd=n_embd, n_head=n_head, vocab_size=vocab, n_positions=block,
                        attn_implementation="sdpa")
    hf = GPT2LMHeadModel(hf_cfg).eval()
    ours = GPT(GPTConfig(vocab_size=vocab, block_size=block, n_layer=n_layer, n_head=n_head, n_embd=n_embd)).eval()
    sd = hf.state_dict()
    with torch.no_grad():
        for name, p in ours.state_dict().items():
            if name == "lm_head.weight":
                continue
            src = sd[name]
            if name.endswith(("c_attn.weight", "c_proj.weight", "c_fc.weight")):
                src = src.t()  # GPT-2's Conv1D stores (in, out)
            p.copy_(src)
    return hf, ours


@torch.inference_mode()
def ours_greedy(model: GPT, prompt: torch.Tensor, n: int) -> list[float]:
    """Per-token wall times (s) of cached greedy decoding; the prefill is not counted."""
    out = model(prompt)
    kv, times = out.kv, []
    nxt = out.logits[:, -1].argmax(-1, keepdim=True)  # (1, 1)
    for _ in range(n):
        t = time.perf_counter()
        out = model(nxt, past_kv=kv)
        kv = out.kv
        nxt = out.logits[:, -1].argmax(-1, keepdim=True)
        times.append(time.perf_counter() - t)
    return times


@torch.inference_mode()
def hf_generate_ms_per_token(hf, prompt: torch.Tensor, n: int) -> float:
    """HF generate(use_cache=True): (time(n new) - time(1 new)) / (n - 1), i.e. prefill excluded."""
    kw = dict(do_sample=False, use_cache=True, pad_token_id=0, eos_token_id=None)
    t = time.perf_counter()
    hf.generate(prompt, max_new_tokens=1, min_new_tokens=1, **kw)
    one = time.perf_counter() - t
    t = time.perf_counter()
    hf.generate(prompt, max_new_tokens=n, min_new_tokens=n, **kw)
    full = time.perf_counter() - t
    return (full - one) / (n - 1) * 1e3


def decode_vs_hf(prompt_lens=(16, 256, 768), n_new: int = 128, repeats: int = 3) -> dict:
    hf, ours = hf_and_ours()
    weight_bytes = sum(p.numel() * p.element_size() for p in ours.parameters())
    bw = read_bandwidth_gbs()
    floor_ms = weight_bytes / (bw * 1e9) * 1e3
    rows = []
    for T in prompt_lens:
        prompt = torch.randint(0, 50257, (1, T))
        ours_ms, hf_ms = [], []
        ours_greedy(ours, prompt, 4)  # warm
        for _ in range(repeats):  # interleaved
            ours_ms.append(statistics.median(ours_greedy(ours, prompt, n_new)) * 1e3)
            hf_ms.append(hf_generate_ms_per_token(hf, prompt, n_new))
        o, h = statistics.median(ours_ms), statistics.median(hf_ms)
        rows.append(dict(prompt=T, new_tokens=n_new, ours_ms_per_token=o, hf_ms_per_token=h, ratio_to_hf=o / h,
                         ratio_to_floor=o / floor_ms))
    return dict(weight_bytes=weight_bytes, read_bandwidth_gbs=bw, floor_ms_per_token=floor_ms, rows=rows)


@torch.inference_mode()
def kv_speedup_curve(model: GPT, positions=(16, 64, 128, 256, 512, 1000), repeats: int = 5) -> list[dict]:
    """Latency of producing one more token at position P: cached (1 token) vs uncached (P+1 tokens)."""
    rows = []
    for P in positions:
        if P + 1 > model.config.block_size:
            continue
        ids = torch.randint(0, model.config.vocab_size, (1, P + 1))
        kv = model(ids[:, :P]).kv
        cached, uncached = [], []
        for _ in range(repeats):  # interleaved
            t = time.perf_counter()
            model(ids[:, P:], past_kv=kv)
            cached.append(time.perf_counter() - t)
            t = time.perf_counter()
            model(ids, use_cache=False)
            uncached.append(time.perf_counter() - t)
        c, u = statistics.median(cached) * 1e3, statistics.median(uncached) * 1e3
        rows.append(dict(position=P, cached_ms=c, uncached_ms=u, speedup=u / c))
    return rows


@torch.inference_mode()
def attention_capture_cost(model: GPT, positions=(256, 1000), repeats: int = 15) -> list[dict]:
    """A cached step with return_attn=True vs without."""
    rows = []
    for P in positions:
        if P + 1 > model.config.block_size:
            P = model.config.block_size - 1
        ids = torch.randint(0, model.config.vocab_size, (1, P + 1))
        kv = model(ids[:, :P]).kv
        plain, attn = [], []
        for _ in range(repeats):
            t = time.perf_counter()
            model(ids[:, P:], past_kv=kv)
            plain.append(time.perf_counter() - t)
            t = time.perf_counter()
            model(ids[:, P:], past_kv=kv, return_attn=True)
            attn.append(time.perf_counter() - t)
        p, a = statistics.median(plain) * 1e3, statistics.median(attn) * 1e3
        rows.append(dict(position=P, plain_ms=p, with_attention_ms=a, ratio=a / p))
    return rows


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer tokens and repeats (a smoke run)")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    n_new, reps = (16, 1) if a.quick else (128, 3)
    res = {"decode_vs_hf": decode_vs_hf(n_new=n_new, repeats=reps)}
    _, gpt2 = hf_and_ours()
    res["kv_curve_gpt2_small"] = kv_speedup_curve(gpt2, repeats=2 if a.quick else 5)
    res["attention_capture_gpt2_small"] = attention_capture_cost(gpt2, repeats=3 if a.quick else 15)
    print(res)
    return res


if __name__ == "__main__":
    main()
