"""The "Inside the model" tab: one forward pass of the selected step's input, captured with its
intermediates (``inside.walkthrough``). Opt-in: it runs only while the tab is open (or its button is
pressed), never on an ordinary Step, which runs only the newest token and keeps only its attention weights.
The walkthrough draws any block the config builds: LayerNorm or RMSNorm, learned or rotary positions, GELU or
SwiGLU, multi-head, grouped-query or multi-query attention."""
from __future__ import annotations

import time

import gradio as gr

from playground import figures, i18n
from playground.ui.controls import Controls, endpoint
from playground.ui.guards import md_text
from playground.ui.sessions import PageState
from playground.ui.views import Selection

INSIDE_NAMES = ("inside_layer", "inside_head")
# the tab's figures, in page order: the stack, eight walkthrough rows, the output head, the logit lens, the counts
PLOTS = ("inside-stack", "inside-input", "inside-norm", "inside-qkv", "inside-rope", "inside-heads", "inside-pattern",
         "inside-attn-out", "inside-mlp", "inside-output", "inside-lens", "inside-params")
OUTPUTS = ("layer", "head", "note", *PLOTS)  # what a draw sends besides the state


def inside_input(ps: PageState, v: Selection) -> tuple[list[int], int | None, str]:
    """(ids the forward reads, the token chosen after them or None, a phrase saying which step)."""
    s = ps.session
    if v.step is None:
        return list(s.ids), None, i18n.t("inside.prompt", ps.lang, n=len(s.ids))
    rec = s.records[v.step]
    return (list(s.ids[:rec.position]), rec.token_id,
            i18n.t("inside.step", ps.lang, step=rec.step + 1, pos=rec.position, tok=md_text(rec.token)))


def render_inside(ps: PageState, v: Selection) -> tuple:
    """(note markdown, *figures, one per PLOTS) for the selection's step, layer and head.

    A pass longer than the model's ``inside.max_positions`` (its captured intermediates would
    not fit ``inside.PASS_BUDGET``) is not run: the note says so and how to pick a shorter one.
    """
    from playground.inside import LENS_POSITIONS, max_positions, param_counts, pass_bytes, walkthrough
    from playground.model import KVCache

    t0 = time.perf_counter()
    s = ps.session
    model, tok, cfg = s.model, s.tokenizer, s.model.config
    ids, next_id, where = inside_input(ps, v)
    lang = ps.lang
    limit = max_positions(cfg)
    counts = figures.counts_figure(param_counts(model), KVCache.formula_text(cfg, 1, 1, lang=lang), lang=lang)
    if len(ids) > limit:
        return (i18n.t("inside.too_long", lang, where=where, T=len(ids), N=limit,
                       mb=f"{pass_bytes(cfg, limit) / 2**20:.0f}"),
                figures.forward_stack(cfg.n_layer, v.layer, cfg.n_head, v.head, len(ids), cfg.n_embd, cfg.vocab_size,
                                      lang=lang, block=dict(norm=cfg.norm, positions=cfg.positions, mlp=cfg.mlp)),
                *[figures.placeholder(i18n.t("inside.too_long_fig", lang, N=limit))] * (len(PLOTS) - 2), counts)
    w = walkthrough(model, tok, ids, v.layer, v.head, next_id=next_id, lens_positions=LENS_POSITIONS)
    figs = figures.inside_figures(w, param_counts(model), KVCache.formula_text(cfg, 1, 1, lang=lang), cfg.n_layer, cfg.n_head,
                                  v.layer, v.head, lang=lang)
    d = w.dims
    ms = (time.perf_counter() - t0) * 1e3
    note = i18n.t("inside.note", ps.lang, where=where, layer=v.layer, head=v.head, T=d["T"], C=d["C"], H=d["n_head"],
                  hd=d["head_dim"], mlp=d["d_mlp"], V=f"{d['V']:,}", ms=f"{ms:.0f}")
    return (note, *figs)


class InsideView:
    """The tab's handlers; sessions come from ``page`` like every other view."""

    def __init__(self, page):
        self.page = page

    def draw(self, ps, model_name, prompt, kv, layer, head, *rest):
        """Draw: its button, its pickers, opening the tab, and a new step while it is open (static/follow.js)."""
        c = Controls.from_values(rest)
        ps = self.page.current(ps, model_name, prompt, c.params, kv)
        v = self.page.select(ps, c.step if ps.session.records else None, Controls(c.params, c.step, layer, head, c.mode))
        cfg = ps.session.model.config
        pickers = (gr.update(choices=list(range(cfg.n_layer)), value=v.layer),
                   gr.update(choices=list(range(cfg.n_head)), value=v.head))
        return (ps, *pickers, *render_inside(ps, v))


def build_tab(ctx, note_box) -> dict:
    """The tab's components (inside ``gr.Tabs``)."""
    S, c = ctx.strings, {}
    with S.add(gr.Tab(i18n.t("tab.inside"), id="inside", elem_id="tab-inside"), "tab.inside", "tab") as c["inside_tab"]:
        note_box(ctx, "inside")
        S.make(gr.Markdown, "inside_intro", kind="value")
        with gr.Row(equal_height=True):
            # choices follow the model on the first draw; a custom value (an API call first) is clamped
            c["inside_layer"] = S.make(gr.Dropdown, "inside_layer", [0], value=0, elem_id="inside_layer",
                                       allow_custom_value=True)
            c["inside_head"] = S.make(gr.Dropdown, "inside_head", [0], value=0, elem_id="inside_head",
                                      allow_custom_value=True)
            c["inside_btn"] = S.make(gr.Button, "inside_btn", kind="value", elem_id="inside_btn")
        c["inside_note"] = gr.Markdown(i18n.t("inside.open"), elem_id="inside-note")
        c["inside_plots"] = [S.make(gr.Plot, f"plot.{i}", elem_id=i) for i in PLOTS]
    return c


def wire(page, c: dict) -> None:
    """The button, the pickers and opening the tab draw. While the tab is open it follows the step the page shows:
    the status line changes on every Step, Back and step pick, and static/follow.js then presses the button if
    the tab is on screen. Only then: with the tab closed a Step costs it nothing, not even an event (a server
    event chained to every status change made Gradio's client handle this tab's 16 outputs on each Step)."""
    iv = InsideView(page)
    inputs = [c["state"], c["model"], c["prompt"], c["kv"], c["inside_layer"], c["inside_head"], *c["sampling"],
              *c["view"]]
    outputs = [c["state"], c["inside_layer"], c["inside_head"], c["inside_note"], *c["inside_plots"]]
    gr.on([c["inside_btn"].click, c["inside_layer"].input, c["inside_head"].input, c["inside_tab"].select],
          endpoint(iv.draw, INSIDE_NAMES), inputs, outputs, api_name="inside", trigger_mode="always_last",
          show_progress_on=[c["inside_note"]])
    c["status"].change(None, js="() => window.playgroundFollow && window.playgroundFollow()")
