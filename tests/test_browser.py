"""The page in a real browser (Debian's Chromium through Playwright), on a tiny random model.

One walk through the lesson a teacher would give: type a prompt, step five tokens, move the
temperature, toggle the KV cache, open a head from the overview, rewind, and visit every view.
Assertions are on what is rendered (plotly plots with a real size, token chips, numbers), and a
screenshot of every view goes to screenshots/ at 1280×720 (projector) and 1920×1080 (laptop);
they are meant to be looked at, not only produced.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.test_ui_api import model_and_tok, server  # noqa: F401  (fixtures: one tiny model, one server)

SHOTS = Path(__file__).resolve().parent.parent / "screenshots"
PROMPT = "KING HENRY:\nOnce more unto the breach"
TIMEOUT = 30_000


def plot(page: Page, elem_id: str):
    return page.locator(f"#{elem_id} .js-plotly-plot").first


def expect_drawn(page: Page, elem_id: str, min_height: int = 200) -> None:
    """A plotly plot that is really on screen: a main SVG with size, and drawn marks in it."""
    p = plot(page, elem_id)
    expect(p).to_be_visible(timeout=TIMEOUT)
    box = None
    for _ in range(20):  # a redraw may swap the plot's div between the check above and this read: read again
        box = p.bounding_box()
        if box:
            break
        page.wait_for_timeout(100)
    assert box and box["width"] > 400 and box["height"] >= min_height, (elem_id, box)
    marks = p.locator("g.point, g.hm image, path.js-line, g.trace.scatter path, .heatmaplayer image")
    expect(marks.first).to_be_attached(timeout=TIMEOUT)


def open_tab(page: Page, name: str) -> None:
    page.get_by_role("tab", name=name).click()
    page.wait_for_timeout(400)


def no_horizontal_scroll(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def shoot(page: Page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")  # the settings sidebar is fixed: shoot from the top
    page.wait_for_timeout(300)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def chips(page: Page):
    return page.locator("#chips .tok.gen")


def status(page: Page):
    return page.locator("#status")


def test_a_lesson_in_the_browser(page: Page, server, model_and_tok):  # noqa: F811
    demo, _ = server
    _, tok = model_and_tok
    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto(demo.local_url)
    expect(page.locator("#chips .tok.prompt").first).to_be_visible(timeout=TIMEOUT)

    # type a prompt: the page starts over on it
    box = page.locator("#prompt textarea")
    box.fill(PROMPT)
    box.press("Enter")
    expect(page.locator("#chips .tok.prompt")).to_have_count(len(tok.encode_ids(PROMPT)), timeout=TIMEOUT)
    expect(chips(page)).to_have_count(0)

    # step five tokens
    for i in range(5):
        page.locator("#step").click()
        expect(chips(page)).to_have_count(i + 1, timeout=TIMEOUT)
    expect(status(page)).to_contain_text("Step 5 of 5", timeout=TIMEOUT)
    expect(page.locator("#text textarea")).to_have_value(re.compile("^KING HENRY:\nOnce more unto the breach.+"))
    expect_drawn(page, "next-plot", 300)
    expect(plot(page, "next-plot")).to_contain_text("Step 5: chose")
    expect(plot(page, "next-plot")).to_contain_text("min-p = final")
    bars = plot(page, "next-plot").locator("g.point")
    assert bars.count() >= 6 * 5  # six stages, several tokens each
    no_horizontal_scroll(page)
    shoot(page, "1280-next-token")

    # move the temperature: the newest step is re-decided from cached logits, no forward pass
    temp = page.locator("#temperature input[type=number]")
    temp.fill("0")
    temp.press("Tab")  # leaving the number box is a slider "release", as letting go of the handle
    expect(plot(page, "next-plot")).to_contain_text("re-decided from cached logits", timeout=TIMEOUT)
    expect(status(page)).to_contain_text("rank 1 ", timeout=TIMEOUT)
    expect(status(page)).to_contain_text("reading 0 token(s)")
    shoot(page, "1280-next-token-temperature-0")

    # KV cache off: the next step reads every position again
    page.locator("#kv input[type=checkbox]").click()
    expect(status(page)).to_contain_text("KV cache off", timeout=TIMEOUT)
    page.locator("#step").click()
    expect(chips(page)).to_have_count(6, timeout=TIMEOUT)
    n_read = int(re.search(r"reading (\d+) token", status(page).text_content()).group(1))  # in the closed details
    assert n_read > 6  # the whole prompt and every generated token

    # the KV cache view shows both settings
    open_tab(page, "KV cache")
    expect_drawn(page, "latency-plot")
    expect_drawn(page, "memory-plot")
    expect(plot(page, "latency-plot")).to_contain_text("forward, cache off")
    page.locator("#compare_n input[type=number]").fill("24")
    page.locator("#compare_n input[type=number]").press("Enter")
    page.locator("#compare_btn").click()
    expect(plot(page, "compare-plot")).to_contain_text("same tokens ✓", timeout=TIMEOUT)
    expect_drawn(page, "compare-plot")
    no_horizontal_scroll(page)
    shoot(page, "1280-kv-cache")

    # open a head: click the tile of layer 1, head 2 in the all-heads overview
    open_tab(page, "Attention")
    expect_drawn(page, "attn-heatmap", 400)
    expect_drawn(page, "attn-overview", 300)
    drag = plot(page, "attn-overview").locator(".nsewdrag").first
    drag.scroll_into_view_if_needed()  # the mouse only reaches what is on screen
    area = drag.bounding_box()
    page.mouse.move(area["x"] + area["width"] * (2.5 / 4), area["y"] + area["height"] * (1.5 / 2))
    page.wait_for_timeout(300)
    page.mouse.click(area["x"] + area["width"] * (2.5 / 4), area["y"] + area["height"] * (1.5 / 2))
    expect(plot(page, "attn-heatmap")).to_contain_text("layer 1, head 2", timeout=TIMEOUT)
    expect(page.locator("#layer input")).to_have_value("1")
    expect(page.locator("#head input")).to_have_value("2")
    no_horizontal_scroll(page)
    shoot(page, "1280-attention")

    # rewind: Back removes the newest token; a click on a chip inspects an earlier step
    page.locator("#back").click()
    expect(chips(page)).to_have_count(5, timeout=TIMEOUT)
    chips(page).nth(1).click()
    expect(status(page)).to_contain_text("Step 2 of 5", timeout=TIMEOUT)
    expect(page.locator("#chips .tok.gen.sel")).to_have_attribute("data-step", "1")
    expect(plot(page, "attn-heatmap")).to_contain_text("layer 1, head 2")

    # the causal mask and the leak check
    open_tab(page, "Causal mask")
    expect_drawn(page, "mask-plot", 300)
    expect(plot(page, "mask-plot")).to_contain_text("−∞")
    expect(plot(page, "mask-plot")).to_contain_text("layer 1, head 2")
    page.locator("#leak_btn").click()
    expect(plot(page, "leak-plot")).to_contain_text("unchanged, exactly ✓", timeout=TIMEOUT)
    expect_drawn(page, "leak-plot")
    no_horizontal_scroll(page)
    shoot(page, "1280-causal-mask")

    # beam search draws its tree
    open_tab(page, "Beam search")
    page.locator("#beam_btn").click()
    expect(page.locator("#beam-md")).to_contain_text("finished hypotheses", timeout=TIMEOUT)
    expect_drawn(page, "beam-plot", 300)
    no_horizontal_scroll(page)
    shoot(page, "1280-beam-search")


@pytest.mark.parametrize("width, height", [(1920, 1080), (1280, 720)])
def test_every_view_fits_the_screen_and_chinese_renders(page: Page, server, model_and_tok, width, height):  # noqa: F811
    demo, _ = server
    _, tok = model_and_tok
    page.set_viewport_size({"width": width, "height": height})
    page.goto(demo.local_url)
    box = page.locator("#prompt textarea")
    expect(box).to_be_visible(timeout=TIMEOUT)
    box.fill("我喜欢猫。To be, or not to be")
    box.press("Enter")
    n = len(tok.encode_ids("我喜欢猫。To be, or not to be"))
    expect(page.locator("#chips .tok.prompt")).to_have_count(n, timeout=TIMEOUT)
    for i in range(3):
        page.locator("#step").click()
        expect(chips(page)).to_have_count(i + 1, timeout=TIMEOUT)
    expect(page.locator("#text textarea")).to_have_value(re.compile("^我喜欢猫。To be"))
    for tab, elem in (("Next token", "next-plot"), ("Attention", "attn-overview"), ("Causal mask", "mask-plot"),
                      ("KV cache", "memory-plot")):
        open_tab(page, tab)
        expect_drawn(page, elem)
        no_horizontal_scroll(page)
        if width == 1920:
            shoot(page, f"1920-{tab.lower().replace(' ', '-')}")
    if width == 1280:
        shoot(page, "1280-chinese-prompt")


# -- inside the model ---------------------------------------------------------------------------------------
INSIDE_PLOTS = ["inside-stack", "inside-input", "inside-qkv", "inside-pattern", "inside-attn-out", "inside-mlp",
                "inside-output", "inside-lens", "inside-params"]


def walk_inside(page: Page, url: str, name: str, n_layer: int) -> None:
    """Open the view at the prompt, then step three tokens: it follows the step, every panel drawn."""
    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto(url)
    expect(page.locator("#chips .tok.prompt").first).to_be_visible(timeout=TIMEOUT)
    open_tab(page, "Inside the model")
    expect(page.locator("#inside-note")).to_contain_text("the prompt", timeout=TIMEOUT)
    for elem in INSIDE_PLOTS[1:]:
        expect_drawn(page, elem, 250)
    expect(plot(page, "inside-stack").locator(".shapelayer path").first).to_be_attached()  # boxes, no traces
    expect(plot(page, "inside-stack")).to_contain_text(f"block 0 of {n_layer}")
    expect(plot(page, "inside-pattern")).to_contain_text("causal mask")
    no_horizontal_scroll(page)
    shoot(page, f"1280-inside-{name}-prompt")
    for i in range(3):
        page.locator("#step").click()
        expect(chips(page)).to_have_count(i + 1, timeout=TIMEOUT)
    expect(page.locator("#inside-note")).to_contain_text("step 3:", timeout=TIMEOUT)  # redrawn: the tab is open
    page.locator("#inside_layer input").click()
    page.get_by_role("option", name=str(n_layer - 1), exact=True).click()
    expect(plot(page, "inside-stack")).to_contain_text(f"block {n_layer - 1} of {n_layer}", timeout=TIMEOUT)
    for elem in INSIDE_PLOTS[1:]:
        expect_drawn(page, elem, 250)
    expect(plot(page, "inside-stack").locator(".shapelayer path").first).to_be_attached()  # boxes, no traces
    no_horizontal_scroll(page)
    shoot(page, f"1280-inside-{name}-step")


def test_inside_the_model_renders_for_the_embedded_style_model(page: Page, server, model_and_tok):  # noqa: F811
    demo, _ = server
    walk_inside(page, demo.local_url, "tiny", model_and_tok[0].config.n_layer)


def test_inside_the_model_renders_for_a_gpt2_format_model(page: Page, small_tokenizer, tmp_path):
    from playground import ui
    from playground.weights import load_model
    from tests.test_gpt2_parity import MODELS, hf_gpt2, write_hf_folder
    from tests.test_ui_api import free_port

    folder = write_hf_folder(tmp_path / "gpt2", hf_gpt2(small_tokenizer, **{**MODELS["gpt2-small-widths"], "n_layer": 3}), small_tokenizer)
    demo = ui.build_demo(lambda name: load_model(folder), {"gpt2": None})
    kw = ui.launch_kwargs()
    kw.update(server_port=free_port(), prevent_thread_lock=True, quiet=True)
    demo.launch(**kw)
    try:
        walk_inside(page, demo.local_url, "gpt2-format", 3)
    finally:
        demo.close()
