"""Speculative decoding: greedy output is the target's own, sampled output follows the target's distribution
(a chi-square test over a fixed set of seeds on a 4-token vocabulary), the KV caches roll back, the paper's
formula, the shipped draft model."""
from __future__ import annotations

import copy
import itertools
import math
from collections import Counter

import pytest
import torch

from playground.config import GPTConfig, SamplingParams
from playground.model import GPT
from playground.sampling import run_pipeline
from playground.speculative import (
    expected_speedup, expected_tokens_per_round, measure, plain_generate, speculative_generate,
)
from tests.conftest import tiny_gpt
from tests.test_ui_api import model_and_tok, server  # noqa: F401  (fixtures: one tiny model, one server)


def random_lm(seed: int, vocab: int, **cfg) -> GPT:
    """A tiny GPT whose next-token distributions are far from uniform (an untied, larger head)."""
    torch.manual_seed(seed)
    m = GPT(GPTConfig(vocab_size=vocab, block_size=32, tie_word_embeddings=False, **cfg)).eval()
    with torch.no_grad():
        m.lm_head.weight.normal_(0, 0.3)
        m.transformer.wte.weight.normal_(0, 1.0)
    return m


def noisy_copy(model: GPT, scale: float, seed: int = 1) -> GPT:
    """A draft that agrees with ``model`` often but not always."""
    d = copy.deepcopy(model)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        d.lm_head.weight.add_(torch.randn(d.lm_head.weight.shape, generator=g) * scale)
    return d


@pytest.fixture(scope="module")
def pair():
    target = random_lm(0, 64, n_layer=2, n_head=4, n_embd=32)
    return target, noisy_copy(target, 0.25)


# -- greedy: exactly the target's tokens ---------------------------------------------------------------
@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_greedy_speculative_output_is_the_targets_greedy_output(pair, k):
    target, draft = pair
    for prompt in ([1, 2, 3], [7], [40, 41, 42, 43, 44, 45]):
        spec = speculative_generate(target, draft, prompt, 20, k)
        assert spec.ids == plain_generate(target, prompt, 20).ids
        assert spec.ids[: len(prompt)] == tuple(prompt) and spec.new_tokens == 20
    rounds = [r for p in ([1, 2, 3], [7]) for r in speculative_generate(target, draft, p, 20, k).rounds]
    assert any(r.rejected is not None for r in rounds) and any(r.bonus and r.drafted for r in rounds), \
        "the draft should be right sometimes and wrong sometimes, so both paths are exercised"


def test_greedy_goes_through_the_pipeline(pair):
    target, draft = pair
    params = SamplingParams(strategy="greedy", repetition_penalty=1.5)
    spec = speculative_generate(target, draft, [1, 2, 3], 20, 3, params)
    assert spec.ids == plain_generate(target, [1, 2, 3], 20, params).ids
    assert spec.ids != plain_generate(target, [1, 2, 3], 20).ids  # the penalty changed the text


def test_rounds_describe_what_happened(pair):
    target, draft = pair
    spec = speculative_generate(target, draft, [1, 2, 3], 28, 4)
    assert sum(len(r.new_ids) for r in spec.rounds) == spec.new_tokens == 28
    assert sum((r.new_ids for r in spec.rounds), ()) == spec.ids[3:]
    for r in spec.rounds:
        assert 0 <= r.accepted <= len(r.drafted) <= 4 and len(r.p) == len(r.q) == len(r.drafted)
        if r.bonus:
            assert r.rejected is None
        else:
            assert r.rejected == r.drafted[r.accepted] and r.token != r.rejected  # greedy corrects to another token
    assert spec.target_forwards == len(spec.rounds)
    assert spec.target_forwards_per_token == pytest.approx(len(spec.rounds) / 28)
    assert spec.acceptance_rate == pytest.approx(spec.accepted / spec.tested)
    assert spec.draft_forwards == spec.drafted


def test_a_perfect_draft_is_always_accepted(pair):
    target, _ = pair
    spec = speculative_generate(target, copy.deepcopy(target), [5, 6], 24, 3)
    assert spec.acceptance_rate == 1.0
    assert [len(r.new_ids) for r in spec.rounds] == [4] * 6  # k + 1 tokens per target forward
    assert spec.target_forwards_per_token == pytest.approx(0.25)


# -- sampling: the target's distribution ---------------------------------------------------------------
def exact_distribution(model: GPT, prompt: list[int], n: int, params: SamplingParams) -> dict[tuple, float]:
    """P(the next n tokens) under plain sampling from ``model`` with ``params``, by enumeration."""
    V, out = model.config.vocab_size, {}
    for seq in itertools.product(range(V), repeat=n):
        ids = prompt + list(seq)
        with torch.no_grad():
            logits = model(torch.tensor([ids]), use_cache=False).logits[0]  # (T, V)
        p = 1.0
        for i in range(n):
            pos = len(prompt) + i
            p *= float(run_pipeline(logits[pos - 1], ids[:pos], params).final_probs[ids[pos]])
        out[seq] = p
    return out


def chi_square(counts: Counter, probs: dict[tuple, float], n: int) -> float:
    """Pearson's statistic over the cells of positive probability (a draw in a zero cell is infinite)."""
    if any(probs.get(c, 0.0) == 0.0 for c in counts):
        return math.inf
    return sum((counts.get(c, 0) - n * p) ** 2 / (n * p) for c, p in probs.items() if p > 0)


def chi_square_critical(df: int, z: float = 3.09) -> float:
    """Upper 0.1 % point of chi-square with ``df`` degrees of freedom (Wilson-Hilferty)."""
    return df * (1 - 2 / (9 * df) + z * math.sqrt(2 / (9 * df))) ** 3


def test_sampled_output_follows_the_targets_distribution():
    target = random_lm(0, 4, n_layer=1, n_head=2, n_embd=16)
    draft = random_lm(1, 4, n_layer=1, n_head=2, n_embd=8)
    params = SamplingParams(temperature=0.8, top_k=3, repetition_penalty=1.2)
    prompt, n, runs = [1, 2], 3, 1500
    counts = Counter(speculative_generate(target, draft, prompt, n, 2, params, seed=s).ids[2:] for s in range(runs))
    p_target = exact_distribution(target, prompt, n, params)
    p_draft = exact_distribution(draft, prompt, n, params)
    df = sum(p > 0 for p in p_target.values()) - 1
    critical = chi_square_critical(df)
    assert chi_square(counts, p_target, runs) < critical
    # the test has power: the draft's own distribution (what accepting every draft would give) is far off
    assert 0.5 * sum(abs(p_target[c] - p_draft[c]) for c in p_target) > 0.2
    assert chi_square(counts, p_draft, runs) > 3 * critical


def test_sampling_is_seeded(pair):
    target, draft = pair
    params = SamplingParams(temperature=1.0)
    a = speculative_generate(target, draft, [1, 2], 15, 3, params, seed=7)
    assert a.ids == speculative_generate(target, draft, [1, 2], 15, 3, params, seed=7).ids
    assert a.ids != speculative_generate(target, draft, [1, 2], 15, 3, params, seed=8).ids
    assert not a.greedy


# -- the KV cache rolls back ---------------------------------------------------------------------------
def test_rollback_reuses_the_storage_and_keeps_the_values():
    model = tiny_gpt()
    ids = torch.tensor([[3, 4, 5, 6, 7, 8]])  # (1, 6)
    with torch.no_grad():
        kv = model(ids).kv
        back = kv.rollback(3)
        step = model(torch.tensor([[9]]), past_kv=back)
        full = model(torch.tensor([[3, 4, 5, 9]]), use_cache=False)
    assert step.kv.storage is kv.storage and step.kv.length == 4  # written in place, no copy
    torch.testing.assert_close(step.logits[0, -1], full.logits[0, -1], atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError):
        kv.rollback(7)


# -- the paper's formula, and the measured comparison ------------------------------------------------
def test_expected_numbers_follow_the_paper():
    assert expected_tokens_per_round(0.0, 4) == 1.0
    assert expected_tokens_per_round(1.0, 4) == 5.0
    assert expected_tokens_per_round(0.5, 2) == pytest.approx(1.75)
    assert expected_speedup(0.5, 2, 0.0) == pytest.approx(1.75)
    assert expected_speedup(0.8, 4, 0.25) == pytest.approx((1 - 0.8 ** 5) / 0.2 / 2.0)


def test_measure_compares_with_plain_decoding(pair):
    target, draft = pair
    rep = measure(target, draft, [1, 2, 3], 16, 3)
    assert rep.same_as_plain and rep.result.ids == rep.plain_ids and rep.repeats == 2
    assert rep.cost_ratio > 0 and rep.measured_speedup > 0
    assert rep.expected_speedup == pytest.approx(expected_speedup(rep.result.acceptance_rate, 3, rep.cost_ratio))
    alphas, curve = rep.formula_curve(11)
    assert alphas[0] == 0 and alphas[-1] == 1 and curve[-1] == pytest.approx(4 / (3 * rep.cost_ratio + 1))


# -- bad input ----------------------------------------------------------------------------------------
def test_bad_pairs_and_settings_are_refused_with_a_reason(pair):
    target, draft = pair
    with pytest.raises(ValueError, match="share one tokenizer"):
        speculative_generate(target, tiny_gpt(vocab_size=100), [1], 5, 2)
    with pytest.raises(ValueError, match="k \\(tokens drafted per round\\)"):
        speculative_generate(target, draft, [1], 5, 0)
    with pytest.raises(ValueError, match="only .* new tokens fit"):
        speculative_generate(target, draft, [1] * 20, 20, 2)
    with pytest.raises(ValueError, match="outside the vocabulary"):
        speculative_generate(target, draft, [64], 5, 2)


# -- the page's section (ui/faster_spec.py) -------------------------------------------------------------


@pytest.fixture(scope="module")
def spec_view(model_and_tok):  # noqa: F811
    from playground.ui.context import AppContext
    from playground.ui.faster_spec import SpecView
    from playground.ui.page import Page

    model, tok = model_and_tok
    draft = noisy_copy(model, 0.05)
    models = {"shakespeare": (model, tok), "shakespeare-tiny": (draft, tok)}

    def loader(name):
        if name not in models:
            raise FileNotFoundError(f"no model folder for {name}")
        return models[name]
    return SpecView(Page(AppContext.build(loader, {"shakespeare": None, "gpt2": "no network here"})))


def sampling(**kw) -> list:
    from playground import lessons

    return list({**lessons.controls_of(SamplingParams(strategy="greedy")), **kw}.values())


def test_the_section_shows_what_the_engine_did(spec_view):
    import plotly.graph_objects as go

    results, rounds, speed, md = spec_view.speculate(None, "en", "ROMEO:", "shakespeare", 3, 24, *sampling(), None)
    report = results["spec"][0]
    r = report.result
    assert report.same_as_plain and "exactly the target's own greedy tokens ✓" in md
    assert f"**α = {r.acceptance_rate:.2f}**" in md and f"**c = {report.cost_ratio:.2f}**" in md
    assert f"**{report.measured_speedup:.2f}×** measured" in md
    d = rounds.to_dict()
    go.Figure(d)
    assert len(d["layout"]["shapes"]) == sum(len(x.drafted) + 1 for x in r.rounds[:24])  # one box per token
    s = speed.to_dict()
    go.Figure(s)
    measured = [t for t in s["data"] if t["name"].startswith("measured")][0]
    assert measured["x"] == [r.acceptance_rate] and measured["y"] == [report.measured_speedup]


def test_the_section_refuses_what_it_cannot_run(spec_view):
    with pytest.raises(ValueError, match="k \\(tokens drafted per round\\) must be a whole number from 1 to 8"):
        spec_view.speculate(None, "en", "ROMEO:", "shakespeare", 0, 24, *sampling(), None)
    with pytest.raises(ValueError, match="gpt2 is not available: no network here"):
        spec_view.speculate(None, "en", "ROMEO:", "gpt2", 3, 24, *sampling(), None)
    with pytest.raises(ValueError, match="unknown pair 'llama'"):
        spec_view.speculate(None, "en", "ROMEO:", "llama", 3, 24, *sampling(), None)


def test_an_unavailable_draft_is_named():
    from playground.ui.context import AppContext
    from playground.ui.faster_spec import SpecView
    from playground.ui.page import Page

    def loader(name):
        if name == "shakespeare-tiny":
            raise FileNotFoundError("no model folder assets/model-tiny")
        return tiny_gpt(), None
    view = SpecView(Page(AppContext.build(loader, {"shakespeare": None})))
    with pytest.raises(ValueError, match="the draft model shakespeare-tiny is not available: no model folder"):
        view.speculate(None, "en", "ROMEO:", "shakespeare", 3, 8, *sampling(), None)


def test_sampling_beam_and_the_language_switch(spec_view):
    from playground import lessons
    from playground.ui.faster_spec import draw
    from tests.test_texts import english_words, texts_of

    results, *_ = spec_view.speculate(None, "en", "ROMEO:", "shakespeare", 2, 12, *sampling(strategy="beam"), None)
    assert results["spec"][0].result.greedy and results["spec"][3] == "spec_beam_note"
    results, *_ = spec_view.speculate(None, "zh", "ROMEO:", "shakespeare", 2, 12,
                                      *sampling(strategy="sample", temperature=0.9, seed=3), results)
    assert not results["spec"][0].result.greedy
    out = draw(results, "zh", ("spec",))
    for fig in out[:2]:
        tokens = {a.text for a in fig.layout.annotations}  # the rounds' cells: the model's tokens
        for s in set(texts_of(fig)) - tokens:
            assert not english_words(s.replace("shakespeare-tiny", "")), s
    md = out[2].split("\n\n> ")[0].replace("shakespeare-tiny", "")
    assert "采样" in md and not english_words(md)
    index = lessons.LESSON_KEYS.index("speculative")
    got = spec_view.lesson(index, "en", None)
    assert "spec" in got[0] and "exactly the target's own greedy tokens" in got[3]


def shoot_box(page, selector: str, path) -> None:
    """A full-page screenshot cut to one element (an element screenshot taller than the window comes out shifted)."""
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_timeout(300)
    box = page.locator(selector).bounding_box()
    pad = 12  # the box's own edge is drawn just outside it
    clip = dict(x=box["x"] - pad, y=box["y"] - pad, width=box["width"] + 2 * pad, height=box["height"] + 2 * pad)
    page.screenshot(path=str(path), full_page=True, clip=clip)


def test_both_sections_in_the_browser(page, server):  # noqa: F811
    from pathlib import Path

    from playwright.sync_api import expect

    from tests.test_browser import TIMEOUT, expect_drawn, plot

    shots = Path(__file__).resolve().parent.parent / "screenshots" / "issue20"
    demo, _ = server
    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto(demo.local_url)
    expect(page.locator("#chips .tok.prompt").first).to_be_visible(timeout=TIMEOUT)
    page.get_by_role("tab", name="Faster inference").click()
    page.locator("#spec_btn").click()
    expect(plot(page, "spec-rounds-plot")).to_contain_text("rounds", timeout=TIMEOUT)
    expect_drawn(page, "spec-speed-plot", 380)
    expect(page.locator("#spec-md")).to_contain_text("Acceptance", timeout=TIMEOUT)
    page.locator("#quant_btn").click()
    expect(plot(page, "quant-bars-plot")).to_contain_text("fp32 vs int8", timeout=TIMEOUT)
    expect(page.locator("#quant-md")).to_contain_text("weight memory", timeout=TIMEOUT)
    shots.mkdir(parents=True, exist_ok=True)
    shoot_box(page, "#faster-spec", shots / "faster-spec-en.png")
    page.locator("#lang").get_by_text("中文").click()
    expect(plot(page, "spec-speed-plot")).to_contain_text("加速比", timeout=TIMEOUT)
    expect(page.locator("#quant-md")).to_contain_text("权重内存", timeout=TIMEOUT)
    page.wait_for_timeout(1000)
    shoot_box(page, "#faster-spec", shots / "faster-spec-zh.png")


# -- the shipped draft ------------------------------------------------------------------------------------
def test_the_shipped_draft_is_small_loads_and_speculates_for_the_shipped_model():
    from playground.weights import EMBEDDED, OFFERED_MODELS, load_model

    folder = EMBEDDED["shakespeare-tiny"]
    assert (folder / "model.safetensors").stat().st_size <= 2 * 2**20  # ≤ 2 MiB of weights (fp16)
    assert "shakespeare-tiny" not in OFFERED_MODELS  # a draft, not a model for the picker
    draft, dtok = load_model("shakespeare-tiny")
    target, tok = load_model("shakespeare")
    assert dtok.vocab_size == tok.vocab_size and draft.num_parameters() < target.num_parameters() / 4
    ids = tok.encode_ids("ROMEO:")
    spec = speculative_generate(target, draft, ids, 24, 4)
    assert spec.ids == plain_generate(target, ids, 24).ids and spec.accepted > 0
