"""Speed of the page in a real browser (issue 18, point 3): from a click until the page stops changing.

    python -m benchmarks.browser_speed [--rounds 8] [--model embedded] [--tree PATH ...] [--projector] [--out logs/browser-speed]

Serves the page (``benchmarks/serve.py``: the app's launch settings, one torch thread) and drives it in
Debian's Chromium at 1280×800 with Playwright. A MutationObserver on the whole document stamps every
change; an action is *settled* when its result is there (one more token chip, the server's figure, the
tab's plot drawn) and nothing has changed for ``QUIET_MS``; its time is the last change minus the
moment of the click (or of letting go of the slider), both in the page's clock. Measured, per round:
  step         a click on Step -> the new token's chips, status and every view it redraws;
  slider       the temperature handle dragged and let go -> the server's re-decided figure;
  live frame   while it is dragged, each animation frame's work (static/pipeline.js redrawing the bars
               in the page): from the frame's start to the end of its redraw;
  tab switch   Next token -> Attention, Attention -> KV cache, KV cache -> Next token;
  first page   a fresh browser tab: navigation -> prompt chips and the next-token plot drawn, settled
               (the first after the server answers, then one per round).
Beside each action, what it cost (the breakdown issue 18 asks for): the Gradio events it fired and
how many outputs they carry, the bytes the event stream brought (Chrome's network log), when the last
of them arrived, and so how long the browser drew after it; how many times Gradio called Plotly.react
and how many full draws plotly.js made ("plotly_afterplot"): counts, which other load on the machine
does not change; the renderer main thread's busy time (Chrome's TaskDuration); and the same events
through the raw queue protocol without a browser (``ui_http.QueueClient``: server + queue + JSON).

``--tree`` serves another checkout with the same benchmark (each tree's server is up for the whole
run and the rounds alternate between them: before/after ratios taken under the same load).
``--smoke`` runs one quick round on a tiny random model (the test); its figures mean nothing.
Writes ``<out>.json`` and ``<out>.md``.
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from benchmarks.ui_http import QueueClient, free_port, stop, wait_for_page

ROOT = Path(__file__).resolve().parent.parent
TARGETS = dict(step=250.0, slider=100.0, live_frame=16.0, tab=300.0, first_page=3000.0)  # ms, medians
QUIET_MS = 400  # no change for this long: settled
VIEWPORT = dict(width=1280, height=800)
TIMEOUT_MS = 30_000
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]  # as tests/conftest.py
TEMPERATURES = (0.6, 1.4, 0.8, 1.2, 0.5, 1.5, 0.7, 1.3, 0.9, 1.1)  # where each round lets the handle go
MEASURES = ("step", "slider", "live_frame", "tab", "first_page")
TABS = (("Attention", "attn-heatmap"), ("KV cache", "latency-plot"), ("Next token", "next-plot"))

# installed before the page's own scripts: the change clock and the moment of the user's action
INIT_JS = """(() => {
  const B = window.__bench = {last: 0, changes: 0, t0: null, arm: null, frames: [], framesOn: false, reacts: 0,
                               draws: 0};
  const mark = () => { B.last = performance.now(); B.changes++; };
  new MutationObserver(mark).observe(document, {subtree: true, childList: true, attributes: true,
                                                characterData: true});
  for (const type of ["click", "pointerup"]) {
    window.addEventListener(type, () => { if (B.arm === type) { B.t0 = performance.now(); B.arm = null; } }, true);
  }
})();"""
# after the page's scripts (so after static/pipeline.js's listener): time each frame a slider's input redraws
FRAMES_JS = """(id) => {
  const B = window.__bench;
  if (B.framesOn) return;
  B.framesOn = true;
  let pending = false;
  document.addEventListener("input", (e) => {
    if (pending || !e.target.closest || !e.target.closest("#" + id)) return;
    pending = true;  // queued after pipeline.js's frame callback: it runs once that one has redrawn
    requestAnimationFrame((start) => { B.frames.push(performance.now() - start); pending = false; });
  }, true);
}"""
# once a plot is on the page: count Gradio's Plotly.react calls, and the full draws plotly.js makes (each ends with
# "plotly_afterplot", emitted on a plot's two event emitters, which share the prototype patched here)
HOOK_JS = """() => {
  const P = window.Plotly, B = window.__bench, gd = document.querySelector(".js-plotly-plot");
  if (!P || P.benchHooked || !gd || !gd._ev) return;
  P.benchHooked = true;
  const react = P.react;
  P.react = function (...args) { B.reacts++; return react.apply(this, args); };
  const proto = Object.getPrototypeOf(gd._ev), emit = proto.emit;
  proto.emit = function (name, ...args) {
    if (name === "plotly_afterplot") B.draws += 0.5;  // once per emitter, two per plot
    return emit.call(this, name, ...args);
  };
}"""
PLOT = "document.querySelector('#{0} .js-plotly-plot')"
DRAWN = ("(() => {{ const gd = " + PLOT + "; if (!gd || !gd.querySelector('.main-svg')) return false;"
         " const r = gd.getBoundingClientRect(); return r.width > 0 && r.height > 0; }})()")


@dataclass
class Server:
    """One tree's page, served for the whole run."""

    tree: Path
    proc: subprocess.Popen
    base: str
    info: dict
    up_s: float  # process start -> GET / answers
    events: dict = field(default_factory=dict)  # fn_index -> (api_name, number of outputs)


def start_server(tree: Path, model: str) -> Server:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(tree), "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "benchmarks.serve", "--model", model, "--port", str(port)],
                            cwd=tree, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    info = None
    for line in proc.stdout:
        if line.startswith("READY "):
            info = json.loads(line[6:])
            break
    if info is None:
        raise RuntimeError(f"benchmarks.serve in {tree} exited before serving")
    base = f"http://127.0.0.1:{port}"
    wait_for_page(base, proc)
    up = time.perf_counter() - t0
    config = httpx.get(base + "/config", timeout=30).json()
    events = {d["id"]: (d.get("api_name") or f"#{d['id']}", len(d.get("outputs", []))) for d in config["dependencies"]}
    return Server(tree, proc, base, info, up, events)


class NetLog:
    """What the page's event stream (``/queue/data``) received and which events it joined (Chrome's network log).

    Chrome stamps network events on its monotonic clock; ``wallTime`` beside it maps them to the page's clock."""

    def __init__(self, context, page):
        self.cdp = context.new_cdp_session(page)
        self.cdp.send("Network.enable")
        self.cdp.send("Performance.enable")
        self.urls: dict[str, str] = {}
        self.offset_ms = 0.0  # wall-clock ms minus Chrome's monotonic ms
        self.joins: list[int] = []
        self.chunks: list[tuple[float, int]] = []  # (monotonic ms, bytes) of /queue/data
        self.cdp.on("Network.requestWillBeSent", self._request)
        self.cdp.on("Network.dataReceived", self._data)

    def _request(self, e: dict) -> None:
        url = e["request"]["url"]
        self.urls[e["requestId"]] = url
        self.offset_ms = e["wallTime"] * 1e3 - e["timestamp"] * 1e3
        if url.endswith("/queue/join") or "/queue/join?" in url:
            try:
                self.joins.append(json.loads(e["request"].get("postData") or "{}").get("fn_index"))
            except ValueError:
                self.joins.append(None)

    def _data(self, e: dict) -> None:
        if "/queue/data" in self.urls.get(e["requestId"], ""):
            self.chunks.append((e["timestamp"] * 1e3, e["dataLength"]))

    def reset(self) -> None:
        self.joins, self.chunks = [], []

    def last_byte(self, time_origin_ms: float, start: float, end: float) -> float | None:
        """When the last chunk arriving from ``start`` to ``end`` came, in the page's clock (ms since navigation)."""
        times = [t + self.offset_ms - time_origin_ms for t, _ in self.chunks]
        return max((t for t in times if start <= t <= end), default=None)

    def busy(self) -> dict:
        """The renderer main thread's cumulative busy seconds (all tasks, scripts, layout, style)."""
        m = {x["name"]: x["value"] for x in self.cdp.send("Performance.getMetrics")["metrics"]}
        return {k: m.get(k, 0.0) for k in ("TaskDuration", "ScriptDuration", "LayoutDuration", "RecalcStyleDuration")}


@dataclass
class Tab:
    """One tree's browser tab for the rounds."""

    server: Server
    page: object
    net: NetLog
    results: dict = field(default_factory=lambda: {k: [] for k in MEASURES})
    detail: dict = field(default_factory=dict)  # action -> [{events, bytes, last_byte_ms, render_ms, ...}]
    first_cold_ms: float = 0.0  # the first page once the server answered


def settle(tab: Tab, act, done_js: str, action: str, arm: str = "click", quiet: int = QUIET_MS) -> float:
    """Do ``act``; once ``done_js`` holds and the page has been quiet ``quiet`` ms, the ms from the action to
    the last change. Records in ``tab.detail`` what the action cost: its events, bytes, last byte's arrival,
    Plotly.react calls and full draws, and the renderer's main-thread time (Chrome's TaskDuration, less
    sensitive to other load on the machine than the wall clock)."""
    page = tab.page
    page.evaluate(HOOK_JS)
    page.evaluate("(a) => { const B = window.__bench; B.t0 = null; B.arm = a; B.r0 = B.reacts; B.d0 = B.draws; }", arm)
    busy0 = tab.net.busy()
    tab.net.reset()
    act()
    page.wait_for_function(f"() => window.__bench.t0 !== null && ({done_js}) && "
                           f"performance.now() - window.__bench.last >= {quiet}", polling=50, timeout=TIMEOUT_MS)
    r = page.evaluate("() => { const B = window.__bench; return {t0: B.t0, last: B.last, "
                      "origin: performance.timeOrigin,"
                      " reacts: B.reacts - B.r0, draws: B.draws - B.d0}; }")
    busy = {k: (v - busy0[k]) * 1e3 for k, v in tab.net.busy().items()}
    ms = max(0.0, r["last"] - r["t0"])
    last_byte = tab.net.last_byte(r["origin"], r["t0"], r["t0"] + ms)
    names = [tab.server.events.get(i, (f"#{i}", 0)) for i in tab.net.joins]
    tab.detail.setdefault(action, []).append(dict(
        ms=ms, events=[n for n, _ in names], outputs=sum(k for _, k in names),
        bytes=sum(b for _, b in tab.net.chunks), reacts=r["reacts"], draws=r["draws"],
        main_thread_ms=busy["TaskDuration"], script_ms=busy["ScriptDuration"],
        last_byte_ms=None if last_byte is None else last_byte - r["t0"],
        render_ms=None if last_byte is None else r["t0"] + ms - last_byte))
    return ms


def open_page(context, server: Server, quiet: int = QUIET_MS, log: bool = False,
              query: str = "") -> tuple[object, float, NetLog]:
    """A fresh tab on the page; ms from navigation start to prompt chips and next-token plot drawn, settled; the
    tab's network log (``log``: from before it opens, so it knows the event stream the page opens at once)."""
    page = context.new_page()
    page.set_viewport_size(VIEWPORT)
    net = NetLog(context, page) if log else None
    page.goto(server.base + query)
    page.wait_for_function(f"() => document.querySelector('#chips .tok.prompt') && {DRAWN.format('next-plot')} && "
                           f"performance.now() - window.__bench.last >= {quiet}", polling=50, timeout=TIMEOUT_MS)
    return page, page.evaluate("window.__bench.last"), net


def step(tab: Tab, quiet: int) -> None:
    page = tab.page
    chips = "document.querySelectorAll('#chips .tok.gen').length"
    n = page.evaluate(chips)
    if page.locator("#status").inner_text().count("stopped") or n >= 40:  # a finished text: start over (not timed)
        page.locator("#reset").click()
        page.wait_for_function(f"{chips} === 0", timeout=TIMEOUT_MS)
        n = 0
    tab.results["step"].append(settle(tab, lambda: page.locator("#step").click(), f"{chips} === {n + 1}", "step",
                                      quiet=quiet))


def slider(tab: Tab, target: float, quiet: int) -> None:
    """Drag the temperature handle to ``target`` in small moves, let go: live frames, then the server's figure."""
    page = tab.page
    rng = page.locator("#temperature input[type=range]")
    rng.scroll_into_view_if_needed()
    box = rng.bounding_box()
    lo, hi = float(rng.get_attribute("min") or 0), float(rng.get_attribute("max") or 2)
    x_at = lambda v: box["x"] + box["width"] * (v - lo) / (hi - lo)  # noqa: E731
    y = box["y"] + box["height"] / 2
    now = float(rng.input_value())
    page.evaluate(FRAMES_JS, "temperature")
    page.evaluate("() => { window.__bench.frames = []; window.__bench.data = "
                  f"{PLOT.format('next-plot')}.data; }}")
    page.mouse.move(x_at(now), y)
    page.mouse.down()
    for k in range(1, 7):
        page.mouse.move(x_at(now + (target - now) * k / 6), y, steps=2)
        page.wait_for_timeout(40)
    tab.results["live_frame"] += page.evaluate("window.__bench.frames")
    replaced = f"{PLOT.format('next-plot')}.data !== window.__bench.data"  # the server's figure (Plotly.react)
    tab.results["slider"].append(settle(tab, page.mouse.up, replaced, "slider", arm="pointerup", quiet=quiet))


def switch_tabs(tab: Tab, quiet: int) -> None:
    page = tab.page
    for name, plot in TABS:
        button = page.get_by_role("tab", name=name, exact=True)
        tab.results["tab"].append(settle(tab, button.click, DRAWN.format(plot), f"tab → {name}", quiet=quiet))


def server_only(server: Server, prompt: str, repeats: int) -> dict:
    """The same events through the raw queue protocol (no browser), on the page's prompt: ms from POST to
    completion, JSON bytes."""
    from benchmarks import ui_http

    def controls(*args, **kw) -> list:
        return [c if c != ui_http.PROMPT else prompt for c in ui_http.controls(*args, **kw)]

    client = QueueClient(server.base)
    n_layer = server.info["n_layer"]
    out: dict = {}

    def call(name: str, data: list) -> None:
        try:
            ms, output = client.call(name, data)
        except RuntimeError as e:  # another tree's endpoint of another signature (--tree): left out, said why
            print(f"server-only {name} on {server.tree}: {e}", file=sys.stderr)
            return
        out.setdefault(name, dict(ms=[], bytes=[]))
        out[name]["ms"].append(ms)
        out[name]["bytes"].append(len(json.dumps(output)))

    try:
        client.call("load_page", controls(n_layer, 50))
        client.call("step", controls(n_layer, 50))  # warm-up: the prefill
        for i in range(repeats):
            call("step", controls(n_layer, 50))
            call("resample", controls(n_layer, 50, view_step=i + 1, temperature=TEMPERATURES[i % len(TEMPERATURES)]))
            inside = [*controls(n_layer, 50)[:4], 0, 0, *controls(n_layer, 50)[4:]]
            for name, data in (("tab_seen", []), ("inside", inside)):
                if name in client.events:  # what a Step's status change and a tab click also run
                    call(name, data)
    finally:
        client.close()
    return {k: dict(ms=statistics.median(v["ms"]), bytes=statistics.median(v["bytes"]), n=len(v["ms"]))
            for k, v in out.items()}


def summarise(xs: list[float]) -> dict | None:
    if not xs:
        return None
    return dict(median=statistics.median(xs), min=min(xs), max=max(xs), n=len(xs))


def _median_of(rows: list[dict], key: str) -> float | None:
    values = [r[key] for r in rows if r[key] is not None]
    return statistics.median(values) if values else None


def breakdown(detail: dict) -> dict:
    """Per action: the events it fired (and their outputs), bytes received, last byte and drawing after it."""
    out = {}
    for action, rows in detail.items():
        med = functools.partial(_median_of, rows)
        out[action] = dict(events=max((r["events"] for r in rows), key=len), outputs=med("outputs"),
                           bytes=med("bytes"), ms=med("ms"), last_byte_ms=med("last_byte_ms"),
                           render_ms=med("render_ms"), reacts=med("reacts"), draws=med("draws"),
                           main_thread_ms=med("main_thread_ms"), script_ms=med("script_ms"), n=len(rows))
    return out


def run(trees: list[Path], model: str, rounds: int, quiet: int, server_repeats: int, query: str = "") -> dict:
    """Every tree's server up at once; the rounds alternate between them (see the top)."""
    from playwright.sync_api import sync_playwright

    servers, tabs = [], []
    t_start = time.perf_counter()
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"),
                                         args=CHROMIUM_ARGS)
            context = browser.new_context(viewport=VIEWPORT)
            context.add_init_script(INIT_JS)
            for tree in trees:
                server = start_server(tree, model)
                servers.append(server)
                page, first, net = open_page(context, server, quiet, log=True, query=query)  # once the server answers
                tabs.append(Tab(server, page, net, first_cold_ms=first))
            for r in range(rounds):
                for tab in tabs:
                    step(tab, quiet)
                    slider(tab, TEMPERATURES[r % len(TEMPERATURES)], quiet)
                    switch_tabs(tab, quiet)
                    fresh, ms, _ = open_page(context, tab.server, quiet, query=query)
                    fresh.close()
                    tab.results["first_page"].append(ms)
            server_side = [server_only(t.server, t.page.locator("#prompt textarea").input_value(), server_repeats)
                           for t in tabs]
            browser.close()
    finally:
        for s in servers:
            stop(s.proc)
    out = []
    for tab, srv in zip(tabs, server_side):
        out.append(dict(tree=str(tab.server.tree), model=tab.server.info, server_up_s=tab.server.up_s,
                        first_page_cold_ms=tab.first_cold_ms,
                        **{k: summarise(v) for k, v in tab.results.items()},
                        breakdown=breakdown(tab.detail), server_only=srv, raw=tab.results))
    return dict(trees=out, rounds=rounds, quiet_ms=quiet, viewport=VIEWPORT, targets=TARGETS, query=query,
                load_average=os.getloadavg(), elapsed_s=time.perf_counter() - t_start)


def _range(s: dict | None, unit: float = 1.0, fmt: str = "{:.0f}") -> str:
    if not s:
        return "—"
    f = lambda x: fmt.format(x / unit)  # noqa: E731
    return f"**{f(s['median'])}** ({f(s['min'])}–{f(s['max'])}, n={s['n']})"


def markdown(res: dict, command: str) -> str:
    rows = [("Step", "step", "ms", 1.0, "{:.0f}"), ("slider let go → server's figure", "slider", "ms", 1.0, "{:.0f}"),
            ("live redraw frame while dragging", "live_frame", "ms", 1.0, "{:.1f}"),
            ("tab switch", "tab", "ms", 1.0, "{:.0f}"), ("first page (fresh tab), s", "first_page", "s", 1e3, "{:.2f}")]
    trees = res["trees"]
    lines = [f"# Page speed in the browser (issue 18, point 3)\n", f"Command: `{command}`  ",
             f"Chromium (Debian) at {res['viewport']['width']}×{res['viewport']['height']}"
             f"{' in projector mode' if res.get('query') else ''}, {res['rounds']} rounds, "
             f"settled = {res['quiet_ms']} ms without a DOM change; load average at the end "
             f"{', '.join(f'{x:.1f}' for x in res['load_average'])}; {res['elapsed_s']:.0f} s in all.  ",
             f"Model: {trees[0]['model'].get('weights')} ({trees[0]['model'].get('n_layer')} layers, "
             f"{trees[0]['model'].get('n_embd')} wide, vocabulary {trees[0]['model'].get('vocab_size')}).\n",
             "Medians (range, count); targets are medians on an idle machine.\n",
             "| measure | " + " | ".join(Path(t["tree"]).name or t["tree"] for t in trees) + " | target |",
             "|---|" + "---|" * len(trees) + "---|"]
    for name, key, unit, div, fmt in rows:
        target = TARGETS[key] / div
        lines.append(f"| {name} | " + " | ".join(_range(t[key], div, fmt) for t in trees) +
                     f" | ≤ {target:g} {unit} |")
    lines.append("| first page right after the server is up, s | " +
                 " | ".join(f"{t['first_page_cold_ms'] / 1e3:.2f}" for t in trees) + " | ≤ 3 s |")
    if len(trees) > 1:
        base = trees[0]
        lines.append(f"| ratio of medians, {Path(trees[-1]['tree']).name} / {Path(base['tree']).name} | " + " · ".join(
            f"{k}: {trees[-1][k]['median'] / base[k]['median']:.2f}×" for _, k, *_ in rows
            if trees[-1][k] and base[k] and base[k]["median"]) + " | | |")
    for t in trees:
        lines += ["", f"## Where the time goes: {t['tree']}", "",
                  "| action | events fired (Gradio) | outputs | bytes received | settled | last byte "
                  "| drawing after it "
                  "| Plotly.react calls / full draws | browser main thread (of it JS) |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for action, b in t["breakdown"].items():
            ms = lambda x: "—" if x is None else f"{x:.0f} ms"  # noqa: E731
            lines.append(f"| {action} | {', '.join(b['events']) or '—'} | {b['outputs']:.0f} | "
                         f"{(b['bytes'] or 0) / 1024:.1f} KiB | {ms(b['ms'])} | {ms(b['last_byte_ms'])} | "
                         f"{ms(b['render_ms'])} | {b['reacts']:.0f} / {b['draws']:.0f} | "
                         f"{ms(b['main_thread_ms'])} ({ms(b['script_ms'])}) |")
        lines += ["", "Server only (raw queue protocol, no browser; median ms from POST to completion, JSON):", "",
                  "| event | ms | JSON |", "|---|---|---|"]
        for name, s in t["server_only"].items():
            lines.append(f"| {name} | {s['ms']:.0f} | {s['bytes'] / 1024:.1f} KiB |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--model", default="embedded", help="embedded | gpt2-small | tiny (see benchmarks/serve.py)")
    ap.add_argument("--tree", action="append", type=Path,
                    help="a checkout to serve (repeat to compare; default: this one)")
    ap.add_argument("--out", type=Path, default=ROOT / "logs" / "browser-speed", help="writes OUT.json and OUT.md")
    ap.add_argument("--smoke", action="store_true", help="one quick round on a tiny model (the test)")
    ap.add_argument("--projector", action="store_true", help="the page in projector mode (?projector=true)")
    argv = list(sys.argv[1:] if argv is None else argv)
    a = ap.parse_args(argv)
    if a.smoke:
        a.rounds, a.model = 1, "tiny"
    quiet = 150 if a.smoke else QUIET_MS
    res = run([t.resolve() for t in (a.tree or [ROOT])], a.model, a.rounds, quiet, 1 if a.smoke else 5,
              "?projector=true" if a.projector else "")
    command = "python -m benchmarks.browser_speed " + " ".join(argv)
    res["command"] = command.strip()
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.with_suffix(".json").write_text(json.dumps(res, indent=1))
    md = markdown(res, res["command"])
    a.out.with_suffix(".md").write_text(md)
    print(md)
    return res


if __name__ == "__main__":
    main()
