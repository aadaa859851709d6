"""The "Compare" tab: the same prompt under up to four settings side by side (each column's next-token
distribution at every generated step, and what each wrote)."""
from __future__ import annotations

from dataclasses import replace

import gradio as gr

from playground import figures, i18n, lessons
from playground.ui.controls import SAMPLING_NAMES, VIEW_NAMES, Controls, named
from playground.ui.guards import md_text

DEFAULT_SIDES = (lessons.Side(temperature=0.0), lessons.Side(temperature=1.0), lessons.OFF, lessons.OFF)
COMPARE_MAX_TOKENS = 120  # tokens each Compare column writes at most
SIDE_LETTERS = "ABCD"
N_SIDE_VALUES = lessons.COMPARE_SIDES * (1 + len(lessons.SIDE_FIELDS))  # the columns' inputs, all together


def compare_names() -> list[str]:
    """API parameter names of the Compare columns: cmp_a_on, cmp_a_prompt, cmp_a_temperature, ..."""
    return [f"cmp_{letter.lower()}_{f}" for letter in SIDE_LETTERS for f in ("on", *lessons.SIDE_FIELDS)]


def compare_table(runs: list, lang: str) -> str:
    rows = [i18n.t("cmp_table_head", lang), "|---|---|---|"]
    for letter, side, s, _ in runs:
        text = s.text[len(s.prompt):] if s.text.startswith(s.prompt) else s.text
        rows.append(f"| **{letter}** | {md_text(figures.side_settings(side, lang))} | "
                    f"<code>{md_text(s.prompt, 30)}</code>{md_text(text)} |")
    return "\n".join(rows)


class CompareEvents:
    """Page handlers of the Compare tab (mixed into ``page.Page``)."""

    def compare(self, ps, model_name, prompt, kv, *rest):
        """Each switched-on column: a run from its prompt (blank = the page's) with its settings."""
        from playground.session import Session

        values, rest = list(rest[:N_SIDE_VALUES]), rest[N_SIDE_VALUES:]
        c = Controls.from_values(rest)
        sides = lessons.sides_from_values(values)  # their prompts checked before anything is tokenized
        ps = self.current(ps, model_name, prompt, c.params, kv)
        model, tok = ps.session.model, ps.session.tokenizer
        runs = []
        for k, side in sides:
            p = side.params(c.params)
            s = Session(model, tok, side.prompt or prompt, p, capture_attention=False)
            room = model.config.block_size - len(s.prompt_ids)
            s.set_params(replace(p, max_new_tokens=max(1, min(p.max_new_tokens, COMPARE_MAX_TOKENS, room))))
            s.run()
            runs.append((SIDE_LETTERS[k], side, s, model.config.vocab_size))
        ps.redraws["cmp"] = lambda lang: (figures.compare_figure(runs, lang), compare_table(runs, lang))
        return (ps, *ps.redraws["cmp"](ps.lang))


def build_tab(ctx, note_box) -> dict:
    """The Compare tab's components (inside gr.Tabs)."""
    S, c = ctx.strings, {"cmp_values": []}
    with S.add(gr.Tab(i18n.t("tab.compare"), id="compare", elem_id="tab-compare"), "tab.compare", "tab"):
        note_box(ctx, "compare")
        S.make(gr.Markdown, "cmp_intro", kind="value", elem_id="cmp-intro")
        defaults = lessons.side_values(DEFAULT_SIDES)
        n = 1 + len(lessons.SIDE_FIELDS)
        for k, letter in enumerate(SIDE_LETTERS):
            on, prompt, temp, top_k, top_p, pen = defaults[k * n:(k + 1) * n]
            with gr.Row(equal_height=True, elem_classes="cmp-row"):
                col = gr.Checkbox(on, label=i18n.t("cmp_on", side=letter), elem_id=f"cmp_on_{k}", scale=1, min_width=120)
                S.add(col, "cmp_on", lambda lang, letter=letter: gr.update(label=i18n.t("cmp_on", lang, side=letter)))
                widgets = [
                    S.make(gr.Textbox, "cmp_prompt", prompt, elem_id=f"cmp_prompt_{k}", scale=3, lines=1, max_lines=2,
                           min_width=160),
                    S.make(gr.Number, "temperature", temp, minimum=0, step=0.1, elem_id=f"cmp_temperature_{k}",
                           min_width=90, kind="label_only"),
                    S.make(gr.Number, "top_k", top_k, minimum=0, precision=0, elem_id=f"cmp_top_k_{k}", min_width=90,
                           kind="label_only"),
                    S.make(gr.Number, "top_p", top_p, minimum=0.01, maximum=1, step=0.05, elem_id=f"cmp_top_p_{k}",
                           min_width=90, kind="label_only"),
                    S.make(gr.Number, "penalty", pen, minimum=0.01, step=0.05, elem_id=f"cmp_penalty_{k}",
                           min_width=90, kind="label_only"),
                ]
            c["cmp_values"] += [col, *widgets]
        c["cmp_btn"] = S.make(gr.Button, "cmp_btn", kind="value", variant="primary", elem_id="cmp_btn")
        c["cmp_plot"] = S.make(gr.Plot, "cmp_plot", figures.placeholder(i18n.t("cmp_placeholder"), 260),
                               elem_id="cmp-plot")
        c["cmp_md"] = gr.Markdown(elem_id="cmp-md")
    return c


def wire(page, c: dict) -> None:
    names = ("state", "model_name", "prompt", "kv_cache", *compare_names(), *SAMPLING_NAMES, *VIEW_NAMES)
    c["cmp_btn"].click(named(page.compare, names),
                       [c["state"], c["model"], c["prompt"], c["kv"], *c["cmp_values"], *c["sampling"], *c["view"]],
                       [c["state"], c["cmp_plot"], c["cmp_md"]], api_name="compare")
