"""The generate controls (prompt, Step / Run / Back / Reset, token chips, status, the step slider) and the
"Next token" tab: the session's text and the distribution of the selected step, stage by stage."""
from __future__ import annotations

import base64
import html
import time
from pathlib import Path

import gradio as gr

from playground import figures, i18n
from playground.figures import MODES, NEXT_ROWS
from playground.figures.next_token import NEUTRAL, STAGE_NAMES, stage_names, stage_rows
from playground.ui.controls import LIVE_SLIDERS, Controls, endpoint
from playground.ui.guards import as_user_error, event_object, finite_int, md_text, no_paths, toast_text
from playground.ui.sessions import PageState, carry_lang, retire
from playground.ui.views import Selection, View
from playground.units import fmt_bytes

EXAMPLES = (
    "ROMEO:",
    "To be, or not to be, that is the question:",
    "KING HENRY V:\nOnce more unto the breach, dear friends,",
    "The quality of mercy is not strained;",
    "我喜欢猫",  # byte-level BPE: CJK characters split into byte tokens
)
STEP_VIEWS = ("tokens", "next", "attention", "mask", "kv")  # what a new, or an undone, step redraws
# the views an event redraws (the others it returns as gr.skip()); events not listed anywhere: all of them
EVENTS = dict(back=STEP_VIEWS, resample=("tokens", "next", "beam"), select_step=("tokens", "next", "attention", "kv"),
              next_mode=("next",), set_kv=STEP_VIEWS)


def stop_text(reason: str, lang: str = "en") -> str:
    """Why generation stopped, in words ("the end-of-text token")."""
    return i18n.t(f"stop.{reason}", lang) if f"stop.{reason}" in i18n.STRINGS else reason


# -- renders ------------------------------------------------------------------------------------------------
def token_chips(tokens, ids, n_prompt: int, probs: list[float], selected: int | None, lang: str = "en") -> str:
    """The text as token chips: prompt tokens grey, generated ones coloured by their probability.

    Hover shows the id (and probability); a generated chip carries ``data-step`` so a click
    selects that step for every view (see static/chips.js).
    """
    out = []
    for pos, (t, i) in enumerate(zip(tokens, ids)):
        text = html.escape(t)
        if pos < n_prompt:
            out.append(f'<span class="tok prompt" title="id {i} · prompt token {pos}">{text}</span>')
            continue
        step = pos - n_prompt
        p = probs[step] if step < len(probs) else float("nan")
        bg, fg = figures.prob_colour(p)
        sel = " sel" if step == selected else ""
        out.append(f'<span class="tok gen{sel}" data-step="{step}" style="background:{bg};color:{fg}" '
                   f'title="id {i} · step {step + 1} · p = {p:.1%} · click to inspect">{text}</span>')
    legend = (f'<div class="chip-legend">{i18n.t("chips.legend", lang)} '
              f'<span class="tok" style="background:{figures.prob_colour(0.05)[0]}">{i18n.t("chips.low", lang)}</span>'
              f'<span class="tok" style="background:{figures.prob_colour(0.95)[0]};color:#fff">{i18n.t("chips.high", lang)}'
              f'</span> · {i18n.t("chips.click", lang)}</div>')
    return f'<div class="chips" id="chip-row">{"".join(out)}</div>{legend}'


def status_text(ps: PageState, rec) -> str:
    """The status for students: the model line, then the step in words; the measurements (ms, memory, each
    explained) in an expandable details line. Steps are numbered from 1."""
    s = ps.session
    cfg = s.model.config
    lg = ps.lang
    head = i18n.t("status.head", lg, model=ps.model_name, layers=cfg.n_layer, heads=cfg.n_head, width=cfg.n_embd,
                  vocab=f"{cfg.vocab_size:,}", block=cfg.block_size, n=len(s.prompt_ids),
                  kv=i18n.t("status.on" if s.use_kv_cache else "status.off", lg))
    if not s.prompt:
        head += i18n.t("status.empty", lg)
    if rec is None:
        hint = i18n.t("status.beam_hint" if s.params.strategy == "beam" else "status.hint", lg)
        return head + "\n\n" + hint
    line = i18n.t("status.step", lg, step=rec.step + 1, n=len(s.records), tok=md_text(rec.token), id=rec.token_id,
                  p=f"{rec.prob:.1%}", rank=rec.rank + 1, vocab=f"{cfg.vocab_size:,}", ent=f"{rec.entropy:.2f}")
    if s.stop:
        line += "\n\n" + i18n.t("status.stopped", lg, why=stop_text(s.stop, lg))
    details = i18n.t("status.details", lg, fwd=f"{rec.forward_ms:.1f}", read=rec.tokens_processed,
                     stepms=f"{rec.step_ms:.1f}", kv=fmt_bytes(rec.kv_bytes),
                     reserved=fmt_bytes(max(rec.kv_allocated_bytes, rec.kv_bytes)), rss=fmt_bytes(rec.rss_bytes))
    return (f"{head}\n\n{line}\n\n<details class=\"status-details\"><summary>{i18n.t('status.details_title', lg)}"
            f"</summary>\n\n{details}\n\n</details>")


def render_tokens(ps: PageState, v: Selection) -> tuple:
    s = ps.session
    recs = s.records
    rec = recs[v.step] if v.step is not None else None
    chips = token_chips(s.tokens, s.ids, len(s.prompt_ids), [r.prob for r in recs], v.step, ps.lang)
    n = len(recs)
    # The slider's value is the step's index (the API's view_step, from 0): page.css hides its numbers, and the
    # status line and the chart title name the step, from 1. A property update makes Gradio rebuild the
    # component and its config for this session; a re-draw or a head switch leaves the range alone, so it
    # sends the value only.
    shape = (max(1, n - 1), n > 1)
    if shape == ps.slider_shape:
        slider = v.step or 0
    else:
        slider = gr.update(value=v.step or 0, maximum=shape[0], interactive=shape[1])
        ps.slider_shape = shape
    return chips, s.text, status_text(ps, rec), slider


# Live redraw while a slider moves (static/pipeline.js) needs the step's full logits: 4,096 float32 are 22 KB
# of base64 with the figure. GPT-2's 50,257 would be 268 KB on every Step, so larger vocabularies get no
# live preview: their bars redraw on release, from the server, as before.
LIVE_MAX_VOCAB = 8192


def live_payload(ps: PageState, rec, lang: str) -> dict | None:
    """What static/pipeline.js needs to redraw ``rec``'s stage bars in the page, or None when it cannot:
    the newest step only (the one a slider re-decides), its logits still kept, a small vocabulary."""
    s = ps.session
    logits = s.last_logits  # (V,) float32 or None
    if rec is not s.records[-1] or logits is None or logits.shape[0] > LIVE_MAX_VOCAB:
        return None
    names = [stage_names(name, lang) for name in STAGE_NAMES]  # sampling.STAGES' order
    return dict(logits=base64.b64encode(logits.astype("<f4").tobytes()).decode("ascii"),
                seen=sorted(set(s.ids[:rec.position])), rows=stage_rows(rec, NEXT_ROWS),
                names=[n for n, _ in names], off=[o for _, o in names],
                knobs={stage: [LIVE_SLIDERS[stage], neutral] for stage, (_, neutral) in NEUTRAL.items()})


def preview_record(session):
    """The record of the first step, decided on a copy of ``session`` (which takes no step): the next-token
    chart is drawn for the prompt as soon as the page opens. None in beam mode (it decides whole texts)."""
    import copy

    if session.params.strategy == "beam":
        return None
    session.prefill()  # the prompt is read once, on the session itself: its first Step only decides
    return copy.deepcopy(session).step()


def render_next(ps: PageState, v: Selection):
    s = ps.session
    if s.params.strategy == "beam":  # beam search has no single next token: say where its result is
        return figures.placeholder(i18n.t("fig.beam_mode", ps.lang))
    vocab = s.model.config.vocab_size
    if v.step is None:
        rec = preview_record(s)
        table = figures.stage_table(rec, NEXT_ROWS, v.mode, ps.lang, s.params)
        how = (i18n.t("fig.preview_greedy", ps.lang) if s.params.strategy == "greedy"
               else i18n.t("fig.preview_sample", ps.lang, seed=s.params.seed))
        title = i18n.t("fig.preview_title", ps.lang, how=how, p=f"{rec.prob:.1%}", token=figures.label(rec.token, 24),
                       entropy=f"{rec.entropy:.2f}")
        return figures.next_token_stages(**table, lang=ps.lang, title=title)
    rec = s.records[v.step]
    newest = v.step == len(s.records) - 1  # decided with the session's parameters
    table = figures.stage_table(rec, NEXT_ROWS, v.mode, ps.lang, s.params if newest else None)
    return figures.next_token_stages(**table, lang=ps.lang, live=live_payload(ps, rec, ps.lang),
                                     title=figures.next_token_title(rec, vocab, ps.lang))


TOKENS = View("tokens", ("chips", "text", "status", "view_step"), render_tokens)
NEXT = View("next", ("next_plot",), render_next)


# -- handlers -----------------------------------------------------------------------------------------------
class GenerateEvents:
    """Page handlers of the generate controls (mixed into ``page.Page``)."""

    def load(self, ps, model_name, prompt, kv, *rest):
        c = Controls.from_values(rest)
        ps = carry_lang(ps, self.new_state(model_name, prompt, c.params, kv,
                                           ps.own_models if ps is not None else None))
        return (ps, *self.render(ps, self.select(ps, None, c)))

    def reset(self, ps, model_name, prompt, kv, *rest):
        retire(ps)  # a Run still stepping the old state stops and draws nothing more
        return self.load(ps, model_name, prompt, kv, *rest)

    def step(self, ps, model_name, prompt, kv, *rest):
        c = Controls.from_values(rest)
        ps = self.current(ps, model_name, prompt, c.params, kv)
        with ps.lock:
            if c.params.strategy == "beam":
                return self._beam(ps, c)
            if ps.session.stop is not None:
                raise ValueError(f"generation has stopped ({stop_text(ps.session.stop)}): press Back, "
                                 f"change a setting, or Reset")
            ps.session.step()
            return (ps, *self.render(ps, self.select(ps, len(ps.session.records) - 1, c), STEP_VIEWS))

    def run(self, ps, model_name, prompt, kv, *rest):
        """Step until a stop; the tokens view updates while it runs, every view at the end.

        Two Runs of one tab (a double click) step the same session together and both end on the
        finished text. A Reset or a model change during a Run retires its state (``version``):
        the Run stops at its next step and sends nothing more. The state Gradio holds is changed
        in place, so a Run sends it back only when it built it (a first event, a new prompt), once.
        """
        c = Controls.from_values(rest)
        held = ps
        ps = self.current(ps, model_name, prompt, c.params, kv)
        if c.params.strategy == "beam":
            yield self.step(ps, model_name, prompt, kv, *rest)
            return
        with ps.lock:
            version = ps.version
            if ps.session.stop is not None:
                raise ValueError(f"generation has stopped ({stop_text(ps.session.stop)}); press Back or Reset")
        state = gr.skip() if ps is held else ps
        shown = time.perf_counter()
        while True:
            with ps.lock:  # never held across a yield: a closed tab must not leave it locked
                if ps.version != version or ps.session is None:  # retired (Reset, another model) or forgotten
                    frame = None
                    break
                if ps.session.stop is not None:  # this Run's step or a second Run's ended it
                    frame = self.render(ps, self.select(ps, len(ps.session.records) - 1, c), STEP_VIEWS)
                    break
                ps.session.step()
                live = time.perf_counter() - shown > 0.25  # a live view without flooding the browser
                if live:
                    frame = self.render(ps, self.select(ps, len(ps.session.records) - 1, c), ("tokens",))
            if live:
                shown = time.perf_counter()
                yield (state, *frame)
                state = gr.skip()
        yield (gr.skip(),) * (1 + len(self.views.outputs())) if frame is None else (state, *frame)

    def _beam(self, ps, c):
        """Beam decoding: a Step or a moved control searches again (the caller holds ps.lock); the next-token
        view says that beam search decides whole texts (never a "greedy" title)."""
        ps.beam = ps.session.beam_search()
        return (ps, *self.render(ps, self.select(ps, None, c), ("tokens", "next", "beam")))

    def back(self, ps, model_name, prompt, kv, *rest):
        c = Controls.from_values(rest)
        ps = self.current(ps, model_name, prompt, c.params, kv)
        with ps.lock:
            ps.session.back()
            n = len(ps.session.records)
            return (ps, *self.render(ps, self.select(ps, n - 1 if n else None, c), STEP_VIEWS))

    def resample(self, ps, model_name, prompt, kv, *rest):
        """A sampling control moved: re-decide the newest step from its cached logits (no forward)."""
        c = Controls.from_values(rest)
        ps = self.current(ps, model_name, prompt, c.params, kv)
        with ps.lock:
            if c.params.strategy == "beam":
                return self._beam(ps, c)
            if not ps.session.records:  # the prompt's preview follows the new settings
                return (ps, *self.render(ps, self.select(ps, None, c), ("tokens", "next")))
            ps.session.resample(c.params)
            return (ps, *self.render(ps, self.select(ps, len(ps.session.records) - 1, c), ("tokens", "next")))

    def select_step(self, ps, model_name, prompt, kv, *rest):
        c = Controls.from_values(rest)
        ps = self.current(ps, model_name, prompt, c.params, kv)
        return (ps, *self.render(ps, self.select(ps, c.step, c), EVENTS["select_step"]))

    def next_mode(self, ps, model_name, prompt, kv, *rest):
        c = Controls.from_values(rest)
        ps = self.current(ps, model_name, prompt, c.params, kv)
        return (ps, *self.render(ps, self.select(ps, c.step, c), EVENTS["next_mode"]))

    def set_kv(self, ps, model_name, prompt, kv, *rest):
        """The KV cache switch: the newest step is taken again with the new setting, so the student sees the
        difference at once (how many tokens the model read, in how long), not only "on" -> "off"."""
        c = Controls.from_values(rest)
        ps = self.current(ps, model_name, prompt, c.params, kv)
        s, lg = ps.session, ps.lang
        now = i18n.t("status.on" if s.use_kv_cache else "status.off", lg)
        with ps.lock:
            if not s.records or c.params.strategy == "beam":
                note = i18n.t("kv.diff_next", lg, now=now, n=len(s.ids))
                step = c.step if s.records else None
            else:
                old = s.records[-1]
                s.back()
                new = s.step()
                key = "kv.diff_on" if s.use_kv_cache else "kv.diff"  # on: this read fills the cache
                note = i18n.t(key, lg, step=new.step + 1, now=now, n=new.tokens_processed, ms=f"{new.forward_ms:.1f}")
                if old.tokens_processed and not s.use_kv_cache:  # the old step really ran the model (not re-decided from cached logits)
                    note += i18n.t("kv.diff_before", lg, was=i18n.t("status.off" if s.use_kv_cache else "status.on", lg),
                                   n=old.tokens_processed, ms=f"{old.forward_ms:.1f}")
                step = len(s.records) - 1
            return (ps, *self.render(ps, self.select(ps, step, c), EVENTS["set_kv"]), gr.update(value=note, visible=True))

    def pick_step(self, evt: gr.EventData, ps, model_name, prompt, kv, *rest):
        """A click on a token chip (custom event from static/chips.js carrying {step})."""
        c = Controls.from_values(rest)
        step = event_object(evt, '{"step": 3}').get("step")
        return self.select_step(ps, model_name, prompt, kv, *c.values(step=finite_int(step, 0)))

    def change_model(self, ps, model_name, prompt, kv, *rest):
        """The picker moved: load that model (once per process) and start over; refuse unavailable ones."""
        own = ps is not None and model_name in ps.own_models.models
        reason = None if own else self.ctx.choices.get(model_name, "unknown model")
        keep = ps.model_name if ps is not None else self.ctx.default_model
        unchanged = (ps, gr.update(value=keep), *[gr.skip()] * len(self.views.outputs()))
        if reason:
            gr.Warning(toast_text(no_paths(f"{model_name} is not available: {reason}")))
            return unchanged
        try:
            out = self.load(ps, model_name, prompt, kv, *rest)
        except Exception as e:  # a download or checkpoint problem: say it, keep the old model
            gr.Warning(f"{toast_text(model_name)} could not be loaded: {as_user_error(e).message}")
            return unchanged
        retire(ps)  # a Run of the old model stops and draws nothing more
        return (out[0], gr.skip(), *out[1:])


# -- layout and wiring ---------------------------------------------------------------------------------------
def build(ctx, chips_js: str) -> dict:
    """The prompt with Step / Run / Back / Reset in one row, the example prompts (folded), the token chips and
    the status: short enough that the next-token chart below starts in the first screen (issue 18)."""
    S, c = ctx.strings, {}
    with gr.Row(equal_height=True, elem_id="prompt-row"):
        c["prompt"] = S.make(gr.Textbox, "prompt", EXAMPLES[0], lines=1, max_lines=6, scale=3, elem_id="prompt")
        with gr.Column(scale=2, min_width=360, elem_id="step-buttons"):
            with gr.Row():
                c["step_btn"] = S.make(gr.Button, "step", kind="value", variant="primary", elem_id="step", min_width=70)
                c["run_btn"] = S.make(gr.Button, "run", kind="value", elem_id="run", min_width=70)
                c["back_btn"] = S.make(gr.Button, "back", kind="value", elem_id="back", min_width=70)
                c["reset_btn"] = S.make(gr.Button, "reset", kind="value", elem_id="reset", min_width=70)
            with S.make(gr.Accordion, "examples", open=False, kind="accordion", elem_id="examples-box"):
                examples = gr.Examples([[e] for e in EXAMPLES], inputs=[c["prompt"]], label=i18n.t("examples"))
                S.add(examples.dataset, "examples", "dataset")
    live_js = "\n".join((Path(__file__).parent / "static" / f).read_text(encoding="utf-8")
                        for f in ("pipeline.js", "panels.js", "follow.js"))  # live slider bars; stage panels in rows
    # on a phone or a projector; the Inside tab following the step
    c["chips"] = gr.HTML("", label="Tokens", elem_id="chips", js_on_load=chips_js + "\n" + live_js, padding=False)
    c["status"] = gr.Markdown(label="Status", elem_id="status")
    return c


def build_step_row(ctx) -> dict:
    """The step slider and the text so far, under the views (the chips above show the same text)."""
    S, c = ctx.strings, {}
    with gr.Row(elem_id="step-row"):
        c["view_step"] = S.make(gr.Slider, "view_step", 0, 1, 0, step=1, elem_id="view_step", interactive=False, scale=2)
        c["text"] = S.make(gr.Textbox, "text", lines=3, max_lines=12, interactive=False, elem_id="text", scale=3)
    return c


def build_tab(ctx, note_box) -> dict:
    """The "Next token" tab (inside gr.Tabs)."""
    S, c = ctx.strings, {}
    with S.add(gr.Tab(i18n.t("tab.next"), id="next", elem_id="tab-next"), "tab.next", "tab"):
        with gr.Row(equal_height=True, elem_id="next-bar"):
            c["mode"] = S.make(gr.Radio, "mode", MODES, value=MODES[0], elem_id="mode", container=False, scale=0,
                               min_width=260, kind=lambda lg: gr.update(label=i18n.t("mode", lg), choices=[
                                   (i18n.t(f"mode.{x}", lg), x) for x in MODES]))
            with gr.Column(scale=1):
                note_box(ctx, "next")
        c["next_plot"] = S.make(gr.Plot, "next_plot", elem_id="next-plot")
    return c


def wire(page, c: dict) -> None:
    """Step, Run, Back, Reset, the prompt, the model picker, the sampling controls, the step slider, the chips."""
    controls, outputs = c["controls"], [c["state"], *page.components(c)]
    pickers = [c["layer"], c["head"]]
    reload = page.endpoint_with_pickers(page.reset)
    c["reset_btn"].click(reload, controls, outputs + pickers, api_name="reset")
    c["prompt"].submit(reload, controls, outputs + pickers, api_name="set_prompt")
    c["model"].input(endpoint(page.change_model), controls, [c["state"], c["model"], *page.components(c)],
                     api_name="change_model").then(page.pickers_of, c["state"], pickers, api_name="model_dropdowns")
    # rapid clicks are queued (each is one step, in order: the session's lock), never dropped silently
    c["step_btn"].click(endpoint(page.step), controls, outputs, api_name="step", trigger_mode="multiple")
    c["run_btn"].click(endpoint(page.run), controls, outputs, api_name="run")
    c["back_btn"].click(*page.view_event(c, "back"), api_name="back")
    sliders = [c[k] for k in ("temperature", "top_k", "top_p", "min_p", "penalty", "max_new", "num_beams",
                              "length_penalty")]
    # re-deciding from the cached logits runs no model (a few ms): no progress overlay flashing over the chips
    gr.on([s.release for s in sliders] + [c["strategy"].input, c["seed"].submit, c["stop"].submit],
          *page.view_event(c, "resample"), api_name="resample", trigger_mode="always_last", show_progress="hidden")
    c["view_step"].release(*page.view_event(c, "select_step"), api_name="select_step")
    c["mode"].input(*page.view_event(c, "next_mode"), api_name="next_mode")
    c["kv"].input(*page.view_event(c, "set_kv", extra_outputs=[c["kv_diff"]]), api_name="set_kv_cache")
    # choosing beam search shows its view (the next-token view then says where beam's result is)
    c["strategy"].input(None, c["strategy"], None, js="(s) => { if (s === 'beam') "
                        "document.querySelector('#views [role=tab][data-tab-id=beam]')?.click(); }")
    c["chips"].pick_step(*page.view_event(c, "select_step", page.pick_step, event=True), api_name="pick_step")
