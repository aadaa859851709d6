"""The "Train" tab: train a small GPT in the page, under the server's limits, and watch it learn. The trained
model belongs to the tab that trained it (``PageState.own_models``), never to the shared model cache."""
from __future__ import annotations

import math
import time

import gradio as gr

from playground import figures, i18n, lessons
from playground.config import DEFAULT_MODEL
from playground.ui.controls import named, picker_choices
from playground.ui.guards import md_text, user_errors, whole_or_raw
from playground.ui.sessions import MAX_OWN_MODELS, tell_gone

TRAIN_NAMES = ("preset", "n_layer", "n_head", "n_embd", "block_size", "lr", "steps")
TRAIN_PUSH_S = 0.3  # at most ~3 redraws a second while training (samples and the end always show)


def train_configs(tok, preset: str, n_layer, n_head, n_embd, block_size, lr, steps) -> tuple:
    """The Train tab's fields -> (GPTConfig, TrainConfig); the preset supplies batch size and warm-up."""
    from playground.config import GPTConfig, TrainConfig
    from playground.train import PRESETS

    if preset not in PRESETS:
        raise ValueError(f"unknown preset {lessons.short_repr(preset)}: choose one of {', '.join(PRESETS)}")
    ints = {k: whole_or_raw(v) for k, v in dict(n_layer=n_layer, n_head=n_head, n_embd=n_embd,
                                                  block_size=block_size, steps=steps).items()}
    for k, v in ints.items():
        if not isinstance(v, int) or v < 1:
            raise ValueError(f"{k.replace('_', ' ')} must be a whole number of at least 1; got {lessons.short_repr(v)}")
    if not isinstance(lr, (int, float)) or not math.isfinite(lr) or not 0 < lr <= 0.1:
        raise ValueError(f"the learning rate must be a number above 0 and at most 0.1; got {lessons.short_repr(lr)}")
    steps = ints.pop("steps")
    mcfg = GPTConfig(vocab_size=tok.vocab_size, dropout=0.0, **ints)
    base = PRESETS[preset][1]
    tcfg = TrainConfig(**{**base, "steps": steps, "lr": float(lr), "warmup_steps": min(base["warmup_steps"], steps // 5),
                          "eval_every": max(1, steps // 10), "eval_batches": 2})
    return mcfg, tcfg


def train_status(u, cfg, tcfg, n_params: int, name: str | None = None, lang: str = "en") -> str:
    p = u.progress
    val = i18n.t("train.val", lang, v=f"{p.val_loss:.3f}") if p.val_loss is not None else ""
    line = i18n.t("train.status", lang, step=p.step + 1, total=tcfg.steps, loss=f"{p.loss:.3f}", val=val,
                  tps=f"{p.tokens_per_s:,.0f}", secs=f"{p.elapsed_s:.1f}", layers=cfg.n_layer, heads=cfg.n_head,
                  width=cfg.n_embd, block=cfg.block_size, params=f"{n_params:,}", lr=f"{p.lr:.1e}")
    if u.stopped_by:
        who = f"train.by.{u.stopped_by}"
        line += "\n\n" + i18n.t("train.stopped", lang, who=i18n.t(who, lang) if who in i18n.STRINGS else u.stopped_by)
    if name:
        line += i18n.t("train.named", lang, name=name)
    return line


class TrainView:
    """The Train tab's handlers: limits, slots and the tokenizer's model come from the app context."""

    def __init__(self, ctx):
        self.ctx = ctx

    def preset(self, name):
        from playground.train import PRESETS

        if name not in PRESETS:
            raise ValueError(f"unknown preset {lessons.short_repr(name)}")
        m, t = PRESETS[name]
        return m["n_layer"], m["n_head"], m["n_embd"], m["block_size"], t["lr"], t["steps"]

    def stop(self, ps):
        if ps is not None:
            ps.own_models.stop.set()
        busy = ps is not None and ps.own_models.training
        return i18n.t("train.stopping" if busy else "train.idle", ps.lang if ps is not None else "en")

    def train(self, ps, preset, n_layer, n_head, n_embd, block_size, lr, steps):
        """Train a fresh model, streaming (loss curve, status, sample, attention, objective, picker)."""
        from playground.train import check_request

        if ps is None or ps.session is None and not ps.gone:
            raise ValueError("the page has not finished loading; reload it")
        tell_gone(ps)  # a freed tab trains all the same: the model goes to this tab's tombstone, its next Step keeps it
        own = ps.own_models
        if own.training:
            raise ValueError("this tab is already training a model; press Stop first")
        if not self.ctx.available(DEFAULT_MODEL):
            raise ValueError("training needs the embedded model's tokenizer, which is not available here")
        _, tok = self.ctx.models.get(DEFAULT_MODEL)
        mcfg, tcfg = train_configs(tok, preset, n_layer, n_head, n_embd, block_size, lr, steps)
        check_request(mcfg, tcfg, self.ctx.limits)
        with self.ctx.slots:  # "busy" when full; released when the run ends, fails, or the tab goes away
            own.training = True
            own.stop.clear()
            try:
                yield from self._run(ps, tok, mcfg, tcfg)
            finally:
                own.training = False

    def _run(self, ps, tok, mcfg, tcfg):
        from playground.train import SAMPLE_TEMPERATURE, fresh_model, live_training

        train_ids, val_ids = self.ctx.encoded_corpus(tok)
        model = fresh_model(mcfg, tcfg.seed)
        n_params = model.num_parameters()
        own = ps.own_models
        steps, losses, val_steps, val_losses = [], [], [], []
        shown = 0.0
        for u in live_training(model, tok, train_ids, val_ids, tcfg, self.ctx.limits, should_stop=own.stop.is_set,
                               every=max(1, min(25, tcfg.steps // 8))):
            p = u.progress
            steps.append(p.step + 1)  # counted from 1, as the status line counts
            losses.append(p.loss)
            if p.val_loss is not None:
                val_steps.append(p.step + 1)
                val_losses.append(p.val_loss)
            name = None
            if u.stopped_by:
                own.trained += 1
                name = f"my model {own.trained} ({mcfg.n_layer}×{mcfg.n_head}×{mcfg.n_embd}, {p.step + 1} steps)"
                own.models[name] = (model.eval(), tok)
                while len(own.models) > MAX_OWN_MODELS:  # the oldest goes (a session using it keeps it)
                    own.models.pop(next(iter(own.models)))
            elif u.sample is None and time.perf_counter() - shown < TRAIN_PUSH_S:
                continue
            shown = time.perf_counter()
            curve = figures.loss_curves(steps, losses, val_steps, val_losses, total_steps=tcfg.steps, lang=ps.lang)
            out = [curve, train_status(u, mcfg, tcfg, n_params, name, ps.lang)]
            if u.sample is not None:
                out.append(i18n.t("train.sample", ps.lang, step=p.step + 1, t=SAMPLE_TEMPERATURE) +
                           f"<code>{md_text('ROMEO:' + u.sample)}</code>")
                out.append(figures.attention_heatmap(u.probe_attention, u.probe_tokens, mcfg.n_layer - 1, 0, height=460,
                                                     lang=ps.lang))
                o = u.objective
                out.append(figures.objective_panel(o.inputs, o.targets, o.target_probs, o.losses, o.mean_loss,
                                                   lang=ps.lang))
            else:
                out += [gr.skip()] * 3
            mine = [(n, n) for n in own.models]
            out.append(gr.update(choices=picker_choices(self.ctx, ps.lang) + mine) if name else gr.skip())
            yield tuple(out)


def build_tab(ctx, note_box) -> dict:
    from playground.train import PRESETS

    S, c, limits = ctx.strings, {}, ctx.limits
    with S.add(gr.Tab(i18n.t("tab.train"), id="train", elem_id="tab-train"), "tab.train", "tab"):
        note_box(ctx, "train")
        first = next(iter(PRESETS))
        (m0, t0) = PRESETS[first]

        def intro(lang):
            return i18n.t("train_intro", lang, steps=f"{limits.max_steps:,}", secs=f"{limits.max_seconds:g}",
                          params=f"{limits.max_params:,}", block=limits.max_block, conc=limits.max_concurrent,
                          off="" if limits.enabled else i18n.t("train_off", lang))
        S.add(gr.Markdown(intro("en"), elem_id="train-intro"), "train_intro", lambda lg: gr.update(value=intro(lg)))
        with gr.Row(equal_height=True):
            def presets(lang):  # (what each shows, in the page's language; its name is the value)
                return [(i18n.t(f"preset.{name}", lang), name) for name in PRESETS]
            c["preset"] = S.add(gr.Dropdown(presets("en"), value=first, label=i18n.t("preset"), info=i18n.t("preset.info"),
                                            elem_id="train_preset", scale=6), "preset",
                                lambda lang: gr.update(label=i18n.t("preset", lang), info=i18n.t("preset.info", lang),
                                                       choices=presets(lang)))
            c["train_btn"] = S.make(gr.Button, "train_btn", kind="value", variant="primary", elem_id="train_btn",
                                    interactive=limits.enabled, scale=1, min_width=120)
            c["stop_btn"] = S.make(gr.Button, "train_stop", kind="value", variant="stop", elem_id="train_stop", scale=1,
                                   min_width=120)
        wide = dict(min_width=240)  # three to a row: a number box holds "256" and a label does not wrap per word
        with gr.Row():
            c["t_layers"] = S.make(gr.Slider, "t_layers", 1, 8, m0["n_layer"], step=1, elem_id="train_layers", **wide)
            c["t_heads"] = S.make(gr.Slider, "t_heads", 1, 8, m0["n_head"], step=1, elem_id="train_heads", **wide)
            c["t_width"] = S.make(gr.Slider, "t_width", 16, 256, m0["n_embd"], step=16, elem_id="train_width", **wide)
        with gr.Row():
            for key, n, lo, hi, value in (("t_block", limits.max_block, 8, 256, min(m0["block_size"], limits.max_block)),
                                          ("t_steps", limits.max_steps, 1, 2000, min(t0["steps"], limits.max_steps))):
                def relabel(lang, key=key, n=n):
                    return gr.update(label=i18n.t(key, lang), info=i18n.t("t_limit", lang, n=f"{n:,}"))
                c[key] = S.add(gr.Slider(lo, hi, value, step=8 if key == "t_block" else 1, label=i18n.t(key),
                                         info=i18n.t("t_limit", n=f"{n:,}"), elem_id=f"train_{key[2:]}", **wide),
                               key, relabel)
            c["t_lr"] = S.make(gr.Number, "t_lr", t0["lr"], elem_id="train_lr", minimum=0, **wide)
        c["train_md"] = gr.Markdown(i18n.t("train_hint"), elem_id="train-status")
        c["sample_md"] = gr.Markdown(elem_id="train-sample", label="Sample")
        with gr.Row():
            c["loss_plot"] = S.make(gr.Plot, "loss_plot", figures.placeholder(i18n.t("fig.press_train")),
                                    elem_id="loss-plot")
            c["train_attn"] = S.make(gr.Plot, "train_attn", figures.placeholder(i18n.t("fig.train_attn")),
                                     elem_id="train-attn")
        c["objective_plot"] = S.make(gr.Plot, "objective_plot", figures.placeholder(i18n.t("fig.objective")),
                                     elem_id="objective-plot")
    return c


def wire(ctx, c: dict) -> None:
    trainer = TrainView(ctx)
    fields = [c[k] for k in ("t_layers", "t_heads", "t_width", "t_block", "t_lr", "t_steps")]
    c["preset"].input(user_errors(trainer.preset), c["preset"], fields, api_name="train_preset")
    c["train_btn"].click(named(trainer.train, ("state", *TRAIN_NAMES)), [c["state"], c["preset"], *fields],
                         [c["loss_plot"], c["train_md"], c["sample_md"], c["train_attn"], c["objective_plot"], c["model"]],
                         api_name="train", concurrency_limit=None)  # the slots refuse with "busy"; not the queue
    c["stop_btn"].click(trainer.stop, c["state"], c["train_md"], api_name="stop_training", concurrency_limit=None)
