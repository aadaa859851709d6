"""What one browser tab costs the server, on the embedded model: the figures behind ``ui.sessions.TAB_BYTES``.

    python -m benchmarks.session_memory [--tabs 8] [--out logs/session-memory]

Serves the page in this process (the shipped model, app.py's launch settings, 1 torch thread) and
  * builds Gradio's own per-tab record (``SessionState``) and ours (``ui.sessions.LeanSessionState``) 20 times:
    milliseconds of the event loop and Python heap per new tab;
  * opens ``--tabs`` tabs over the queue protocol, each loading the page and taking 0, 50 or every
    Step its 256-token context holds (the most a tab's state can hold on this model), and reads the
    server's resident memory (``gc`` and ``malloc_trim`` first) with the tabs, after freeing their page
    states (``SessionHolder._free``, as an expiry does), and after dropping Gradio's records of them:
    MB per tab of each part, and what glibc did not hand back.
Writes ``--out``.md and .json.
"""
from __future__ import annotations

import argparse
import gc
import json
import socket
import time
import tracemalloc
from pathlib import Path

import psutil
import torch


def _heap_and_ms(make, n: int = 20) -> tuple[float, float]:
    t0 = time.perf_counter()
    for _ in range(n):
        make()
    ms = (time.perf_counter() - t0) * 1e3 / n
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    kept = [make() for _ in range(n)]
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    del kept
    return sum(d.size_diff for d in after.compare_to(before, "filename")) / n / 1024, ms


def _rss() -> float:
    from playground.ui.sessions import malloc_trim as _malloc_trim

    gc.collect()
    _malloc_trim()
    return psutil.Process().memory_info().rss / 2**20


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tabs", type=int, default=8)
    ap.add_argument("--out", default="logs/session-memory")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    from gradio.state_holder import SessionState

    from benchmarks.classroom_load import QueueSession, controls, fetch_config
    from playground import ui
    from playground.ui import sessions

    demo = ui.build_demo()
    res = {}
    res["stock_tab_kb"], res["stock_tab_ms"] = _heap_and_ms(lambda: SessionState(demo))
    res["lean_tab_kb"], res["lean_tab_ms"] = _heap_and_ms(lambda: sessions.LeanSessionState(demo))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo.launch(**{**ui.launch_kwargs(), "server_port": port, "prevent_thread_lock": True, "quiet": True})
    events = fetch_config(demo.local_url)
    holder = demo.server_app.state_holder
    res["tabs"] = a.tabs

    def open_tabs(n: int, steps) -> tuple[list[str], int]:
        sids, taken = [], 0
        for i in range(n):
            q = QueueSession(demo.local_url, events=events)
            c = controls(prompt="ROMEO:", seed=i, max_new_tokens=256)
            assert q.call("load_page", c).ok
            taken = 0
            while steps == "full" or taken < steps:
                if not q.call("step", c).ok:  # the context window is full
                    break
                taken += 1
            sids.append(q.session_hash)
            q.close()
        return sids, taken

    open_tabs(2, 20)  # warm up: the model loads on the first tab, the first Steps fill caches
    for steps in (0, 50, "full"):
        base = _rss()
        sids, res[f"steps_{steps}"] = open_tabs(a.tabs, steps)
        full = _rss()
        for sid in sids:  # free the page states, keep Gradio's records
            state = holder.session_data[sid]
            holder._free(sid, state, list(state.state_data), "idle")
        freed = _rss()
        for sid in sids:  # then the records and the tombstones
            holder.session_data.pop(sid, None)
            holder.gone.pop(sid, None)
        gone = _rss()
        res[f"tab_mb_{steps}"] = (full - base) / a.tabs
        res[f"state_mb_{steps}"] = (full - freed) / a.tabs
        res[f"record_mb_{steps}"] = (freed - gone) / a.tabs
        res[f"kept_mb_{steps}"] = (gone - base) / a.tabs
    demo.close()
    md = [f"# One tab's memory, embedded model ({a.tabs} tabs per row, 1 torch thread)", "",
          "| measure | value |", "|---|---|",
          f"| new tab, Gradio's SessionState | {res['stock_tab_kb']:.0f} KB, {res['stock_tab_ms']:.1f} ms |",
          f"| new tab, ui.sessions.LeanSessionState | {res['lean_tab_kb']:.0f} KB, {res['lean_tab_ms']:.2f} ms |"]
    for steps in (0, 50, "full"):
        md.append(f"| tab after loading + {res[f'steps_{steps}']} Steps (RSS per tab) | "
                  f"{res[f'tab_mb_{steps}']:.2f} MB: "
                  f"page state {res[f'state_mb_{steps}']:.2f}, Gradio's record {res[f'record_mb_{steps}']:.2f}, "
                  f"not handed back {res[f'kept_mb_{steps}']:.2f} |")
    md += ["", "Command: `python -m benchmarks.session_memory`"]
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(res, indent=1))
    out.with_suffix(".md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return res


if __name__ == "__main__":
    main()
