"""Issue 18 point 6 in the page (Chromium, the shared tiny-model server): the Train tab's fields hold their
numbers and speak 中文, Compare draws every step with a slider, Beam's table starts where hypotheses differ.
Screenshots (English and 中文) go to screenshots/issue18/."""
from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.test_browser import SHOTS, TIMEOUT, expect_drawn, open_tab, plot
from tests.test_ui_api import model_and_tok, server  # noqa: F401  (fixtures: one tiny model, one server)

OUT = SHOTS / "issue18"


def shoot(page: Page, name: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_timeout(300)
    page.screenshot(path=str(OUT / f"{name}.png"), full_page=True)


def cut_off(page: Page, elem_id: str) -> list[str]:
    """Texts inside the block ``elem_id`` that are cut: wider than their box, or past the block's right edge
    (the Width slider's "256" was, in projector mode)."""
    return page.evaluate("""(id) => { const block = document.querySelector('#' + id), r = block.getBoundingClientRect();
        return [...block.querySelectorAll('span, input, label, div')].filter(e => e.children.length === 0
            && (e.textContent || e.value || '').trim() && (e.getBoundingClientRect().right > r.right + 1
                || e.scrollWidth > e.clientWidth + 1)).map(e => (e.textContent || e.value).trim()); }""", elem_id)


def test_train_compare_and_beam_in_english_and_chinese(page: Page, server):  # noqa: F811
    demo, _ = server
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(demo.local_url)
    expect(page.locator("#chips .tok.prompt").first).to_be_visible(timeout=TIMEOUT)
    for lang in ("en", "zh"):
        if lang == "zh":
            page.locator("#lang").get_by_text("中文").click()
            expect(page.locator("#step")).to_contain_text("单步", timeout=TIMEOUT)
        open_tab(page, "Train" if lang == "en" else "训练")
        width = page.locator("#train_width input[type=number]")
        width.fill("256")
        width.press("Enter")
        for projector in (False, True):
            if projector:
                page.locator("#projector input[type=checkbox]").click()
                page.wait_for_timeout(500)
            for elem in ("train_layers", "train_heads", "train_width", "train_block", "train_steps", "train_lr",
                         "train_preset"):  # the preset says what it shows, uncut
                assert cut_off(page, elem) == [], (elem, projector)
        page.locator("#projector input[type=checkbox]").click()
        preset = page.locator("#train_preset input").input_value()
        assert ("300 steps" in preset) if lang == "en" else ("300 步" in preset and "微型" in preset), preset
        block_info = page.locator("#train_block").inner_text()
        assert ("allows up to" in block_info) == (lang == "en") and (lang == "en" or "最多允许" in block_info)
        width.fill("64")
        width.press("Enter")
        shoot(page, f"tiny-model-train-{lang}")

        open_tab(page, "Compare" if lang == "en" else "对比")
        page.locator("#cmp_btn").click()
        expect(plot(page, "cmp-plot").locator("g.slider-container")).to_be_attached(timeout=TIMEOUT)
        expect_drawn(page, "cmp-plot", 600)
        expect(plot(page, "cmp-plot")).to_contain_text(re.compile(r"step \d+: " if lang == "en" else r"第 \d+ 步："))
        shoot(page, f"tiny-model-compare-{lang}")

        open_tab(page, "Beam search" if lang == "en" else "束搜索")
        page.locator("#beam_btn").click()
        expect(page.locator("#beam-md")).to_contain_text("differs at token" if lang == "en" else "从第几个词元起不同",
                                                        timeout=TIMEOUT)
        expect(page.locator("#beam-md b").first).to_be_attached()  # the part where a hypothesis differs, in bold
        expect_drawn(page, "beam-plot", 400)
        shoot(page, f"tiny-model-beam-{lang}")


def test_gradio_s_own_footer_follows_the_page_language(page: Page, server):  # noqa: F811
    """Point 8, "Gradio's footer where it can be set": the language switch also sets Gradio's locale
    (static/locale.js), so its footer reads in 中文 and back."""
    demo, _ = server
    page.goto(demo.local_url)
    expect(page.locator("#chips .tok.prompt").first).to_be_visible(timeout=TIMEOUT)
    footer = page.locator("footer")
    expect(footer).to_contain_text("Built with Gradio", timeout=TIMEOUT)
    page.locator("#lang").get_by_text("中文").click()
    expect(footer).to_contain_text("使用 Gradio 构建", timeout=TIMEOUT)
    expect(footer).to_contain_text("设置")
    assert "Built with" not in footer.inner_text() and "Settings" not in footer.inner_text()
    page.locator("#lang").get_by_text("English").click()
    expect(footer).to_contain_text("Built with Gradio", timeout=TIMEOUT)
    page.goto(demo.local_url + "?lang=zh")  # a link in 中文: the footer too
    expect(footer).to_contain_text("使用 Gradio 构建", timeout=TIMEOUT)
