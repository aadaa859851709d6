"""What Gradio's client does per event in the browser (issue 18, point 3: the causes the profile found, removed).

Speed itself is measured in benchmarks/browser_speed.py; these tests check the causes stay removed:
  * every event shows its progress on at most one component (Gradio's client updates the loading status of
    every component any event ever showed progress on, on every status message of every event);
  * no run history: Gradio 6 would copy each event's inputs and outputs into the browser's localStorage;
  * a Step with the Inside tab closed fires one server event (the tab's follow-up is js-only, and runs a
    draw only while the tab is on screen);
  * the page's own scripts load without an error (they share one js_on_load: one error stops them all).
"""
from __future__ import annotations

from playwright.sync_api import Page, expect

from playground import ui
from tests.test_browser import TIMEOUT, open_tab
from tests.test_ui_api import model_and_tok, server  # noqa: F401  (fixtures: one tiny model, one server)


def test_every_event_shows_progress_on_at_most_one_component(server):  # noqa: F811
    demo, _ = server
    config = demo.get_config_file()
    states = {c["id"] for c in config["components"] if c["type"] == "state"}
    wide, hidden = [], []
    for dep in config["dependencies"]:
        targets = dep["show_progress_on"] if dep["show_progress_on"] is not None else dep["outputs"]
        if len(targets) > 1:
            wide.append((dep["api_name"], len(targets)))
        # progress on something the page shows; an event that shows none puts it on the state (no DOM to update)
        if len(dep["outputs"]) > 1 and bool(set(targets) & states) != (dep["show_progress"] == "hidden"):
            hidden.append(dep["api_name"])
    assert wide == [] and hidden == []
    many = [d for d in config["dependencies"] if len(d["outputs"]) > 100]  # the language switch relabels the page
    assert many and all(len(d["show_progress_on"]) == 1 for d in many)


def test_the_page_keeps_no_run_history():
    assert ui.launch_kwargs()["run_history"] is False


def test_a_step_with_the_inside_tab_closed_is_one_event_and_open_it_follows(page: Page, server):  # noqa: F811
    demo, _ = server
    joins: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: joins.append(r.post_data or "") if "/queue/join" in r.url else None)
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(demo.local_url)
    expect(page.locator("#chips .tok.prompt").first).to_be_visible(timeout=TIMEOUT)
    page.wait_for_timeout(500)
    fn = {d["api_name"]: d["id"] for d in demo.get_config_file()["dependencies"]}
    chips = page.locator("#chips .tok.gen")
    for n in (1, 2):
        joins.clear()
        page.locator("#step").click()
        expect(chips).to_have_count(n, timeout=TIMEOUT)
        page.wait_for_timeout(600)
        assert [f'"fn_index":{fn["step"]}' in j.replace(" ", "") for j in joins] == [True], joins
    assert not any(k.startswith("gradio") and "run" in k for k in page.evaluate("Object.keys(localStorage)"))
    open_tab(page, "Inside the model")
    expect(page.locator("#inside-note")).to_contain_text("step 2", timeout=TIMEOUT)
    joins.clear()
    page.locator("#step").click()
    expect(page.locator("#inside-note")).to_contain_text("step 3", timeout=TIMEOUT)
    assert any(f'"fn_index":{fn["inside"]}' in j.replace(" ", "") for j in joins), joins
    assert errors == []  # the page's scripts (static/*.js, one js_on_load) ran without an error


def test_in_projector_mode_a_step_s_chart_is_drawn_once_at_projector_sizes(page: Page, server):  # noqa: F811
    """The server's figure is drawn with projector mode's fonts already in it (static/projector.js ``prepare``,
    called just before plotly.js draws): no second pass to raise them (each costs a full redraw)."""
    demo, _ = server
    page.set_viewport_size({"width": 1920, "height": 1080})  # wide enough for six panels side by side
    page.goto(demo.local_url + "?projector=true")
    expect(page.locator("html.projector")).to_have_count(1, timeout=TIMEOUT)
    expect(page.locator("#next-plot .js-plotly-plot g.point").first).to_be_attached(timeout=TIMEOUT)
    page.wait_for_timeout(800)
    page.evaluate("""() => { window.__passes = []; for (const name of ['relayout', 'restyle', 'update']) {
        const f = Plotly[name]; Plotly[name] = function (gd, ...a) {
          if (gd && gd.closest && gd.closest('#next-plot')) window.__passes.push(name); return f.call(this, gd, ...a); }; } }""")
    page.locator("#step").click()
    expect(page.locator("#chips .tok.gen")).to_have_count(1, timeout=TIMEOUT)
    page.wait_for_timeout(1000)
    sizes = page.evaluate("""() => [...document.querySelectorAll('#next-plot .ytick text, #next-plot .annotation-text')]
        .map(t => parseFloat(getComputedStyle(t).fontSize))""")
    assert len(sizes) >= 6 and min(sizes) >= 20, sizes
    assert page.evaluate("window.__passes") == []
