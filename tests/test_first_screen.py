"""Issue 18, points 1, 4, 5 and layout items of 6, in a real browser (Debian's Chromium), on the tiny random
model and the shared server of tests/test_ui_api.py: what a teacher sees first at 1280×800, projector mode
at 1920×1080 and 1280 wide, a phone at 390×844, and where the page takes the eye after a click. Layout is
measured (bounding boxes, computed font sizes), not guessed; screenshots go to screenshots/issue18/."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from playground import i18n, lessons
from tests.test_browser import SHOTS, TIMEOUT, chips, no_horizontal_scroll, open_tab, plot, status
from tests.test_ui_api import model_and_tok, server  # noqa: F401  (fixtures: one tiny model, one server)

SHOTS18 = SHOTS / "issue18"


def shot(page: Page, name: str) -> None:
    SHOTS18.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS18 / f"{name}.png"))  # the screen as it is: what fits, not the full page


def box(page: Page, selector: str) -> dict:
    b = page.locator(selector).first.bounding_box()
    assert b is not None, f"{selector} is not rendered"
    return b


def open_at(page: Page, url: str, size: tuple[int, int], query: str = "") -> None:
    page.set_viewport_size({"width": size[0], "height": size[1]})
    page.goto(url + query)
    expect(page.locator("#chips .tok.prompt").first).to_be_visible(timeout=TIMEOUT)


def top_of(page: Page, selector: str) -> float:
    return page.evaluate(f"document.querySelector('{selector}').getBoundingClientRect().top")


# -- point 1: the first screen ---------------------------------------------------------------------------------
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_first_screen_holds_the_chips_and_a_drawn_next_token_chart(page: Page, server, lang):  # noqa: F811
    demo, _ = server
    open_at(page, demo.local_url, (1280, 800), f"?lang={lang}")
    before = i18n.t("fig.preview_title", lang, how="", p="", token="", entropy="").split("<br>")[0]
    expect(plot(page, "next-plot")).to_contain_text(before, timeout=TIMEOUT)  # drawn for the prompt, no Step pressed
    seed = int(page.locator("#seed input").input_value())  # the title says the token is the seed's draw
    expect(plot(page, "next-plot")).to_contain_text(i18n.t("fig.preview_sample", lang, seed=seed), timeout=TIMEOUT)
    expect(chips(page)).to_have_count(0)
    bars = plot(page, "next-plot").locator("g.point")
    expect(bars.first).to_be_attached(timeout=TIMEOUT)
    assert bars.count() >= 6 * 3  # six stages, several tokens each
    page.wait_for_timeout(500)
    # without scrolling: the whole chip row, the chart's title and its first row of bars
    assert page.evaluate("window.scrollY") == 0
    assert box(page, "#chips").get("y") + box(page, "#chips")["height"] <= 800
    first_bar = min((b for b in (bars.nth(i).bounding_box() for i in range(bars.count())) if b), key=lambda b: b["y"])
    assert first_bar["y"] + first_bar["height"] <= 800, first_bar
    assert box(page, "#next-plot .gtitle")["y"] < 800 - 150
    # a compact header: the title, language, projector, share and the lessons above the prompt, in ≤ 170 px
    prompt_top = box(page, "#prompt")["y"]
    for sel in ("#title", "#lang", "#projector", "#share_btn", "#lessons"):
        b = box(page, sel)
        assert b["y"] + b["height"] <= prompt_top + 1, sel
    assert box(page, "#lessons")["y"] + box(page, "#lessons")["height"] - box(page, "#title")["y"] <= 170
    middles = [box(page, s)["y"] + box(page, s)["height"] / 2 for s in ("#lang", "#projector", "#share_btn")]
    assert max(middles) - min(middles) < 30, middles  # one row
    # why gpt2 cannot be picked: on the model picker's info line, not as the sidebar's first text
    info = page.locator("#model .info-text").first
    expect(info).to_contain_text("gpt2")
    expect(info).to_contain_text("unavailable here" if lang == "en" else "此处不可用")
    expect(page.locator("#unavailable")).to_have_count(0)
    page.locator("#model input").click()
    expect(page.get_by_role("option").first).to_be_visible(timeout=TIMEOUT)
    options = " ".join(page.get_by_role("option").all_inner_texts())
    assert ("(unavailable)" in options) == (lang == "en") and ("（不可用）" in options) == (lang == "zh"), options
    page.keyboard.press("Escape")
    no_horizontal_scroll(page)
    page.evaluate("window.scrollTo(0, 0)")
    shot(page, f"first-1280-{lang}")


# -- point 4: projector mode, the tabs, the help text; the phone ------------------------------------------------
@pytest.mark.parametrize("width, height", [(1920, 1080), (1280, 800)])
def test_projector_mode_scales_chart_text_and_keeps_every_tab_visible(page: Page, server, width, height):  # noqa: F811
    demo, _ = server
    open_at(page, demo.local_url, (width, height), "?projector=true")
    expect(page.locator("html.projector")).to_have_count(1, timeout=TIMEOUT)
    expect(plot(page, "next-plot").locator("g.point").first).to_be_attached(timeout=TIMEOUT)
    small = """() => [...document.querySelectorAll(
        '#next-plot .xtick text, #next-plot .ytick text, #next-plot .annotation-text, #next-plot .gtitle')].map(t => parseFloat(getComputedStyle(t).fontSize)).filter(s => s < 20).length === 0"""
    page.wait_for_function(small, timeout=TIMEOUT)
    sizes = page.evaluate("""() => [...document.querySelectorAll('#next-plot .ytick text, #next-plot .annotation-text')]
        .map(t => parseFloat(getComputedStyle(t).fontSize))""")
    assert len(sizes) >= 6 and min(sizes) >= 20, sizes
    # the larger (two-line) chart title gets room above the panels' titles: it covers none of them
    page.wait_for_function("""() => { const t = document.querySelector('#next-plot .gtitle').getBoundingClientRect();
        return [...document.querySelectorAll('#next-plot .annotation-text')].map(e => e.getBoundingClientRect())
          .every(r => r.bottom <= t.top + 1 || r.top >= t.bottom - 1 || r.right <= t.left || r.left >= t.right); }""",
                           timeout=TIMEOUT)
    # a Step redraws the chart from the server: it comes back at projector size
    page.locator("#step").click()
    expect(chips(page)).to_have_count(1, timeout=TIMEOUT)
    expect(plot(page, "next-plot")).to_contain_text("Step 1:", timeout=TIMEOUT)
    page.wait_for_function(small, timeout=TIMEOUT)
    # no chart text covers another: where six panels would be narrower than their 20 px titles (1280 px), they
    # stand in two rows of three (static/panels.js), each row with its token labels
    rows = width < 1600
    page.wait_for_function(f"() => !!document.querySelector('#next-plot .js-plotly-plot').layout.yaxis2 === {str(rows).lower()}",
                           timeout=TIMEOUT)
    page.wait_for_timeout(500)
    texts = page.evaluate("""() => [...document.querySelectorAll('#next-plot .annotation-text, #next-plot .gtitle')]
        .map(e => { const r = e.getBoundingClientRect(); return {t: e.textContent, x: r.x, y: r.y, width: r.width,
                                                                  height: r.height}; })""")
    assert len(texts) >= 13  # six titles, six notes, the colours' key (and the chart's title)
    hits = [(a["t"], b["t"]) for i, a in enumerate(texts) for b in texts[i + 1:] if overlap(a, b) > 4]
    assert hits == [], hits
    # every tab on screen (no "⋯" overflow menu), ten of them planned
    tabs = page.locator("#views [role=tab]")
    assert tabs.count() >= 8
    for i in range(tabs.count()):
        expect(tabs.nth(i)).to_be_visible()
        b = tabs.nth(i).bounding_box()
        assert b["x"] >= 0 and b["x"] + b["width"] <= width, (tabs.nth(i).inner_text(), b)
    assert page.locator("#views .overflow-menu:visible, #views .overflow-dropdown:visible").count() == 0
    # help text reads as sentences: no help line squeezed into a narrow column (one word per line)
    widths = page.evaluate("""() => [...document.querySelectorAll('#settings .info-text')]
        .filter(e => e.offsetParent !== null).map(e => [e.textContent.slice(0, 30), e.getBoundingClientRect().width])""")
    assert len(widths) >= 5 and all(w >= 200 for _, w in widths), widths
    no_horizontal_scroll(page)
    page.evaluate("window.scrollTo(0, 0)")
    shot(page, f"projector-{width}")
    # projector off: the chart's own sizes come back
    page.locator("#projector input").click()
    page.wait_for_function("() => [...document.querySelectorAll('#next-plot .ytick text')]"
                           ".every(t => parseFloat(getComputedStyle(t).fontSize) < 20)", timeout=TIMEOUT)


def overlap(a: dict, b: dict) -> float:
    w = min(a["x"] + a["width"], b["x"] + b["width"]) - max(a["x"], b["x"])
    h = min(a["y"] + a["height"], b["y"] + b["height"]) - max(a["y"], b["y"])
    return max(0.0, w) * max(0.0, h)


def test_a_phone_gets_a_closed_sidebar_stacked_panels_and_a_reachable_step(page: Page, server):  # noqa: F811
    demo, _ = server
    open_at(page, demo.local_url, (390, 844))
    page.wait_for_function("() => !document.querySelector('#settings').classList.contains('open')", timeout=TIMEOUT)
    # the sidebar is off screen (once its slide-out transition has run): the page is not covered
    page.wait_for_function("() => document.querySelector('#settings').getBoundingClientRect().right <= 40",
                           timeout=TIMEOUT)
    step = page.locator("#step")
    step.scroll_into_view_if_needed()
    expect(step).to_be_in_viewport()
    step.click()
    expect(chips(page)).to_have_count(1, timeout=TIMEOUT)
    expect(plot(page, "next-plot")).to_contain_text("Step 1:", timeout=TIMEOUT)
    # the six stage panels one under the other, each as wide as the chart allows
    rects = "[...document.querySelectorAll('#next-plot .nsewdrag')].map(r => r.getBoundingClientRect())" \
            ".map(r => ({x: r.x, y: r.y, width: r.width, height: r.height}))"
    page.wait_for_function(f"() => {{ const r = {rects}; return r.length >= 6 && r.every(x => x.width > 150); }}",
                           timeout=TIMEOUT)
    rects = sorted(page.evaluate(f"() => {rects}"), key=lambda r: r["y"])
    assert all(b["y"] >= a["y"] + a["height"] for a, b in zip(rects, rects[1:])), rects  # stacked, no overlap
    # nothing overlapping, nothing wider than the screen
    parts = ["#title", "#lang", "#projector", "#share_btn", "#lessons", "#prompt", "#step", "#run", "#back", "#reset",
             "#chips", "#status", "#views"]
    boxes = {s: box(page, s) for s in parts}
    for i, a in enumerate(parts):
        for b in parts[i + 1:]:
            assert overlap(boxes[a], boxes[b]) < 1, (a, b, boxes[a], boxes[b])
    no_horizontal_scroll(page)
    page.evaluate("window.scrollTo(0, 0)")
    shot(page, "phone-390")
    step.scroll_into_view_if_needed()
    page.locator("#next-plot").scroll_into_view_if_needed()
    shot(page, "phone-390-chart")


# -- point 5: orientation ---------------------------------------------------------------------------------------
def test_steps_count_from_one_and_rapid_clicks_are_all_taken(page: Page, server):  # noqa: F811
    demo, _ = server
    open_at(page, demo.local_url, (1280, 800))
    for _ in range(5):  # as fast as a student clicks: none may be dropped
        page.locator("#step").click(delay=0)
    expect(chips(page)).to_have_count(5, timeout=TIMEOUT)
    expect(status(page)).to_contain_text("Step 5 of 5", timeout=TIMEOUT)
    expect(plot(page, "next-plot")).to_contain_text("Step 5:")
    for part in ("input[type=number]", ".min_value", ".max_value"):  # the slider's 0-based numbers stay hidden
        expect(page.locator(f"#view_step {part}")).to_be_hidden()
    expect(page.locator("#chips .tok.gen").first).to_have_attribute("title", re.compile(r"step 1 "))
    # the status speaks to students; the measurements wait behind "details", each explained
    shown = status(page).inner_text()
    assert "Step 5 of 5" in shown and "probability" in shown
    assert not re.search(r"\d ms\b|[KM]iB|reserved buffers", shown), shown
    page.locator("#status details summary").click()
    opened = status(page).inner_text()
    for needle in ("ms", "reserved buffers", "process", "the keys and values kept"):
        assert needle in opened, (needle, opened)


def scrolled_to(page: Page, selector: str) -> None:
    """``selector``'s top is near the top of the screen (the page scrolled to it)."""
    page.wait_for_function(f"() => Math.abs(document.querySelector('{selector}').getBoundingClientRect().top) < 90",
                           timeout=TIMEOUT)
    assert page.evaluate("window.scrollY") > 0


def test_a_picked_step_a_tile_and_a_lesson_scroll_to_what_they_changed(page: Page, server):  # noqa: F811
    demo, _ = server
    open_at(page, demo.local_url, (1280, 800))
    for i in range(4):
        page.locator("#step").click()
        expect(chips(page)).to_have_count(i + 1, timeout=TIMEOUT)
    assert top_of(page, "#views") > 200  # below the chips: a pick must bring it up
    chips(page).nth(1).click()
    expect(status(page)).to_contain_text("Step 2 of 4", timeout=TIMEOUT)
    scrolled_to(page, "#views")
    shot(page, "picked-step")
    # an overview tile opens its head and shows the head's heatmap
    page.evaluate("window.scrollTo(0, 0)")
    open_tab(page, "Attention")
    drag = plot(page, "attn-overview").locator(".nsewdrag").first
    drag.scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    area = drag.bounding_box()
    page.mouse.move(area["x"] + area["width"] * (1.5 / 4), area["y"] + area["height"] * (1.5 / 2))
    page.wait_for_timeout(300)
    page.mouse.click(area["x"] + area["width"] * (1.5 / 4), area["y"] + area["height"] * (1.5 / 2))
    expect(plot(page, "attn-heatmap")).to_contain_text("layer 1, head 1", timeout=TIMEOUT)
    scrolled_to(page, "#attn-heatmap")
    # a lesson: its view comes up
    page.evaluate("window.scrollTo(0, 0)")
    page.locator("#lessons button, #lessons .gallery-item").filter(has_text=i18n.t("lesson.beam.title")).first.click()
    expect(page.locator("#views [role=tab][aria-selected=true]")).to_have_text(i18n.t("tab.beam"), timeout=TIMEOUT)
    scrolled_to(page, "#views")
    expect(page.locator("#beam-md")).to_contain_text("finished hypotheses", timeout=TIMEOUT)


def test_choosing_beam_shows_the_beam_view_and_no_greedy_title(page: Page, server):  # noqa: F811
    demo, _ = server
    open_at(page, demo.local_url, (1280, 800))
    page.locator("#strategy label").filter(has_text="greedy").click()
    page.locator("#step").click()
    expect(plot(page, "next-plot")).to_contain_text("greedy", timeout=TIMEOUT)  # greedy mode says greedy
    page.locator("#strategy label").filter(has_text="beam").click()
    expect(page.locator("#views [role=tab][aria-selected=true]")).to_have_text(i18n.t("tab.beam"), timeout=TIMEOUT)
    expect(page.locator("#beam-md")).to_contain_text("finished hypotheses", timeout=TIMEOUT)
    open_tab(page, i18n.t("tab.next"))
    expect(plot(page, "next-plot")).to_contain_text("Beam search keeps several", timeout=TIMEOUT)
    expect(plot(page, "next-plot")).not_to_contain_text("greedy")
    page.locator("#step").click()  # a Step in beam mode searches again: still no "greedy" title
    page.wait_for_timeout(800)
    expect(plot(page, "next-plot")).not_to_contain_text("greedy")


def test_the_kv_switch_shows_what_changed_at_once(page: Page, server):  # noqa: F811
    demo, _ = server
    open_at(page, demo.local_url, (1280, 800))
    for i in range(3):
        page.locator("#step").click()
        expect(chips(page)).to_have_count(i + 1, timeout=TIMEOUT)
    note = page.locator("#kv-diff")
    page.locator("#kv input[type=checkbox]").click()
    expect(note).to_contain_text("Step 3 taken again with the KV cache off", timeout=TIMEOUT)
    n_off = int(re.search(r"read (\d+) token", note.inner_text()).group(1))
    assert n_off > 3  # every position again
    expect(chips(page)).to_have_count(3)  # the same step, taken again: no token added
    assert re.search(r"cache on: (\d+) token", note.inner_text()).group(1) == "1"  # what it read before, with the cache
    shot(page, "kv-switch")
    page.locator("#kv input[type=checkbox]").click()  # on again: this step fills the cache, the next reads one token
    expect(note).to_contain_text("Step 3 taken again with the KV cache on", timeout=TIMEOUT)
    assert re.search(r"read all (\d+) token", note.inner_text()).group(1) == str(n_off)
    page.locator("#step").click()
    expect(chips(page)).to_have_count(4, timeout=TIMEOUT)
    expect(status(page)).to_contain_text("reading 1 token(s)")


# -- point 6 layout items --------------------------------------------------------------------------------------
def test_the_text_box_shows_its_fifth_line(page: Page, server):  # noqa: F811
    demo, _ = server
    open_at(page, demo.local_url, (1280, 800))
    box_ = page.locator("#prompt textarea")
    box_.fill("one\ntwo\nthree\nfour\nfive")
    box_.press("Enter")  # submit: in a one-line box Enter submits, the newlines stay
    expect(page.locator("#text textarea")).to_have_value(re.compile("five"), timeout=TIMEOUT)
    page.wait_for_timeout(300)
    clipped = page.evaluate("(() => { const t = document.querySelector('#text textarea');"
                            " return t.scrollHeight - t.clientHeight; })()")
    assert clipped <= 2, clipped


def test_no_glyph_the_page_font_lacks_and_no_error_pill_on_the_model_picker(page: Page, server):  # noqa: F811
    assert not any("⏹" in en or "⏹" in zh for en, zh in i18n.STRINGS.values())  # an empty box without an emoji font
    demo, _ = server
    open_at(page, demo.local_url, (1280, 800))
    open_tab(page, i18n.t("tab.train"))
    lr = page.locator("#train_lr input")
    lr.fill("0")
    lr.press("Enter")
    page.locator("#train_btn").click()
    expect(page.get_by_text("learning rate must be", exact=False).first).to_be_visible(timeout=TIMEOUT)
    page.wait_for_timeout(500)
    expect(page.locator("#model").get_by_text("Error", exact=True)).to_be_hidden()
    assert page.locator("#settings [data-testid=status-tracker]:visible").count() == 0


def test_the_lesson_shows_its_progress_on_its_note_not_on_every_plot(server):  # noqa: F811
    demo, _ = server
    deps = {d["api_name"]: d for d in demo.config["dependencies"] if d.get("api_name")}
    md_id = next(c["id"] for c in demo.config["components"] if c.get("props", {}).get("elem_id") == "lesson-md")
    show = deps["lesson_show"]
    assert show.get("show_progress_on") == [md_id], show.get("show_progress_on")
    plots = {c["id"] for c in demo.config["components"]
             if c.get("props", {}).get("elem_id") in ("latency-plot", "memory-plot")}
    assert plots & set(deps["lesson_run"]["outputs"]) and not plots & set(show["outputs"])
    assert lessons.lesson("kv").action is lessons.Action.KV_COMPARE
