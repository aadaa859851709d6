"""The Inside tab in a real browser for both blocks the config builds (issue 19 item 4, issue 18 point 6).

A GPT-2-style block (the shipped grouped-query model: LayerNorm, learned positions, GELU, 8 query / 2 K/V
heads) and a Llama-style one (a tiny random model: RMSNorm, rotary positions, SwiGLU, 4 query / 2 K/V heads),
each in English and 中文 at 1280×800: every row is drawn, no figure is wider than its column, no text of a
figure runs past the figure, and every label of the "where you are" diagram stays inside its box.
Screenshots go to screenshots/issue19/.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from playwright.sync_api import Page, expect

from playground import i18n, ui
from playground.ui.inside import PLOTS
from tests.conftest import tiny_gpt
from tests.test_browser import TIMEOUT, expect_drawn, plot
from tests.test_ui_api import free_port

SHOTS = Path(__file__).resolve().parent.parent / "screenshots" / "issue19"
ROOT = Path(__file__).resolve().parent.parent
LLAMA = dict(norm="rmsnorm", positions="rotary", mlp="swiglu", n_kv_head=2, bias=False, tie_word_embeddings=False)


def llama_style(vocab_size: int):
    """A tiny random Llama-style model with sharpened weights (the default init draws flat charts)."""
    model = tiny_gpt(vocab_size=vocab_size, block_size=96, **LLAMA)
    with torch.no_grad():
        model.transformer.wte.weight.mul_(3)
        model.lm_head.weight.mul_(12)
        for block in model.transformer.h:
            block.attn.c_attn.weight.mul_(10)
    return model


@pytest.fixture(scope="module", params=["gpt2-style", "llama-style"])
def inside_server(request, small_tokenizer):
    if request.param == "gpt2-style":
        from playground.weights import load_model

        pair = load_model(ROOT / "assets" / "model-gqa")
    else:
        pair = (llama_style(small_tokenizer.vocab_size), small_tokenizer)
    demo = ui.build_demo(lambda name: pair, {"shakespeare": None})
    kw = ui.launch_kwargs()
    kw.update(server_port=free_port(), prevent_thread_lock=True, quiet=True)
    demo.launch(**kw)
    yield request.param, demo, pair[0]
    demo.close()


# every <text> of every plot of the tab whose box leaves its figure's box (1 px of slack)
TEXT_OUTSIDE = """() => [...document.querySelectorAll('[id^=inside-] .js-plotly-plot')].flatMap(p => {
    const box = p.getBoundingClientRect();
    return [...p.querySelectorAll('text')].map(t => [t, t.getBoundingClientRect()])
      .filter(([t, r]) => r.width > 0 && (r.left < box.left - 1 || r.right > box.right + 1 || r.top < box.top - 1))
      .map(([t, r]) => `${p.closest('[id^=inside-]').id}: ${t.textContent} ` +
           `(${Math.round(r.left - box.left)}..${Math.round(r.right - box.left)} of ${Math.round(box.width)} px, ` +
           `top ${Math.round(r.top - box.top)})`)})"""

# (id, figure width, container width) of every plot of the tab
WIDTHS = """() => [...document.querySelectorAll('[id^=inside-] .js-plotly-plot')].map(p => {
    const svg = p.querySelector('.main-svg'), col = p.closest('[id^=inside-]');
    return [col.id, svg.getBoundingClientRect().width, col.getBoundingClientRect().width]})"""

# each label of the "where you are" diagram and the box (rect shape) it sits in: labels that leave their box
LABELS_OUTSIDE_BOXES = """() => {
    const p = document.querySelector('#inside-stack .js-plotly-plot');
    const boxes = [...p.querySelectorAll('.shapelayer path')].map(s => s.getBoundingClientRect())
      .filter(r => r.width > 4 && r.height > 4);
    const out = [];
    for (const g of p.querySelectorAll('.annotation')) {
      const r = g.querySelector('text').getBoundingClientRect(), text = g.textContent;
      if (text === '→' || text === '…' || !r.width) continue;
      const cx = (r.left + r.right) / 2, cy = (r.top + r.bottom) / 2;
      const box = boxes.find(b => b.left <= cx && cx <= b.right && b.top <= cy && cy <= b.bottom);
      if (!box || r.left < box.left || r.right > box.right || r.top < box.top || r.bottom > box.bottom)
        out.push(text + (box ? ` (${Math.round(r.width)} px in a ${Math.round(box.width)} px box)` : ' (no box)'));
    }
    return [out, boxes.length];
}"""


def check_the_tab(page: Page, cfg, lang: str, shot: Path) -> None:
    """Every row drawn for this block; nothing wider than the column, no text past its figure, labels in boxes."""
    for elem in PLOTS[1:]:
        if elem == "inside-heads":  # boxes and lines, no traces
            expect(plot(page, elem).locator(".shapelayer path").nth(cfg.n_head)).to_be_attached(timeout=TIMEOUT)
        elif elem != "inside-rope" or cfg.positions == "rotary":
            expect_drawn(page, elem, 200)
    rotary = cfg.positions == "rotary"
    expect(plot(page, "inside-norm")).to_contain_text("RMSNorm" if rotary else "LayerNorm")
    expect(plot(page, "inside-heads")).to_contain_text(f"K, V {cfg.n_kv_head - 1}")
    expect(plot(page, "inside-mlp")).to_contain_text("silu" if rotary else "GELU")
    if rotary:
        expect(plot(page, "inside-rope")).to_contain_text("RoPE")
        assert plot(page, "inside-rope").locator("g.trace.scatter").count() == 2  # q's pairs before and after
    page.wait_for_timeout(300)
    for elem, fig_w, col_w in page.evaluate(WIDTHS):
        assert fig_w <= col_w + 1, (elem, fig_w, col_w)
    assert page.evaluate(TEXT_OUTSIDE) == []
    outside, n_boxes = page.evaluate(LABELS_OUTSIDE_BOXES)
    assert n_boxes >= 10 and outside == []
    shot.parent.mkdir(parents=True, exist_ok=True)
    page.locator("#inside-note").scroll_into_view_if_needed()
    page.screenshot(path=str(shot), full_page=True)


def test_inside_tab_draws_every_block_and_fits_its_column(page: Page, inside_server):
    kind, demo, model = inside_server
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(demo.local_url)
    expect(page.locator("#chips .tok.prompt").first).to_be_visible(timeout=TIMEOUT)
    for i in range(3):  # a few generated tokens: the view shows the newest step's pass
        page.locator("#step").click()
        expect(page.locator("#chips .tok.gen")).to_have_count(i + 1, timeout=TIMEOUT)
    page.get_by_role("tab", name=i18n.t("tab.inside", "en")).click()
    expect(plot(page, "inside-params")).to_be_visible(timeout=TIMEOUT)
    check_the_tab(page, model.config, "en", SHOTS / f"inside-{kind}-en.png")
    page.locator("#lang label", has_text="中文").click()  # the open tab redraws in 中文
    expect(plot(page, "inside-stack")).to_contain_text("你在这里", timeout=TIMEOUT)
    expect(plot(page, "inside-params")).to_contain_text("参数", timeout=TIMEOUT)
    check_the_tab(page, model.config, "zh", SHOTS / f"inside-{kind}-zh.png")
