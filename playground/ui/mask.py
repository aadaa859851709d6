"""The "Causal mask" tab: one head's scores, masked scores and weights over the first tokens, and the leak
check (change a later token: no earlier prediction may move)."""
from __future__ import annotations

import gradio as gr

from playground import figures, i18n, lessons
from playground.ui.controls import Controls, endpoint
from playground.ui.guards import whole_or_raw
from playground.ui.sessions import PageState
from playground.ui.views import Selection, View

MASK_TOKENS = 8  # positions drawn in the causal-mask view (numbers fit in the cells)


def render_mask(ps: PageState, v: Selection):
    """Scores, masked scores and weights of the first MASK_TOKENS positions. One captured pass gives every
    head's (kept per text), so switching heads only redraws; the figure is kept until the view changes."""
    from playground.inside import head_scores

    s = ps.session
    ids = tuple(s.ids[:MASK_TOKENS])
    if ps.mask_scores is None or ps.mask_scores[0] != (ps.model_name, ids):
        ps.mask_scores = ((ps.model_name, ids), *head_scores(s.model, list(ids)))
        ps.mask_key = None
    key = (ps.model_name, ids, v.layer, v.head, ps.lang, len(s.ids))
    if ps.mask_key != key:
        _, scores, weights = ps.mask_scores
        tokens = [s.tokenizer.token_str(i) for i in ids]
        ps.mask_fig = figures.causal_mask_panels(tokens, weights[v.layer, v.head], scores[v.layer, v.head], v.layer,
                                                 v.head, max_tokens=MASK_TOKENS, total=len(s.ids), lang=ps.lang)
        ps.mask_key = key
    return ps.mask_fig


VIEW = View("mask", ("mask_plot",), render_mask)


class MaskEvents:
    """Page handlers of the Causal mask tab (mixed into ``page.Page``)."""

    def leak_check(self, ps, model_name, prompt, kv, position, new_text, *rest):
        """Change one token, run both texts, compare every position's next-token distribution."""
        from playground.inside import leak_compare, max_positions

        c = Controls.from_values(rest)
        new_text = lessons.check_text(i18n.t("leak_text"), new_text or "", lessons.MAX_TOKEN_CHARS)
        ps = self.current(ps, model_name, prompt, c.params, kv)
        s = ps.session
        ids = list(s.ids)
        at = whole_or_raw(position)
        if not isinstance(at, int) or not 0 <= at < len(ids):
            raise ValueError(f"the position to change must be a whole number from 0 to {len(ids) - 1}; "
                             f"got {lessons.short_repr(position)}")
        new_ids = s.tokenizer.encode_ids(new_text)
        if not new_ids:
            raise ValueError("type the token to put there (e.g. ' the')")
        limit = max_positions(s.model.config, capture=False)  # two whole passes must fit PASS_BUDGET
        if at >= limit:
            raise ValueError(f"on {ps.model_name} the leak check reads at most the first {limit:,} tokens (two whole "
                             f"passes must fit in memory): pick a position from 0 to {limit - 1}")
        if len(ids) > limit:
            gr.Warning(f"The leak check read the first {limit:,} of the {len(ids):,} tokens: {ps.model_name}'s limit "
                       f"for two whole passes.")
        ids = ids[:limit]
        args = (list(s.tokens[:limit]), at, s.tokenizer.token_str(new_ids[0]), *leak_compare(s.model, ids, at, new_ids[0]))
        ps.redraws["leak"] = lambda lang: figures.leak_check(*args, lang=lang)
        return ps, ps.redraws["leak"](ps.lang)


def build_tab(ctx, note_box) -> dict:
    S, c = ctx.strings, {}
    with S.add(gr.Tab(i18n.t("tab.mask"), id="mask", elem_id="tab-mask"), "tab.mask", "tab"):
        note_box(ctx, "mask")
        S.make(gr.Markdown, "mask_intro", kind="value")
        c["mask_plot"] = S.make(gr.Plot, "mask_plot", elem_id="mask-plot")
        with gr.Row(equal_height=True):
            c["leak_pos"] = S.make(gr.Number, "leak_pos", 3, precision=0, minimum=0, elem_id="leak_pos")
            c["leak_text"] = S.make(gr.Textbox, "leak_text", " the", elem_id="leak_text")
            c["leak_btn"] = S.make(gr.Button, "leak_btn", kind="value", elem_id="leak_btn")
        c["leak_plot"] = S.make(gr.Plot, "leak_plot", figures.placeholder(i18n.t("fig.press_leak")), elem_id="leak-plot")
    return c


def wire(page, c: dict) -> None:
    c["leak_btn"].click(endpoint(page.leak_check, ("position", "new_token")),
                        [c["state"], c["model"], c["prompt"], c["kv"], c["leak_pos"], c["leak_text"], *c["sampling"],
                         *c["view"]], [c["state"], c["leak_plot"]], api_name="leak_check")
