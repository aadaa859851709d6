"""Decode speed: our GPT vs Hugging Face transformers on identical weights, and the hardware floor.

    python -m benchmarks.decode [--quick]      (``python -m benchmarks`` runs this and every other part)

Both models get the same random GPT-2-small weights (fp32, 2 threads). Each measurement is a
greedy generation of N new tokens after a prompt, timed the same way for both: (time for N new
tokens - time for 1) / (N - 1), so the prefill is excluded and argmax and Python overhead are
included. Ours and HF's runs are interleaved and repeated; we report medians of ms per new token.
The floor is the time to read every weight once per token at the run's median read bandwidth,
measured right before each timed generation (small-batch decoding is memory-bound). Also here:
the KV-cache speedup curve and the cost of capturing attention, both per forward step.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from playground.config import GPTConfig
from playground.model import GPT, KVCache

GPT2_SMALL = dict(n_layer=12, n_head=12, n_embd=768, vocab_size=50257, block_size=1024)
TINY = dict(n_layer=2, n_head=4, n_embd=32, vocab_size=512, block_size=64)  # for the smoke test


def read_bandwidth_gbs(n_bytes: int = 1 << 30, repeats: int = 11) -> float:
    """Sustained read bandwidth (GB/s): sum a large fp32 tensor, which reads every byte once.

    1 GiB is far beyond any cache, so this is DRAM bandwidth with the current torch threads.
    """
    x = torch.ones(n_bytes // 4)
    x.sum()  # warm (page faults, thread pool)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        x.sum()
        times.append(time.perf_counter() - t)
    return n_bytes / statistics.median(times) / 1e9


def weight_bytes(model: torch.nn.Module) -> int:
    """Bytes of distinct parameters (a tied lm_head counts once): what a decode step must read."""
    return sum(p.numel() * p.element_size() for p in model.parameters())


def hf_and_ours(n_layer: int = 12, n_embd: int = 768, n_head: int = 12, vocab_size: int = 50257,
                block_size: int = 1024):
    """A random GPT2LMHeadModel and our GPT holding exactly the same weights."""
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    hf_cfg = GPT2Config(n_layer=n_layer, n_embd=n_embd, n_head=n_head, vocab_size=vocab_size, n_positions=block_size,
                        attn_implementation="sdpa")
    hf = GPT2LMHeadModel(hf_cfg).eval()
    ours = GPT(GPTConfig(vocab_size=vocab_size, block_size=block_size, n_layer=n_layer, n_head=n_head,
                         n_embd=n_embd)).eval()
    sd = hf.state_dict()
    with torch.no_grad():
        for name, p in ours.state_dict().items():
            if name == "lm_head.weight":
                continue  # tied to wte
            src = sd[name]
            if name.endswith(("c_attn.weight", "c_proj.weight", "c_fc.weight")):
                src = src.t()  # GPT-2's Conv1D stores (in, out)
            p.copy_(src)
    return hf, ours


@torch.inference_mode()
def ours_generate_s(model: GPT, prompt: torch.Tensor, n: int) -> float:
    """Wall time (s) of cached greedy decoding of ``n`` new tokens, prefill included (as HF's generate)."""
    t = time.perf_counter()
    out = model(prompt, last_logits_only=True)  # as HF's generate, the prefill's LM head for the last position only
    nxt = out.logits[:, -1].argmax(-1, keepdim=True)  # (1, 1)
    for _ in range(n - 1):
        out = model(nxt, past_kv=out.kv)
        nxt = out.logits[:, -1].argmax(-1, keepdim=True)  # (1, 1)
    return time.perf_counter() - t


@torch.inference_mode()
def hf_generate_s(hf, prompt: torch.Tensor, n: int) -> float:
    """Wall time (s) of HF ``generate(use_cache=True)``, greedy, exactly ``n`` new tokens."""
    kw = dict(do_sample=False, use_cache=True, pad_token_id=0, eos_token_id=None)
    t = time.perf_counter()
    hf.generate(prompt, max_new_tokens=n, min_new_tokens=n, **kw)
    return time.perf_counter() - t


def per_token_ms(generate_s, model, prompt: torch.Tensor, n: int) -> tuple[float, float]:
    """(ms per new token with the prefill excluded, ms for the prefill + first token).

    The prefill's time is the fastest of three runs: a run slowed by another process would otherwise
    be subtracted from the full run and could even make the difference negative on a toy model.
    """
    one = min(generate_s(model, prompt, 1) for _ in range(3))
    full = generate_s(model, prompt, n)
    return (full - one) / (n - 1) * 1e3, one * 1e3


@torch.inference_mode()
def check_same_tokens(hf, ours: GPT, prompt: torch.Tensor, n: int = 8) -> bool:
    """Both models, given the same weights, must greedily pick the same tokens (else the race is unfair)."""
    h = hf.generate(prompt, max_new_tokens=n, min_new_tokens=n, do_sample=False, pad_token_id=0, eos_token_id=None)
    out, mine = ours(prompt), []
    for _ in range(n):
        nxt = out.logits[:, -1].argmax(-1, keepdim=True)  # (1, 1)
        mine.append(nxt)
        out = ours(nxt, past_kv=out.kv)
    return torch.equal(h[:, prompt.shape[1]:], torch.cat(mine, dim=1))


def kv_bytes_per_token(model: GPT, positions: float) -> float:
    """Bytes of keys and values a cached step reads with ``positions`` cached (the cache's own formula)."""
    return KVCache.formula_bytes(model.config, batch=1, positions=1) * positions


def decode_vs_hf(hf, ours: GPT, prompt_lens=(16, 256, 768), n_new: int = 128, repeats: int = 5) -> dict:
    """Ours vs HF per new token at each prompt length.

    Medians over interleaved repeats. The read bandwidth is measured right before every timed
    generation (2 x repeats per prompt length, 30 in all): on this shared machine it jumps
    between two levels (~40-45 and ~75 GB/s) within one process, while the decode speeds barely
    move with it. The floor is set by the median reading of the whole run (``ratio_to_floor``);
    each run against its own reading (``ratio_to_floor_per_run``, the median of those) and against
    the run's highest reading (``ratio_to_peak_floor``, the strictest) are reported beside it, and
    every (bandwidth, ms) pair is kept in ``runs`` so the reader can check either.
    """
    wbytes = weight_bytes(ours)

    def floor(gbs: float) -> float:
        """ms per token to read every weight once at ``gbs`` GB/s."""
        return wbytes / (gbs * 1e9) * 1e3

    gen = torch.Generator().manual_seed(0)
    who = {"ours": ours_generate_s, "hf": hf_generate_s}
    measured = []
    for T in prompt_lens:
        prompt = torch.randint(0, ours.config.vocab_size, (1, T), generator=gen)
        same = check_same_tokens(hf, ours, prompt)  # also warms both models at this length
        runs = {k: [] for k in who}  # per repeat: (bandwidth GB/s just before, ms per token, prefill ms)
        for r in range(repeats):  # interleaved, alternating order
            for k in (list(who) if r % 2 == 0 else list(who)[::-1]):
                bw = read_bandwidth_gbs(repeats=5)
                runs[k].append((bw, *per_token_ms(who[k], hf if k == "hf" else ours, prompt, n_new)))
        measured.append((T, same, runs))
    bws = [run[0] for _, _, runs in measured for k in who for run in runs[k]]
    bw, peak = statistics.median(bws), max(bws)
    rows = []
    for T, same, runs in measured:
        med = {k: statistics.median(ms for _, ms, _ in runs[k]) for k in who}
        per_run = {k: statistics.median(ms / floor(b) for b, ms, _ in runs[k]) for k in who}
        kv_mean = kv_bytes_per_token(ours, T + (n_new - 1) / 2)  # the cache grows from T to T + n_new - 1
        o, h = med["ours"], med["hf"]
        rows.append(dict(prompt=T, new_tokens=n_new, ours_ms_per_token=o, hf_ms_per_token=h, ratio_to_hf=o / h,
                         ratio_to_floor=o / floor(bw), ratio_to_floor_per_run=per_run["ours"],
                         ratio_to_peak_floor=o / floor(peak), ratio_to_floor_with_kv=o * bw * 1e6 / (wbytes + kv_mean),
                         hf_ratio_to_floor=h / floor(bw), kv_bytes_per_token=kv_mean,
                         ours_prefill_ms=statistics.median(p for *_, p in runs["ours"]),
                         hf_prefill_ms=statistics.median(p for *_, p in runs["hf"]),
                         same_greedy_tokens=same, repeats=repeats,
                         runs={k: [dict(bandwidth_gbs=b, ms_per_token=ms) for b, ms, _ in runs[k]] for k in who}))
    return dict(weight_bytes=wbytes, read_bandwidth_gbs=bw, read_bandwidth_min_gbs=min(bws),
                read_bandwidth_max_gbs=peak, floor_ms_per_token=floor(bw), peak_floor_ms_per_token=floor(peak), rows=rows)


def curve_positions(block_size: int, positions=(16, 64, 128, 256, 512, 768, 1000)) -> list[int]:
    """The positions that fit the window (P + 1 tokens), plus the last one the window allows."""
    fit = [P for P in positions if P + 1 <= block_size]
    if block_size - 1 not in fit and block_size - 1 > (fit[-1] if fit else 0):
        fit.append(block_size - 1)
    return fit


def _decode_ready(model: GPT, prefix: torch.Tensor, nxt: torch.Tensor) -> KVCache:
    """The cache of ``prefix`` (1, P), its storage warmed by one step with ``nxt`` and holding room for it.

    A cached decode step writes its one new position in place (the storage grows by doubling, rarely).
    Timing the same step again from the same cache is a branch, which the cache answers by copying
    itself (copy-on-write); ``_rewind`` avoids that, so each repeat costs what a decode step costs.
    """
    kv = model(prefix).kv
    return model(nxt, past_kv=kv).kv.crop(prefix.shape[1])  # warm; this storage has room for P + 1


def _rewind(kv: KVCache) -> KVCache:
    """Let ``kv`` be extended in place again: the timed step's own result (one position) is thrown away."""
    kv.storage.filled = kv.length
    return kv


@torch.inference_mode()
def kv_speedup_curve(model: GPT, positions=(16, 64, 128, 256, 512, 768, 1000), repeats: int = 7) -> list[dict]:
    """Latency of producing the token after P positions: cached (1 new token) vs uncached (all P + 1)."""
    rows = []
    gen = torch.Generator().manual_seed(0)
    for P in curve_positions(model.config.block_size, positions):
        ids = torch.randint(0, model.config.vocab_size, (1, P + 1), generator=gen)
        kv = _decode_ready(model, ids[:, :P], ids[:, P:])
        cached, uncached = [], []
        for _ in range(repeats):  # interleaved
            _rewind(kv)
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
    """A cached step with return_attn=True (explicit softmax, weights returned) vs without (fused SDPA)."""
    rows = []
    gen = torch.Generator().manual_seed(0)
    for P in sorted({min(P, model.config.block_size - 1) for P in positions}):
        ids = torch.randint(0, model.config.vocab_size, (1, P + 1), generator=gen)
        kv = _decode_ready(model, ids[:, :P], ids[:, P:])
        model(ids[:, P:], past_kv=_rewind(kv), return_attn=True)  # warm the explicit path too
        plain, attn = [], []
        for r in range(repeats):  # interleaved, alternating order
            for flag in ((False, True) if r % 2 == 0 else (True, False)):
                _rewind(kv)
                t = time.perf_counter()
                model(ids[:, P:], past_kv=kv, return_attn=flag)
                (attn if flag else plain).append(time.perf_counter() - t)
        p, a = statistics.median(plain) * 1e3, statistics.median(attn) * 1e3
        rows.append(dict(position=P, plain_ms=p, with_attention_ms=a, ratio=a / p))
    return rows


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer tokens and repeats (a smoke run)")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    n_new, reps = (16, 1) if a.quick else (128, 5)
    hf, ours = hf_and_ours(**GPT2_SMALL)
    res = {"decode_vs_hf": decode_vs_hf(hf, ours, n_new=n_new, repeats=reps)}
    del hf
    res["kv_curve_gpt2_small"] = kv_speedup_curve(ours, repeats=2 if a.quick else 7)
    res["attention_capture_gpt2_small"] = attention_capture_cost(ours, repeats=3 if a.quick else 15)
    print(json.dumps(res, indent=1))
    return res


if __name__ == "__main__":
    main()
