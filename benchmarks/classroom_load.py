"""A classroom on one server: many students stepping, resampling and restarting at once.

``python -m benchmarks.classroom_load`` starts ``app.py`` (the embedded model, the app's own queue and
launch settings) in a subprocess on 127.0.0.1 with a short state time-to-live
(``PLAYGROUND_STATE_TTL_S``), then runs ``--students`` simulated students for ``--seconds``. Each
student is a separate browser session (its own ``session_hash``, so its own ``gr.State``) with its own
seed and prompt, and loops: set the prompt, then Step a few times, move the temperature slider
(``resample``), step on, until its run is long enough, and start over. It speaks the queue protocol
with plain HTTP (``QueueSession``; see benchmarks/ui_http.py), as the browser does.

It reports
  * errors by kind: a refused join (503, "queue full") is the only documented "busy" answer; a failed
    event, a stream that breaks or a wrong answer count as errors;
  * cross-talk: after the load, each student's last text is compared with a fresh ``session.Session``
    driven alone with the same prompt, seed, settings and actions (step / resample) in this process:
    any token another session's work leaked into would make them differ;
  * step latency (POST to ``process_completed``): p50 / p95;
  * the server's RSS before the students arrive, at its peak, and after their sessions expired
    (the state TTL frees them; ``LIVE`` below is read from the server's /proc entry).

Writes ``logs/classroom-load.json`` and ``.md`` (``--out``) and prints the Markdown table.
``run_classroom`` is also used by tests/test_classroom_load.py on an in-process server with a tiny model.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from deploy.replicas import COOKIE

ROOT = Path(__file__).resolve().parent.parent
PROMPTS = ["ROMEO:", "JULIET:\nO Romeo, Romeo!", "To be, or not to be", "KING LEAR:\n", "First Citizen:\nBefore we proceed",
           "The quality of mercy", "MACBETH:\nIs this a dagger", "Friends, Romans, countrymen"]
# the page's sampling controls (the UI defaults) and view controls, by API name, in the page's order
SAMPLING = dict(strategy="sample", temperature=1.0, top_k=0, top_p=1.0, min_p=0.0, repetition_penalty=1.0, seed=0,
                max_new_tokens=50, stop="", num_beams=4, length_penalty=1.0)
VIEW = dict(view_step=0, view_layer=0, view_head=0, bars="probabilities")


def controls(model_name: str = "shakespeare", prompt: str = "ROMEO:", kv_cache=True, **overrides) -> list:
    """The 19 values a page event takes: state (null: the server keeps it), model, prompt, kv, 11 + 4 controls."""
    values = {**SAMPLING, **VIEW}
    unknown = set(overrides) - set(values)
    if unknown:
        raise TypeError(f"unknown controls: {sorted(unknown)}")
    values.update(overrides)
    return [None, model_name, prompt, kv_cache, *values.values()]


@dataclass
class Result:
    """One event's answer: its outputs, or the message it failed with; warnings it logged."""

    ok: bool
    data: list | None = None
    error: str | None = None  # the message a browser would show (None = Gradio's bare "Error")
    logs: list[tuple[str, str]] = field(default_factory=list)  # (level, message): gr.Warning / gr.Info
    ms: float = 0.0
    kind: str = ""  # "" | "event_failed" | "queue_full" | "http_<code>" | "stream"

    @property
    def status(self) -> str:
        """The status markdown of a page event (outputs: state, chips, text, status, ...)."""
        return self.data[3] if self.ok and self.data and len(self.data) > 3 else ""

    @property
    def text(self) -> str:
        return self.data[2] if self.ok and self.data and len(self.data) > 2 else ""


def fetch_config(base: str, http: httpx.Client | None = None) -> dict:
    """api_name -> (fn_index, trigger id) of every named event of the page."""
    config = (http or httpx).get(base.rstrip("/") + "/config", timeout=30).raise_for_status().json()
    return {d["api_name"]: (d["id"], d["targets"][0][0] if d.get("targets") else None)
            for d in config["dependencies"] if d.get("api_name")}


class QueueSession:
    """One browser tab: joins the Gradio queue and reads its server-sent events (no gradio_client).

    NaN and ±inf are sent as the JSON literals ``NaN`` / ``Infinity`` (what a hand-written client can send).
    """

    def __init__(self, base: str, events: dict | None = None, timeout: float = 120.0, http: httpx.Client | None = None):
        self.base = base.rstrip("/")
        self.http = http or httpx.Client(timeout=timeout)
        self._own_http = http is None
        self.session_hash = uuid.uuid4().hex[:12]
        self.events = events if events is not None else fetch_config(self.base, self.http)

    def join(self, api_name: str, data: list, event_data=None) -> tuple[str | None, Result | None]:
        """(event_id, None), or (None, a failed Result) when the join itself is refused."""
        fn_index, trigger = self.events[api_name]
        body = dict(data=data, fn_index=fn_index, trigger_id=trigger, session_hash=self.session_hash,
                    event_data=event_data)
        r = self.http.post(self.base + "/gradio_api/queue/join", content=json.dumps(body, allow_nan=True),
                           headers={"Content-Type": "application/json"})
        if r.status_code != 200:
            kind = "queue_full" if r.status_code == 503 else f"http_{r.status_code}"
            try:
                detail = r.json().get("detail")
            except ValueError:
                detail = r.text[:300]
            return None, Result(False, error=str(detail), kind=kind)
        return r.json()["event_id"], None

    def wait(self, event_ids: list[str]) -> dict[str, Result]:
        """Read this session's stream until every event in ``event_ids`` completed."""
        results: dict[str, Result] = {}
        logs: dict[str, list] = {e: [] for e in event_ids}
        t0 = time.perf_counter()
        with self.http.stream("GET", self.base + "/gradio_api/queue/data",
                              params={"session_hash": self.session_hash}) as r:
            for line in r.iter_lines():
                if not line.startswith("data:"):
                    continue
                msg = json.loads(line[5:])
                eid = msg.get("event_id")
                if msg.get("msg") == "log" and eid in logs:
                    logs[eid].append((msg.get("level"), msg.get("log")))
                elif msg.get("msg") == "process_completed" and eid in logs:
                    ms = (time.perf_counter() - t0) * 1e3
                    out = msg.get("output") or {}
                    if msg.get("success"):
                        results[eid] = Result(True, data=out.get("data"), logs=logs[eid], ms=ms)
                    else:
                        results[eid] = Result(False, error=out.get("error"), logs=logs[eid], ms=ms,
                                              kind="event_failed")
                    if len(results) == len(event_ids):
                        break
                elif msg.get("msg") == "unexpected_error":
                    for e in event_ids:
                        results.setdefault(e, Result(False, error=msg.get("message"), kind="stream"))
                    break
        for e in event_ids:
            results.setdefault(e, Result(False, error="the stream closed before the event completed", kind="stream"))
        return results

    def call(self, api_name: str, data: list, event_data=None) -> Result:
        t0 = time.perf_counter()
        event_id, refused = self.join(api_name, data, event_data)
        if refused is not None:
            return refused
        res = self.wait([event_id])[event_id]
        res.ms = (time.perf_counter() - t0) * 1e3
        return res

    def close(self) -> None:
        if self._own_http:
            self.http.close()


# -- the students ---------------------------------------------------------------------------------------
@dataclass
class Student:
    """One simulated student: what it did (to replay it alone) and what the server answered."""

    index: int
    seed: int
    prompt: str
    actions: list = field(default_factory=list)  # ("step",) | ("resample", temperature) since the last restart
    temperature: float = 1.0
    last_text: str | None = None  # the text after the newest successful event of the current run
    step_ms: list = field(default_factory=list)
    errors: dict = field(default_factory=dict)  # kind -> count
    busy: int = 0  # joins refused with 503 (queue full): the documented "busy"
    examples: list = field(default_factory=list)
    events: int = 0
    replica: str | None = None  # behind HAProxy: the replica its sticky cookie named at the end


def _student_loop(base: str, events: dict, st: Student, deadline: float, max_steps: int, stop: threading.Event,
                  think_s: float = 0.0) -> None:
    rng = random.Random(st.seed)
    pause = random.Random(st.seed + 1)  # its own stream: thinking must not change which actions are drawn
    sess = QueueSession(base, events=events)

    def do(api: str, **kw) -> Result:
        res = sess.call(api, controls(prompt=st.prompt, seed=st.seed, temperature=st.temperature, **kw))
        st.events += 1
        if think_s:  # a student reads the page before the next click: 0.5-1.5 x think_s
            time.sleep(pause.uniform(0.5, 1.5) * think_s)
        if res.kind == "queue_full":
            st.busy += 1
            time.sleep(0.2)
        elif not res.ok:
            st.errors[res.kind] = st.errors.get(res.kind, 0) + 1
            if len(st.examples) < 3:
                st.examples.append(f"{api}: {res.kind}: {str(res.error)[:200]}")
        return res

    try:
        while time.perf_counter() < deadline and not stop.is_set():
            st.temperature = 1.0
            st.actions, st.last_text = [], None
            if not do("set_prompt").ok:
                continue
            n = rng.randint(3, max_steps)
            while len([a for a in st.actions if a[0] == "step"]) < n and time.perf_counter() < deadline:
                if st.actions and rng.random() < 0.25:  # a slider released: re-decide the newest token
                    temperature = rng.choice([0.0, 0.5, 0.8, 1.2, 1.5])
                    st.temperature, before = temperature, st.temperature
                    res = do("resample")
                    if res.ok:
                        st.actions.append(("resample", temperature))
                    else:
                        st.temperature = before
                else:
                    res = do("step")
                    if res.ok:
                        st.step_ms.append(res.ms)
                        st.actions.append(("step", st.temperature))
                if res.ok:
                    st.last_text = res.text
                    if "Stopped:" in res.status:  # the model wrote its end-of-text token: start over
                        break
                elif res.kind != "queue_full":
                    break  # a failed event leaves the run unknown: start over
    finally:
        st.replica = sess.http.cookies.get(COOKIE)
        sess.close()


def replay(model, tokenizer, st: Student) -> str:
    """The text the student's current run must show, generated alone in this process."""
    from playground.config import SamplingParams
    from playground.session import Session

    params = dict(SAMPLING, seed=st.seed, stop=())
    s = Session(model, tokenizer, st.prompt, SamplingParams(**dict(params, temperature=1.0)))
    for action, temperature in st.actions:
        p = SamplingParams(**dict(params, temperature=temperature))
        if action == "step":
            s.set_params(p)
            s.step()
        else:
            s.resample(p)
    return s.text


def rss_mb(pid: int | list[int]) -> float:
    """Resident memory of a process, or the sum over several (the replicas behind a proxy), MiB."""
    if isinstance(pid, list):
        return sum(rss_mb(p) for p in pid)
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def pct(xs: list[float], q: float) -> float | None:
    if not xs:
        return None
    xs = sorted(xs)
    k = (len(xs) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def run_classroom(base: str, model, tokenizer, students: int = 40, seconds: float = 60.0, max_steps: int = 12,
                  server_pid: int | list[int] | None = None, sample_s: float = 0.5, think_s: float = 0.0) -> dict:
    """Run the students against the page at ``base``; ``model``/``tokenizer`` replay them for the check."""
    events = fetch_config(base)
    pid = server_pid or os.getpid()
    rss_before = rss_mb(pid)
    roster = [Student(i, seed=1000 + 7 * i, prompt=PROMPTS[i % len(PROMPTS)]) for i in range(students)]
    stop = threading.Event()
    deadline = time.perf_counter() + seconds
    threads = [threading.Thread(target=_student_loop, args=(base, events, st, deadline, max_steps, stop, think_s), daemon=True)
               for st in roster]
    peak = rss_before
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    try:
        while any(t.is_alive() for t in threads):
            peak = max(peak, rss_mb(pid))
            time.sleep(sample_s)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=120)
    wall = time.perf_counter() - t0
    peak = max(peak, rss_mb(pid))
    mismatches = []
    checked = 0
    for st in roster:
        if st.last_text is None or not st.actions:
            continue
        checked += 1
        want = replay(model, tokenizer, st)
        if want != st.last_text:
            mismatches.append(dict(student=st.index, seed=st.seed, actions=len(st.actions), server=st.last_text[-80:],
                                   alone=want[-80:]))
    errors: dict[str, int] = {}
    for st in roster:
        for k, v in st.errors.items():
            errors[k] = errors.get(k, 0) + v
    steps = [ms for st in roster for ms in st.step_ms]
    return dict(
        students=students, seconds=seconds, wall_s=round(wall, 1), events=sum(st.events for st in roster),
        steps=len(steps), busy_refusals=sum(st.busy for st in roster), errors=errors,
        error_examples=[e for st in roster for e in st.examples][:5],
        cross_talk=dict(checked=checked, mismatches=len(mismatches), examples=mismatches[:3]),
        step_ms=dict(p50=pct(steps, 0.5), p95=pct(steps, 0.95), max=max(steps) if steps else None),
        rss_mb=dict(before=round(rss_before, 1), peak=round(peak, 1)),
        per_replica=dict(sorted(Counter(st.replica for st in roster if st.replica).items())),
    )


def wait_expired(pid: int | list[int], ttl_s: float, settle_s: float = 5.0) -> float:
    """RSS after every student's state has outlived its TTL (Gradio deletes expired state every second)."""
    time.sleep(ttl_s + settle_s)
    return round(rss_mb(pid), 1)


def markdown(r: dict) -> str:
    s, rss = r["step_ms"], r["rss_mb"]
    fmt = (lambda x: "—" if x is None else f"{x:.0f}")
    errs = ", ".join(f"{k}: {v}" for k, v in r["errors"].items()) or "none"
    pace = "clicking again at once" if not r.get("think_s") else f"~{r['think_s']:g} s between clicks"
    rows = [
        "| measure | value |", "|---|---|",
        f"| students (separate sessions) | {r['students']} for {r['seconds']:g} s (wall {r['wall_s']} s), "
        f"{pace} |",
        f"| events / steps | {r['events']:,} / {r['steps']:,} |",
        f"| errors by kind | {errs} |",
        f"| busy (queue full, 503) | {r['busy_refusals']} |",
        f"| cross-talk (texts ≠ replay alone) | {r['cross_talk']['mismatches']} of {r['cross_talk']['checked']} |",
        f"| step latency p50 / p95 / max | {fmt(s['p50'])} / {fmt(s['p95'])} / {fmt(s['max'])} ms |",
        f"| server RSS{' (sum of the replicas)' if r.get('replicas', 1) > 1 else ''} before / peak / after expiry | "
        f"{rss['before']} / {rss['peak']} / {rss.get('after', '—')} MiB |",
    ]
    if r.get("server"):
        rows.insert(2, f"| server | {r['server']} |")
    if r.get("per_replica"):
        rows.append("| students per replica (their sticky cookie) | "
                    + ", ".join(f"{k}: {v}" for k, v in r["per_replica"].items()) + " |")
    if len(r.get("waves", [])) > 1:
        ws = r["waves"]
        rows.append("| later waves (new classes): steps, errors, cross-talk, p50 / p95 | " + "; ".join(
            f"{w['steps']:,}, {sum(w['errors'].values())}, {w['cross_talk']}, {fmt(w['p50'])} / {fmt(w['p95'])} ms"
            for w in ws[1:]) + " |")
        rows.append("| server RSS after each wave expired | " + " → ".join(f"{w['after']}" for w in ws) + " MiB |")
    if r.get("command"):
        rows.append(f"| command | `{r['command']}` |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--students", type=int, default=40)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--max-steps", type=int, default=12, help="steps per run before a student starts over")
    ap.add_argument("--think", type=float, default=0.0,
                    help="mean seconds a student waits between clicks (0: click again at once, the worst case)")
    ap.add_argument("--waves", type=int, default=1, help="classes one after another, each after the last expired")
    ap.add_argument("--ttl", type=float, default=20.0, help="PLAYGROUND_STATE_TTL_S of the server, seconds")
    ap.add_argument("--out", default=str(ROOT / "logs" / "classroom-load"), help="writes OUT.json and OUT.md")
    ap.add_argument("--replicas", type=int, default=1,
                    help="app processes; more than one (or --proxy) are served behind HAProxy with sticky sessions (deploy/)")
    ap.add_argument("--proxy", action="store_true", help="serve through HAProxy even with one replica")
    a = ap.parse_args(argv)

    from benchmarks.ui_http import free_port, stop as stop_server, wait_for_page
    from playground.weights import load_model

    if a.replicas > 1 or a.proxy:
        from deploy.replicas import Deployment

        dep = Deployment(a.replicas, env={"PLAYGROUND_STATE_TTL_S": str(a.ttl)}).start()
        base, servers, pids, stop = dep.url, [r.url for r in dep.replicas], [r.proc.pid for r in dep.replicas], dep.close
        ready = lambda: None  # noqa: E731  (start() waited for every replica and HAProxy)
        server = (f"{a.replicas} x python app.py ({dep.threads} torch thread(s) each) behind HAProxy "
                  "(cookie-sticky, deploy/), 127.0.0.1")
    else:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {**os.environ, "PYTHONPATH": str(ROOT), "GRADIO_ANALYTICS_ENABLED": "False", "GRADIO_SERVER_PORT": str(port),
               "GRADIO_SERVER_NAME": "127.0.0.1", "PLAYGROUND_STATE_TTL_S": str(a.ttl)}
        proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        servers, pids, stop = [base], proc.pid, lambda: stop_server(proc)
        ready = lambda: wait_for_page(base, proc)  # noqa: E731
        server = "python app.py, 127.0.0.1"
    try:
        ready()
        for url in servers:  # each replica's first page load reads the model; the "before" figure includes it
            warm = QueueSession(url)
            first = warm.call("load_page", controls())
            warm.close()
            if not first.ok:
                raise RuntimeError(f"the page did not load: {first.error}")
        model, tok = load_model("shakespeare")
        model.eval()
        waves = []
        for _ in range(a.waves):  # a new class each wave: memory must come back to the same level every time
            w = run_classroom(base, model, tok, students=a.students, seconds=a.seconds, max_steps=a.max_steps,
                              server_pid=pids, think_s=a.think)
            w["rss_mb"]["after"] = wait_expired(pids, a.ttl)
            waves.append(w)
        r = waves[0]
        r["waves"] = [dict(steps=w["steps"], errors=w["errors"], busy=w["busy_refusals"],
                           cross_talk=w["cross_talk"]["mismatches"], p50=w["step_ms"]["p50"], p95=w["step_ms"]["p95"],
                           **w["rss_mb"]) for w in waves]
        r["think_s"] = a.think
        r["state_ttl_s"] = a.ttl
        r["server"] = server.replace("python app.py", "python app.py (embedded model, the app's queue: 2 at a time, 64 waiting)")
        r["replicas"] = a.replicas
        settings = "".join(f"{k}={os.environ[k]} " for k in ("PLAYGROUND_MAX_SESSIONS", "PLAYGROUND_TORCH_THREADS")
                           if k in os.environ)  # server settings that change what is measured
        r["command"] = settings + "python -m benchmarks.classroom_load " + " ".join(argv if argv is not None else sys.argv[1:])
        r["cpus"] = os.cpu_count()
    finally:
        stop()
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(r, indent=2, ensure_ascii=False) + "\n")
    md = "# Classroom load\n\n" + markdown(r) + "\n"
    out.with_suffix(".md").write_text(md)
    print(md)
    return r


if __name__ == "__main__":
    main()
