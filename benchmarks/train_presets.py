"""How long each Train-tab preset takes, and what it learns: wall time, loss, the sample before and after.

    python -m benchmarks.train_presets [--threads 1]

Runs exactly what the Train tab runs (``ui.training.train_configs`` -> ``train.live_training`` under the
server's default ``TrainLimits``, the embedded tokenizer and the shipped corpus), one preset after
another, with the torch threads the app uses (1). Prints a Markdown table.
"""
from __future__ import annotations

import argparse
import time

import torch

from playground.ui import AppContext
from playground.ui.training import train_configs
from playground.model import GPT
from playground.train import PRESETS, TrainLimits, check_request, live_training
from playground.weights import load_model


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1, help="torch threads (app.py runs 1)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    _, tok = load_model("shakespeare")
    train_ids, val_ids = AppContext.build(lambda name: None, {}).encoded_corpus(tok)
    limits = TrainLimits()
    rows = []
    for name, (m, t) in PRESETS.items():
        mcfg, tcfg = train_configs(tok, name, m["n_layer"], m["n_head"], m["n_embd"], m["block_size"], t["lr"],
                                      t["steps"])
        check_request(mcfg, tcfg, limits)
        torch.manual_seed(tcfg.seed)
        model = GPT(mcfg)
        t0 = time.perf_counter()
        first = last = None
        for u in live_training(model, tok, train_ids, val_ids, tcfg, limits, every=max(1, min(25, tcfg.steps // 8))):
            if u.sample is not None:
                first = first or u
                last = u
        wall = time.perf_counter() - t0
        p0, p1 = first.progress, last.progress
        rows.append((name, f"{model.num_parameters():,}", f"{p1.step + 1}", f"{wall:.1f} s", last.stopped_by,
                     f"{p0.loss:.2f} → {p1.loss:.2f}", f"{p1.val_loss:.2f}" if p1.val_loss is not None else "—",
                     repr(first.sample[:40]), repr(last.sample[:40])))
        print(rows[-1], flush=True)
    print(f"\n{a.threads} torch thread(s)\n")
    print("| preset | parameters | steps | wall | stopped by | train loss | val loss | sample at step 1 | sample at the end |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(str(x).replace("|", "\\|").replace("\\n", "↵") for x in r) + " |")


if __name__ == "__main__":
    main()
