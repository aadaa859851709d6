"""The "Faster inference" tab (issue 20): one section per technique, each run on the picked model and measured.
Batching and continuous batching are here (engine: ``playground.batching``); speculative decoding and
quantisation come from ``faster_spec`` (``build(ctx) -> dict`` inside this tab's layout, ``wire(page, c)``).

The tab's results live in its own ``gr.State`` (``faster_state``: result name -> the run), so a lesson or a
language switch redraws them without touching the page's session."""
from __future__ import annotations

import gradio as gr

from playground import figures, i18n, lessons
from playground.ui.controls import named
from playground.ui.sessions import PageState

try:  # the speculative-decoding and quantisation sections (another part of issue 20)
    from playground.ui import faster_spec
except ImportError:  # TODO(issue 20): faster_spec.py not written yet; this tab shows a note in its place
    faster_spec = None

QUEUE_LIMITS = {"n": (2, 24), "slots": (1, 8), "every": (0, 8)}  # the continuous-batching controls: (min, max)
QUEUE_DEFAULTS = {"n": 12, "slots": 4, "every": 3}
RESULTS = ("sweep_plot", "sweep_md", "queue_plot", "queue_md")  # what the language switch redraws
SWEEP_H, QUEUE_H = 420, 300  # the sweep's height; the queue's placeholder (the timeline's follows its slots)


def sweep_view(s, lang: str) -> tuple:
    """The sweep's figure and its summary (``s``: a playground.batching.Sweep)."""
    from playground.units import byte_unit

    p = s.points
    ideal = [q.tokens_per_s / (q.batch * p[0].tokens_per_s / p[0].batch) for q in p]
    knee = max((q.batch for q, e in zip(p, ideal) if e >= 0.5), default=p[0].batch)
    scale, unit = byte_unit(s.weight_bytes)
    fig = figures.batch_sweep([q.batch for q in p], [q.ms_per_step for q in p], [q.tokens_per_s for q in p],
                              s.floor_ms, SWEEP_H, lang)
    md = i18n.t("batch_summary", lang, wb=f"{s.weight_bytes / scale:.1f} {unit}", bw=s.bandwidth_gbs, threads=s.threads,
                floor=f"{s.floor_ms:.3g}", ms1=p[0].ms_per_step, x1=p[0].ms_per_step / s.floor_ms, tps1=p[0].tokens_per_s,
                bmax=p[-1].batch, msmax=p[-1].ms_per_step, tpsmax=p[-1].tokens_per_s,
                gain=p[-1].tokens_per_s / p[0].tokens_per_s, knee=knee, n=s.steps, ctx=s.context)
    return fig, md


def queue_view(runs: tuple, queue: tuple, lang: str) -> tuple:
    """The two timelines and the table of measures (``runs``: the static and the continuous BatchRun)."""
    prompts, news, arrivals = queue
    measure = [i18n.t("cont_measure", lang, tps=r.throughput, mean=r.mean_latency_ms, p95=r.p95_latency_ms,
                      util=r.utilisation) for r in runs]
    fig = figures.batch_timeline([figures.timeline_segments(r) for r in runs], measure, lang=lang)
    rows = [i18n.t("cont_table_head", lang), "|---|---|---|---|---|---|"]
    for r in runs:
        rows.append(f"| **{i18n.t(f'policy.{r.policy}', lang)}** | {r.throughput:,.0f} | {r.mean_latency_ms:,.0f} | "
                    f"{r.p95_latency_ms:,.0f} | {r.utilisation:.0%} | {r.decode_steps} |")
    static, cont = runs
    differ = sum(a != b for a, b in zip(static.outputs, cont.outputs))
    same = i18n.t("cont_same", lang) if not differ else i18n.t("cont_differ", lang, k=differ)
    lens = [len(x) for x in prompts]
    md = i18n.t("cont_summary", lang, tp=cont.throughput / static.throughput,
                lat=cont.mean_latency_ms / static.mean_latency_ms, same=same, n=len(prompts), p0=min(lens), p1=max(lens),
                m0=min(news), m1=max(news), a0=min(arrivals), a1=max(arrivals), slots=cont.max_batch, threads=cont.threads)
    return fig, "\n".join(rows) + "\n\n" + md


VIEWS = {"sweep": (sweep_view, "fig.press_sweep", SWEEP_H), "queue": (queue_view, "fig.press_queue", QUEUE_H)}


def draw(results: dict | None, lang: str, names=tuple(VIEWS)) -> tuple:
    """The results ``names`` of the tab in ``lang``: each its figure and text, or a placeholder saying what to press."""
    out: list = []
    for name in names:
        view, press, height = VIEWS[name]
        got = (results or {}).get(name)
        out += view(*got, lang) if got is not None else [figures.placeholder(i18n.t(press, lang), height), ""]
    return tuple(out)


def whole_in(name: str, value, label: str) -> int:
    return lessons.whole_number(label, value, *QUEUE_LIMITS[name])


class FasterView:
    """The tab's handlers; the model comes from the page (``Page.model_named``: offered or the tab's own)."""

    def __init__(self, page):
        self.page = page

    def _model(self, ps, model_name):
        return self.page.model_named(model_name, ps.own_models if isinstance(ps, PageState) else None)

    @staticmethod
    def _lang(lang) -> str:
        return lang if lang in i18n.LANGS else "en"

    def sweep(self, ps, model_name, lang, results):
        """ms per step and tokens/s at batch 1..32 on the model, beside the bandwidth floor."""
        from playground.batching import sweep

        model, _ = self._model(ps, model_name)
        results = {**(results or {}), "sweep": (sweep(model),)}
        return (results, *draw(results, self._lang(lang), ("sweep",)))

    def queue(self, ps, model_name, lang, n, slots, every, results):
        """The held-out queue served with static and with continuous batching."""
        from playground.batching import generate_batch, held_out_queue

        n = whole_in("n", n, "the number of requests")
        slots = whole_in("slots", slots, "the number of batch slots")
        every = whole_in("every", every, "the steps between arrivals")
        model, tok = self._model(ps, model_name)
        queue = held_out_queue(tok, n, every, model.config.block_size)
        generate_batch(model, queue[0][:slots], [2] * min(slots, n), "continuous", slots)  # warm-up, not shown
        runs = tuple(generate_batch(model, *queue[:2], policy, slots, queue[2]) for policy in ("static", "continuous"))
        results = {**(results or {}), "queue": (runs, queue)}
        return (results, *draw(results, self._lang(lang), ("queue",)))

    def relabel(self, results, lang):
        return draw(results, self._lang(lang))

    def lesson(self, index, lang, results):
        """A batching lesson was picked: run what it shows on its model (other lessons: nothing)."""
        i = int(index) if isinstance(index, (int, float)) and 0 <= index < len(lessons.LESSONS) else -1
        key = lessons.LESSONS[i].key if i >= 0 else None
        if key not in ("batching", "continuous"):
            return (gr.skip(),) * (1 + len(RESULTS))
        model_name = lessons.LESSONS[i].all_controls()["model"]
        if key == "batching":
            results, *out = self.sweep(None, model_name, lang, results)
            return (results, *out, gr.skip(), gr.skip())
        d = QUEUE_DEFAULTS
        results, *out = self.queue(None, model_name, lang, d["n"], d["slots"], d["every"], results)
        return (results, gr.skip(), gr.skip(), *out)


def build_tab(ctx, note_box) -> dict:
    S, c = ctx.strings, {}
    with S.add(gr.Tab(i18n.t("tab.faster"), id="faster", elem_id="tab-faster"), "tab.faster", "tab"):
        note_box(ctx, "faster")
        c["faster_state"] = gr.State(None)
        S.make(gr.Markdown, "faster_intro", kind="value", elem_id="faster-intro")
        S.make(gr.Markdown, "batch_head", kind="value", elem_id="batch-head")
        c["sweep_btn"] = S.make(gr.Button, "batch_btn", kind="value", variant="primary", elem_id="sweep_btn")
        c["sweep_plot"] = gr.Plot(figures.placeholder(i18n.t("fig.press_sweep"), SWEEP_H), elem_id="sweep-plot",
                                  show_label=False)
        c["sweep_md"] = gr.Markdown(elem_id="sweep-md")
        S.make(gr.Markdown, "cont_head", kind="value", elem_id="cont-head")
        S.make(gr.Markdown, "cont_intro", kind="value", elem_id="cont-intro")
        with gr.Row(equal_height=True):
            for name in QUEUE_LIMITS:
                lo, hi = QUEUE_LIMITS[name]
                c[f"queue_{name}"] = S.make(gr.Slider, f"cont_{name}", lo, hi, QUEUE_DEFAULTS[name], step=1,
                                            elem_id=f"queue_{name}")
        c["queue_btn"] = S.make(gr.Button, "cont_btn", kind="value", variant="primary", elem_id="queue_btn")
        c["queue_plot"] = gr.Plot(figures.placeholder(i18n.t("fig.press_queue"), QUEUE_H), elem_id="queue-plot",
                                  show_label=False)
        c["queue_md"] = gr.Markdown(elem_id="queue-md")
        if faster_spec is not None:
            c.update(faster_spec.build(ctx))
        else:
            S.make(gr.Markdown, "faster_spec_missing", kind="value", elem_id="faster-spec-missing")
    return c


def wire(page, c: dict) -> None:
    view = FasterView(page)
    results = [c[k] for k in RESULTS]
    c["sweep_btn"].click(named(view.sweep, ("state", "model_name", "lang", "results")),
                         [c["state"], c["model"], c["lang"], c["faster_state"]],
                         [c["faster_state"], c["sweep_plot"], c["sweep_md"]], api_name="batch_sweep")
    c["queue_btn"].click(named(view.queue, ("state", "model_name", "lang", "requests", "slots", "every", "results")),
                         [c["state"], c["model"], c["lang"], c["queue_n"], c["queue_slots"], c["queue_every"],
                          c["faster_state"]],
                         [c["faster_state"], c["queue_plot"], c["queue_md"]], api_name="batch_queue")
    c["lang"].change(named(view.relabel, ("results", "lang")), [c["faster_state"], c["lang"]], results,
                     api_name="faster_relabel")
    c["lesson_list"].click(named(view.lesson, ("lesson", "lang", "results")),
                           [c["lesson_list"], c["lang"], c["faster_state"]], [c["faster_state"], *results],
                           api_name="faster_lesson")
    if faster_spec is not None:
        faster_spec.wire(page, c)
