"""The "KV cache" tab: time per step and cache memory of the session, the cache on / off comparison, and
the multi-head vs grouped-query comparison of the two shipped models."""
from __future__ import annotations

import gradio as gr

from playground import figures, i18n, lessons
from playground.config import DEFAULT_MODEL, GQA_MODEL
from playground.ui.controls import Controls, endpoint, named
from playground.ui.guards import whole_or_raw
from playground.ui.sessions import PageState
from playground.ui.views import Selection, View


def render_kv(ps: PageState, v: Selection) -> tuple:
    recs = ps.session.records
    if not recs:
        msg = i18n.t("fig.press_step_kv", ps.lang)
        return figures.placeholder(msg, 360), figures.placeholder(msg, 380)
    cfg = ps.session.model.config
    lat = figures.step_latency([r.step for r in recs], [r.forward_ms for r in recs], [r.step_ms for r in recs],
                               [r.kv_cache for r in recs], [r.tokens_processed for r in recs], lang=ps.lang,
                               selected=recs[v.step].step if v.step is not None and v.step < len(recs) else None)
    on = [r for r in recs if r.kv_cache and r.kv_bytes > 0]
    last = recs[-1]
    per_position = last.kv_formula_bytes // max(1, last.position)
    formula = last.kv_formula
    if ps.lang != "en":  # the record keeps the English formula; the page writes it in its language
        from playground.model import KVCache

        value_bytes = per_position // max(1, KVCache.formula_bytes(cfg, 1, 1, 1))
        formula = KVCache.formula_text(cfg, 1, last.position, value_bytes, lang=ps.lang)
    mem = figures.cache_memory([r.position for r in on], [r.kv_bytes for r in on], [r.kv_allocated_bytes for r in on],
                               per_position, cfg.block_size, formula, lang=ps.lang)
    return lat, mem


VIEW = View("kv", ("latency_plot", "memory_plot"), render_kv)


def train_log(name: str) -> dict:
    """A shipped model's train_log.json ({} when there is none)."""
    import json

    try:
        from playground.weights import resolve

        return json.loads((resolve(name) / "train_log.json").read_text())
    except Exception:
        return {}


def held_out(name: str, lang: str = "en") -> str:
    """A shipped model's validation loss from its train_log.json ("—" when there is none)."""
    try:
        return i18n.t("gqa.loss", lang, loss=f"{train_log(name)['eval']['nats_per_char']:.4f}")
    except (KeyError, TypeError):
        return "—"


def trained_steps(name: str) -> int | None:
    """How many optimiser steps a shipped model was trained for (None when its log does not say)."""
    steps = train_log(name).get("train", {}).get("steps")
    return steps if isinstance(steps, int) else None


class KVEvents:
    """Page handlers of the KV cache tab (mixed into ``page.Page``)."""

    def compare_cache(self, ps, model_name, prompt, kv, n_tokens, *rest):
        c = Controls.from_values(rest)
        ps = self.current(ps, model_name, prompt, c.params, kv)
        n = whole_or_raw(n_tokens)
        if not isinstance(n, int):
            raise ValueError(f"the number of tokens to compare must be a whole number; "
                             f"got {lessons.short_repr(n_tokens)}")
        room = ps.session.model.config.block_size - len(ps.session.prompt_ids)
        limit = ps.session.compare_limit()  # ≤ room; smaller on a big model (the uncached run re-reads everything)
        if n > limit and limit < room:
            gr.Warning(f"Compared {limit} tokens, not {n}: on {ps.model_name} a comparison after this "
                       f"{len(ps.session.prompt_ids)}-token prompt is capped at {limit} tokens, so that it ends within "
                       f"seconds (without the cache, every step re-reads every position).")
        with ps.lock:
            r = ps.session.compare_cache(min(n, limit))
        ps.redraws["cache"] = lambda lang: figures.cache_comparison(r.positions, r.cached_ms, r.uncached_ms,
                                                                    r.same_tokens, r.max_logit_diff, lang=lang)
        return ps, ps.redraws["cache"](ps.lang)

    def gqa_compare(self, ps):
        """Cache bytes of the multi-head and the GQA shipped models: formula lines and measured caches."""
        from playground.inside import measured_cache_bytes
        from playground.model import KVCache

        names = [DEFAULT_MODEL, GQA_MODEL]
        for n in names:
            if self.ctx.choices.get(n, "not offered by this server"):
                raise ValueError(f"the comparison needs the {n} model, which is not available: "
                                 f"{self.ctx.choices.get(n, 'not offered by this server')}")
        models = [self.ctx.models.get(n)[0] for n in names]
        cfgs = [m.config for m in models]
        block = min(c.block_size for c in cfgs)
        positions = [max(1, block // 8), block // 4, block // 2, block]
        measured = [measured_cache_bytes(m, positions) for m in models]
        per_pos = [KVCache.formula_bytes(c, 1, 1) for c in cfgs]
        lang = getattr(ps, "lang", "en")

        def redraw(lang):
            return figures.gqa_cache(names, per_pos, [c.n_kv_head for c in cfgs], block, positions, measured, lang=lang)
        if isinstance(ps, PageState):
            ps.redraws["gqa"] = redraw
        rows = [i18n.t("gqa.head", lang), "|---|---|---|---|---|"]
        steps = [trained_steps(n) for n in names]
        for n, c, b, st in zip(names, cfgs, per_pos, steps):
            rows.append(f"| {n} | {c.n_head} / {c.n_kv_head} | {b:,} | {'—' if st is None else f'{st:,}'} | "
                        f"{held_out(n, lang)} |")
        note = i18n.t("gqa.note", lang, formula=KVCache.formula_text(cfgs[1], 1, block, lang=lang),
                      g=cfgs[1].n_head // cfgs[1].n_kv_head, kv=cfgs[1].n_kv_head, h=cfgs[1].n_head,
                      less=round(100 * (1 - cfgs[1].n_kv_head / cfgs[1].n_head)))
        if None not in steps and steps[1] < steps[0]:  # the losses are not comparable: say why they differ
            note += i18n.t("gqa.steps_note", lang, gqa_steps=f"{steps[1]:,}", steps=f"{steps[0]:,}")
        return redraw(lang), "\n".join(rows) + "\n\n" + note


def build_tab(ctx, note_box) -> dict:
    S, c = ctx.strings, {}
    with S.add(gr.Tab(i18n.t("tab.kv"), id="kv", elem_id="tab-kv"), "tab.kv", "tab"):
        note_box(ctx, "kv")
        c["latency_plot"] = S.make(gr.Plot, "latency_plot", elem_id="latency-plot")
        c["memory_plot"] = S.make(gr.Plot, "memory_plot", elem_id="memory-plot")
        with gr.Row(equal_height=True):
            c["compare_n"] = S.make(gr.Slider, "compare_n", 4, 256, 64, step=1, elem_id="compare_n")
            c["compare_btn"] = S.make(gr.Button, "compare_btn", kind="value", elem_id="compare_btn")
        c["compare_plot"] = S.make(gr.Plot, "compare_plot", figures.placeholder(i18n.t("fig.press_compare_cache")),
                                   elem_id="compare-plot")
        c["gqa_btn"] = S.make(gr.Button, "gqa_btn", kind="value", elem_id="gqa_btn")
        c["gqa_plot"] = S.make(gr.Plot, "gqa_plot", figures.placeholder(i18n.t("fig.press_gqa")), elem_id="gqa-plot")
        c["gqa_md"] = gr.Markdown(elem_id="gqa-md")
    return c


def wire(page, c: dict) -> None:
    c["compare_btn"].click(endpoint(page.compare_cache, ("n_tokens",)),
                           [c["state"], c["model"], c["prompt"], c["kv"], c["compare_n"], *c["sampling"], *c["view"]],
                           [c["state"], c["compare_plot"]], api_name="compare_cache")
    c["gqa_btn"].click(named(page.gqa_compare, ("state",)), c["state"], [c["gqa_plot"], c["gqa_md"]],
                       api_name="gqa_cache")
