"""The sidebar's controls and the bundle every page event receives: (state, model, prompt, kv, sampling
controls, view controls). Their conversion to ``SamplingParams`` is ``lessons.params_of`` (one copy)."""
from __future__ import annotations

import inspect
from dataclasses import dataclass

import gradio as gr

from playground import i18n, lessons
from playground.config import SamplingParams
from playground.ui.guards import short_reason, user_errors

SAMPLING_NAMES = lessons.SAMPLING_FIELDS  # API names of the sampling controls, in input order
VIEW_NAMES = ("view_step", "view_layer", "view_head", "bars")  # API names of the view controls
# pipeline stage -> elem_id of its slider: moving one redraws the next-token bars in the page (static/pipeline.js)
LIVE_SLIDERS = {"repetition_penalty": "penalty", "temperature": "temperature", "top_k": "top_k", "top_p": "top_p",
                "min_p": "min_p"}


def params_values(p: SamplingParams) -> tuple:
    """The sampling control values, in SAMPLING_NAMES order, that mean ``p``."""
    return tuple(lessons.controls_of(p).values())


@dataclass(frozen=True)
class Controls:
    """What an event's sampling and view controls say: the parameters and the raw view values."""

    params: SamplingParams
    step: object
    layer: object
    head: object
    mode: object

    @classmethod
    def from_values(cls, values) -> "Controls":
        """(sampling controls..., view step, layer, head, mode) as the page sends them."""
        n = len(SAMPLING_NAMES)
        if len(values) != n + len(VIEW_NAMES):
            raise ValueError(f"expected {n + len(VIEW_NAMES)} control values, got {len(values)}")
        return cls(lessons.params_of(dict(zip(SAMPLING_NAMES, values[:n]))), *values[n:])

    @property
    def view(self) -> tuple:
        return self.step, self.layer, self.head, self.mode

    def values(self, **view) -> tuple:
        """The values ``from_values`` reads back (``view`` replaces some view values)."""
        v = dict(zip(("step", "layer", "head", "mode"), self.view), **view)
        return (*params_values(self.params), v["step"], v["layer"], v["head"], v["mode"])


def endpoint(fn, extra: tuple[str, ...] = (), event: bool = False):
    """``fn`` as an event handler: user errors become gr.Error, and the API shows named parameters.

    Handlers take (state, model, prompt, kv, *extra, *sampling controls, *view controls); the
    explicit signature gives API clients ``top_k=``, ``view_layer=``... instead of ``param_6``.
    """
    handler = user_errors(fn)
    P = inspect.Parameter
    names = ["state", "model_name", "prompt", "kv_cache", *extra, *SAMPLING_NAMES, *VIEW_NAMES]
    params = [P(n, P.POSITIONAL_OR_KEYWORD) for n in names]
    if event:  # gradio passes gr.EventData to the parameter annotated with it
        params.insert(0, P("evt", P.POSITIONAL_OR_KEYWORD, annotation=gr.EventData))
    handler.__signature__ = inspect.Signature(params)
    handler.__annotations__ = {"evt": gr.EventData} if event else {}
    return handler


def named(handler, names: tuple[str, ...]):
    """``handler`` (user errors as gr.Error) with an explicit signature, so API clients can pass ``steps=``..."""
    handler = user_errors(handler)
    P = inspect.Parameter
    handler.__signature__ = inspect.Signature([P(n, P.POSITIONAL_OR_KEYWORD) for n in names])
    return handler


def picker_choices(ctx, lang: str = "en") -> list[tuple[str, str]]:
    """The model picker's (label, name) pairs in ``lang``; an unavailable model is marked so."""
    return [(n if r is None else f"{n} {i18n.t('model.unavailable_mark', lang)}", n) for n, r in ctx.choices.items()]


def model_info(ctx, lang: str = "en") -> str:
    """The picker's info line: what the models are and, in one short sentence per reason, why some cannot be
    picked here (the full reason shows in the warning when one is picked)."""
    reasons: dict[str, list[str]] = {}
    for name, why in ctx.choices.items():
        if why:
            short = (i18n.t("why.not_cached", lang) + (i18n.t("why.offline", lang) if "HF_HUB_OFFLINE" in why else "")
                     if "cannot be downloaded" in why else i18n.why(short_reason(why), lang))
            reasons.setdefault(short, []).append(name)
    out = i18n.t("model.info", lang)
    for why, names in reasons.items():
        out += " · " + i18n.t("model.unavailable", lang, names=", ".join(names), why=why)
    return out


def build_sidebar(ctx) -> dict:
    """The settings, in a sidebar that stays on screen while the views scroll: move a slider, watch a chart.
    Closed at load on a narrow screen (a phone), where it would cover the page."""
    S, c = ctx.strings, {}
    d = SamplingParams()
    with gr.Sidebar(width=310, elem_id="settings", elem_classes="controls"):
        c["model"] = S.make(gr.Dropdown, "model", picker_choices(ctx), value=ctx.default_model, elem_id="model",
                            info=model_info(ctx),
                            kind=lambda lg: gr.update(label=i18n.t("model", lg), info=model_info(ctx, lg),
                                                      choices=picker_choices(ctx, lg)))
        c["kv"] = S.make(gr.Checkbox, "kv", True, elem_id="kv")
        c["kv_diff"] = gr.Markdown("", elem_id="kv-diff", visible=False)
        c["strategy"] = S.make(gr.Radio, "strategy", ["greedy", "sample", "beam"], value=d.strategy, elem_id="strategy",
                               kind=lambda lg: gr.update(label=i18n.t("strategy", lg), info=i18n.t("strategy.info", lg),
                                                         choices=[(i18n.t(f"strategy.{x}", lg), x)
                                                                  for x in ("greedy", "sample", "beam")]),
                               info=i18n.t("strategy.info"))
        c["temperature"] = S.make(gr.Slider, "temperature", 0, 2, d.temperature, step=0.05, elem_id="temperature")
        c["top_k"] = S.make(gr.Slider, "top_k", 0, 200, d.top_k, step=1, elem_id="top_k")
        c["top_p"] = S.make(gr.Slider, "top_p", 0.01, 1, d.top_p, step=0.01, elem_id="top_p")
        c["min_p"] = S.make(gr.Slider, "min_p", 0, 0.5, d.min_p, step=0.01, elem_id="min_p")
        c["penalty"] = S.make(gr.Slider, "penalty", 0.5, 2, d.repetition_penalty, step=0.05, elem_id="penalty")
        c["seed"] = S.make(gr.Number, "seed", d.seed, precision=0, minimum=0, elem_id="seed")
        c["max_new"] = S.make(gr.Slider, "max_new", 1, 256, d.max_new_tokens, step=1, elem_id="max_new")
        c["stop"] = S.make(gr.Textbox, "stop", "", lines=1, max_lines=4, elem_id="stop")
        with S.make(gr.Accordion, "beam_settings", open=False, kind="accordion"):
            c["num_beams"] = S.make(gr.Slider, "num_beams", 1, 8, d.num_beams, step=1, elem_id="num_beams")
            c["length_penalty"] = S.make(gr.Slider, "length_penalty", -1, 3, d.length_penalty, step=0.1,
                                         elem_id="length_penalty")
    c["sampling"] = [c[k] for k in ("strategy", "temperature", "top_k", "top_p", "min_p", "penalty", "seed", "max_new",
                                    "stop", "num_beams", "length_penalty")]
    return c
