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


def common_prefix(a, b) -> int:
    """How many leading tokens two sequences share."""
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def divergence(seqs: list) -> list[int]:
    """For each token sequence, where it parts from the closest other one: the length of its longest common
    prefix with any other (0 when it is alone), so the table can start each row where the rows differ."""
    return [max((common_prefix(a, b) for j, b in enumerate(seqs) if j != k), default=0) for k, a in enumerate(seqs)]


def hypothesis_rows(hyps, decode, lang: str, limit: int = 70, context: int = 6) -> list[str]:
    """The hypotheses table: each row from ``context`` tokens before where it differs from the others (the
    part all share is said once, above the table), the differing part in bold."""
    seqs = [h.tokens for h in hyps]
    shared = min((common_prefix(seqs[0], b) for b in seqs[1:]), default=0)
    rows = [i18n.t("beam.head", lang), "|---|---|---|---|---|---|"]
    for k, (h, d) in enumerate(zip(hyps, divergence(seqs))):
        start = max(0, d - context)  # a few shared tokens lead in
        before, after = decode(h.tokens[start:d]), decode(h.tokens[d:])
        text = ("…" if start else "") + md_text(before) + (f"<b>{md_text(after, max(8, limit - len(before)))}</b>" if after else "")
        rows.append(f"| {k + 1} | {text} | {d + 1 if d < len(h.tokens) else '—'} | {h.logprob:.2f} | {len(h.tokens)} | "
                    f"**{h.score:.3f}** |")
    lead = i18n.t("beam.shared", lang, n=len(seqs), k=shared, text=md_text(decode(seqs[0][:shared]), limit)) if shared else ""
    return ([lead, ""] if lead else []) + rows


def render_beam(ps: PageState, v: Selection) -> tuple:
    b = ps.beam
    lp = ps.session.params.length_penalty
    fig = figures.beam_figure(b, ps.session.tokenizer.token_str, lp, ps.lang)
    if b is None:
        return fig, ""
    rows = hypothesis_rows(b.hypotheses, ps.session.tokenizer.decode_complete, ps.lang)
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
