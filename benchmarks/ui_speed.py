"""Server-side speed of the playground page: one Step (model + every figure) and one slider re-draw.

    python benchmarks/ui_speed.py [--steps 120] [--threads N] [--model shakespeare]

Runs the page's own handlers (``playground.ui.Page``) on a model of the embedded size (4 layers,
256 wide, 4 heads, vocabulary 4,096, 256-token window) and times what the server does per event:
the handler plus turning every returned figure into JSON, as Gradio's ``gr.Plot`` does. Browser
rendering and network are not included. By default the model is random (same cost as the trained
one); ``--model shakespeare`` loads the shipped checkpoint instead.

Targets (issue 6): Step ≤ 60 ms median, slider re-draw ≤ 30 ms median.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import plotly.graph_objects as go  # noqa: E402
import torch  # noqa: E402

from playground import ui  # noqa: E402
from playground.figures import MODES  # noqa: E402
from playground.ui.context import default_loader  # noqa: E402
from playground.config import GPTConfig  # noqa: E402
from playground.corpus import works  # noqa: E402
from playground.model import GPT  # noqa: E402
from playground.tokenizer import Tokenizer  # noqa: E402

PROMPT = "ROMEO:\nBut soft, what light through yonder window breaks?\nIt is the east, and Juliet is the sun."


def random_model() -> tuple[GPT, Tokenizer]:
    text = "".join(list(works("train").values())[:6])  # ~1 MB: enough for 4,096 merges
    tok = Tokenizer.train([text], vocab_size=4096)
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=4096, block_size=256, n_layer=4, n_head=4, n_embd=256)).eval()
    return model, tok


def serialise(out) -> int:
    """What Gradio does with the outputs: plotly figures become JSON strings."""
    return sum(len(o.to_json()) for o in out if isinstance(o, go.Figure))


def timed(fn, *args) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn(*args)
    serialise(out)
    return (time.perf_counter() - t0) * 1e3, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=120)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1 = as app.py serves; 0 = torch's default)")
    ap.add_argument("--model", default="random", help="'random' (embedded size) or a name for weights.load_model")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    model, tok = random_model() if a.model == "random" else default_loader(a.model)
    page = ui.Page(ui.AppContext.build(lambda name: (model, tok), {"shakespeare": None}))
    sampling = ["sample", 0.8, 40, 0.95, 0.0, 1.1, 7, a.steps, "", 4, 1.0]
    view = [0, 1, 2, MODES[0]]
    ps = page.load(None, "shakespeare", PROMPT, True, *sampling, *view)[0]
    n_prompt = len(ps.session.prompt_ids)
    page.step(ps, "shakespeare", PROMPT, True, *sampling, *view)  # warm-up (first forward, prefill)
    page.back(ps, "shakespeare", PROMPT, True, *sampling, *view)

    step_ms, redraw_ms, json_kb = [], [], []
    for i in range(a.steps):
        ms, out = timed(page.step, ps, "shakespeare", PROMPT, True, *sampling, *view)
        step_ms.append(ms)
        json_kb.append(serialise(out) / 1024)
        if i % 4 == 0:  # a temperature slider moved: re-decide the newest step from cached logits
            t = 0.5 + (i % 7) / 5
            ms, _ = timed(page.resample, ps, "shakespeare", PROMPT, True, "sample", t, *sampling[2:], *view)
            redraw_ms.append(ms)
        if ps.session.stop:
            break
    rec = ps.session.records
    cfg = model.config
    print(f"model: {cfg.n_layer} layers, {cfg.n_embd} wide, {cfg.n_head} heads, vocab {cfg.vocab_size}, "
          f"window {cfg.block_size}; torch threads {torch.get_num_threads()}")
    print(f"prompt {n_prompt} tokens, {len(step_ms)} steps (context {n_prompt + 1}..{n_prompt + len(step_ms)})")
    print(f"Step (forward + pipeline + all figures + JSON): median {statistics.median(step_ms):.1f} ms, "
          f"p90 {sorted(step_ms)[int(0.9 * len(step_ms))]:.1f} ms, max {max(step_ms):.1f} ms")
    print(f"  of which model forward: median {statistics.median(r.forward_ms for r in rec):.1f} ms; "
          f"figures JSON {statistics.median(json_kb):.0f} KiB per Step")
    print(f"slider re-draw (resample, no forward): median {statistics.median(redraw_ms):.1f} ms, "
          f"max {max(redraw_ms):.1f} ms over {len(redraw_ms)} re-draws")
    print("targets: Step ≤ 60 ms median, re-draw ≤ 30 ms median ->",
          "OK" if statistics.median(step_ms) <= 60 and statistics.median(redraw_ms) <= 30 else "MISSED")


if __name__ == "__main__":
    main()
