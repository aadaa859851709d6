"""The Architecture tab: its handlers on tiny local models, its figures in 中文, its lessons, and the page in a
real browser (the calculator, the two blocks, the RoPE shift experiment; screenshots in English and 中文)."""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from playwright.sync_api import Page, expect

from playground import arch, i18n, lessons, ui
from playground.config import GPTConfig
from playground.model import GPT
from playground.ui.architecture import ArchView, N_LESSON_OUTPUTS
from playground.ui.context import AppContext
from tests.test_browser import TIMEOUT, expect_drawn, open_tab
from tests.test_ui_api import free_port

SHOTS = Path(__file__).resolve().parent.parent / "screenshots" / "issue19"
ROTARY = GPTConfig(vocab_size=512, block_size=128, n_layer=2, n_head=8, n_kv_head=2, n_embd=64, bias=False,
                   norm="rmsnorm", positions="rotary", mlp="swiglu", intermediate_size=96, tie_word_embeddings=False)


def sharpened(cfg: GPTConfig) -> GPT:
    """A random model whose attention scores are of order 1 (a flat average would make a blank-looking chart)."""
    torch.manual_seed(0)
    model = GPT(cfg).eval()
    with torch.no_grad():
        for block in model.transformer.h:
            block.attn.c_attn.weight.mul_(10)
    return model


@pytest.fixture(scope="module")
def models(small_tokenizer):
    return {"shakespeare": (sharpened(dataclasses.replace(ROTARY, norm="layernorm", positions="learned", mlp="gelu",
                                                          bias=True, n_kv_head=8)), small_tokenizer),
            "shakespeare-llama": (sharpened(ROTARY), small_tokenizer)}


@pytest.fixture(scope="module")
def view(models):
    choices = {"shakespeare": None, "shakespeare-llama": None, "gpt2": "not in the Hugging Face cache"}
    return ArchView(AppContext.build(lambda name: models[name], choices))


# -- the calculator --------------------------------------------------------------------------------------
def test_the_calculator_reproduces_the_notes_example(view):
    md, params, kv = view.calculate(["Llama-2-7B"], "", 4096, 1, "fp16", 0, "en")
    assert "| Llama-2-7B | 6,607,343,616 · **6,738,415,616** |" in md and "**2.0 GiB**" in md
    assert f"`{arch.kv_formula(arch.shipped('Llama-2-7B'), 4096)}`" in md
    assert "× 4,096 positions × 128 head_dim × 2 bytes = 2,147,483,648 bytes`" in md
    md8, _, kv8 = view.calculate(["Llama-2-7B"], "", 4096.0, 1, "fp16", 8, "en")
    assert "**512.0 MiB**" in md8 and "8 KV heads" in md8 and "(75 % less)" in md8
    md4, _, _ = view.calculate(["GPT-2 small", "Llama-2-7B"], "", 4096, 1, "fp16", 4, "en")
    assert "cannot serve" not in md4 and "| GPT-2 small · 4 KV heads |" in md4  # 4 divides 12 and 32
    md5, _, _ = view.calculate(["GPT-2 small", "Llama-2-7B"], "", 4096, 1, "fp16", 5, "en")
    assert md5.startswith("⚠️ 5 KV heads cannot serve the query heads of GPT-2 small, Llama-2-7B")
    md5, _, _ = view.calculate(["GPT-2 small", "Llama-2-7B"], "", 4096, 1, "fp16", 8, "en")
    assert md5.startswith("⚠️ 8 KV heads cannot serve the query heads of GPT-2 small (8 must divide")
    assert "| GPT-2 small | **124,439,808**" in md5 and "| Llama-2-7B · 8 KV heads |" in md5
    # the plot's line is the formula: its value at 4,096 positions, in the plot's unit (GiB)
    line = kv.data[0]
    assert np.interp(4096, line.x, line.y) == pytest.approx(2.0) and "GiB" in kv.layout.yaxis.title.text
    assert np.interp(4096, kv8.data[0].x, kv8.data[0].y) == pytest.approx(512) and "MiB" in kv8.layout.yaxis.title.text
    shares = sum(bar.x[0] for bar in params.data)
    assert shares == pytest.approx(100)


def test_the_calculator_reports_components_tied_untied_and_gqa_savings(view):
    md, _, _ = view.calculate(["GPT-2 small", "Llama-3-8B"], "", 1000, 4, "int8", 0, "en")
    gpt2, llama3 = arch.breakdown(arch.shipped("GPT-2 small")), arch.breakdown(arch.shipped("Llama-3-8B"))
    assert f"| GPT-2 small | **{gpt2.total:,}** · {gpt2.total_untied:,} | 118.7 MiB |" in md  # int8: 1 byte each
    assert f"| Llama-3-8B | {llama3.total_tied:,} · **{llama3.total:,}** |" in md
    assert f"| attention | {gpt2.components['attention']:,} | {llama3.components['attention']:,} |" in md
    kv = arch.kv_cache_bytes(arch.shipped("Llama-3-8B"), 1000, 4, 1)
    assert f"= {kv:,} bytes`" in md
    assert "GQA: 8 KV heads for 32 query heads" in md and "(75 % less)" in md


def test_a_pasted_config_is_counted_and_a_bad_one_named(view):
    pasted = '{"model_type": "qwen2", "vocab_size": 151936, "hidden_size": 896, "num_hidden_layers": 24, ' \
             '"num_attention_heads": 14, "num_key_value_heads": 2, "intermediate_size": 4864, "tie_word_embeddings": true}'
    md, _, _ = view.calculate([], pasted, 10, 1, "fp32", 0, "en")
    assert "| pasted config | **494,032,768** · 630,167,424 | 1.8 GiB |" in md
    for text, message in (("{", "not valid JSON"), ('{"model_type": "bert"}', "'bert' is not supported"),
                          ("x" * 70_000, "over the limit of 65,536")):
        with pytest.raises(ValueError, match=message):
            view.calculate([], text, 10, 1, "fp16", 0, "en")
    for args, message in (((["GPT-2 small"], "", -1, 1, "fp16", 0), "Context"), ((["GPT-2 small"], "", 9, 0, "fp16", 0),
                          "Batch"), ((["GPT-2 small"], "", 9, 1, "fp64", 0), "data type"),
                          ((["GPT-2 small"], "", 9, 1, "fp16", -1), "KV heads"), (([], "", 9, 1, "fp16", 0), "pick")):
        with pytest.raises(ValueError, match=message):
            view.calculate(*args, "en")


def test_the_pair_view_names_the_fields_that_differ_and_reads_the_servers_models(view, models):
    fig, md = view.compare("config:GPT-2 small", "config:SmolLM2-135M", "en")
    assert "| normalisation (`norm`) | LayerNorm | RMSNorm |" in md and "| key/value heads (`n_kv_head`) | 12 | 3 |" in md
    texts = [a.text for a in fig.layout.annotations]
    assert any("RMSNorm" in t for t in texts) and any("GQA: 9 query heads share 3 KV heads" in t for t in texts)
    orange = [s for s in fig.layout.shapes if s.fillcolor == "#FDE3C8"]
    assert len(orange) >= 2 * 6  # norms ×3, positions, attention, MLP, head differ in kind: on both sides
    _, md = view.compare("model:shakespeare", "model:shakespeare-llama", "en")
    assert "| positions (`positions`) | learned (a table) | rotary (RoPE) |" in md
    with pytest.raises(ValueError, match="neither a shipped config nor a model"):
        view.compare("model:gpt2", "config:GPT-2 small", "en")  # offered, but unavailable


# -- RoPE ---------------------------------------------------------------------------------------------------
def test_the_rope_view_shows_the_same_scores_after_a_shift(view):
    layer, head, angles, fig, note, last = view.rope("shakespeare-llama", "Fair is foul, and foul is fair", 40, 1, 9, "en")
    assert layer["choices"] == [0, 1] and layer["value"] == 1 and head["value"] == 7  # head clamped to the model's 8
    left, right = fig.data[0].z, fig.data[1].z
    assert np.nanmax(np.abs(np.array(left, float) - np.array(right, float))) < 1e-4
    assert np.nanmax(np.abs(np.array(left, float))) > 1
    assert "the same scores" in fig.layout.title.text and "Every one of its 2 layers × 8 heads" in note
    assert angles.data[0].z.shape == (4, 128)  # head_dim 8 → 4 pairs, positions 0..127
    assert last == ["shakespeare-llama", "Fair is foul, and foul is fair", 40, 1, 7]


def test_a_learned_position_model_shows_the_scores_change(view):
    *_, fig, note, _ = view.rope("shakespeare", "Fair is foul, and foul is fair", 40, 0, 0, "en")
    assert "the scores change" in fig.layout.title.text and "learned positions" in note
    d = float(re.search(r"max \|Δ\| = ([0-9.e+-]+)", note).group(1))
    assert d > 0.01
    with pytest.raises(ValueError, match="choose a shift from 0 to"):
        view.rope("shakespeare-llama", "Fair is foul", 127, 0, 0, "en")
    with pytest.raises(ValueError, match="not available"):
        view.rope("gpt2", "Fair is foul", 1, 0, 0, "en")


# -- the language switch, the lessons, 中文 -------------------------------------------------------------------
def test_a_language_switch_redraws_every_figure_and_keeps_a_bad_paste_visible(view):
    calc = (["GPT-2 small"], "", 1024, 1, "fp16", 0)
    pair = ("config:GPT-2 small", "config:Llama-2-7B")
    out = view.relabel("zh", *calc, *pair, ["shakespeare-llama", "Fair is foul", 5, 0, 0])
    assert len(out) == 3 + 2 + 3
    assert "模型" in out[0] and "参数" in out[1].layout.title.text and "不同" in out[4]
    assert "得分相同" in out[6].layout.title.text
    bad = view.relabel("zh", ["GPT-2 small"], "{", 1024, 1, "fp16", 0, *pair, None)
    assert "not valid JSON" in bad[0] and "请修改" in bad[1].layout.annotations[0].text


def test_the_two_lessons_set_up_the_tab(view):
    keys = [x.key for x in lessons.LESSONS]
    memory = view.lesson(keys.index("memory"), "en")
    assert len(memory) == N_LESSON_OUTPUTS
    assert memory[0] == ["Llama-2-7B", "Llama-3-8B", "Mistral-7B"] and "**2.0 GiB**" in memory[6]
    modern = view.lesson(keys.index("modern"), "zh")
    assert len(modern) == N_LESSON_OUTPUTS and modern[9:11] == ("config:GPT-2 small", "config:SmolLM2-135M")
    assert modern[13] == "shakespeare-llama" and "得分相同" in modern[18].layout.title.text
    other = view.lesson(keys.index("mask"), "en")
    assert len(other) == N_LESSON_OUTPUTS and all(isinstance(x, dict) and x.get("__type__") == "update" for x in other)
    # what the memory lesson says: 12.6 GiB of weights; batch 8 at 4,096 positions: 16 GiB of cache
    md, _, _ = view.calculate(["Llama-2-7B"], "", 4096, 8, "fp16", 0, "en")
    assert "| 12.6 GiB |" in md and "**16.0 GiB**" in md
    assert "12.6 GiB" in i18n.t("lesson.memory.body") and "16 GiB" in i18n.t("lesson.memory.body")
    md, _, _ = view.calculate(["Llama-2-7B", "Mistral-7B"], "", 8192, 1, "fp16", 0, "en")
    assert md.count("beyond its context window") == 1 and "beyond its context window of 4,096" in md
    for key in ("modern", "memory"):
        les = lessons.lesson(key)
        assert les.tab == "arch" and all(n in arch.SHIPPED for n in les.configs)


def test_the_figures_in_chinese_have_no_english(view):
    from tests.test_texts import english_words, texts_of

    md, params, kv = view.calculate(["GPT-2 small", "Llama-3-8B"], "", 4096, 1, "fp16", 0, "zh")
    blocks, _ = view.compare("config:GPT-2 small", "config:Qwen2.5-0.5B", "zh")
    _, _, angles, shift, _, _ = view.rope("shakespeare-llama", "Fair is foul", 5, 0, 0, "zh")
    learned = view.rope("shakespeare", "Fair is foul", 5, 0, 0, "zh")[3]
    for name, fig in (("params", params), ("kv", kv), ("blocks", blocks), ("angles", angles), ("shift", shift),
                      ("learned", learned)):
        left = {w: s for s in texts_of(fig) for w in english_words(s) if w != "shakespeare-llama"}
        assert not left, f"{name}: {left}"


# -- the page in a browser ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def arch_server(models):
    choices = {"shakespeare": None, "shakespeare-llama": None}
    demo = ui.build_demo(lambda name: models[name], choices)
    kw = ui.launch_kwargs()
    kw.update(server_port=free_port(), prevent_thread_lock=True, quiet=True)
    demo.launch(**kw)
    yield demo
    demo.close()


def test_the_architecture_tab_in_the_browser(page: Page, arch_server):
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(arch_server.local_url)
    open_tab(page, "Architecture")
    expect_drawn(page, "arch-params-plot", 200)
    expect_drawn(page, "arch-kv-plot", 300)
    expect(page.locator("#arch-calc-md")).to_contain_text("6,738,415,616", timeout=TIMEOUT)
    page.locator("#arch_kv_heads input").fill("8")
    page.locator("#arch_calc_btn").click()
    expect(page.locator("#arch-calc-md")).to_contain_text("cannot serve the query heads of GPT-2 small", timeout=TIMEOUT)
    expect(page.locator("#arch-calc-md tr", has_text="Llama-2-7B · 8 KV heads").first).to_contain_text("512.0 MiB")
    page.locator("#arch_paste textarea").fill('{"model_type": "gemma"}')
    page.locator("#arch_calc_btn").click()
    expect(page.locator(".toast-body").first).to_contain_text("'gemma' is not supported", timeout=TIMEOUT)
    page.locator("#arch_paste textarea").fill("")
    page.locator("#arch_kv_heads input").fill("0")
    page.locator("#arch_calc_btn").click()
    expect(page.locator("#arch-calc-md")).to_contain_text("2.0 GiB", timeout=TIMEOUT)
    expect(page.locator("#arch-blocks-plot .js-plotly-plot")).to_be_visible(timeout=TIMEOUT)
    page.locator("#rope_btn").click()
    expect(page.locator("#rope-md")).to_contain_text("same scores", timeout=TIMEOUT)
    expect_drawn(page, "rope-shift-plot", 400)
    expect_drawn(page, "rope-angles-plot", 300)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    # the memory lesson picks its three configs and reports them in this tab
    page.locator("#lessons").get_by_text("How much memory does my model need?").click()
    expect(page.locator("#arch-calc-md")).to_contain_text("Mistral-7B", timeout=TIMEOUT)
    expect(page.locator("#lesson-md")).to_contain_text("exactly 2 GiB", timeout=TIMEOUT)
    expect(page.locator("#arch-calc-md tr", has_text="Llama-2-7B").first).to_contain_text("2.0 GiB")
    for elem, name in (("arch-calc-section", "calculator"), ("arch-pair-section", "architecture"),
                       ("arch-rope-section", "rope")):
        shoot_view(page, elem, f"{name}-en")
    page.get_by_label("中文").check()
    expect(page.locator("#arch-calc-md")).to_contain_text("参数量", timeout=TIMEOUT)
    expect(page.locator("#rope-md")).to_contain_text("相同的得分", timeout=TIMEOUT)
    for elem, name in (("arch-calc-section", "calculator"), ("arch-pair-section", "architecture"),
                       ("arch-rope-section", "rope")):
        shoot_view(page, elem, f"{name}-zh")


def shoot_view(page: Page, section: str, name: str) -> None:
    """A screenshot of one section of the tab (its controls, texts and figures), without the fixed sidebar."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_timeout(400)
    box = page.locator(f"#{section}").evaluate(
        "e => { const r = e.getBoundingClientRect(); return {x: r.left + window.scrollX, y: r.top + window.scrollY, "
        "width: r.width, height: r.height}; }")
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True,
                    clip=dict(x=max(0, box["x"] - 8), y=max(0, box["y"] - 8), width=box["width"] + 16,
                              height=box["height"] + 16))
