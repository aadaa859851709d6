"""The "Faster inference" tab (issue 20): its batching and continuous-batching sections through their handlers,
their figures (English and 中文), and the tab in a real browser with screenshots (screenshots/issue20/)."""
from __future__ import annotations

import json
from pathlib import Path

import gradio as gr
import plotly.graph_objects as go
import pytest
from playwright.sync_api import Page as BrowserPage, expect

from playground import figures, i18n, lessons
from playground.batching import generate_batch, sweep
from playground.ui.context import AppContext
from playground.ui.faster import FasterView, draw
from playground.ui.page import Page
from tests.test_browser import TIMEOUT, expect_drawn, plot
from tests.test_figures import dense
from tests.test_ui_api import model_and_tok, server  # noqa: F401  (fixtures: one tiny model, one server)

SHOTS = Path(__file__).resolve().parent.parent / "screenshots" / "issue20"


def shown(fig) -> str:
    """Every text of a figure, as JSON with its Chinese as written."""
    return json.dumps(fig.to_dict(), ensure_ascii=False, default=str)


@pytest.fixture(scope="module")
def view(model_and_tok):  # noqa: F811
    ctx = AppContext.build(lambda name: model_and_tok, {"shakespeare": None, "gpt2": "no network here"})
    return FasterView(Page(ctx))


def test_the_sweep_handler_draws_what_the_engine_measured(view):
    results, fig, md = view.sweep(None, "shakespeare", "en", None)
    s = results["sweep"][0]
    assert [p.batch for p in s.points] == [1, 2, 4, 8, 16, 32]
    d = fig.to_dict()
    go.Figure(d)  # valid plotly
    ms = [t for t in d["data"] if t["name"] == "ms per decode step"][0]
    assert dense(ms["y"]).tolist() == [p.ms_per_step for p in s.points]
    floor = [t for t in d["data"] if t["name"].startswith("floor")][0]
    assert dense(floor["y"]).tolist() == [s.floor_ms] * 2
    assert f"{s.floor_ms:.3g} ms" in md and f"{s.bandwidth_gbs:.1f} GB/s" in md and "Batch 32" in md


def test_the_queue_handler_runs_both_policies_on_one_queue(view, model_and_tok):  # noqa: F811
    results, fig, md = view.queue(None, "shakespeare", "en", 6, 3, 2, {"sweep": "kept"})
    assert results["sweep"] == "kept"  # the other section's result stays
    (static, cont), (prompts, news, arrivals) = results["queue"]
    assert (static.policy, cont.policy) == ("static", "continuous") and static.max_batch == cont.max_batch == 3
    model, _ = model_and_tok
    again = generate_batch(model, prompts, news, "continuous", 1, arrivals)  # one slot: each request alone in turn
    assert static.outputs == cont.outputs == again.outputs
    assert "same tokens ✓" in md and f"| **static** | {static.throughput:,.0f} |" in md
    d = fig.to_dict()
    go.Figure(d)
    bars = [t for t in d["data"] if t["type"] == "bar"]
    assert {t["name"] for t in bars} >= {"idle slot", "prefill: one forward over a new prompt"}
    assert sum(len(t["x"]) for t in bars if t["name"].startswith("prefill")) == 2 * len(prompts)  # one per request
    assert f"{cont.throughput:,.0f} tokens/s" in json.dumps(d["layout"]["annotations"], ensure_ascii=False)


@pytest.mark.parametrize("kw, message", [
    (dict(n=100), "the number of requests must be a whole number from 2 to 24; got 100"),
    (dict(slots=2.5), "the number of batch slots must be a whole number from 1 to 8; got 2.5"),
    (dict(every=None), "the steps between arrivals must be a whole number from 0 to 8; got None"),
])
def test_bad_queue_settings_are_refused_by_name(view, kw, message):
    args = {**dict(n=6, slots=2, every=1), **kw}
    with pytest.raises(ValueError, match=message):
        view.queue(None, "shakespeare", "en", args["n"], args["slots"], args["every"], None)
    with pytest.raises(ValueError, match="gpt2 is not available: no network here"):
        view.sweep(None, "gpt2", "en", None)


def test_language_switch_and_lessons_redraw_the_results(view):
    results, *_ = view.queue(None, "shakespeare", "en", 4, 2, 0, None)
    sweep_fig, sweep_md, queue_fig, queue_md = view.relabel(results, "zh")
    assert "按下按钮" in shown(sweep_fig) and sweep_md == ""  # not measured yet
    assert "连续批处理" in shown(queue_fig) and "吞吐量" in queue_md
    index = lessons.LESSON_KEYS.index("batching")
    out = view.lesson(index, "zh", results)
    assert "queue" in out[0] and "sweep" in out[0] and "批大小 32" in shown(out[1])
    assert view.lesson(0, "en", None) == (gr.skip(),) * 5  # another lesson: nothing here


def test_zh_figures_and_texts_have_no_english(view):
    from tests.test_texts import english_words, texts_of  # here: that module draws every figure when imported

    results, *_ = view.sweep(None, "shakespeare", "zh", None)
    results, *_ = view.queue(None, "shakespeare", "zh", 5, 2, 1, results)
    for out in draw(results, "zh") + draw(None, "zh"):
        strings = texts_of(out) if isinstance(out, go.Figure) else [out]
        for s in strings:
            assert not english_words(s), (english_words(s), s)
    keys = [k for k in i18n.STRINGS if k.startswith(("fig.batch", "fig.seg_", "fig.policy_", "cont_", "batch_",
                                                       "lesson.batching", "lesson.continuous", "note.faster"))]
    assert len(keys) > 20


def test_figures_refuse_bad_input():
    with pytest.raises(ValueError, match="same, non-zero length"):
        figures.batch_sweep([1, 2], [1.0], [1.0, 2.0], 0.5)
    with pytest.raises(ValueError, match="floor_ms must be a positive number"):
        figures.batch_sweep([1], [1.0], [1.0], float("nan"))
    with pytest.raises(ValueError, match="one or two runs"):
        figures.batch_timeline([])


def test_the_tab_in_the_browser(page: BrowserPage, server):  # noqa: F811
    demo, _ = server
    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto(demo.local_url)
    expect(page.locator("#chips .tok.prompt").first).to_be_visible(timeout=TIMEOUT)
    page.locator("#lessons").get_by_text(i18n.t("lesson.batching.title")).click()  # the lesson opens the tab, measures
    expect(page.get_by_role("tab", name="Faster inference")).to_have_attribute("aria-selected", "true", timeout=TIMEOUT)
    expect(plot(page, "sweep-plot")).to_contain_text("Batch 32:", timeout=TIMEOUT)
    expect_drawn(page, "sweep-plot", 380)
    expect(page.locator("#sweep-md")).to_contain_text("floor", timeout=TIMEOUT)
    for name, value in (("n", "8"), ("slots", "3")):
        box = page.locator(f"#queue_{name} input[type=number]")
        box.fill(value)
        box.press("Enter")
    page.locator("#queue_btn").click()
    expect(plot(page, "queue-plot")).to_contain_text("Continuous batching", timeout=TIMEOUT)
    expect_drawn(page, "queue-plot", 380)
    expect(plot(page, "queue-plot").locator("text", has_text="slot 3").first).to_be_attached()
    expect(page.locator("#queue-md")).to_contain_text("same tokens ✓")
    expect(page.locator("#queue-md table tr")).to_have_count(3)  # head, static, continuous
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("#tab-faster").screenshot(path=str(SHOTS / "faster-en.png"))
    page.locator("#lang").get_by_text("中文").click()
    expect(plot(page, "queue-plot")).to_contain_text("连续批处理", timeout=TIMEOUT)
    expect(plot(page, "sweep-plot")).to_contain_text("批大小 32", timeout=TIMEOUT)
    expect(page.locator("#queue-md")).to_contain_text("吞吐量")
    expect(page.get_by_role("tab", name="推理优化")).to_be_visible()
    page.wait_for_timeout(500)
    page.locator("#tab-faster").screenshot(path=str(SHOTS / "faster-zh.png"))
