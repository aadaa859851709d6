"""The page's handlers on one tab's session: ``Page`` mixes in each tab's events over the shared core here
(sessions, the selection, drawing the views). Bound to an ``AppContext``; tests inject a tiny model."""
from __future__ import annotations

from playground import i18n, lessons
from playground.config import SamplingParams
from playground.ui import attention, beam, compare, generate, kvcache, mask
from playground.ui.context import AppContext
from playground.ui.controls import Controls, endpoint
from playground.ui.sessions import OwnModels, PageState, carry_lang, retire
from playground.ui.views import Selection, Views, select

# the views redrawn from a session, in page order (each declared by its tab)
PAGE_VIEWS = Views(generate.TOKENS, generate.NEXT, attention.VIEW, mask.VIEW, kvcache.VIEW, beam.VIEW)
# the views each event can redraw (the others it returns as gr.skip()); events not listed: all of them
EVENT_VIEWS = {**generate.EVENTS, **attention.EVENTS, **beam.EVENTS}


class Page(generate.GenerateEvents, attention.AttentionEvents, mask.MaskEvents, kvcache.KVEvents, beam.BeamEvents,
           compare.CompareEvents):
    """Every handler that reads or changes a tab's session."""

    views = PAGE_VIEWS

    def __init__(self, ctx: AppContext):
        self.ctx = ctx

    # -- sessions --
    def new_state(self, model_name: str, prompt: str, params: SamplingParams, kv: bool,
                  own: OwnModels | None = None) -> PageState:
        from playground.session import Session

        own = OwnModels() if own is None else own  # kept across rebuilds: the tab's own trained models
        model, tok = self.model_named(model_name, own)
        # whichever model: text, not too long, no lone surrogate, before the tokenizer reads it
        lessons.check_text(i18n.t("prompt"), prompt, lessons.MAX_PROMPT_CHARS,
                           hint=f"the context window holds {model.config.block_size} tokens: shorten it")
        self.ctx.live_states += 1
        return PageState(model_name, Session(model, tok, prompt, params, use_kv_cache=bool(kv)), own_models=own)

    def model_named(self, model_name, own: OwnModels | None = None) -> tuple:
        """(model, tokenizer) of a name the picker offers, or of one of the tab's own trained models."""
        if own is not None and model_name in own.models:
            return own.models[model_name]
        if model_name not in self.ctx.choices:
            raise ValueError(f"unknown model {lessons.short_repr(model_name)}: choose one of {', '.join(self.ctx.choices)}")
        if self.ctx.choices[model_name]:
            raise ValueError(f"{model_name} is not available: {self.ctx.choices[model_name]}")
        return self.ctx.models.get(model_name)

    def current(self, ps: PageState | None, model_name, prompt, params, kv) -> PageState:
        """The tab's state, rebuilt when the model or prompt changed; settings applied."""
        if ps is None or ps.session is None or ps.model_name != model_name or ps.session.prompt != prompt:
            new = carry_lang(ps, self.new_state(model_name, prompt, params, kv, ps.own_models if ps else None))
            retire(ps)  # a Run still stepping the old text stops and draws nothing more
            ps = new
        ps.session.set_params(params)
        ps.session.set_kv_cache(bool(kv))
        return ps

    @staticmethod
    def select(ps: PageState, step, c: Controls) -> Selection:
        """The selection at ``step`` (None: no step) with the controls' layer, head and mode."""
        return select(ps, step, c.layer, c.head, c.mode)

    def render(self, ps: PageState, sel: Selection, parts=None) -> tuple:
        return self.views.render(ps, sel, parts)

    # -- wiring helpers (build time) --
    def components(self, c: dict, parts=None) -> list:
        """The components of the views ``parts`` (all: None), in output order."""
        return [c[name] for name in self.views.outputs(parts)]

    def view_event(self, c: dict, name: str, handler=None, extra_outputs=(), inputs=None, **kw):
        """(handler, inputs, outputs) for an event that redraws the views EVENT_VIEWS[name] only."""
        parts = EVENT_VIEWS[name]
        fn = endpoint(self.views.cut(parts, handler or getattr(self, name)), **kw)
        return fn, inputs or c["controls"], [c["state"], *self.components(c, parts), *extra_outputs]

    @staticmethod
    def pickers_of(ps, sel: Selection | None = None):
        """The layer and head pickers listing ``ps``'s model's layers and heads (at ``sel``'s, or 0)."""
        import gradio as gr

        if ps is None or ps.session is None:
            return [gr.skip(), gr.skip()]
        cfg = ps.session.model.config
        layer, head = (sel.layer, sel.head) if sel is not None else (0, 0)
        return [gr.update(choices=list(range(cfg.n_layer)), value=layer),
                gr.update(choices=list(range(cfg.n_head)), value=head)]

    def endpoint_with_pickers(self, fn):
        """``fn`` (a (re)load) as an endpoint whose outputs end with the layer/head pickers of the new model."""
        def wrapped(*args):
            out = fn(*args)
            return (*out, *self.pickers_of(out[0]))
        wrapped.__name__ = fn.__name__
        return endpoint(wrapped)
