"""The "Attention" tab: one head's weights over the text, and every layer and head at once (a click on a
tile opens that head)."""
from __future__ import annotations

import gradio as gr

from playground import figures, i18n
from playground.ui.controls import Controls
from playground.ui.guards import event_object, finite_int
from playground.ui.sessions import PageState
from playground.ui.views import Selection, View

EVENTS = dict(select_head=("attention", "mask"))


def render_attention(ps: PageState, v: Selection) -> tuple:
    s = ps.session
    S = s.records[v.step].position if v.step is not None else 0  # positions shown: the step's query is the last
    if S == 0:
        msg = i18n.t("fig.press_step_attn", ps.lang)
        return figures.placeholder(msg, 420), figures.placeholder(msg, 360)
    cfg = s.model.config
    first = max(0, S - s.keys_kept)  # a long text: the last keys_kept positions (what the session keeps and sends)
    heat = figures.attention_heatmap(s.attention(v.layer, v.head, first, S), list(s.tokens[first:S]), v.layer, v.head,
                                     highlight_query=S - 1 - first, lang=ps.lang, first=first, total=S)
    # the tiles figures.attention_tiles would assemble head by head, from the session in one pass (10x faster)
    W = min(figures.overview_window(cfg.n_layer, cfg.n_head, S), s.keys_kept)
    tiles = s.attention_block(S - W, S)  # (L, H, W, W)
    over = figures.attention_overview(tiles, list(s.tokens[S - W:S]), selected=(v.layer, v.head), total=S, lang=ps.lang)
    return heat, over


VIEW = View("attention", ("attn_plot", "overview_plot"), render_attention)


class AttentionEvents:
    """Page handlers of the Attention tab (mixed into ``page.Page``)."""

    def select_head(self, ps, model_name, prompt, kv, *rest):
        c = Controls.from_values(rest)
        ps = self.current(ps, model_name, prompt, c.params, kv)
        return (ps, *self.render(ps, self.select(ps, c.step, c), EVENTS["select_head"]))

    def open_head(self, ps, model_name, prompt, kv, layer, head, *rest):
        """A click on a tile of the overview (layer, head) opens that head."""
        c = Controls.from_values(rest)
        out = self.select_head(ps, model_name, prompt, kv, *c.values(layer=layer, head=head))
        v = self.select(out[0], c.step, Controls(c.params, c.step, layer, head, c.mode))
        return (*out, v.layer, v.head)  # plain values: only the pickers' values change

    def pick_head(self, evt: gr.EventData, ps, model_name, prompt, kv, *rest):
        """A click on a tile (custom event from static/chips.js carrying {layer, head})."""
        data = event_object(evt, '{"layer": 1, "head": 0}')
        layer, head = finite_int(data.get("layer"), 0), finite_int(data.get("head"), 0)
        return self.open_head(ps, model_name, prompt, kv, layer, head, *rest)


def build_tab(ctx, note_box) -> dict:
    S, c = ctx.strings, {}
    with S.add(gr.Tab(i18n.t("tab.attention"), id="attention", elem_id="tab-attention"), "tab.attention", "tab"):
        note_box(ctx, "attention")
        with gr.Row():
            c["layer"] = S.make(gr.Dropdown, "layer", [0], value=0, elem_id="layer")
            c["head"] = S.make(gr.Dropdown, "head", [0], value=0, elem_id="head")
        c["attn_plot"] = S.make(gr.Plot, "attn_plot", elem_id="attn-heatmap")
        c["overview_plot"] = S.make(gr.Plot, "overview_plot", elem_id="attn-overview")
    return c


def wire(page, c: dict) -> None:
    layer_head = [c["layer"], c["head"]]
    gr.on([c["layer"].input, c["head"].input], *page.view_event(c, "select_head"), api_name="select_head")
    c["chips"].pick_head(*page.view_event(c, "select_head", page.pick_head, layer_head, event=True),
                         api_name="pick_head")
    inputs = [c["state"], c["model"], c["prompt"], c["kv"], *layer_head, *c["sampling"], *c["view"]]
    gr.Button(visible=False).click(  # what a click on an overview tile does, callable by API clients
        *page.view_event(c, "select_head", page.open_head, layer_head, inputs, extra=("layer", "head")),
        api_name="open_head")
