"""Peak memory (RSS) of loading a GPT-2-small checkpoint with our loader and generating 32 tokens.

Two fresh processes, so that nothing of the first is counted in the second:
  1. write a random GPT-2 small (12 layers, n_embd 768, vocab 50257) with ``transformers``'
     ``save_pretrained`` (model.safetensors, ~500 MB fp32), plus a 50257-token byte-level BPE in
     GPT-2's vocab.json + merges.txt, into a temporary folder;
  2. import torch and playground, ``load_model(folder)``, generate 32 greedy tokens with the
     KV cache, and report the peak RSS (VmHWM) after each stage.

Usage: python benchmarks/load_memory.py [--bin]    (--bin: pytorch_model.bin instead)
Target: peak <= 1.2 GB for GPT-2 small.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROMPT = "The quick brown fox jumps over the lazy dog. It was the best of times,"


def peak_mb() -> float:
    """This process's peak RSS, MiB: VmHWM, the high-water mark of its own memory map.

    Not ``getrusage().ru_maxrss``: Linux carries that over an exec from the parent, so a process
    started by a large one (``python -m benchmarks`` holding two GPT-2s) would report the parent's peak.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def current_mb() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def write_checkpoint(folder: Path, fmt: str) -> None:
    """A random GPT-2 small in Hugging Face's layout (runs in its own process)."""
    import torch
    from tokenizers import pre_tokenizers
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config()).eval()  # GPT2Config() defaults are GPT-2 small
    if fmt == "bin":  # what save_pretrained(safe_serialization=False) wrote before transformers 5
        model.config.save_pretrained(folder)
        torch.save(model.state_dict(), folder / "pytorch_model.bin")
    else:
        model.save_pretrained(folder)
    # a GPT-2-sized BPE: 256 byte symbols, 50000 merges (each a token + one byte), then <|endoftext|>
    rng = random.Random(0)
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    tokens, merges = list(alphabet), []
    vocab = {t: i for i, t in enumerate(tokens)}
    while len(tokens) < 50256:
        a, b = rng.choice(tokens), rng.choice(alphabet)
        if a + b not in vocab:
            vocab[a + b] = len(tokens)
            tokens.append(a + b)
            merges.append(f"{a} {b}")
    vocab["<|endoftext|>"] = 50256
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")


def measure(folder: Path) -> dict:
    """Load with our loader and generate (runs in a fresh process)."""
    import torch

    from playground.weights import load_model

    torch.set_num_threads(2)
    report = {"after_imports_mb": peak_mb()}
    t0 = time.perf_counter()
    model, tokenizer = load_model(folder)
    report["load_s"] = time.perf_counter() - t0
    report["weights_mb"] = sum(p.numel() * p.element_size() for p in model.parameters()) / 2**20
    report["peak_after_load_mb"] = peak_mb()
    report["rss_after_load_mb"] = current_mb()
    ids = torch.tensor([tokenizer.encode_ids(PROMPT)])
    t0 = time.perf_counter()
    with torch.no_grad():
        out = model(ids)
        for _ in range(32):
            nxt = out.logits[:, -1].argmax(-1, keepdim=True)  # (1, 1)
            out = model(nxt, past_kv=out.kv)
    report["generate_s"] = time.perf_counter() - t0
    report["peak_after_generate_mb"] = peak_mb()
    report["n_layer"], report["n_embd"], report["vocab_size"] = (
        model.config.n_layer, model.config.n_embd, model.config.vocab_size)
    report["params"] = model.num_parameters()
    return report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", action="store_true", help="write pytorch_model.bin instead of model.safetensors")
    ap.add_argument("--write", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.write:
        return write_checkpoint(a.write, "bin" if a.bin else "safetensors")
    if a.measure:
        return print(json.dumps(measure(a.measure)))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory() as tmp:
        fmt = ["--bin"] if a.bin else []
        subprocess.run([sys.executable, __file__, "--write", tmp, *fmt], check=True, env=env)
        files = {p.name: round(p.stat().st_size / 2**20, 1) for p in Path(tmp).iterdir() if p.is_file()}
        out = subprocess.run([sys.executable, __file__, "--measure", tmp], check=True, env=env,
                             capture_output=True, text=True)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"checkpoint files (MB): {files}")
    print(f"model: {r['n_layer']} layers, n_embd {r['n_embd']}, vocab {r['vocab_size']}, {r['params']:,} parameters "
          f"= {r['weights_mb']:.0f} MB in fp32")
    print(f"peak RSS after imports (torch, playground): {r['after_imports_mb']:.0f} MB")
    print(f"peak RSS after loading:                   {r['peak_after_load_mb']:.0f} MB  (load {r['load_s']:.1f} s; "
          f"RSS now {r['rss_after_load_mb']:.0f} MB)")
    print(f"peak RSS after 32 greedy tokens:          {r['peak_after_generate_mb']:.0f} MB  "
          f"(generate {r['generate_s']:.1f} s)")
    print(f"loading added {r['peak_after_load_mb'] - r['after_imports_mb']:.0f} MB for {r['weights_mb']:.0f} MB of weights; "
          f"target peak <= 1229 MB (1.2 GB): {'met' if r['peak_after_generate_mb'] <= 1.2 * 1024 else 'NOT met'}")


if __name__ == "__main__":
    main()
