"""UI handler latency through the real server, and start-up time of ``python app.py``.

The page sets ``api_open=False``, so Gradio's ``/gradio_api/call/<api_name>`` REST route refuses
its events; a browser instead joins the queue and reads the answer from a server-sent-event
stream. ``QueueClient`` speaks exactly that protocol with plain HTTP (httpx), without
``gradio_client`` (which adds ~70 ms of its own):

  1. ``GET /config``: each event's ``fn_index`` (its dependency id) and trigger, by ``api_name``;
  2. ``POST /gradio_api/queue/join`` ``{data, fn_index, trigger_id, session_hash, event_data}``
     -> ``{event_id}``; the tab's ``gr.State`` lives on the server under ``session_hash``,
     so the state input is sent as ``null``, as the browser does;
  3. ``GET /gradio_api/queue/data?session_hash=...``: ``data: {json}`` lines (estimation,
     process_starts, process_completed with the outputs), then ``close_stream``.

A latency is the time from the POST to the ``process_completed`` message: the handler, figure
serialisation, the queue and the local network, i.e. what the page waits for before drawing.
"""
from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
PROMPT = "ROMEO:\nBut soft, what light through yonder window breaks?\nIt is the east, and Juliet is the sun."


class QueueClient:
    """One browser tab's worth of the Gradio queue protocol."""

    def __init__(self, base: str, timeout: float = 120.0):
        self.base = base.rstrip("/")
        self.http = httpx.Client(timeout=timeout)
        self.session_hash = uuid.uuid4().hex[:11]
        config = self.http.get(self.base + "/config").raise_for_status().json()
        self.events = {d["api_name"]: (d["id"], d["targets"][0][0] if d.get("targets") else None)
                       for d in config["dependencies"] if d.get("api_name")}

    def call(self, api_name: str, data: list) -> tuple[float, list]:
        """(milliseconds from POST to completion, the outputs); a failed event raises RuntimeError."""
        fn_index, trigger = self.events[api_name]
        body = dict(data=data, fn_index=fn_index, trigger_id=trigger, session_hash=self.session_hash, event_data=None)
        t0 = time.perf_counter()
        event_id = self.http.post(self.base + "/gradio_api/queue/join", json=body).raise_for_status().json()["event_id"]
        with self.http.stream("GET", self.base + "/gradio_api/queue/data",
                              params={"session_hash": self.session_hash}) as r:
            for line in r.iter_lines():
                if not line.startswith("data:"):
                    continue
                msg = json.loads(line[5:])
                if msg.get("msg") == "process_completed" and msg.get("event_id") == event_id:
                    ms = (time.perf_counter() - t0) * 1e3
                    if not msg.get("success"):
                        raise RuntimeError(f"{api_name} failed: {msg.get('output')}")
                    return ms, msg["output"]["data"]
                if msg.get("msg") == "unexpected_error":
                    raise RuntimeError(f"{api_name}: {msg.get('message')}")
        raise RuntimeError(f"{api_name}: the stream closed before the event completed")

    def close(self) -> None:
        self.http.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_page(base: str, proc: subprocess.Popen, timeout: float = 300.0) -> float:
    """Poll ``GET /`` every 50 ms until it answers 200; seconds waited. Raises if the server dies."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with code {proc.returncode}")
        try:
            if httpx.get(base + "/", timeout=2).status_code == 200:
                return time.perf_counter() - t0
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"no page at {base} after {timeout:.0f} s")


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set (VmHWM), MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT), "GRADIO_ANALYTICS_ENABLED": "False"}


def controls(n_layer: int, max_new: int, view_step: int = 0, layer: int = 0, head: int = 0,
             temperature: float = 0.8) -> list:
    """The 19 values every page event takes (state, model, prompt, kv, 11 sampling, 4 view), in order."""
    sampling = ["sample", temperature, 40, 0.95, 0.0, 1.1, 7, max_new, "", 4, 1.0]
    return [None, "shakespeare", PROMPT, True, *sampling, view_step, layer, head, "probabilities"]


def pct(xs: list[float], q: float) -> float:
    """The q-quantile by linear interpolation (statistics.quantiles' 'inclusive' method)."""
    if len(xs) == 1:
        return xs[0]
    return statistics.quantiles(xs, n=100, method="inclusive")[int(round(q * 100)) - 1]


def summary(xs: list[float]) -> dict:
    return dict(p50_ms=statistics.median(xs), p95_ms=pct(xs, 0.95), n=len(xs))


def ui_latency(model: str = "embedded", steps: int = 60, every: int = 3) -> dict:
    """Serve the page on ``model`` (see serve.py) and time Step, slider re-draw and head switch.

    A Step every time; after every ``every``-th Step, a re-draw (a temperature slider released:
    ``resample``) and a head switch (``select_head``), so the three are interleaved and the
    context grows through the run as a user's would.
    """
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "benchmarks.serve", "--model", model, "--port", str(port)],
                            cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        info = None
        for line in proc.stdout:  # wait for the model to be built
            if line.startswith("READY "):
                info = json.loads(line[6:])
                break
        if info is None:
            raise RuntimeError(f"benchmarks.serve --model {model} exited before serving")
        wait_for_page(base, proc)
        client = QueueClient(base)
        L, H = info["n_layer"], info["n_head"]
        max_new = min(256, steps + 1)
        load_ms, _ = client.call("load_page", controls(L, max_new))
        client.call("step", controls(L, max_new))  # warm-up: first forward (the prefill)
        step_ms, redraw_ms, head_ms = [], [], []
        for i in range(steps):
            ms, _ = client.call("step", controls(L, max_new))
            step_ms.append(ms)
            if i % every == every - 1:
                ms, _ = client.call("resample", controls(L, max_new, temperature=0.5 + (i % 7) / 5))
                redraw_ms.append(ms)
                k = i // every
                ms, _ = client.call("select_head", controls(L, max_new, view_step=i + 1, layer=k % L, head=(k // L) % H))
                head_ms.append(ms)
        client.close()
        return dict(model=info, prompt_chars=len(PROMPT), load_page_ms=load_ms, step=summary(step_ms),
                    redraw=summary(redraw_ms), head_switch=summary(head_ms), server_peak_rss_mb=peak_rss_mb(proc.pid))
    finally:
        stop(proc)


def startup(runs: int = 3) -> dict:
    """``python app.py`` to the first served page (GET / = 200), median of ``runs`` cold starts.

    Also the time until the page's own load event (model loaded, first figures drawn) completes,
    when the shipped model is available, and the server's peak RSS after it.
    """
    to_page, to_loaded, rss, errors = [], [], [], []
    for _ in range(runs):
        port = free_port()
        env = {**_env(), "GRADIO_SERVER_PORT": str(port)}
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_for_page(base, proc)
            to_page.append(time.perf_counter() - t0)
            try:
                client = QueueClient(base)
                client.call("load_page", controls(4, 50))
                to_loaded.append(time.perf_counter() - t0)
                rss.append(peak_rss_mb(proc.pid))
                client.close()
            except Exception as e:  # e.g. the shipped model is not there yet
                errors.append(str(e)[:200])
        finally:
            stop(proc)
    return dict(runs=runs, first_page_s=statistics.median(to_page), first_page_all_s=to_page,
                page_loaded_s=statistics.median(to_loaded) if to_loaded else None,
                app_peak_rss_mb=statistics.median(rss) if rss else None, load_errors=errors[:1])
