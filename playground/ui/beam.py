"""The "Beam search" tab: the search tree and its finished hypotheses."""
from __future__ import annotations

from dataclasses import replace

import gradio as gr

from playground import figures, i18n
from playground.ui.controls import Controls
from playground.ui.generate import stop_text
from playground.ui.guards import md_text
from playground.ui.sessions import PageState
from playground.ui.views import Selection, View

EVENTS = dict(beam_search=("beam",))


def render_beam(ps: PageState, v: Selection) -> tuple:
    b = ps.beam
    lp = ps.session.params.length_penalty
    fig = figures.beam_figure(b, ps.session.tokenizer.token_str, lp, ps.lang)
    if b is None:
        return fig, ""
    rows = [i18n.t("beam.head", ps.lang), "|---|---|---|---|---|"]
    for k, h in enumerate(b.hypotheses):
        text = md_text(ps.session.tokenizer.decode_complete(h.tokens), 70)
        rows.append(f"| {k + 1} | {text} | {h.logprob:.2f} | {len(h.tokens)} | **{h.score:.3f}** |")
    why = stop_text(b.stop_reason, ps.lang)
    md = (i18n.t("beam.summary", ps.lang, n=len(b.hypotheses), lp=f"{lp:g}", why=why, steps=b.steps,
                 cands=len(b.nodes) - 1) + "\n\n" + "\n".join(rows))
    return fig, md


VIEW = View("beam", ("beam_plot", "beam_md"), render_beam)


class BeamEvents:
    """Page handlers of the Beam search tab (mixed into ``page.Page``)."""

    def beam_search(self, ps, model_name, prompt, kv, *rest):
        c = Controls.from_values(rest)
        ps = self.current(ps, model_name, prompt, replace(c.params, strategy="beam"), kv)
        with ps.lock:
            ps.beam = ps.session.beam_search()
        return (ps, *self.render(ps, self.select(ps, None, c), EVENTS["beam_search"]))


def build_tab(ctx, note_box) -> dict:
    S, c = ctx.strings, {}
    with S.add(gr.Tab(i18n.t("tab.beam"), id="beam", elem_id="tab-beam"), "tab.beam", "tab"):
        note_box(ctx, "beam")
        c["beam_btn"] = S.make(gr.Button, "beam_btn", kind="value", elem_id="beam_btn")
        c["beam_plot"] = S.make(gr.Plot, "beam_plot", elem_id="beam-plot")
        c["beam_md"] = gr.Markdown(label="Beam hypotheses", elem_id="beam-md")
    return c


def wire(page, c: dict) -> None:
    c["beam_btn"].click(*page.view_event(c, "beam_search"), api_name="beam_search")
