"""The "Faster inference" tab's speculative-decoding and quantisation sections (issue 20), built inside the tab
by ``faster.build_tab`` (``build(ctx) -> dict``) and wired by ``faster.wire`` (``wire(page, c)``).

Both run the real models and measure them (engine: ``playground.speculative``, ``playground.quantize``). The
quantised model and its held-out quality are kept per model and bits (the newest ``MAX_KEPT``; they do not
depend on the prompt), so only the timing and the prompt's bars are measured again on a click. Results live in
the section's own ``gr.State`` (name -> plain data), so the language switch redraws them without running."""
from __future__ import annotations

import threading

import gradio as gr

from playground import i18n, lessons
from playground.figures import placeholder
from playground.ui.classroom import LATEX
from playground.ui.controls import SAMPLING_NAMES, named
from playground.ui.sessions import PageState

# target -> its draft (same tokenizer); the label shows the pair
PAIRS = {"shakespeare": "shakespeare-tiny", "gpt2": "distilgpt2"}
K_RANGE, N_RANGE = (1, 8), (4, 128)
SPEC_DEFAULTS = {"pair": "shakespeare", "k": 4, "n": 48}
BITS = {"int8": 8, "int4": 4}
HELD_OUT_CHARS = 8_000  # held-out characters the page scores (the benchmark scores them all)
MAX_KEPT = 2  # quantised models kept (int8 + int4 of GPT-2 small: ~230 MiB)
RESULTS = ("spec_rounds", "spec_speed", "spec_md", "quant_costs", "quant_bars", "quant_md")
SPEC_H, QUANT_H = 300, 340


def pair_label(target: str) -> str:
    return f"{PAIRS[target]} → {target}"


# -- drawing a result in a language ----------------------------------------------------------------------
def spec_view(report, names: dict, labels: tuple, note: str, lang: str) -> tuple:
    from playground.figures.speculative import speculative_figures

    r = report.result
    rounds, speed = speculative_figures(report, lambda i: names[i], lang)
    target, draft, text = labels
    same = i18n.t("spec_same" if report.same_as_plain else "spec_differ", lang) if r.greedy else \
        i18n.t("spec_sampled", lang)
    md = i18n.t("spec_summary", lang, target=target, draft=draft, k=r.k, n=r.new_tokens,
                mode=i18n.t("strategy.greedy" if r.greedy else "strategy.sample", lang),
                plain_ms=report.plain_ms_per_token, spec_ms=report.spec_ms_per_token, fwd=r.target_forwards_per_token,
                alpha=r.acceptance_rate, acc=r.accepted, tested=r.tested, d=r.drafted,
                tpr=r.new_tokens / r.target_forwards, etpr=report.expected_tokens_per_round,
                draft_ms=report.draft_step_ms, target_ms=report.target_step_ms,
                c=report.cost_ratio, measured=report.measured_speedup, expected=report.expected_speedup, same=same)
    verdict = i18n.t("spec_paid" if report.measured_speedup > 1 else "spec_not_paid", lang,
                     x=report.measured_speedup, c=report.cost_ratio, e=report.expected_speedup)
    extra = ("\n\n" + i18n.t(note, lang)) if note else ""
    return rounds, speed, f"{md}\n\n{verdict}{extra}\n\n> {text}"


def quant_view(report, model_name: str, lang: str) -> tuple:
    from playground.figures.quantize import quantize_figures
    from playground.units import byte_unit

    bars, costs = quantize_figures(report, lang)
    scale, unit = byte_unit(report.fp32_bytes)
    md = i18n.t("quant_summary", lang, model=model_name, q_name=f"int{report.bits}", fp=report.fp32_bytes / scale,
                q=report.quant_bytes / scale, unit=unit, ratio=report.bytes_ratio, fp_ms=report.fp32_ms,
                q_ms=report.quant_ms, ms_ratio=report.ms_ratio, dlogit=report.max_abs_dlogit, kl=report.kl,
                top1=report.top1, pos=report.positions, fp_loss=report.fp32_loss, q_loss=report.quant_loss,
                dloss=report.loss_change, chars=report.chars)
    verdict = i18n.t("quant_faster" if report.ms_ratio < 1 else "quant_slower", lang, r=report.ms_ratio)
    return costs, bars, f"{md}\n\n{verdict}"


def draw(results: dict | None, lang: str, names=("spec", "quant")) -> tuple:
    out: list = []
    for name in names:
        got = (results or {}).get(name)
        if got is not None:
            out += (spec_view if name == "spec" else quant_view)(*got, lang)
        elif name == "spec":
            out += [placeholder(i18n.t("fig.press_spec", lang), SPEC_H), placeholder(i18n.t("fig.press_spec2", lang), 120),
                    ""]
        else:
            out += [placeholder(i18n.t("fig.press_quant", lang), QUANT_H),
                    placeholder(i18n.t("fig.press_quant2", lang), QUANT_H), ""]
    return tuple(out)


def _lang(lang) -> str:
    return lang if lang in i18n.LANGS else "en"


def _whole(value, lo: int, hi: int, what: str) -> int:
    return lessons.whole_number(what, value, lo, hi)


class SpecView:
    """The two sections' handlers; quantised models and their held-out quality are kept per model and bits."""

    def __init__(self, page):
        self.page = page
        self._quant: dict = {}
        self._lock = threading.Lock()

    def _draft(self, name: str):
        try:
            return self.page.ctx.models.get(name)
        except Exception as e:  # not shipped here, not cached, no network: say why, as the picker does
            raise ValueError(f"the draft model {name} is not available: {str(e).splitlines()[0][:300]}") from e

    def speculate(self, ps, lang, prompt, pair, k, n, *rest):
        """Speculative decoding of the prompt with the pair, beside plain decoding of each model."""
        from playground.speculative import measure

        *sampling, results = rest
        if pair not in PAIRS:
            raise ValueError(f"unknown pair {lessons.short_repr(pair)}: choose one of {', '.join(PAIRS)}")
        k = _whole(k, *K_RANGE, "k (tokens drafted per round)")
        n = _whole(n, *N_RANGE, "the number of new tokens")
        params = lessons.params_of(dict(zip(SAMPLING_NAMES, sampling)))
        note = "spec_beam_note" if params.strategy == "beam" else ""
        if params.strategy == "beam":
            params = lessons.params_of({**lessons.controls_of(params), "strategy": "greedy"})
        prompt = lessons.check_text(i18n.t("prompt"), prompt, lessons.MAX_PROMPT_CHARS)
        target, tok = self.page.model_named(pair, ps.own_models if isinstance(ps, PageState) else None)
        draft, _ = self._draft(PAIRS[pair])
        ids = tok.encode_ids(prompt) or [tok.eos_id]
        report = measure(target, draft, ids, n, k, params, params.seed)
        r = report.result
        names = {i: tok.decode([i]) for rd in r.rounds for i in (*rd.drafted, rd.token)}
        labels = (pair, PAIRS[pair], tok.decode(list(r.ids[r.prompt_len:]))[:600].replace("\n", " ⏎ "))
        results = {**(results or {}), "spec": (report, names, labels, note)}
        return (results, *draw(results, _lang(lang), ("spec",)))

    def quantise(self, ps, lang, model_name, prompt, bits, results):
        """The picked model quantised to int8 or int4, measured against itself in fp32."""
        from playground.quantize import compare, quality, quantize

        if bits not in BITS:
            raise ValueError(f"choose int8 or int4; got {lessons.short_repr(bits)}")
        prompt = lessons.check_text(i18n.t("prompt"), prompt, lessons.MAX_PROMPT_CHARS)
        model, tok = self.page.model_named(model_name, ps.own_models if isinstance(ps, PageState) else None)
        key = (model_name, id(model), BITS[bits])
        with self._lock:  # two first users must not quantise the same model twice
            if key not in self._quant:
                qmodel = quantize(model, BITS[bits])
                self._quant[key] = (qmodel, quality(model, qmodel, tok, HELD_OUT_CHARS))
                while len(self._quant) > MAX_KEPT:  # each is a copy of a model's weights: keep the newest
                    self._quant.pop(next(iter(self._quant)))
            qmodel, held_out = self._quant[key]
        report = compare(model, qmodel, tok, prompt or "\n", n_tokens=16, held_out=held_out)
        results = {**(results or {}), "quant": (report, model_name)}
        return (results, *draw(results, _lang(lang), ("quant",)))

    def relabel(self, results, lang):
        return draw(results, _lang(lang))

    def lesson(self, index, lang, results):
        """A lesson of these sections was picked: run it with its settings (other lessons: nothing)."""
        i = int(index) if isinstance(index, (int, float)) and 0 <= index < len(lessons.LESSONS) else -1
        les = lessons.LESSONS[i] if i >= 0 else None
        if les is None or les.key not in ("speculative", "quantize"):
            return (gr.skip(),) * (1 + len(RESULTS))
        ctl = les.all_controls()
        if les.key == "speculative":
            sampling = [ctl[n] for n in SAMPLING_NAMES]
            d = SPEC_DEFAULTS
            results, *out = self.speculate(None, lang, ctl["prompt"], d["pair"], d["k"], d["n"], *sampling, results)
            return (results, *out, gr.skip(), gr.skip(), gr.skip())
        results, *out = self.quantise(None, lang, ctl["model"], ctl["prompt"], "int8", results)
        return (results, gr.skip(), gr.skip(), gr.skip(), *out)


def build(ctx) -> dict:
    S, c = ctx.strings, {}
    c["spec_state"] = gr.State(None)
    with gr.Column(elem_id="faster-spec"):  # both sections (the screenshots take this box)
        S.make(gr.Markdown, "spec_head", kind="value", elem_id="spec-head")
        S.make(gr.Markdown, "spec_intro", kind="value", elem_id="spec-intro", latex_delimiters=LATEX)
        with gr.Row(equal_height=True):
            c["spec_pair"] = S.make(gr.Dropdown, "spec_pair", [(pair_label(t), t) for t in PAIRS],
                                    value=SPEC_DEFAULTS["pair"], elem_id="spec_pair", scale=3, min_width=280)
            c["spec_k"] = S.make(gr.Slider, "spec_k", *K_RANGE, SPEC_DEFAULTS["k"], step=1, elem_id="spec_k", scale=2)
            c["spec_n"] = S.make(gr.Slider, "spec_n", *N_RANGE, SPEC_DEFAULTS["n"], step=1, elem_id="spec_n", scale=2)
            c["spec_btn"] = S.make(gr.Button, "spec_btn", kind="value", variant="primary", elem_id="spec_btn",
                                   scale=1)
        empty = draw(None, "en")  # what each plot says before its button is pressed
        c["spec_rounds"] = gr.Plot(empty[0], elem_id="spec-rounds-plot", show_label=False)
        c["spec_speed"] = gr.Plot(empty[1], elem_id="spec-speed-plot", show_label=False)
        c["spec_md"] = gr.Markdown(elem_id="spec-md", latex_delimiters=LATEX)
        S.make(gr.Markdown, "quant_head", kind="value", elem_id="quant-head")
        S.make(gr.Markdown, "quant_intro", kind="value", elem_id="quant-intro", latex_delimiters=LATEX)
        with gr.Row(equal_height=True):
            c["quant_bits"] = S.make(gr.Radio, "quant_bits", list(BITS), value="int8", elem_id="quant_bits")
            c["quant_btn"] = S.make(gr.Button, "quant_btn", kind="value", variant="primary", elem_id="quant_btn")
        with gr.Row():
            c["quant_costs"] = gr.Plot(empty[3], elem_id="quant-costs-plot", show_label=False)
            c["quant_bars"] = gr.Plot(empty[4], elem_id="quant-bars-plot", show_label=False)
        c["quant_md"] = gr.Markdown(elem_id="quant-md", latex_delimiters=LATEX)
    return c


def wire(page, c: dict) -> None:
    view = SpecView(page)
    results = [c[k] for k in RESULTS]
    c["spec_btn"].click(named(view.speculate, ("state", "lang", "prompt", "pair", "k", "new_tokens",
                                               *SAMPLING_NAMES, "results")),
                        [c["state"], c["lang"], c["prompt"], c["spec_pair"], c["spec_k"], c["spec_n"], *c["sampling"],
                         c["spec_state"]],
                        [c["spec_state"], c["spec_rounds"], c["spec_speed"], c["spec_md"]], api_name="speculative")
    c["quant_btn"].click(named(view.quantise, ("state", "lang", "model_name", "prompt", "bits", "results")),
                         [c["state"], c["lang"], c["model"], c["prompt"], c["quant_bits"], c["spec_state"]],
                         [c["spec_state"], c["quant_costs"], c["quant_bars"], c["quant_md"]], api_name="quantize")
    c["lang"].change(named(view.relabel, ("results", "lang")), [c["spec_state"], c["lang"]], results,
                     api_name="faster_spec_relabel")
    c["lesson_list"].click(named(view.lesson, ("lesson", "lang", "results")),
                           [c["lesson_list"], c["lang"], c["spec_state"]], [c["spec_state"], *results],
                           api_name="faster_spec_lesson")
