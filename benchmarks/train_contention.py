"""Does a training in the page slow down other users? Step latency with and without one running.

    python benchmarks/train_contention.py [--steps 60] [--preset "small: ..."] [--model shakespeare]

Launches the page (its own launch settings, queue included, 1 torch thread as app.py sets) on
127.0.0.1, then from one tab times ``/step`` on the embedded-size model through the raw queue
protocol (benchmarks/ui_http.QueueClient: POST to completion, as the browser waits; gradio_client
would add ~70 ms of its own), first alone, then while a second session trains a preset.
By default the model is random at the embedded size (same cost as the trained one; see
benchmarks/ui_speed.py); ``--model shakespeare`` loads the shipped checkpoint.

Target (issues 6 and 8): Step ≤ 60 ms median while a training runs.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gradio_client import Client  # noqa: E402

import torch  # noqa: E402

from benchmarks.ui_http import QueueClient  # noqa: E402
from benchmarks.ui_http import controls as ui_controls  # noqa: E402
from benchmarks.ui_speed import random_model  # noqa: E402
from playground import ui  # noqa: E402
from playground.train import PRESETS  # noqa: E402
from tests.test_ui_api import free_port  # noqa: E402


def time_steps(c: QueueClient, controls: list, n: int) -> list[float]:
    """n Steps (a Reset every 40, before generation nears the window), ms each from POST to completion."""
    out = []
    c.call("reset", controls)
    for i in range(n):
        if i and i % 40 == 0:
            c.call("reset", controls)
        out.append(c.call("step", controls)[0])
    return out


def summary(ms: list[float]) -> str:
    q = statistics.quantiles(ms, n=20)
    return f"p50 {statistics.median(ms):6.1f} ms · p95 {q[18]:6.1f} ms · n {len(ms)}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--preset", default=list(PRESETS)[1], choices=list(PRESETS))
    ap.add_argument("--model", default=None, help="a shipped model name (default: random, embedded size)")
    a = ap.parse_args()
    torch.set_num_threads(1)  # as app.py: one thread per event, two events at once on 2 vCPU
    if a.model:
        from playground.weights import load_model

        pair = load_model(a.model)
    else:
        pair = random_model()
    demo = ui.build_demo(lambda name: pair, {"shakespeare": None})
    kw = ui.launch_kwargs()
    kw.update(server_port=free_port(), prevent_thread_lock=True, quiet=True)
    demo.launch(**kw)
    try:
        user, trainer = QueueClient(demo.local_url), Client(demo.local_url, verbose=False)
        controls = ui_controls(pair[0].config.n_layer, 200)
        user.call("load_page", controls)
        trainer.predict(api_name="/load_page")
        ui.encoded_corpus(pair[1])  # encoded once per process; not part of either measurement
        time_steps(user, controls, 10)  # warm-up
        alone = time_steps(user, controls, a.steps)
        m, t = PRESETS[a.preset]
        job = trainer.submit(api_name="/train", preset=a.preset, n_layer=m["n_layer"], n_head=m["n_head"],
                             n_embd=m["n_embd"], block_size=m["block_size"], lr=t["lr"], steps=t["steps"])
        while not job.outputs():
            time.sleep(0.05)
        busy = time_steps(user, controls, a.steps)
        still = not job.done()
        trainer.predict(api_name="/stop_training")
        final = job.result(timeout=120)
        print(f"step alone:            {summary(alone)}")
        print(f"step while training:   {summary(busy)}  (training still running at the end: {still})")
        print(f"training ({a.preset}): {final[1].splitlines()[0]}")
    finally:
        demo.close()


if __name__ == "__main__":
    main()
