"""Classroom mode in a real browser (Debian's Chromium), on the tiny random model of tests/test_ui_api.py.

Every lesson is clicked and its view checked and shot at 1280×720 (projector size); the language
switch must leave none of the translated English strings on the page; a shared link must rebuild
the page it was made from; projector mode is shot too. Screenshots go to screenshots/classroom-*.png.
"""
from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit

import pytest
from playwright.sync_api import Page, expect

from playground import i18n, lessons
from tests.test_browser import TIMEOUT, chips, expect_drawn, no_horizontal_scroll, plot, shoot
from tests.test_ui_api import model_and_tok, server  # noqa: F401  (fixtures)

LESSON_VIEW = {"mask": ["mask-plot", "leak-plot"], "sampling": ["cmp-plot"], "topk_topp": ["cmp-plot"],
               "penalty": ["cmp-plot"], "beam": ["beam-plot"], "kv": ["latency-plot", "compare-plot"],
               "gqa": ["memory-plot"], "train": [], "modern": ["rope-shift-plot", "rope-angles-plot"],
               "memory": ["arch-params-plot", "arch-kv-plot"], "batching": ["sweep-plot"], "continuous": ["queue-plot"],
               "speculative": ["spec-speed-plot"], "quantize": ["quant-costs-plot", "quant-bars-plot"]}
TAB_NAMES = {"mask": "tab.mask", "compare": "tab.compare", "beam": "tab.beam", "kv": "tab.kv", "train": "tab.train",
             "arch": "tab.arch", "faster": "tab.faster"}


def open_page(page: Page, url: str, size=(1280, 720)) -> None:
    page.set_viewport_size({"width": size[0], "height": size[1]})
    page.goto(url)
    expect(page.locator("#chips .tok.prompt").first).to_be_visible(timeout=TIMEOUT)


def selected_tab(page: Page):
    return page.locator("#views [role=tab][aria-selected=true]")


@pytest.mark.parametrize("index", range(len(lessons.LESSONS)), ids=lessons.LESSON_KEYS)
def test_each_lesson_loads_and_renders(page: Page, server, index):  # noqa: F811
    demo, _ = server
    les = lessons.LESSONS[index]
    open_page(page, demo.local_url)
    page.locator("#lessons button, #lessons .gallery-item, #lessons td").filter(
        has_text=i18n.t(f"lesson.{les.key}.title")).first.click()
    expect(page.locator("#lesson-md")).to_contain_text(i18n.t(f"lesson.{les.key}.title"), timeout=TIMEOUT)
    expect(page.locator("#lesson-md .katex").first).to_be_attached(timeout=TIMEOUT)  # the formula is rendered math
    expect(selected_tab(page)).to_have_text(re.compile(re.escape(i18n.t(TAB_NAMES[les.tab]))), timeout=TIMEOUT)
    expect(page.locator("#prompt textarea")).to_have_value(les.all_controls()["prompt"], timeout=TIMEOUT)
    expect(chips(page)).to_have_count(les.steps, timeout=TIMEOUT)
    for elem in LESSON_VIEW[les.key]:
        expect_drawn(page, elem)
    if les.key == "mask":
        expect(plot(page, "leak-plot")).to_contain_text("unchanged, exactly ✓", timeout=TIMEOUT)
    if les.action == "compare":
        n = sum(s is not lessons.OFF for s in les.sides)
        expect(page.locator("#cmp-md table tbody tr")).to_have_count(n, timeout=TIMEOUT)
        expect(plot(page, "cmp-plot").locator("g.point")).not_to_have_count(0)
    if les.key == "beam":
        expect(page.locator("#beam-md")).to_contain_text("finished hypotheses", timeout=TIMEOUT)
    if les.key == "kv":
        expect(plot(page, "compare-plot")).to_contain_text("same tokens ✓", timeout=TIMEOUT)
    if les.key == "gqa":  # the test server offers no GQA model: the page says so instead of failing
        expect(page.locator("#gqa-md")).to_contain_text("not available", timeout=TIMEOUT)
    if les.key == "train":
        expect(page.locator("#train_btn")).to_be_visible()
    no_horizontal_scroll(page)
    shoot(page, f"classroom-lesson-{index + 1}-{les.key}")


def visible_text(page: Page) -> str:
    return page.evaluate("document.querySelector('.gradio-container').innerText")


# labels whose English text must be gone on the Chinese page (short generic words like "Top-k" are the same)
CHECKED = [k for k, (en, zh) in i18n.STRINGS.items() if en != zh and not k.startswith(("fig.", "lesson.", "note.", "status."))
           and "{" not in en and k not in ("cmp_table_head", "link_problems", "link_restored", "lesson_note")]


def test_the_language_switch_changes_every_visible_label(page: Page, server):  # noqa: F811
    demo, _ = server
    open_page(page, demo.local_url)
    page.locator("#step").click()
    expect(chips(page)).to_have_count(1, timeout=TIMEOUT)
    page.locator("#lang").get_by_text("中文").click()
    expect(page.locator("#prompt")).to_contain_text("提示", timeout=TIMEOUT)
    expect(plot(page, "next-plot")).to_contain_text("第 1 步", timeout=TIMEOUT)  # figures redrawn
    expect(page.locator("#status")).to_contain_text("KV 缓存", timeout=TIMEOUT)
    for radio, value in (("lang", "zh"), ("strategy", "sample"), ("mode", "probabilities")):  # choices relabelled, value kept
        expect(page.locator(f"#{radio} input[value={value}]")).to_be_checked()
        expect(page.locator(f"#{radio} label.selected")).to_have_count(1)
    for tab in ("next", "attention", "mask", "kv", "beam", "compare", "train", "inside"):
        page.locator("#views [role=tab]").filter(has_text=i18n.t(f"tab.{tab}", "zh")).first.click()
        page.wait_for_timeout(300)
        page.locator(f"#note-{tab}").get_by_text(i18n.t("note", "zh")).first.click()  # open the explanation too
        expect(page.locator(f"#note-{tab}-text .katex").first).to_be_visible(timeout=TIMEOUT)
        text = visible_text(page)  # figures included: their titles, axes and legends are translated too
        text = text.replace("LM Head", "")  # the course's own bilingual term, 语言模型头（LM Head）
        left = [i18n.t(k, "en") for k in CHECKED  # whole words: "LayerNorm" in a Chinese note is not "Layer"
                if re.search(r"(?<!\w)" + re.escape(i18n.t(k, "en").lstrip("#").strip()) + r"(?!\w)", text)]
        assert left == [], (tab, left, [text[max(0, m.start() - 60):m.end() + 20] for w in left for m in re.finditer(r"(?<!\w)" + re.escape(w) + r"(?!\w)", text)][:3])
        if tab in ("next", "kv", "compare"):
            shoot(page, f"classroom-zh-{tab}")
    page.locator("#views [role=tab]").filter(has_text=i18n.t("tab.next", "zh")).first.click()
    page.locator("#lang").get_by_text("English").click()
    expect(plot(page, "next-plot")).to_contain_text("Step 1", timeout=TIMEOUT)
    expect(page.locator("#prompt")).to_contain_text("Prompt")


def test_the_browser_language_is_the_default(browser, server):  # noqa: F811
    demo, _ = server
    ctx = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 720})
    try:
        pg = ctx.new_page()
        open_page(pg, demo.local_url)
        expect(pg.locator("#step")).to_have_text(i18n.t("step", "zh"), timeout=TIMEOUT)
        expect(pg.locator("#lang input[value=zh]")).to_be_checked()
        # the chart is drawn for the prompt at load, titled in the browser's language
        expect(plot(pg, "next-plot")).to_contain_text(i18n.t("fig.preview_title", "zh").split("<br>")[0], timeout=TIMEOUT)
        shoot(pg, "classroom-zh-default")
    finally:
        ctx.close()


def test_a_shared_link_round_trips(page: Page, server, model_and_tok):  # noqa: F811
    demo, _ = server
    url = (demo.local_url.rstrip("/") + "/?prompt=KING%20HENRY%3A%0AOnce%20more&model=shakespeare&temperature=0.7"
           "&top_k=20&seed=5&steps=3&tab=attention&lang=en")
    open_page(page, url)
    expect(chips(page)).to_have_count(3, timeout=TIMEOUT)
    expect(page.locator("#prompt textarea")).to_have_value("KING HENRY:\nOnce more")
    expect(page.locator("#temperature input[type=number]")).to_have_value("0.7")
    expect(page.locator("#top_k input[type=number]")).to_have_value("20")
    expect(selected_tab(page)).to_have_text(re.compile("Attention"))
    expect(page.locator("#link-note")).to_contain_text("Restored from the link", timeout=TIMEOUT)
    expect_drawn(page, "attn-heatmap", 300)
    words = page.locator("#text textarea").input_value()
    page.locator("#share_btn").click()
    expect(page.locator("#link textarea, #link input").first).to_have_value(re.compile(r"steps=3"), timeout=TIMEOUT)
    link = page.locator("#link textarea, #link input").first.input_value()
    q = dict(parse_qsl(urlsplit(link).query))
    assert q["prompt"] == "KING HENRY:\nOnce more" and q["temperature"] == "0.7" and q["top_k"] == "20"
    assert q["seed"] == "5" and q["tab"] == "attention"
    assert page.evaluate("window.location.search").lstrip("?") == urlsplit(link).query  # the address bar too
    shoot(page, "classroom-link-restored")
    # the same link in a fresh page: the same text (same seed, same steps)
    other = page.context.new_page()
    open_page(other, link)
    expect(chips(other)).to_have_count(3, timeout=TIMEOUT)
    expect(other.locator("#text textarea")).to_have_value(words)
    other.close()


def test_a_bad_link_is_reported_not_crashed_on(page: Page, server):  # noqa: F811
    demo, _ = server
    open_page(page, demo.local_url.rstrip("/") + "/?temperature=hot&top_p=7&model=gpt9&steps=2")
    expect(page.locator("#link-note")).to_contain_text("temperature='hot'", timeout=TIMEOUT)
    expect(page.locator("#link-note")).to_contain_text("top_p='7'")
    expect(page.locator("#link-note")).to_contain_text("model='gpt9'")
    expect(chips(page)).to_have_count(2, timeout=TIMEOUT)  # the good values still apply
    expect(page.locator("#temperature input[type=number]")).to_have_value("1")
    shoot(page, "classroom-bad-link")


def test_projector_mode_is_larger_and_fits(page: Page, server):  # noqa: F811
    demo, _ = server
    open_page(page, demo.local_url)
    size = page.evaluate("parseFloat(getComputedStyle(document.querySelector('#status .prose, #status')).fontSize)")
    page.locator("#projector input[type=checkbox]").click()
    expect(page.locator("html")).to_have_class(re.compile("projector"), timeout=TIMEOUT)
    bigger = page.evaluate("parseFloat(getComputedStyle(document.querySelector('#status .prose, #status')).fontSize)")
    assert bigger > size, (size, bigger)
    page.locator("#step").click()
    expect(chips(page)).to_have_count(1, timeout=TIMEOUT)
    expect_drawn(page, "next-plot", 300)
    no_horizontal_scroll(page)
    shoot(page, "classroom-projector")
