"""The classroom bar: the English / 中文 switch, projector mode, the share link and the lessons; and the
"What am I looking at?" notes. Strings come from playground.i18n; lesson data and the link format from
playground.lessons; these handlers only route values between them and the page."""
from __future__ import annotations

import gradio as gr

from playground import figures, i18n, lessons
from playground.figures import MODES
from playground.lessons import Action
from playground.ui.compare import N_SIDE_VALUES, compare_names
from playground.ui.controls import SAMPLING_NAMES, VIEW_NAMES, Controls, named
from playground.ui.guards import event_object, finite_int, md_text, no_paths, toast_text, user_errors
from playground.ui.sessions import PageState, carry_lang

LATEX = [{"left": "$$", "right": "$$", "display": True}, {"left": "$", "right": "$", "display": False}]
# results a language switch redraws (PageState.redraws), their outputs, and what shows before one is made
RESULTS = (("leak", "leak_plot", "fig.press_leak"), ("cache", "compare_plot", "fig.press_compare_cache"),
           ("gqa", "gqa_plot", "fig.press_gqa"), ("cmp", "cmp_plot", "cmp_placeholder"))
RELABEL_NAMES = ("state", "lang", "steps", "model_name", "prompt", "kv_cache", *SAMPLING_NAMES, *VIEW_NAMES)


def note_box(ctx, view: str) -> None:
    """A closed "What am I looking at?" accordion with the view's explanation (math rendered)."""
    S = ctx.strings
    with S.add(gr.Accordion(i18n.t("note"), open=False, elem_id=f"note-{view}", elem_classes="note"), "note", "accordion"):
        S.add(gr.Markdown(i18n.t(f"note.{view}"), latex_delimiters=LATEX, elem_id=f"note-{view}-text"),
              f"note.{view}", "value")


def lesson_text(key: str | None, lang: str) -> str:
    if key is None:
        return i18n.t("lesson_note", lang)
    return f"### {i18n.t(f'lesson.{key}.title', lang)}\n\n{i18n.t(f'lesson.{key}.body', lang)}"


class Classroom:
    """Language, share link and lessons, on top of the page's handlers."""

    def __init__(self, page, n_relabel_outputs: int = 0):
        self.page = page
        self.n_relabel_outputs = n_relabel_outputs  # outputs of the language switch besides the state

    # -- language
    def relabel(self, ps, lang, steps, model_name, prompt, kv, *rest):
        """Set the page's language (and, after a shared link, take its steps): every label, view and figure."""
        lang = lang if lang in i18n.LANGS else "en"
        c = Controls.from_values(rest)
        if ps is None or ps.session is None:
            ps = carry_lang(ps, self.page.new_state(model_name, prompt, c.params, kv))
        ps.lang = lang
        n = finite_int(steps, 0)
        with ps.lock:
            if n > 0 and c.params.strategy == "beam":
                ps.beam = ps.session.beam_search()
            for _ in range(max(0, min(n, lessons.MAX_LINK_STEPS))):
                if ps.session.stop is not None:
                    break
                ps.session.step()
        recs = len(ps.session.records)
        v = self.page.select(ps, recs - 1 if recs and n > 0 else c.step if recs else None, c)
        results = []
        for key, _, msg in RESULTS:
            redraw = ps.redraws.get(key)
            out = redraw(lang) if redraw is not None else figures.placeholder(i18n.t(msg, lang), 260)
            results.append(out[0] if isinstance(out, tuple) else out)
        cmp = ps.redraws.get("cmp")
        cmp_md = cmp(lang)[1] if cmp is not None else gr.skip()
        trained = ps.own_models.training or bool(ps.own_models.models)  # a curve stays; an empty tab says what to do
        train = [gr.skip()] * 4 if trained else [figures.placeholder(i18n.t(k, lang)) for k in
                                                  ("fig.press_train", "fig.train_attn", "fig.objective")]
        train += [] if trained else [i18n.t("train_hint", lang)]
        keep = {"lang": lang, "strategy": c.params.strategy, "mode": c.mode if c.mode in MODES else MODES[0]}
        return (ps, *self.page.render(ps, v), *results, cmp_md, *train, lesson_text(ps.lesson, lang),
                *self.page.ctx.strings.updates(lang, keep))

    def apply_link(self, ps, lang, steps, model_name, prompt, kv, *rest):
        """After the page loaded: the link's steps and the page's language (nothing to do for English, no steps)."""
        if lang == "en" and not finite_int(steps, 0) and isinstance(ps, PageState):
            ps.lang = "en"
            return (ps, *[gr.skip()] * self.n_relabel_outputs)
        return self.relabel(ps, lang, steps, model_name, prompt, kv, *rest)

    def relabel_now(self, ps, lang, steps, model_name, prompt, kv, *rest):
        """The language switch: relabel and redraw, taking no steps."""
        return self.relabel(ps, lang, 0, model_name, prompt, kv, *rest)

    @staticmethod
    def tab_seen(evt: gr.EventData):
        """Which view tab is open (the share link names it)."""
        tab = event_object(evt).get("id")
        return tab if isinstance(tab, str) and tab in lessons.TABS else gr.skip()

    # -- the link
    def restore(self, request: gr.Request):
        """Read the page's URL (and the browser's language): control values, tab, language, a note on problems."""
        query = dict(request.query_params) if request is not None else {}
        c, problems = lessons.decode_link(query, self.page.ctx.choices)
        if "lang" not in query or any(p.startswith("lang=") for p in problems):
            header = request.headers.get("accept-language") if request is not None else None
            c["lang"] = i18n.lang_from_accept(header)
        note = ""
        if problems:  # they quote the link's values: escaped for the Markdown note and for the toast's HTML
            note = "⚠️ " + i18n.t("link_problems", c["lang"], problems=md_text("; ".join(problems)))
            gr.Warning("⚠️ " + i18n.t("link_problems", c["lang"], problems=toast_text("; ".join(problems))))
        elif set(query) - {"lang"}:
            note = i18n.t("link_restored", c["lang"], what=md_text(", ".join(sorted(query))))
        # only what the link names: a control the link does not mention keeps what the page (or the user) has
        bad = {p.split("=", 1)[0] for p in problems}
        given = {k for k in query if k in c and k not in bad}
        pick = lambda k: c[k] if k in given else gr.skip()  # noqa: E731
        values = [pick("model"), pick("prompt"), pick("kv"), *[pick(f) for f in lessons.SAMPLING_FIELDS]]
        tab = gr.Tabs(selected=c["tab"]) if "tab" in given else gr.skip()
        return (*values, c["lang"], pick("projector"), tab, pick("tab"), c["steps"] if "steps" in given else 0,
                gr.update(value=note, visible=bool(note)))

    def link(self, ps, lang, projector, tab, model_name, prompt, kv, *sampling):
        """The query string that rebuilds this page (static/link.js around it adds the address)."""
        c = dict(zip(lessons.SAMPLING_FIELDS, sampling))
        steps = len(ps.session.records) if ps is not None and ps.session is not None else 0
        if ps is not None and ps.beam is not None and c.get("strategy") == "beam":
            steps = max(steps, 1)
        c.update(model=model_name, prompt=prompt, kv=bool(kv), lang=lang, projector=bool(projector),
                 tab=tab if tab in lessons.TABS else "next", steps=steps)
        return lessons.encode_link(c)

    # -- lessons
    def lesson_setup(self, index, lang):
        """A lesson was clicked: its control values, its tab, its explanation."""
        i = finite_int(index, -1)
        if not 0 <= i < len(lessons.LESSONS):
            raise ValueError(f"pick a lesson from the list (0 to {len(lessons.LESSONS) - 1}); "
                             f"got {lessons.short_repr(index)}")
        les = lessons.LESSONS[i]
        c = les.all_controls()
        values = [c["model"], c["prompt"], c["kv"], *[c[f] for f in lessons.SAMPLING_FIELDS]]
        sides = lessons.side_values(les.sides) if les.sides else [gr.skip()] * N_SIDE_VALUES
        given = lambda x: gr.skip() if x is None else x  # noqa: E731
        return (*values, gr.Tabs(selected=les.tab), les.tab, les.key, gr.update(value=lesson_text(les.key, lang),
                                                                                  visible=True),
                given(les.leak_pos), given(les.leak_text), given(les.compare_n), *sides)

    def lesson_run(self, ps, key, leak_pos, leak_text, compare_n, model_name, prompt, kv, *rest):
        """After lesson_setup: start over with the lesson's settings and take its steps (fast: the views are
        redrawn at once; what the lesson then runs is lesson_show, with its own progress)."""
        rest = rest[N_SIDE_VALUES:]
        les = lessons.lesson(key)
        lang = ps.lang if isinstance(ps, PageState) else "en"
        page = self.page
        ps = page.load(ps, model_name, prompt, kv, *rest)[0]
        ps.lang, ps.lesson = lang, les.key
        c = Controls.from_values(rest)
        with ps.lock:
            for _ in range(les.steps):
                if ps.session.stop is not None:
                    break
                ps.session.step()
        recs = len(ps.session.records)
        v = page.select(ps, recs - 1 if recs else None, c)
        return (ps, *page.render(ps, v), *page.pickers_of(ps, v))

    def lesson_show(self, ps, key, leak_pos, leak_text, compare_n, model_name, prompt, kv, *rest):
        """After lesson_run: what the lesson shows (the leak check, a comparison, beam search, the cache runs)."""
        side_vals, rest = list(rest[:N_SIDE_VALUES]), rest[N_SIDE_VALUES:]
        les = lessons.lesson(key)
        page = self.page
        lang = ps.lang if isinstance(ps, PageState) else "en"
        leak = cache = gqa = gqa_md = cmp = cmp_md = beam = beam_md = gr.skip()
        if les.action is Action.LEAK:
            _, leak = page.leak_check(ps, model_name, prompt, kv, leak_pos, leak_text, *rest)
        elif les.action is Action.COMPARE:
            _, cmp, cmp_md = page.compare(ps, model_name, prompt, kv, *side_vals, *rest)
        elif les.action is Action.BEAM:
            ps = page.current(ps, model_name, prompt, Controls.from_values(rest).params, kv)
            with ps.lock:
                ps.beam = ps.session.beam_search()
            beam, beam_md = page.render(ps, page.select(ps, None, Controls.from_values(rest)), ("beam",))[-2:]
        elif les.action is Action.KV_COMPARE:
            _, cache = page.compare_cache(ps, model_name, prompt, kv, compare_n, *rest)
        elif les.action is Action.GQA:
            try:
                gqa, gqa_md = page.gqa_compare(ps)
            except ValueError as e:
                gqa = figures.placeholder(i18n.t("lesson.gqa.missing_short", lang), 260)
                gqa_md = "⚠️ " + i18n.t("lesson.gqa.missing", lang, why=no_paths(str(e)))
        return ps, leak, cache, gqa, gqa_md, cmp, cmp_md, beam, beam_md


def build_bar(ctx) -> dict:
    """The compact header: the title with language, projector and share beside it; the lessons under it (their
    note appears once one is picked); the hidden values the link events pass."""
    S, c = ctx.strings, {}
    with gr.Row(equal_height=True, elem_id="classroom-bar"):
        S.make(gr.Markdown, "title", kind="value", elem_id="title", scale=3, min_width=300)
        # compact: no info lines here (a tooltip-free header); the label names the control for screen readers
        label_only = lambda key: lambda lg: gr.update(label=i18n.t(key, lg))  # noqa: E731
        c["lang"] = S.make(gr.Radio, "lang", [(i18n.LANG_NAMES[x], x) for x in i18n.LANGS], value="en", elem_id="lang",
                           scale=0, min_width=180, show_label=False, container=False, info=None,
                           kind=label_only("lang"))
        c["projector"] = S.make(gr.Checkbox, "projector", False, elem_id="projector", scale=0, min_width=160,
                                container=False, info=None, kind=label_only("projector"))
        c["share_btn"] = S.make(gr.Button, "share", kind="value", elem_id="share_btn", scale=0, min_width=110,
                                size="sm")
    c["link_box"] = S.make(gr.Textbox, "link", "", elem_id="link", interactive=False, buttons=["copy"], lines=1,
                           max_lines=2, visible=False)  # shown once the share button made a link
    c["link_note"] = gr.Markdown("", elem_id="link-note", visible=False)
    c["lesson_list"] = S.make(gr.Dataset, "lessons", components=["textbox"], type="index", elem_id="lessons",
                              samples=[[i18n.t(f"lesson.{x}.title")] for x in lessons.LESSON_KEYS], samples_per_page=20,
                              kind=lambda lg: gr.update(label=i18n.t("lessons", lg), samples=[
                                  [i18n.t(f"lesson.{x}.title", lg)] for x in lessons.LESSON_KEYS]))
    c["lesson_md"] = gr.Markdown(i18n.t("lesson_note"), latex_delimiters=LATEX, elem_id="lesson-md",
                                 elem_classes="lesson", visible=False)  # shown when a lesson is picked
    c["link_query"], c["tab_now"] = gr.Textbox("", visible=False, elem_id="link_query"), gr.State("next")
    c["link_steps"], c["lesson_key"] = gr.State(0), gr.State(lessons.LESSON_KEYS[0])
    return c


def wire(demo, page, c: dict, js: dict) -> None:
    """The page opens (a shared link's settings and the language first, then the session, then its steps and
    labels); the language switch, projector mode, the share link, the lessons."""
    S = page.ctx.strings
    link_controls = [c["model"], c["prompt"], c["kv"], *c["sampling"]]
    relabel_in = [c["state"], c["lang"], c["link_steps"], c["model"], c["prompt"], c["kv"], *c["sampling"], *c["view"]]
    train_outputs = [c[k] for k in ("loss_plot", "train_attn", "objective_plot", "train_md")]
    relabel_out = [c["state"], *page.components(c), *(c[out] for _, out, _ in RESULTS), c["cmp_md"], *train_outputs,
                   c["lesson_md"], *S.components]
    room = Classroom(page, len(relabel_out) - 1)
    demo.load(user_errors(room.restore), None, [*link_controls, c["lang"], c["projector"], c["tabs"], c["tab_now"],
                                              c["link_steps"], c["link_note"]], api_name="restore_link").then(
        page.endpoint_with_pickers(page.load), c["controls"], [c["state"], *page.components(c), c["layer"], c["head"]],
        api_name="load_page").then(
        named(room.apply_link, RELABEL_NAMES), relabel_in, relabel_out, api_name="apply_link")
    c["lang"].input(named(room.relabel_now, RELABEL_NAMES), relabel_in, relabel_out, api_name="set_language")
    c["projector"].change(None, c["projector"], None, js=js["projector"])
    c["lang"].change(None, c["lang"], None, js=js["locale"])  # Gradio's own words (the footer) follow the page
    c["share_btn"].click(named(room.link, ("state", "lang", "projector", "tab", "model_name", "prompt", "kv_cache",
                                           *SAMPLING_NAMES)),
                         [c["state"], c["lang"], c["projector"], c["tab_now"], *link_controls], c["link_query"],
                         api_name="share_link").then(lambda: gr.update(visible=True), None, c["link_box"], api_name="show_link", api_visibility="private").then(
        None, c["link_query"], c["link_box"], js=js["link"])
    c["tabs"].select(room.tab_seen, None, c["tab_now"], api_name="tab_seen")
    lesson_in = [c["state"], c["lesson_key"], c["leak_pos"], c["leak_text"], c["compare_n"], c["model"], c["prompt"],
                 c["kv"], *c["cmp_values"], *c["sampling"], *c["view"]]
    lesson_names = ("state", "lesson_key", "position", "new_token", "n_tokens", "model_name", "prompt", "kv_cache",
                    *compare_names(), *SAMPLING_NAMES, *VIEW_NAMES)
    lesson_out = [c["state"], *page.components(c), c["layer"], c["head"]]
    show_out = [c["state"], c["leak_plot"], c["compare_plot"], c["gqa_plot"], c["gqa_md"], c["cmp_plot"], c["cmp_md"],
                c["beam_plot"], c["beam_md"]]
    c["lesson_list"].click(named(room.lesson_setup, ("lesson", "lang")), [c["lesson_list"], c["lang"]],
                           [*link_controls, c["tabs"], c["tab_now"], c["lesson_key"], c["lesson_md"], c["leak_pos"],
                            c["leak_text"], c["compare_n"], *c["cmp_values"]], api_name="lesson",
                           show_progress_on=[c["lesson_md"]]).then(
        None, None, None, js=js["scroll"]).then(  # to the view the lesson opened
        named(room.lesson_run, lesson_names), lesson_in, lesson_out, api_name="lesson_run").then(
        # what the lesson runs may take seconds: its progress shows on the lesson's note, not on every plot
        named(room.lesson_show, lesson_names), lesson_in, show_out, api_name="lesson_show",
        show_progress_on=[c["lesson_md"]])
