"""The "Architecture" tab: the size and KV-memory calculator (``playground.arch``), two models' blocks side by
side, and RoPE (``playground.rope``: the angle table and the shift experiment on a loaded model).

The calculator reads the shipped configs (assets/configs), a pasted config.json (this server takes no uploads:
``sessions.NoUploads`` refuses them, so the file's text is pasted) or the config of a model this server runs.
Its figures are pure functions of the controls, so a language switch redraws them; the shift experiment is
run again on the same inputs (it is deterministic)."""
from __future__ import annotations

import dataclasses

import gradio as gr

from playground import figures, i18n, lessons
from playground.ui.controls import named
from playground.ui.guards import md_text, no_paths

DTYPES = ("fp32", "fp16", "bf16", "fp8", "int8")
CALC_DEFAULT = ("GPT-2 small", "Llama-2-7B", "Llama-3-8B")
PAIR_DEFAULT = ("config:GPT-2 small", "config:SmolLM2-135M")
ROTARY_FIRST = ("shakespeare-llama", "SmolLM2-135M", "Qwen2.5-0.5B")  # the RoPE view's default, when offered
MAX_CONTEXT, MAX_BATCH = 10_000_000, 4096
CALC_NAMES = ("configs", "pasted", "context", "batch", "dtype", "kv_heads", "lang")
PAIR_NAMES = ("model_a", "model_b", "lang")
ROPE_NAMES = ("model_name", "prompt", "shift", "layer", "head", "lang")


def whole(name: str, value, low: int, high: int) -> int:
    """``value`` as a whole number in [low, high], or ValueError naming the control."""
    return lessons.whole_number(name, value, low, high)


class ArchView:
    """The tab's handlers; models come from the page's model cache."""

    def __init__(self, ctx):
        self.ctx = ctx

    # -- which configs
    def config_of(self, choice: str) -> tuple[str, dict]:
        """(display name, config dict) of a picker value: ``config:<shipped name>`` or ``model:<server model>``."""
        from playground import arch

        kind, _, name = str(choice).partition(":")
        if kind == "config":
            return name, arch.shipped(name)
        if kind == "model" and self.ctx.available(name):
            return name, arch.our_config(self.ctx.models.get(name)[0].config)
        raise ValueError(f"{lessons.short_repr(choice)} is neither a shipped config nor a model of this server")

    def picked(self, picks, pasted) -> list[tuple[str, object]]:
        """(name, Shape) of every picked config and of the pasted one, in order."""
        from playground import arch

        out = [(n, arch.shape(c)) for n, c in (self.config_of(f"config:{p}") for p in (picks or []))]
        if pasted and str(pasted).strip():
            out.append((i18n.t("arch.pasted"), arch.shape(arch.parse_json(pasted, "the pasted config.json"))))
        if not out:
            raise ValueError("pick at least one config, or paste a config.json")
        return out

    # -- the calculator
    def calculate(self, picks, pasted, context, batch, dtype, kv_heads, lang):
        """(Markdown report, parameters figure, KV-memory figure)."""
        from playground import arch

        lang = lang if lang in i18n.LANGS else "en"
        positions = whole(i18n.t("arch_context", "en"), context, 0, MAX_CONTEXT)
        batch = whole(i18n.t("arch_batch", "en"), batch, 1, MAX_BATCH)
        if dtype not in arch.DTYPES:
            raise ValueError(f"the data type must be one of {', '.join(arch.DTYPES)}; got {lessons.short_repr(dtype)}")
        what_if = whole(i18n.t("arch_kv_heads", "en"), 0 if kv_heads is None else kv_heads, 0, 65536)
        nbytes = arch.DTYPES[dtype]
        models, kept = self.picked(picks, pasted), []
        if what_if:  # each model that can take that many KV heads; the others as configured, and said so
            models = [(f"{n} · {i18n.t('arch.what_if', lang, k=what_if)}", arch.with_kv_heads(s, what_if))
                      if s.n_head % what_if == 0 else (n, s) for n, s in models]
            kept = [n for n, s in models if s.n_head % what_if]
        counts = [arch.breakdown(s) for _, s in models]
        per_pos = [arch.kv_cache_bytes(s, 1, batch, nbytes) for _, s in models]
        names = [n for n, _ in models]
        report = calc_report(models, counts, positions, batch, dtype, nbytes, lang)
        if kept:
            report = i18n.t("arch.what_if_kept", lang, k=what_if, names=", ".join(kept)) + "\n\n" + report
        return (report,
                figures.param_components(names, [b.components for b in counts], [b.total for b in counts],
                                         [b.tied for b in counts], lang=lang),
                figures.kv_memory(names, per_pos, positions, [s.context for _, s in models],
                                  [b.total * nbytes for b in counts], lang=lang))

    # -- two blocks
    def compare(self, a, b, lang):
        """(blocks figure, Markdown table of the fields that differ)."""
        from playground import arch

        lang = lang if lang in i18n.LANGS else "en"
        (na, ca), (nb, cb) = self.config_of(a), self.config_of(b)
        sa, sb = arch.shape(ca), arch.shape(cb)
        rows = [i18n.t("arch.diff_head", lang, a=na, b=nb), "|---|---|---|"]  # names: shipped or the server's
        rows += [f"| {i18n.t(f'arch.field.{f}', lang)} (`{f}`) | {_value(x, lang)} | {_value(y, lang)} |"
                 for f, x, y in arch.differences(sa, sb)]
        same = len(arch.FIELDS) - (len(rows) - 2)
        note = i18n.t("arch.diff_note", lang, n=len(rows) - 2, same=same)
        fig = figures.blocks_side_by_side(dataclasses.asdict(sa), dataclasses.asdict(sb), na, nb, lang=lang)
        return fig, note + "\n\n" + "\n".join(rows if len(rows) > 2 else [i18n.t("arch.diff_none", lang)])

    # -- RoPE
    def rope(self, model_name, prompt, shift, layer, head, lang):
        """(layer picker, head picker, angle heatmap, shift figure, Markdown note, what to redraw on a language switch)."""
        from playground.rope import angle_table, shift_demo

        lang = lang if lang in i18n.LANGS else "en"
        if not self.ctx.available(model_name):
            raise ValueError(f"{lessons.short_repr(model_name)} is not available on this server: pick another model")
        lessons.check_text(i18n.t("prompt"), prompt, lessons.MAX_PROMPT_CHARS)
        model, tok = self.ctx.models.get(model_name)
        cfg = model.config
        shift = whole(i18n.t("rope_shift", "en"), shift, 0, 1_000_000)
        layer = min(max(0, whole(i18n.t("rope_layer", "en"), layer, 0, 10_000)), cfg.n_layer - 1)
        head = min(max(0, whole(i18n.t("rope_head", "en"), head, 0, 10_000)), cfg.n_head - 1)
        d = shift_demo(model, tok, prompt, shift)
        rotary = cfg.positions == "rotary"
        theta = cfg.rope_theta
        table = angle_table(cfg.head_dim, theta, min(cfg.block_size, 512))
        source = model_name if rotary else i18n.t("arch.rope_not_used", lang, name=model_name)
        angles = figures.rope_angles_heatmap(table.angles, cfg.head_dim, theta, source, lang=lang)
        fig = figures.shift_scores(d.scores[layer, head], d.shifted[layer, head], d.tokens, d.shift, layer, head,
                                   float(d.diff[layer, head]), d.max_diff, d.positions, lang=lang)
        note = i18n.t("arch.rope_note_rotary" if rotary else "arch.rope_note_learned", lang, name=model_name,
                      T=len(d.tokens), T_last=len(d.tokens) - 1, N=d.shift, last=d.shift + len(d.tokens) - 1,
                      L=cfg.n_layer, H=cfg.n_head,
                      d=f"{d.max_diff:.2g}", big=f"{d.max_score:.3g}", w=f"{d.weights_diff:.2g}")
        if d.cut:
            note += " " + i18n.t("arch.rope_cut", lang, n=d.cut)
        pickers = (gr.update(choices=list(range(cfg.n_layer)), value=layer),
                   gr.update(choices=list(range(cfg.n_head)), value=head))
        return (*pickers, angles, fig, note, [model_name, prompt, shift, layer, head])

    # -- the language switch and the lessons
    def relabel(self, lang, *values):
        """Redraw every figure of the tab in ``lang`` from the controls (and the last shift experiment, if any).
        A control that is wrong (a pasted config with a typo) leaves its message where its drawing would be."""
        lang = lang if lang in i18n.LANGS else "en"
        calc, pair, last = values[:6], values[6:8], values[8]
        fix = figures.placeholder(i18n.t("arch.fix_input", lang))
        try:
            calc_out = self.calculate(*calc, lang)
        except ValueError as e:
            calc_out = (f"⚠️ {md_text(no_paths(str(e)))}", fix, fix)
        try:
            pair_out = self.compare(*pair, lang)
        except ValueError as e:
            pair_out = (fix, f"⚠️ {md_text(no_paths(str(e)))}")
        rope_out = (figures.placeholder(i18n.t("arch.press_rope", lang), 460),
                    figures.placeholder(i18n.t("arch.press_rope", lang), 520), "")
        if last:
            try:
                rope_out = self.rope(*last, lang)[2:5]
            except ValueError as e:
                rope_out = (fix, fix, f"⚠️ {md_text(no_paths(str(e)))}")
        return (*calc_out, *pair_out, *rope_out)

    def lesson(self, index, lang):
        """A lesson was picked: the Architecture tab's controls and drawings for its action (others: nothing)."""
        i = int(index) if isinstance(index, (int, float)) and 0 <= index < len(lessons.LESSONS) else -1
        les = lessons.LESSONS[i] if i >= 0 else None
        skip = [gr.skip()] * N_LESSON_OUTPUTS
        if les is None or les.action not in (lessons.Action.ARCH, lessons.Action.MEMORY):
            return skip
        lang = lang if lang in i18n.LANGS else "en"
        if les.action is lessons.Action.MEMORY:
            picks, ctl = list(les.configs), (4096, 1, "fp16", 0)
            return (picks, "", *ctl, *self.calculate(picks, "", *ctl, lang), *skip[9:])
        a, b = (f"config:{n}" for n in les.configs)
        prompt = les.all_controls()["prompt"]
        rope_model = default_rope_model(self.ctx)
        pair = self.compare(a, b, lang)
        rope = self.rope(rope_model, prompt, 64, 0, 0, lang)
        return (*skip[:9], a, b, *pair, rope_model, 64, *rope)


N_LESSON_OUTPUTS = 6 + 3 + 2 + 2 + 2 + 6  # calculator in / out, pair in / out, RoPE model and shift, RoPE out


def _value(x, lang: str) -> str:
    if isinstance(x, bool):
        return i18n.t("arch.yes" if x else "arch.no", lang)
    if x is None:
        return "—"
    if isinstance(x, float):
        return f"{x:,.0f}"
    if isinstance(x, int):
        return f"{x:,}"
    return i18n.t(f"arch.val.{x}", lang) if f"arch.val.{x}" in i18n.STRINGS else str(x)


def calc_report(models, counts, positions: int, batch: int, dtype: str, nbytes: int, lang: str) -> str:
    """The calculator's Markdown: totals and KV bytes per model, the components, each formula and GQA's saving."""
    from playground import arch
    from playground.units import fmt_bytes

    t = lambda key, **kw: i18n.t(key, lang, **kw)  # noqa: E731
    rows = [t("arch.table_head", dtype=dtype, n=f"{positions:,}", b=batch), "|---|---|---|---|---|---|"]
    for (name, s), c in zip(models, counts):
        kv = arch.kv_cache_bytes(s, positions, batch, nbytes)
        tied, untied = (f"**{c.total_tied:,}**", f"{c.total_untied:,}") if c.tied else \
            (f"{c.total_tied:,}", f"**{c.total_untied:,}**")  # bold: the model as published
        rows.append(f"| {name} | {tied} · {untied} | {fmt_bytes(c.total * nbytes)} | "
                    f"{s.n_head} / {s.n_kv_head} | {fmt_bytes(arch.kv_cache_bytes(s, 1, batch, nbytes))} | "
                    f"**{fmt_bytes(kv)}** |")
    parts = [t("arch.parts_head", names=" | ".join(n for n, _ in models)),
             "|---|" + "---|" * len(models)]
    for part in arch.COMPONENTS:
        parts.append(f"| {t(f'arch.part.{part}')} | " + " | ".join(f"{c.components[part]:,}" for c in counts) + " |")
    lines = [t("arch.formula_intro")]
    for name, s in models:
        total = arch.kv_cache_bytes(s, positions, batch, nbytes)
        lines.append(f"- {name}: `" + t("arch.formula", L=s.n_layer, B=batch, K=s.n_kv_head, T=f"{positions:,}",
                                         d=s.head_dim, b=nbytes, total=f"{total:,}") + "`")
        if s.n_kv_head < s.n_head:
            mha = arch.kv_cache_bytes(arch.with_kv_heads(s, s.n_head), positions, batch, nbytes)
            lines.append("  - " + t("arch.gqa_saving", k=s.n_kv_head, h=s.n_head, mha=fmt_bytes(mha),
                                  gqa=fmt_bytes(arch.kv_cache_bytes(s, positions, batch, nbytes)),
                                  pct=f"{100 * (1 - s.n_kv_head / s.n_head):.0f}"))
        if positions > s.context:
            lines.append("  - " + t("arch.beyond", n=f"{positions:,}", w=f"{s.context:,}"))
        if s.sliding_window and positions > s.sliding_window:
            lines.append("  - " + t("arch.window", w=f"{s.sliding_window:,}"))
    return "\n".join(rows) + "\n\n" + t("arch.table_note") + "\n\n" + "\n".join(parts) + "\n\n" + "\n".join(lines)


def default_rope_model(ctx) -> str:
    return next((n for n in ROTARY_FIRST if ctx.available(n)), ctx.default_model)


def pair_choices(ctx, lang: str) -> list[tuple[str, str]]:
    from playground import arch

    return ([(n, f"config:{n}") for n in arch.SHIPPED] +
            [(i18n.t("arch.server_model", lang, name=n), f"model:{n}") for n, why in ctx.choices.items() if why is None])


def build_tab(ctx, note_box) -> dict:
    """The tab's components (inside ``gr.Tabs``): the calculator and the pair drawn in English, RoPE to be run."""
    S, c = ctx.strings, {}
    view = ArchView(ctx)
    with S.add(gr.Tab(i18n.t("tab.arch"), id="arch", elem_id="tab-arch"), "tab.arch", "tab"):
        note_box(ctx, "arch")
        S.make(gr.Markdown, "arch_intro", kind="value", elem_id="arch-intro")
        with gr.Column(elem_id="arch-calc-section"):
            _calculator(S, c, view.calculate(list(CALC_DEFAULT), "", 4096, 1, "fp16", 0, "en"))
        with gr.Column(elem_id="arch-pair-section"):
            _pair(ctx, S, c, view.compare(*PAIR_DEFAULT, "en"))
        with gr.Column(elem_id="arch-rope-section"):
            _rope(ctx, S, c)
    return c


def _calculator(S, c: dict, first: tuple) -> None:
    from playground import arch

    S.make(gr.Markdown, "arch_calc_head", kind="value")
    with gr.Row(equal_height=True):
        c["arch_pick"] = S.make(gr.Dropdown, "arch_pick", list(arch.SHIPPED), value=list(CALC_DEFAULT),
                                multiselect=True, elem_id="arch_pick", scale=2)
        c["arch_paste"] = S.make(gr.Textbox, "arch_paste", "", lines=3, max_lines=8, elem_id="arch_paste", scale=2,
                                 placeholder='{"model_type": "llama", "hidden_size": 4096, ...}')
    with gr.Row(equal_height=True):
        c["arch_context"] = S.make(gr.Number, "arch_context", 4096, precision=0, minimum=0, maximum=MAX_CONTEXT,
                                   elem_id="arch_context")
        c["arch_batch"] = S.make(gr.Number, "arch_batch", 1, precision=0, minimum=1, maximum=MAX_BATCH,
                                 elem_id="arch_batch")
        c["arch_dtype"] = S.make(gr.Dropdown, "arch_dtype", list(DTYPES), value="fp16", elem_id="arch_dtype")
        c["arch_kv_heads"] = S.make(gr.Number, "arch_kv_heads", 0, precision=0, minimum=0, elem_id="arch_kv_heads")
        c["arch_calc_btn"] = S.make(gr.Button, "arch_calc_btn", kind="value", elem_id="arch_calc_btn", variant="primary",
                                    scale=0, min_width=150)
    c["arch_calc_md"] = gr.Markdown(first[0], elem_id="arch-calc-md")
    c["arch_params_plot"] = S.make(gr.Plot, "arch_params_plot", first[1], elem_id="arch-params-plot")
    c["arch_kv_plot"] = S.make(gr.Plot, "arch_kv_plot", first[2], elem_id="arch-kv-plot")


def _pair(ctx, S, c: dict, first: tuple) -> None:
    S.make(gr.Markdown, "arch_pair_head", kind="value")
    with gr.Row(equal_height=True):
        for key, value in zip(("arch_a", "arch_b"), PAIR_DEFAULT):
            c[key] = S.make(gr.Dropdown, key, pair_choices(ctx, "en"), value=value, elem_id=key,
                            kind=lambda lg, k=key: gr.update(label=i18n.t(k, lg), choices=pair_choices(ctx, lg)))
        c["arch_pair_btn"] = S.make(gr.Button, "arch_pair_btn", kind="value", elem_id="arch_pair_btn", scale=0,
                                    min_width=150)
    c["arch_blocks_plot"] = S.make(gr.Plot, "arch_blocks_plot", first[0], elem_id="arch-blocks-plot")
    c["arch_diff_md"] = gr.Markdown(first[1], elem_id="arch-diff-md")


def _rope(ctx, S, c: dict) -> None:
    S.make(gr.Markdown, "arch_rope_head", kind="value")
    with gr.Row(equal_height=True):
        avail = [n for n, why in ctx.choices.items() if why is None]
        c["rope_model"] = S.make(gr.Dropdown, "rope_model", avail, value=default_rope_model(ctx), elem_id="rope_model",
                                 min_width=200)
        c["rope_shift"] = S.make(gr.Slider, "rope_shift", 0, 1024, 64, step=1, elem_id="rope_shift", scale=2)
        c["rope_layer"] = S.make(gr.Dropdown, "rope_layer", [0], value=0, elem_id="rope_layer", allow_custom_value=True)
        c["rope_head"] = S.make(gr.Dropdown, "rope_head", [0], value=0, elem_id="rope_head", allow_custom_value=True)
        c["rope_btn"] = S.make(gr.Button, "rope_btn", kind="value", elem_id="rope_btn", variant="primary", scale=0,
                               min_width=150)
    c["rope_md"] = gr.Markdown("", elem_id="rope-md")
    c["rope_shift_plot"] = S.make(gr.Plot, "rope_shift_plot", figures.placeholder(i18n.t("arch.press_rope"), 520),
                                  elem_id="rope-shift-plot")
    c["rope_angles_plot"] = S.make(gr.Plot, "rope_angles_plot", figures.placeholder(i18n.t("arch.press_rope"), 460),
                                   elem_id="rope-angles-plot")
    c["rope_last"] = gr.State(None)


def wire(page, c: dict) -> None:
    view = ArchView(page.ctx)
    calc_in = [c[k] for k in ("arch_pick", "arch_paste", "arch_context", "arch_batch", "arch_dtype", "arch_kv_heads")]
    calc_out = [c["arch_calc_md"], c["arch_params_plot"], c["arch_kv_plot"]]
    pair_in, pair_out = [c["arch_a"], c["arch_b"]], [c["arch_blocks_plot"], c["arch_diff_md"]]
    rope_in = [c["rope_model"], c["prompt"], c["rope_shift"], c["rope_layer"], c["rope_head"]]
    rope_out = [c["rope_layer"], c["rope_head"], c["rope_angles_plot"], c["rope_shift_plot"], c["rope_md"], c["rope_last"]]
    c["arch_calc_btn"].click(named(view.calculate, CALC_NAMES), [*calc_in, c["lang"]], calc_out, api_name="arch_calc")
    gr.on([c["arch_pair_btn"].click, c["arch_a"].input, c["arch_b"].input], named(view.compare, PAIR_NAMES),
          [*pair_in, c["lang"]], pair_out, api_name="arch_pair")
    gr.on([c["rope_btn"].click, c["rope_layer"].input, c["rope_head"].input], named(view.rope, ROPE_NAMES),
          [*rope_in, c["lang"]], rope_out, api_name="arch_rope", trigger_mode="always_last")
    c["lang"].change(named(view.relabel, ("lang", *CALC_NAMES[:-1], *PAIR_NAMES[:-1], "last")),
                     [c["lang"], *calc_in, *pair_in, c["rope_last"]], [*calc_out, *pair_out, *rope_out[2:5]],
                     api_name="arch_relabel")
    c["lesson_list"].click(named(view.lesson, ("lesson", "lang")), [c["lesson_list"], c["lang"]],
                           [*calc_in, *calc_out, *pair_in, *pair_out, c["rope_model"], c["rope_shift"], *rope_out],
                           api_name="arch_lesson")
