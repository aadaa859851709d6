"""Issue 18, point 3: the page's speed in the browser.

The benchmark (benchmarks/browser_speed.py) in its smoke mode: it runs and writes well-formed results (no timing
thresholds here; the figures come from a full run on an idle machine). And what made the page slow, checked by
counting plotly.js's full draws in a real page (static/pipeline.js): a new figure is drawn once (Gradio drew it
into the div it was about to replace, then again 100 ms later for a "resize" of unchanged size), and plots of
hidden tabs are drawn when their tab is shown, with the newest figure, not on every Step.
"""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

from playwright.sync_api import Page, expect

from benchmarks.browser_speed import HOOK_JS, INIT_JS, markdown
from tests.test_browser import TIMEOUT, chips, expect_drawn, plot
from tests.test_ui_api import model_and_tok, server  # noqa: F401  (fixtures: one tiny model, one server)


def _measure(s) -> bool:
    return (isinstance(s, dict) and s["n"] >= 1 and s["min"] <= s["median"] <= s["max"]
            and all(math.isfinite(s[k]) and s[k] >= 0 for k in ("median", "min", "max")))


def test_smoke_run_measures_every_action_and_writes_json_and_markdown(tmp_path):
    # its own process: Playwright's sync API refuses to run inside pytest-playwright's event loop
    subprocess.run([sys.executable, "-m", "benchmarks.browser_speed", "--smoke", "--out", str(tmp_path / "speed")],
                   check=True, cwd=Path(__file__).resolve().parent.parent, timeout=600)
    res = on_disk = json.loads((tmp_path / "speed.json").read_text())
    assert on_disk["command"] == f"python -m benchmarks.browser_speed --smoke --out {tmp_path / 'speed'}"
    (tree,) = on_disk["trees"]
    for key in ("step", "slider", "live_frame", "tab", "first_page"):
        assert _measure(tree[key]), key
    assert tree["tab"]["n"] == 3 and tree["first_page_cold_ms"] > 0
    b = tree["breakdown"]
    assert b["step"]["events"][0] == "step" and b["slider"]["events"][0] == "resample"
    assert b["step"]["bytes"] > 1000 and b["step"]["outputs"] >= 5  # the figures came through the event stream
    assert b["step"]["reacts"] >= 1 and b["step"]["draws"] == 1  # the next-token figure, drawn once
    assert {"step", "resample"} <= set(tree["server_only"]) and tree["server_only"]["step"]["bytes"] > 1000
    assert (tmp_path / "speed.md").read_text() == markdown(res, res["command"])


def draws(page: Page) -> float:
    return page.evaluate("window.__bench.draws")


def test_a_step_draws_the_shown_plot_once_and_hidden_tabs_when_shown(page: Page, server):  # noqa: F811
    demo, _ = server
    page.add_init_script(INIT_JS)
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(demo.local_url)
    expect(page.locator("#chips .tok.prompt").first).to_be_visible(timeout=TIMEOUT)
    page.locator("#step").click()
    expect(chips(page)).to_have_count(1, timeout=TIMEOUT)
    for name in ("Attention", "KV cache", "Next token"):  # once visited, a tab's plots stay mounted, hidden
        page.get_by_role("tab", name=name, exact=True).click()
        page.wait_for_timeout(500)
    page.wait_for_function("document.querySelector('#next-plot .js-plotly-plot')._ev", timeout=TIMEOUT)
    page.evaluate(HOOK_JS)
    assert page.locator("#attn-overview .js-plotly-plot").count() == 1  # mounted, not on screen

    before = draws(page)
    page.locator("#step").click()
    expect(chips(page)).to_have_count(2, timeout=TIMEOUT)
    expect(plot(page, "next-plot")).to_contain_text("chose", timeout=TIMEOUT)
    page.wait_for_timeout(1500)  # the 100 ms resize redraw, any late draw
    assert draws(page) - before == 1  # the next-token plot only: not the four plots of the hidden tabs

    n = page.locator("#chips .tok.prompt").count() + 1  # the second step reads the prompt and the first token
    page.get_by_role("tab", name="Attention", exact=True).click()
    expect_drawn(page, "attn-overview", 300)  # drawn now, with the newest step's figure
    expect(plot(page, "attn-overview")).to_contain_text(f"all {n} positions", timeout=TIMEOUT)
    page.wait_for_timeout(1000)
    assert draws(page) - before == 3  # and its two plots, once each
