"""Live next-token bars (issue 18, point 2): the page's JS port of the decoding pipeline
(playground/ui/static/pipeline.js) against playground.sampling, a slider dragged with the mouse, Enter
and arrow keys, and the "off" titles of stages at their neutral values."""
from __future__ import annotations

import base64
import dataclasses

import numpy as np
import pytest
import torch
from playwright.sync_api import Page, expect

from playground import figures
from playground.config import SamplingParams
from playground.sampling import STAGES, run_pipeline
from playground.session import Session
from tests.test_browser import SHOTS, TIMEOUT, chips, plot
from tests.test_ui_api import model_and_tok, server  # noqa: F401  (fixtures: one tiny model, one server)

KNOBS = ("repetition_penalty", "temperature", "top_k", "top_p", "min_p")


# -- "off" titles (no browser) ---------------------------------------------------------------------------
@pytest.mark.parametrize("lang, off, on", [("en", "temperature<br>(off)", "temperature"), ("zh", "温度<br>（关）", "温度")])
def test_a_stage_at_its_neutral_value_is_titled_off(model_and_tok, lang, off, on):  # noqa: F811
    model, tok = model_and_tok
    s = Session(model, tok, "ROMEO:", SamplingParams())
    rec = s.step()
    labels = figures.stage_table(rec, lang=lang, params=s.params)["stage_labels"]
    assert labels[2] == off and all(x.endswith(("(off)", "（关）")) for x in labels[1:])  # every knob at its default
    assert "(off)" not in labels[0] and "关" not in labels[0]  # raw has no knob
    changed = dataclasses.replace(s.params, temperature=0.7, top_k=5)
    labels = figures.stage_table(s.resample(changed), lang=lang, params=changed)["stage_labels"]
    assert labels[2] == on and labels[3].startswith("top-k −")  # on, and it removed tokens
    assert not any("(off)" in x or "（关）" in x for x in figures.stage_table(rec, lang=lang)["stage_labels"])


# -- the JS port against the Python pipeline -------------------------------------------------------------
def cases(n: int = 60):
    """Random (logits, seen ids, params): ties, -inf scores, top_p = 1, top_k > V, tiny T, penalties < 1 and > 1."""
    rng = np.random.default_rng(18)
    out = []
    for i in range(n):
        V = int(rng.integers(2, 300))
        logits = (rng.standard_normal(V) * rng.choice([0.5, 2.0, 6.0])).astype(np.float32)
        if i % 3 == 0:
            logits = np.round(logits, 0).astype(np.float32)  # many exact ties
        if i % 7 == 0 and V > 3:
            logits[rng.choice(V, V // 3, replace=False)] = -np.inf  # some tokens already impossible
            logits[int(np.argmax(logits))] = 1.0 if not np.isfinite(logits.max()) else logits.max()
        seen = rng.choice(V, int(rng.integers(0, min(V, 20) + 1))).tolist()
        p = dict(repetition_penalty=float(rng.choice([1.0, 0.5, 0.8, 1.3, 2.0])),
                 temperature=float(rng.choice([0.0, 1.0, 1e-3, 0.05, 0.7, 1.5, 2.0])),
                 top_k=int(rng.choice([0, 1, 3, 10, V, V + 50])),
                 top_p=float(rng.choice([1.0, 0.9, 0.5, 0.05, 0.999])),
                 min_p=float(rng.choice([0.0, 0.05, 0.2, 0.5])))
        out.append((logits, seen, p))
    return out


def test_the_page_pipeline_matches_the_python_pipeline(page: Page, server):  # noqa: F811
    demo, _ = server
    page.goto(demo.local_url)
    page.wait_for_function("window.playgroundPipeline !== undefined", timeout=TIMEOUT)
    all_cases = cases()
    payload = [dict(logits=base64.b64encode(lg.astype("<f4").tobytes()).decode(), seen=seen, p=p)
               for lg, seen, p in all_cases]
    got = page.evaluate("""(cases) => cases.map(({logits, seen, p}) => {
        const P = window.playgroundPipeline;
        return P.run(P.decode(logits), seen, p).map(s => ({name: s.name, probs: Array.from(s.probs),
            removed: s.removed.flatMap((r, i) => r ? [i] : [])}));
    })""", payload)
    assert len(got) >= 50
    kinds, tie_swaps = set(), 0
    for (lg, seen, p), stages in zip(all_cases, got):
        pipe = run_pipeline(torch.from_numpy(lg), seen, SamplingParams(**p))
        assert [s["name"] for s in stages] == list(STAGES)
        if not same_stages(pipe, stages):
            # torch.sort is unstable: among tokens of exactly equal score that straddle top-p's cut, which
            # ones go is torch's (and so transformers') arbitrary order; the page takes the lower ids first.
            # Then the same number of equal-score tokens goes, and the distributions are equal as multisets.
            assert tied_swap(pipe, stages, lg), p
            tie_swaps += 1
        kinds |= {(st.name, bool(st.removed.any())) for st in pipe.stages}
    assert all((name, True) in kinds for name in ("top_k", "top_p", "min_p"))  # the filters really removed some
    assert tie_swaps <= len(all_cases) // 10  # nearly every case is identical token for token


def same_stages(pipe, stages) -> bool:
    """Every stage: probabilities within 1e-6 and the same removed ids."""
    return all(np.allclose(np.asarray(js["probs"]), st.probs.numpy(), atol=1e-6, rtol=0)
               and js["removed"] == torch.nonzero(st.removed).flatten().tolist()
               for st, js in zip(pipe.stages, stages))


def tied_swap(pipe, stages, raw) -> bool:
    """The stages agree up to top-p, and from there differ only in which of exactly tied tokens were removed."""
    k = list(STAGES).index("top_p")
    if not same_stages(type(pipe)(stages=pipe.stages[:k]), stages[:k]):
        return False
    before = pipe.stages[k - 1].logits.numpy()
    for st, js in zip(pipe.stages[k:], stages[k:]):
        py_gone = np.sort(before[torch.nonzero(st.removed).flatten().numpy()])
        if not np.array_equal(py_gone, np.sort(before[js["removed"]])):
            return False
        if not np.allclose(np.sort(js["probs"]), np.sort(st.probs.numpy()), atol=1e-6, rtol=0):
            return False
    return True


# -- in the page -----------------------------------------------------------------------------------------
def bars(page: Page) -> list:
    """x of every stage panel's bars (6 lists) as the figure holds them now."""
    return page.evaluate("Array.from(document.querySelector('#next-plot .js-plotly-plot')._fullData.slice(0, 6),"
                         " t => Array.from(t.x))")


def titles(page: Page) -> list:
    return page.evaluate("document.querySelector('#next-plot .js-plotly-plot').layout.annotations"
                         ".filter(a => a.y === 1).map(a => a.text)")


def matches_python(page: Page, logits_mode: bool = False, **p) -> None:
    """The final panel as drawn now equals playground.sampling's pipeline on the figure's own logits with
    ``p``: kept rows at their probability (or final logit), removed rows marked "removed" (a hatched stub)."""
    live = page.evaluate("document.querySelector('#next-plot .js-plotly-plot').layout.meta.live")
    logits = torch.from_numpy(np.frombuffer(base64.b64decode(live["logits"]), dtype="<f4").copy())
    pipe = run_pipeline(logits, live["seen"], SamplingParams(**p))
    gone = ~torch.isfinite(pipe.final_logits).numpy()[live["rows"]]
    final = page.evaluate("(() => { const t = document.querySelector('#next-plot .js-plotly-plot')._fullData[5];"
                          " return [Array.from(t.x), Array.from(t.text)]; })()")
    want = (pipe.final_logits if logits_mode else pipe.final_probs).numpy()[live["rows"]]
    np.testing.assert_allclose(np.asarray(final[0])[~gone], want[~gone], atol=1e-5 if logits_mode else 1e-6)
    assert [t == "removed" for t in final[1]] == gone.tolist()


def one_step(page: Page, url: str) -> None:
    """The page at 1280×800 after one Step, its figure carrying the step's logits for the live redraw."""
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(url)
    expect(page.locator("#chips .tok.prompt").first).to_be_visible(timeout=TIMEOUT)
    page.locator("#step").click()
    expect(chips(page)).to_have_count(1, timeout=TIMEOUT)
    page.wait_for_function("document.querySelector('#next-plot .js-plotly-plot')?.layout?.meta?.live", timeout=TIMEOUT)


def test_dragging_a_slider_redraws_the_bars_in_the_page(page: Page, server):  # noqa: F811
    demo, _ = server
    one_step(page, demo.local_url)
    expect(plot(page, "next-plot")).to_contain_text("temperature(off)", timeout=TIMEOUT)  # all knobs at defaults
    released = bars(page)
    assert len(released) == 6 and all(len(x) == len(released[0]) > 3 for x in released)
    plot(page, "next-plot").scroll_into_view_if_needed()  # the sidebar stays put: slider and bars both on screen

    # drag the temperature handle to the left in steps; mid-drag the bars follow, before any release
    rng = page.locator("#temperature input[type=range]")
    box = rng.bounding_box()
    y = box["y"] + box["height"] / 2
    x_at = lambda v: box["x"] + box["width"] * v / 2  # noqa: E731  the slider spans 0..2
    page.mouse.move(x_at(1.0), y)
    page.mouse.down()
    for v in (0.9, 0.7, 0.5, 0.4):
        page.mouse.move(x_at(v), y, steps=3)
        page.wait_for_timeout(60)
    t = float(rng.input_value())
    assert t < 0.8
    page.wait_for_timeout(100)
    dragged = bars(page)
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "1280-next-token-dragging.png"))
    assert not np.allclose(dragged[5], released[5])  # the final panel changed while the button is held
    matches_python(page, temperature=t)
    assert not any("temperature<br>(off)" in x for x in titles(page))
    assert any("top-k<br>(off)" in x for x in titles(page))  # the other knobs still say so
    assert "re-decided" not in plot(page, "next-plot").inner_text()  # nothing from the server yet
    page.mouse.up()
    expect(plot(page, "next-plot")).to_contain_text("re-decided from cached logits", timeout=TIMEOUT)  # release
    matches_python(page, temperature=t)  # the server's figure

    # top-k typed in its number box applies on Enter (it used to wait for the box to lose focus)
    box = page.locator("#top_k input[type=number]")
    box.fill("3")
    box.press("Enter")
    expect(plot(page, "next-plot")).to_contain_text("top-k −", timeout=TIMEOUT)
    expect(page.locator("#top_k input[type=number]")).not_to_be_focused()

    # an arrow key on the min-p slider redraws at once and applies when let go
    before = bars(page)
    page.locator("#min_p input[type=range]").focus()
    for _ in range(30):
        page.keyboard.down("ArrowRight")
    page.wait_for_timeout(100)
    m = float(page.locator("#min_p input[type=range]").input_value())
    assert m == pytest.approx(0.3)
    live = bars(page)
    assert live != before
    matches_python(page, temperature=t, top_k=3, min_p=m)
    page.keyboard.up("ArrowRight")
    expect(plot(page, "next-plot")).to_contain_text("min-p = final −", timeout=TIMEOUT)
    expect(plot(page, "next-plot")).not_to_contain_text("min-p = final(off)", timeout=TIMEOUT)

    # the logits view redraws live too (a bar is the final score)
    page.locator("#mode").get_by_text("logits", exact=True).click()
    expect(plot(page, "next-plot")).to_contain_text("bar = logit", timeout=TIMEOUT)
    page.locator("#temperature input[type=range]").focus()
    for _ in range(4):
        page.keyboard.down("ArrowRight")
    page.wait_for_timeout(100)
    t2 = float(page.locator("#temperature input[type=range]").input_value())
    assert t2 == pytest.approx(t + 0.2)
    matches_python(page, logits_mode=True, temperature=t2, top_k=3, min_p=m)
    page.keyboard.up("ArrowRight")


def test_a_small_move_redraws_the_svg_in_place_and_it_shows_the_pipeline(page: Page, server):  # noqa: F811
    """A move that keeps the axis range is drawn without plotly.js (static/pipeline.js ``inPlace``): the bars,
    numbers and panel titles on screen are the pipeline's, and the figure's data says the same."""
    demo, _ = server
    one_step(page, demo.local_url)
    page.wait_for_timeout(300)
    move = """(t) => { const r = document.querySelector('#temperature input[type=range]');
        r.value = t; r.dispatchEvent(new Event('input', {bubbles: true})); }"""
    page.evaluate(move, 1.05)  # "temperature (off)" -> "temperature": a title's lines change, plotly.js redraws
    page.wait_for_timeout(300)
    page.evaluate("""() => { window.__updates = 0; const u = Plotly.update;
        Plotly.update = function (...a) { window.__updates++; return u.apply(this, a); }; }""")
    for t in (1.1, 1.15):  # the slider's steps; the final panel's top probability moves a little: the range holds
        page.evaluate(move, t)
        page.wait_for_timeout(150)
        assert float(page.locator("#temperature input[type=range]").input_value()) == pytest.approx(t)
        drawn = page.evaluate("""() => { const gd = document.querySelector('#next-plot .js-plotly-plot');
            const layer = [...gd.querySelectorAll('.barlayer .trace.bars')].find(e => e.__data__[0].trace.index === 5);
            const xa = gd._fullLayout.xaxis6;
            return {texts: [...layer.querySelectorAll('.point')].map(p => p.querySelector('text.bartext').textContent),
                    ends: [...layer.querySelectorAll('.point path')].map(p => Number(/H([-\\d.e]+)/.exec(p.getAttribute('d'))[1])),
                    want: Array.from(gd._fullData[5].x).map(x => xa.c2p(x)), data: Array.from(gd._fullData[5].text),
                    title: gd.querySelector('.annotation[data-index="4"] text').textContent, updates: window.__updates}; }""")
        assert drawn["updates"] == 0  # no plotly.js frame
        assert drawn["texts"] == drawn["data"] and np.allclose(drawn["ends"], drawn["want"], atol=0.01)
        assert drawn["title"] == "temperature"  # no longer "(off)"
        matches_python(page, temperature=t)
