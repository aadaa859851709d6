"""Issue 18 point 6, views that misled: Compare shows what differs between its columns step by step (the
chosen token marked even outside the top bars), the beam table starts each hypothesis where it differs and
the tree draws every step, bar numbers stay inside their panel, the overview counts the positions it draws,
and the KV formula speaks 中文.

Figures are checked on plain data and on real sessions of a tiny random model; the text geometry is
measured in Chromium on the figure alone (plotly.js from the plotly package, no server).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest

from playground import figures, i18n, lessons
from playground.config import SamplingParams
from playground.session import Session
from tests.conftest import tiny_gpt
from tests.test_figures import check, dense


# -- Compare, step by step -------------------------------------------------------------------------------
def step(tokens, probs, token, rank, prob=None, kept=100, context="␣a"):
    return dict(tokens=tokens, probs=np.array(probs), kept=kept, entropy=1.0, token=token, rank=rank,
                prob=probs[rank] if prob is None else prob, context=context)


def two_columns():
    """Column A greedy; column B draws a token of rank 41 at its second step: the columns part at step 2."""
    top = ["␣the", "␣a", "↵", "␣my", "␣I", "␣his", "␣to", "␣and", "␣so", "␣no"]
    p = [0.3, 0.2, 0.1, 0.08, 0.06, 0.05, 0.04, 0.03, 0.02, 0.01]
    a = [step(top, p, "␣the", 0), step(top, p, "␣the", 0), step(top, p, "␣a", 1)]
    b = [step(top, p, "␣the", 0), step(top, p, "␣zebra", 41, prob=0.0007)]
    return [dict(side="A", settings="greedy", vocab=300, steps=a), dict(side="B", settings="T = 1", vocab=300, steps=b)]


def visible_strings(x, key=""):
    """Every string a reader sees in a figure dict: texts, tick labels, hover templates, slider labels."""
    if isinstance(x, dict):
        for k, v in x.items():
            yield from visible_strings(v, k)
    elif isinstance(x, (list, tuple)):
        for v in x:
            yield from visible_strings(v, key)
    elif isinstance(x, str) and key.split(".")[-1] in ("text", "ticktext", "prefix", "hovertemplate", "customdata"):
        yield x


def panel_traces(d):
    return [t for t in d["data"] if t["type"] == "bar"]


def test_compare_opens_at_the_first_step_where_columns_differ_and_marks_a_choice_below_the_top_bars():
    d = check(figures.compare_steps(two_columns()))
    assert "first choose differently at step 2" in d["layout"]["title"]["text"]
    a, b = panel_traces(d)
    assert len(dense(a["x"])) == 8 and a["marker"]["color"][0] == figures.CHOSEN  # greedy: rank 1, orange
    # B drew rank 42 (0-based 41): a ninth row, orange, labelled with its rank and its own probability
    assert len(dense(b["x"])) == 9 and b["marker"]["color"][-1] == figures.CHOSEN
    assert b["marker"]["color"][:8] == [figures.KEPT] * 8
    assert dense(b["x"])[-1] == pytest.approx(0.0007)
    assert "42. ␣zebra" in d["layout"]["yaxis3"]["ticktext"][-1] and figures.CHOSEN in d["layout"]["yaxis3"]["ticktext"][-1]
    assert "rank 42 · <0.1%" in d["layout"]["annotations"][2]["text"]


def test_compare_slider_carries_every_step_and_says_when_a_column_stopped():
    d = check(figures.compare_steps(two_columns()))
    slider = d["layout"]["sliders"][0]
    assert [s["label"] for s in slider["steps"]] == ["1", "2", "3"] and slider["active"] == 1
    restyle, relayout, traces = slider["steps"][2]["args"]
    assert len(traces) == 2 and restyle["x"][1] == []  # B stopped after 2 tokens: no bars at step 3
    assert "stopped after 2 tokens" in relayout["annotations[2].text"]
    assert restyle["marker.color"][0][1] == figures.CHOSEN  # A chose rank 2 at step 3
    # the top strip: the probability of each chosen token, every step, one line per column
    strip = [t for t in d["data"] if t["type"] == "scatter"]
    assert [list(dense(t["y"])) for t in strip] == [[0.3, 0.3, 0.2], [0.3, pytest.approx(0.0007)]]


def test_compare_identical_columns_say_so_and_zh_has_no_english():
    cols = two_columns()
    cols[1]["steps"] = cols[0]["steps"]
    assert "chose the same tokens" in figures.compare_steps(cols).layout.title.text
    shown = " ".join(visible_strings(figures.compare_steps(two_columns(), lang="zh").to_dict()))
    assert "第 2 步" in shown
    for word in ("step", "rank", "kept", "stopped", "drag", "chose", "Probability", "column"):
        assert word not in shown, word
    with pytest.raises(ValueError, match="1 to 4"):
        figures.compare_steps([])
    with pytest.raises(ValueError, match="outside"):
        figures.compare_steps(two_columns(), step=7)


def test_compare_figure_of_real_sessions_shows_each_columns_own_distribution(small_tokenizer):
    """Greedy and T = 1 share step 1 (same prompt, same logits), then each panel is the distribution that
    column really sampled from: its record's final stage, in its own context."""
    model = tiny_gpt(vocab_size=small_tokenizer.vocab_size)
    runs = []
    for letter, side in zip("AB", (lessons.Side(temperature=0.0), lessons.Side(temperature=1.0))):
        s = Session(model, small_tokenizer, "ROMEO:", side.params(SamplingParams(seed=3, max_new_tokens=12)),
                    capture_attention=False)
        s.run()
        runs.append((letter, side, s, small_tokenizer.vocab_size))
    cols = figures.compare_columns(runs)
    d = check(figures.compare_figure(runs, "en", step=5))
    for k, (_, _, s, _) in enumerate(runs):
        rec = s.records[5]
        bars = panel_traces(d)[k]
        n = min(8, rec.stages[-1].kept)
        np.testing.assert_allclose(dense(bars["x"])[:n], np.round(rec.stages[-1].top_probs[:n], 4))
        orange = [i for i, c in enumerate(bars["marker"]["color"]) if c == figures.CHOSEN]
        assert len(orange) == 1 and cols[k]["steps"][5]["token"] == rec.token
        assert dense(bars["x"])[orange[0]] == pytest.approx(rec.prob, abs=1e-4)
    assert all(st["rank"] == 0 for st in cols[0]["steps"])  # greedy always takes the top bar


# -- beam search -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Hyp:
    tokens: tuple
    logprob: float = -1.0
    score: float = -0.1


def test_beam_table_starts_each_hypothesis_where_it_differs():
    from playground.ui.beam import divergence, hypothesis_rows

    shared = tuple(range(30))
    hyps = [Hyp(shared + (40, 41)), Hyp(shared + (40, 42)), Hyp(shared + (50, 51)), Hyp((60,) + shared[1:])]
    assert divergence([h.tokens for h in hyps]) == [31, 31, 30, 0]
    decode = lambda ids: "".join(f"<{i}>" for i in ids)  # noqa: E731
    rows = hypothesis_rows(hyps[:3], decode, "en")
    assert "same 30 tokens" in rows[0]
    body = rows[4:]
    # each row leads in with a few shared tokens, then (bold) what only it has
    lead = "".join(f"&#60;{i}&#62;" for i in range(25, 30))
    assert f"…{lead}&#60;40&#62;<b>&#60;41&#62;</b>" in body[0] and f"&#60;40&#62;<b>&#60;42&#62;</b>" in body[1]
    assert f"…&#60;24&#62;{lead}<b>&#60;50&#62;&#60;51&#62;</b>" in body[2]
    assert [r.split("|")[3].strip() for r in body] == ["32", "32", "31"]
    assert all(r.split("|")[2].strip().startswith("…") for r in body)
    assert "同" in hypothesis_rows(hyps[:3], decode, "zh")[0]


def test_beam_tree_draws_every_step_and_pans_to_the_rest(small_tokenizer):
    from playground.beam import beam_search

    model = tiny_gpt(vocab_size=small_tokenizer.vocab_size)
    b = beam_search(model, small_tokenizer.encode_ids("ROMEO:"), SamplingParams(strategy="beam", num_beams=4,
                                                                                 max_new_tokens=30))
    d = check(figures.beam_figure(b, small_tokenizer.token_str, 1.0, "en"))
    xs = [x for t in d["data"] if t.get("mode") == "markers+text" for x in dense(t["x"])]
    assert max(xs) == b.steps and min(xs) == 0  # steps 1..30 all drawn, the prompt at 0
    assert d["layout"]["xaxis"]["rangeslider"]["visible"] and d["layout"]["xaxis"]["range"][1] < 11
    assert f"steps 1–10 of {b.steps} in view" in d["layout"]["title"]["text"]
    assert "rangeslider" not in check(figures.beam_figure(
        beam_search(model, small_tokenizer.encode_ids("ROMEO:"), SamplingParams(strategy="beam", num_beams=2,
                                                                                max_new_tokens=5)),
        small_tokenizer.token_str, 1.0, "en"))["layout"]["xaxis"]


# -- the numbers stay in their panel (measured in Chromium) ------------------------------------------------
PLOTLY_JS = Path(go.__file__).resolve().parent.parent / "package_data" / "plotly.min.js"


def text_overflow(page, fig: go.Figure, tmp_path: Path, width: int, notes: bool = False) -> list:
    """Draw ``fig`` alone at ``width`` px; every bar label (and, ``notes``, every annotation but the first, the
    figure-wide heading) that crosses into the next panel's plot area."""
    html = tmp_path / "fig.html"
    html.write_text(fig.to_html(include_plotlyjs=str(PLOTLY_JS), full_html=True, default_width=f"{width}px"))
    page.set_viewport_size({"width": width + 40, "height": 1200})
    page.goto(html.as_uri())
    page.wait_for_selector("g.trace.bars text")
    return page.evaluate("""() => {
        const gd = document.querySelector('.js-plotly-plot'), L = gd._fullLayout, box = gd.getBoundingClientRect();
        const axes = Object.keys(L).filter(k => /^xaxis\\d*$/.test(k) && L[k]._length).map(k => L[k])
            .sort((a, b) => a._offset - b._offset);
        const bad = [], texts = [...document.querySelectorAll('g.trace.bars text')];
        if (NOTES) texts.push(...[...document.querySelectorAll('g.annotation')].slice(1));
        texts.forEach(t => {
            const r = t.getBoundingClientRect(), right = r.right - box.left, left = r.left - box.left;
            const next = axes.find(a => a._offset > left + 1);
            if (next && right > next._offset - 2) bad.push([t.textContent, right, next._offset]);
        });
        return bad;
    }""".replace("NOTES", "true" if notes else "false"))


def test_hundred_percent_stays_in_its_stage_panel(page, tmp_path):
    rows = 5
    values = np.tile(np.array([1.0, 0.0, 0.0, 0.0, 0.0]), (6, 1))
    values[:2] = [0.62, 0.2, 0.1, 0.05, 0.03]  # raw, penalty; later stages leave one token at 100 %
    removed = np.zeros((6, rows), dtype=bool)
    removed[2:, 1:] = True
    fig = figures.next_token_stages(["raw", "penalty", "temperature", "top-k", "top-p", "min-p = final"],
                                    ["␣the", "␣a", "↵", "␣my", "␣I"], values, removed, 0,
                                    rest_count=[0] * 6, rest_mass=[0.0] * 6)
    assert "100.0%" in fig.data[5].text
    assert text_overflow(page, fig, tmp_path, 900) == []


def test_compare_percentages_stay_in_their_panel(page, tmp_path):
    cols = two_columns()
    cols[0]["steps"][0] = step(["␣the", "␣a"], [0.9996, 0.0004], "␣the", 0)
    cols.append(dict(side="C", settings="top-k 1", vocab=300, steps=[step(["␣the"], [1.0], "␣the", 0, kept=1)]))
    cols[1]["settings"] = "T = 0.7 · top-k 10 · top-p 0.9 · penalty 1.2 · “To be, or not to…”"
    assert text_overflow(page, figures.compare_steps(cols, step=0), tmp_path, 900, notes=True) == []


# -- attention: the overview and the head map count the same positions ------------------------------------
@pytest.mark.parametrize("window", [None, 12])
def test_attention_titles_count_the_rows_the_head_map_draws(small_tokenizer, window):
    """At every step (and with a session that keeps only 12 keys) both titles state the head map's rows."""
    import re

    from playground.ui.attention import render_attention
    from playground.ui.sessions import PageState
    from playground.ui.views import Selection

    model = tiny_gpt(vocab_size=small_tokenizer.vocab_size)
    s = Session(model, small_tokenizer, "ROMEO:", SamplingParams(strategy="greedy", max_new_tokens=20),
                attention_window=window)
    s.run(16)
    ps = PageState("tiny", s)
    for step in (0, 7, 15):
        heat, over = (check(f) for f in render_attention(ps, Selection(step, 1, 0, "probabilities")))
        rows = len(dense(heat["data"][0]["z"]))
        S = s.records[step].position
        assert rows == min(S, window or S)
        said = [re.search(r"(?:all (\d+)|last (\d+) of (\d+)) positions read", f["layout"]["title"]["text"]).groups()
                for f in (heat, over)]
        for all_, last, total in said:
            assert int(all_ or total) == S  # the same count of positions in both titles
        assert int(said[0][0] or said[0][1]) == rows


# -- the KV formula in the page's language -----------------------------------------------------------------
def test_kv_formula_text_is_chinese_in_chinese_mode():
    from playground.model import KVCache

    cfg = tiny_gpt(n_kv_head=1).config
    zh = KVCache.formula_text(cfg, 1, 5, lang="zh")
    assert zh == "2 × 2 层 × 批大小 1 × 1 个 KV 头 × 5 个位置 × 每个头 8 维 × 每个值 4 字节 = 640 字节"
    assert KVCache.formula_bytes(cfg, 1, 5) == 640
    assert KVCache.formula_text(cfg, 1, 5).endswith("4 bytes = 640 bytes")  # English by default, as before


def test_compare_slider_redraws_the_panels_in_the_browser(page, tmp_path):
    """Dragging the slider to the last step shows that step's bars and notes, with no server."""
    fig = figures.compare_steps(two_columns())
    assert text_overflow(page, fig, tmp_path, 900) == []
    rail = page.locator("g.slider-container rect.slider-rail-touch-rect").first
    box = rail.bounding_box()
    page.mouse.click(box["x"] + box["width"] - 4, box["y"] + box["height"] / 2)
    page.wait_for_timeout(300)
    notes = page.evaluate("() => document.querySelector('.js-plotly-plot').layout.annotations.map(a => a.text)")
    assert notes[1].startswith("<b>A</b>") and "step 3:" in notes[1] and "stopped after 2 tokens" in notes[2]
    colours = page.evaluate("() => document.querySelector('.js-plotly-plot').data[2].marker.color")
    assert colours[1] == figures.CHOSEN and colours[0] == figures.KEPT  # A chose its second bar at step 3


# -- the Train tab's presets promise what they show ----------------------------------------------------------
def test_each_preset_label_states_its_steps_in_both_languages():
    from playground.train import PRESETS

    for name, (_, train) in PRESETS.items():
        en, zh = i18n.t(f"preset.{name}", "en"), i18n.t(f"preset.{name}", "zh")
        assert f"{train['steps']} steps" in en and f"{train['steps']} 步" in zh, name
        assert "→ loss ~" in en and "→ 损失约" in zh  # what it shows, not only how long it takes


def test_the_preset_dropdown_is_relabelled_with_the_language():
    """The Train tab's preset choices: (label in the page's language, preset name)."""
    from types import SimpleNamespace

    import gradio as gr

    from playground.train import PRESETS, TrainLimits
    from playground.ui.context import Strings
    from playground.ui.training import build_tab

    ctx = SimpleNamespace(strings=Strings(), limits=TrainLimits())
    with gr.Blocks(), gr.Tabs():
        c = build_tab(ctx, lambda ctx, key: None)
    updates = dict(zip((id(comp) for comp in ctx.strings.components), ctx.strings.updates("zh")))
    zh = updates[id(c["preset"])]
    assert [v for _, v in zh["choices"]] == list(PRESETS) and zh["choices"][0][0].startswith("微型")
    assert "最多允许" in updates[id(c["t_block"])]["info"] and "最多允许" in updates[id(c["t_steps"])]["info"]
