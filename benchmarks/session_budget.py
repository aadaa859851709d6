"""What one student's session costs on a GPT-2-small-sized model: memory, the heavy views, bytes per Step.

    python -m benchmarks.session_budget [--positions 1000] [--out logs/session-budget.md]

A random GPT of GPT-2 small's shape (12 layers × 12 heads × 768 wide, 1,024 positions, 50,257-token
vocabulary; the cost depends on the shape, not on the weights) is served by the page's own handlers
(``ui.build_demo(model_loader=...)``) with the embedded model's tokenizer; torch runs 1 thread, as
``app.py`` does. A long session is a ~``--positions``-token prompt (Shakespeare) plus a few Steps.
Figures:

  * held per session: the bytes its state keeps after the Steps (records and attention history,
    pickled together so a shared array counts once, + the KV cache's buffers + kept logits);
  * Inside the model, the leak check, the KV comparison at its maximum: wall time and the rise of
    the process's peak RSS (VmHWM, reset before each through /proc/self/clear_refs);
  * bytes per Step over HTTP: the ``process_completed`` message of a Step on that long session,
    through the real queue, and its largest outputs.

It runs on older code too (what it cannot find it skips), so a before/after is the same command.
"""
from __future__ import annotations

import argparse
import json
import os
import pickle
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.classroom_load import controls  # noqa: E402
from benchmarks.ui_http import QueueClient, free_port  # noqa: E402
from playground import ui  # noqa: E402
from playground.figures import MODES  # noqa: E402
from playground.ui.inside import render_inside  # noqa: E402
from playground.ui.sessions import malloc_trim  # noqa: E402
from playground.config import GPTConfig  # noqa: E402
from playground.corpus import works  # noqa: E402
from playground.model import GPT  # noqa: E402

GPT2_SMALL = GPTConfig(vocab_size=50257, block_size=1024, n_layer=12, n_head=12, n_embd=768)
NAME = "gpt2"
OUTPUTS = ["state", "chips", "text", "status", "view_step", "next", "attn", "overview", "mask", "latency", "memory",
           "beam", "beam_md"]


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measured(fn):
    """(result, seconds, MiB the peak RSS rose above the RSS before)."""
    malloc_trim()  # hand freed heap back first, so that reusing it does not hide a new peak
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS
    before = rss_mb()
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0, peak_mb() - before


def held_bytes(s) -> int:
    """Bytes a session keeps: its records and attention history pickled together, KV buffers, logits."""
    rows = getattr(s, "_rows", None)
    if rows is None:
        rows = getattr(s, "_attn", None)
    kept = len(pickle.dumps((s._records, rows), protocol=pickle.HIGHEST_PROTOCOL))
    kept += s._kv.allocated_nbytes if s._kv is not None else 0
    kept += sum(r.raw.numel() * 4 for r in (s._pending, s._last_read) if r is not None)
    return kept


def gpt2_sized_tokenizer():
    """The embedded tokenizer grown to GPT-2's 50,257 ids (the added ones read "<x4096>"...), so a
    random model may choose any id of its vocabulary and the page can name it."""
    from playground.tokenizer import Tokenizer
    from playground.weights import EMBEDDED

    tok = Tokenizer.from_file(EMBEDDED["shakespeare"] / "tokenizer.json")
    tok.hf.add_tokens([f"<x{i}>" for i in range(tok.vocab_size, GPT2_SMALL.vocab_size)])
    return Tokenizer(tok.hf)


def long_prompt(tok, n: int) -> str:
    ids = tok.encode_ids(works("val")["hamlet.txt"])[:n]
    return tok.decode(ids)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--positions", type=int, default=1000, help="length of the long session (prompt + steps)")
    ap.add_argument("--steps", type=int, default=4, help="Steps taken after the long prompt")
    ap.add_argument("--out", default=None, help="also write the figures here (Markdown)")
    ap.add_argument("--skip-compare", action="store_true", help="skip the KV comparison (slow on old code)")
    a = ap.parse_args()
    torch.set_num_threads(1)
    tok = gpt2_sized_tokenizer()
    torch.manual_seed(0)
    model = GPT(GPT2_SMALL).eval()
    page = ui.Page(ui.AppContext.build(lambda name: (model, tok), {NAME: None}))
    prompt = long_prompt(tok, a.positions - a.steps)
    rest = controls(NAME, prompt)[4:]
    lines = [f"# Session budget, GPT-2-small-shaped random model ({GPT2_SMALL.n_layer} layers × {GPT2_SMALL.n_head} "
             f"heads × {GPT2_SMALL.n_embd}, {GPT2_SMALL.block_size} positions), 1 torch thread", "",
             "| measure | value |", "|---|---|"]

    def row(what: str, value: str) -> None:
        lines.append(f"| {what} | {value} |")
        print(f"{what}: {value}", flush=True)

    ps = page.load(None, NAME, prompt, True, *rest)[0]
    for _ in range(a.steps):
        ps = page.step(ps, NAME, prompt, True, *rest)[0]
    s = ps.session
    T = len(s.ids)
    row(f"held by one session at {T} positions", f"{held_bytes(s) / 2**20:.1f} MiB "
        f"(KV cache {s._kv.allocated_nbytes / 2**20:.1f} MiB of it)")
    view = list(rest)
    view[-4] = len(s.records) - 1  # the newest step
    last = ui.Selection(len(s.records) - 1, 0, 0, MODES[0])
    out, sec, mb = measured(lambda: render_inside(ps, last))
    row(f"Inside the model, newest step ({T - 1} positions)", f"{sec:.2f} s, peak +{mb:.0f} MiB; note: {out[0][:90]}…")
    try:
        from playground.inside import max_positions
    except ImportError:  # older code: no cap
        max_positions = None
    if max_positions is not None:
        for capture in (True, False):
            row(f"longest pass the page runs ({'Inside' if capture else 'leak check'})",
                f"{max_positions(GPT2_SMALL, capture)} positions")
        short = long_prompt(tok, max_positions(GPT2_SMALL) - 2)
        ps3 = page.load(None, NAME, short, True, *controls(NAME, short)[4:])[0]
        ps3 = page.step(ps3, NAME, short, True, *controls(NAME, short)[4:])[0]
        first = ui.Selection(0, 0, 0, MODES[0])
        render_inside(ps3, first)  # warm-up
        out, sec, mb = measured(lambda: render_inside(ps3, first))
        row(f"Inside the model at that limit ({len(ps3.session.prompt_ids)} positions)", f"{sec:.2f} s, peak +{mb:.0f} MiB")
    try:
        out, sec, mb = measured(lambda: page.leak_check(ps, NAME, prompt, True, 3, " the", *rest))
        row(f"leak check over {T} positions", f"{sec:.2f} s, peak +{mb:.0f} MiB")
    except Exception as e:  # noqa: BLE001 - a refusal is a result here
        row(f"leak check over {T} positions", f"refused: {e}")
    if not a.skip_compare:
        short = "ROMEO:"
        ps2 = page.load(None, NAME, short, True, *controls(NAME, short)[4:])[0]
        (_, fig), sec, mb = measured(lambda: page.compare_cache(ps2, NAME, short, True, 256, *controls(NAME, short)[4:]))
        n = len(fig.data[0].x) if fig.data else 0
        row("KV comparison at the slider's maximum (256 tokens after “ROMEO:”)", f"{sec:.1f} s for {n} tokens, "
            f"peak +{mb:.0f} MiB")

    demo = ui.build_demo(lambda name: (model, tok), {NAME: None})
    kw = ui.launch_kwargs()
    kw.update(server_port=free_port(), prevent_thread_lock=True, quiet=True)
    demo.launch(**kw)
    try:
        q = QueueClient(demo.local_url)
        q.call("load_page", controls(NAME, prompt))
        sizes = []
        for _ in range(2):
            ms, data = q.call("step", controls(NAME, prompt))
            sizes.append((ms, len(json.dumps(data)), data))
        ms, total, data = sizes[-1]
        parts = sorted(((len(json.dumps(d)), name) for name, d in zip(OUTPUTS, data)), reverse=True)[:4]
        row(f"bytes per Step over HTTP at {T + 1} positions", f"{total / 1e6:.2f} MB ({ms:.0f} ms); largest: "
            + ", ".join(f"{name} {n / 1e3:.0f} kB" for n, name in parts))
        q.close()
    finally:
        demo.close()
    row("load average (1 min) at the end: times stretch with it", f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text("\n".join(lines) + "\n\nCommand: `python -m benchmarks.session_budget`\n")


if __name__ == "__main__":
    main()
