"""Every benchmark of issue 9 in one command; writes JSON, a Markdown table and the latency plot.

    python -m benchmarks [--quick] [--parts decode,kv,attention,ui,startup,memory] [--out bench-out]

Parts (each timed as medians over interleaved repeats; these machines are noisy, so read ratios
taken within one run rather than absolute numbers):
  decode     ours vs transformers' GPT2LMHeadModel.generate on identical random GPT-2-small
             weights, fp32, prompts 16/256/768, 128 new tokens; plus the read-bandwidth floor
  kv         per-step latency with and without the KV cache at positions 16..1000 (GPT-2 small)
             and up to the 256-token window (embedded model)
  attention  a cached step with return_attn=True vs without, at 256 and 1000 positions
  ui         Step / slider re-draw / head switch through the real Gradio server (raw HTTP queue)
  startup    ``python app.py`` to the first served page, median of 3
  memory     peak RSS of loading + 32 tokens, GPT-2 small and the embedded model (load_memory.py)
Outputs: <out>/results.json, <out>/results.md, docs/kv-latency.png (unless --no-plot).
``--tiny`` swaps both models for a 2-layer toy (the smoke test); its figures mean nothing.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from benchmarks import decode
from benchmarks.ui_http import ROOT, _env, startup, ui_latency
from playground.config import GPTConfig
from playground.model import GPT

PARTS = ("decode", "kv", "attention", "ui", "startup", "memory")
EMBEDDED = dict(n_layer=4, n_head=4, n_embd=256, vocab_size=4096, block_size=256)  # if the shipped one is missing
TARGETS = dict(ratio_to_hf=0.8, ratio_to_floor=1.6, kv_speedup_256=10.0, attention_ratio=1.25,
               step_embedded_ms=60.0, step_gpt2_ms=150.0, redraw_ms=30.0, first_page_s=7.0, gpt2_peak_rss_mb=1.2 * 1024)


def embedded_model(tiny: bool) -> tuple[GPT, str]:
    """The shipped model if it loads, else random weights of its size (timing does not depend on them)."""
    if tiny:
        torch.manual_seed(0)
        return GPT(GPTConfig(**decode.TINY)).eval(), "tiny random"
    try:
        from playground.weights import load_model

        return load_model("shakespeare")[0].eval(), "shipped weights"
    except Exception as e:
        torch.manual_seed(0)
        return GPT(GPTConfig(**EMBEDDED)).eval(), f"random weights of the embedded size ({type(e).__name__})"


def machine() -> dict:
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor())
    import transformers

    return dict(cpu=cpu, cores=os.cpu_count(), python=platform.python_version(), torch=torch.__version__,
                transformers=transformers.__version__, load_average_at_start=os.getloadavg(),
                date=datetime.datetime.now().isoformat(timespec="seconds"))


def busy_processes(min_cpu: float = 20.0) -> list[str]:
    """Other processes using the CPU while we measure (reported, since they skew every figure)."""
    import psutil

    procs = list(psutil.process_iter(["pid", "cmdline"]))
    for p in procs:
        try:
            p.cpu_percent(None)
        except psutil.Error:
            pass
    time.sleep(1.0)
    out = []
    for p in procs:
        try:
            c = p.cpu_percent(None)
            if c >= min_cpu and p.pid != os.getpid():
                out.append(f"{c:.0f}% {' '.join(p.info['cmdline'] or [])[:120]}")
        except psutil.Error:
            pass
    return out


def memory_part() -> dict:
    """Peak RSS of load + 32 greedy tokens in fresh processes, via load_memory.py's own stages."""
    script = [sys.executable, str(ROOT / "benchmarks" / "load_memory.py")]
    res = {}
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([*script, "--write", tmp], check=True, env=_env(), capture_output=True)
        out = subprocess.run([*script, "--measure", tmp], check=True, env=_env(), capture_output=True, text=True)
        res["gpt2_small"] = json.loads(out.stdout.strip().splitlines()[-1])
    out = subprocess.run([*script, "--measure", str(ROOT / "assets" / "model")], env=_env(), capture_output=True,
                         text=True)
    res["embedded"] = (json.loads(out.stdout.strip().splitlines()[-1]) if out.returncode == 0
                       else {"error": out.stderr.strip().splitlines()[-1][:200] if out.stderr.strip() else "failed"})
    return res


def run(a: argparse.Namespace) -> dict:
    torch.set_num_threads(a.threads)
    q = a.quick
    parts = a.parts
    res: dict = dict(command="python -m benchmarks " + " ".join(a.argv), machine=machine(),
                     concurrent_processes=busy_processes(), torch_threads=a.threads, quick=q, tiny=a.tiny)
    t0 = time.perf_counter()
    if {"decode", "kv", "attention"} & set(parts):
        size = decode.TINY if a.tiny else decode.GPT2_SMALL
        hf, ours = decode.hf_and_ours(**size)
        if "decode" in parts:
            lens = (8, 16, 32) if a.tiny else (16, 256, 768)
            n_new = 16 if a.tiny else (16 if q else 128)
            res["decode_vs_hf"] = decode.decode_vs_hf(hf, ours, lens, n_new=n_new, repeats=1 if q else 5)
        del hf
        emb, what = embedded_model(a.tiny)
        res["embedded_model"] = dict(weights=what, n_layer=emb.config.n_layer, n_head=emb.config.n_head,
                                     n_kv_head=emb.config.n_kv_head, n_embd=emb.config.n_embd,
                                     vocab_size=emb.config.vocab_size, block_size=emb.config.block_size)
        if "kv" in parts:
            res["kv_curve_gpt2_small"] = decode.kv_speedup_curve(ours, repeats=2 if q else 7)
            res["kv_curve_embedded"] = decode.kv_speedup_curve(emb, positions=(16, 32, 64, 128, 192),
                                                               repeats=2 if q else 9)
        if "attention" in parts:
            res["attention_capture_gpt2_small"] = decode.attention_capture_cost(ours, repeats=3 if q else 21)
            res["attention_capture_embedded"] = decode.attention_capture_cost(emb, repeats=3 if q else 21)
        del ours, emb
    if "ui" in parts:
        kinds = ["tiny"] if a.tiny else ["embedded", "gpt2-small"]
        res["ui"] = {k: ui_latency(k, steps=6 if q else 90) for k in kinds}
    if "startup" in parts:
        res["startup"] = startup(runs=1 if q else 3)
    if "memory" in parts:
        res["memory"] = memory_part()
    res["elapsed_s"] = time.perf_counter() - t0
    return res


# -- reporting ---------------------------------------------------------------------------------
def _ok(value, target, below: bool = True) -> str:
    if value is None:
        return "—"
    return "met" if (value <= target if below else value >= target) else "**missed**"


def markdown(res: dict) -> str:
    """The results as Markdown tables: headline figures with targets, then the curves."""
    T = TARGETS
    m = res["machine"]
    lines = [f"Measured {m['date']} on {m['cpu']} ({m['cores']} cores), torch {m['torch']}, transformers "
             f"{m['transformers']}, {res['torch_threads']} torch threads (UI server: 1, as app.py). "
             f"Command: `{res['command']}`.", ""]
    if res.get("concurrent_processes"):
        lines += ["Other processes using the CPU at the start: " + "; ".join(f"`{p}`" for p in res["concurrent_processes"])
                  + ".", ""]
    lines += ["| measure | result | target | |", "|---|---|---|---|"]
    if "decode_vs_hf" in res:
        d = res["decode_vs_hf"]
        for r in d["rows"]:
            lines.append(f"| decode, prompt {r['prompt']}, {r['new_tokens']} new tokens: ours / HF ms per token | "
                         f"{r['ours_ms_per_token']:.1f} / {r['hf_ms_per_token']:.1f} = **{r['ratio_to_hf']:.2f}× HF**, "
                         f"**{r['ratio_to_floor']:.2f}× floor** (each run against its own reading: "
                         f"{r['ratio_to_floor_per_run']:.2f}×; against the peak reading: {r['ratio_to_peak_floor']:.2f}×; "
                         f"counting the KV cache read: {r['ratio_to_floor_with_kv']:.2f}×); "
                         f"HF {r['hf_ratio_to_floor']:.2f}× floor | "
                         f"≤ {T['ratio_to_hf']}× HF, ≤ {T['ratio_to_floor']}× floor | "
                         f"{_ok(r['ratio_to_hf'], T['ratio_to_hf'])}, {_ok(r['ratio_to_floor'], T['ratio_to_floor'])} |")
        lines.append(f"| read bandwidth → floor (weights {d['weight_bytes'] / 1e6:.0f} MB once per token; read "
                     f"before every timed run) | median {d['read_bandwidth_gbs']:.1f} GB/s → "
                     f"{d['floor_ms_per_token']:.1f} ms/token (range {d['read_bandwidth_min_gbs']:.0f}–"
                     f"{d['read_bandwidth_max_gbs']:.0f} GB/s; peak → {d['peak_floor_ms_per_token']:.1f} ms/token) | | |")
        pre = ", ".join(f"{r['prompt']}: {r['ours_prefill_ms']:.0f} / {r['hf_prefill_ms']:.0f}" for r in d["rows"])
        lines.append(f"| prefill + first token, ours / HF ms (prompt: ours / HF) | {pre} | | |")
    if "kv_curve_gpt2_small" in res:
        at = [r for r in res["kv_curve_gpt2_small"] if r["position"] == 256]
        if at:
            r = at[0]
            lines.append(f"| KV cache speedup at 256 positions, GPT-2 small | {r['uncached_ms']:.1f} → "
                         f"{r['cached_ms']:.1f} ms = **{r['speedup']:.1f}×** | ≥ {T['kv_speedup_256']:.0f}× | "
                         f"{_ok(r['speedup'], T['kv_speedup_256'], below=False)} |")
        e = res["kv_curve_embedded"][-1]
        lines.append(f"| KV cache speedup at {e['position']} positions, embedded model | {e['uncached_ms']:.1f} → "
                     f"{e['cached_ms']:.1f} ms = **{e['speedup']:.1f}×** | | |")
    for key, name in (("attention_capture_gpt2_small", "GPT-2 small"), ("attention_capture_embedded", "embedded")):
        for r in res.get(key, []):
            lines.append(f"| attention capture, cached step at {r['position']} positions, {name} | "
                         f"{r['plain_ms']:.2f} → {r['with_attention_ms']:.2f} ms = **{r['ratio']:.2f}×** | "
                         f"≤ {T['attention_ratio']}× | {_ok(r['ratio'], T['attention_ratio'])} |")
    for kind, u in res.get("ui", {}).items():
        target = T["step_gpt2_ms"] if kind == "gpt2-small" else T["step_embedded_ms"]
        lines.append(f"| UI Step p50 / p95, {kind} ({u['step']['n']} steps) | {u['step']['p50_ms']:.0f} / "
                     f"{u['step']['p95_ms']:.0f} ms | ≤ {target:.0f} ms p50 | {_ok(u['step']['p50_ms'], target)} |")
        lines.append(f"| UI slider re-draw p50 / p95, {kind} | {u['redraw']['p50_ms']:.0f} / {u['redraw']['p95_ms']:.0f} ms"
                     f" | ≤ {T['redraw_ms']:.0f} ms p50 | {_ok(u['redraw']['p50_ms'], T['redraw_ms'])} |")
        lines.append(f"| UI head switch p50 / p95, {kind} | {u['head_switch']['p50_ms']:.0f} / "
                     f"{u['head_switch']['p95_ms']:.0f} ms | | |")
    if "startup" in res:
        s = res["startup"]
        loaded = f"; page loaded (model + figures) {s['page_loaded_s']:.1f} s" if s["page_loaded_s"] else ""
        lines.append(f"| `python app.py` → first served page (median of {s['runs']}) | **{s['first_page_s']:.1f} s**{loaded} "
                     f"| ≤ {T['first_page_s']:.0f} s | {_ok(s['first_page_s'], T['first_page_s'])} |")
    if "memory" in res:
        g = res["memory"]["gpt2_small"]
        lines.append(f"| peak RSS, load GPT-2 small + 32 tokens | **{g['peak_after_generate_mb']:.0f} MB** "
                     f"(after imports {g['after_imports_mb']:.0f} MB) | ≤ 1229 MB | "
                     f"{_ok(g['peak_after_generate_mb'], T['gpt2_peak_rss_mb'])} |")
        e = res["memory"]["embedded"]
        val = f"**{e['peak_after_generate_mb']:.0f} MB**" if "error" not in e else f"not measured: {e['error']}"
        lines.append(f"| peak RSS, load embedded model + 32 tokens | {val} | | |")
    for kind, u in res.get("ui", {}).items():
        lines.append(f"| UI server peak RSS, {kind} | {u['server_peak_rss_mb']:.0f} MB | | |")
    for key, name in (("kv_curve_gpt2_small", "GPT-2 small"), ("kv_curve_embedded", "embedded model")):
        if key in res:
            lines += ["", f"KV cache curve, {name} (ms per step, median):", "",
                      "| position | " + " | ".join(str(r["position"]) for r in res[key]) + " |",
                      "|---" * (len(res[key]) + 1) + "|",
                      "| cached | " + " | ".join(f"{r['cached_ms']:.1f}" for r in res[key]) + " |",
                      "| uncached | " + " | ".join(f"{r['uncached_ms']:.1f}" for r in res[key]) + " |",
                      "| speedup | " + " | ".join(f"{r['speedup']:.1f}×" for r in res[key]) + " |"]
    return "\n".join(lines) + "\n"


def plot(res: dict, path: Path) -> str | None:
    """docs/kv-latency.png: latency per step vs position, cached vs uncached, both models (plotly + kaleido)."""
    try:
        import kaleido  # noqa: F401  (dev dependency; renders with a local Chromium)
    except ImportError:
        return "kaleido is not installed (pip install -r requirements-dev.txt); no plot"
    from plotly.subplots import make_subplots
    import plotly.graph_objects as go

    if os.path.exists("/usr/bin/chromium"):
        os.environ.setdefault("BROWSER_PATH", "/usr/bin/chromium")
    panels = [("kv_curve_gpt2_small", "GPT-2 small (124M, window 1024)"),
              ("kv_curve_embedded", f"embedded model (window {res['embedded_model']['block_size']})")]
    fig = make_subplots(rows=1, cols=2, subplot_titles=[t for _, t in panels], horizontal_spacing=0.08)
    for col, (key, _) in enumerate(panels, start=1):
        rows = res[key]
        x = [r["position"] for r in rows]
        for name, field, color in (("without KV cache", "uncached_ms", "#d62728"), ("with KV cache", "cached_ms", "#1f77b4")):
            fig.add_trace(go.Scatter(x=x, y=[r[field] for r in rows], name=name, mode="lines+markers",
                                     line=dict(color=color), showlegend=col == 1), row=1, col=col)
        fig.update_xaxes(title_text="position (tokens already in the context)", row=1, col=col)
        fig.update_yaxes(title_text="ms per new token (median)", rangemode="tozero", row=1, col=col)
    fig.update_layout(title="Time to produce one more token: the KV cache reads 1 token, without it all are re-read",
                      width=1100, height=470, template="plotly_white", legend=dict(orientation="h", x=0.5, xanchor="center", y=-0.22))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.write_image(str(path))
    return None


def main(argv: list[str] | None = None) -> dict:
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="few tokens and repeats: a smoke run, not figures")
    ap.add_argument("--tiny", action="store_true", help="a 2-layer toy model instead of GPT-2 small / embedded")
    ap.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated subset of {','.join(PARTS)}")
    ap.add_argument("--threads", type=int, default=2, help="torch threads for the model benchmarks")
    ap.add_argument("--out", type=Path, default=ROOT / "bench-out")
    ap.add_argument("--plot", type=Path, default=ROOT / "docs" / "kv-latency.png")
    ap.add_argument("--no-plot", action="store_true")
    a = ap.parse_args(argv)
    a.argv = argv
    a.parts = [p.strip() for p in a.parts.split(",") if p.strip()]
    unknown = set(a.parts) - set(PARTS)
    if unknown:
        ap.error(f"unknown parts {sorted(unknown)}: choose from {', '.join(PARTS)}")
    res = run(a)
    if not a.no_plot and "kv" in a.parts:
        res["plot_note"] = plot(res, a.plot) or str(a.plot)
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "results.json").write_text(json.dumps(res, indent=1))
    md = markdown(res)
    (a.out / "results.md").write_text(md)
    print(md)
    return res


if __name__ == "__main__":
    main()
