"""Hostile and oversized text: nothing a link or a client sends becomes markup, and every text is bounded.

  * share links (issue 16.1): a link's unknown parameters are only counted, its values are quoted cut
    short, and both the Markdown note and the warning toast show them as text: opened in Chromium, a
    link full of <div style=position:fixed>, <form>, <img>, <a>, Markdown links, images and bare URLs
    leaves none of them in the page;
  * Markdown everywhere (``ui.guards.md_text``): prompts, tokens and generated text in the status line, the
    Compare and beam tables are shown as written, never parsed (and ``R&D`` shows as R&D, not R&amp;D);
    error and warning toasts render HTML too, so their messages are escaped (``ui.guards.toast_text``);
  * limits (16.3): every text field (prompt, Compare column prompts, stop strings, the leak check's
    token, a share link's fields) is checked before anything tokenizes it (``lessons.check_text``), and the
    refusal names the field and the limit; a link the receiving page would refuse is not produced;
  * messages (16.9): a lone surrogate in any text field, event data that is not an object, and a value
    such as 1e300 each get a short, plain message (or are ignored), and the session goes on.

Server tests use the ``server`` fixture of tests/test_ui_api.py (a tiny random model, window 96) and raw
queue HTTP (``QueueSession``), as tests/test_bad_inputs.py does.
"""
from __future__ import annotations

import html
import re
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import pytest
from playwright.sync_api import Page, expect

from benchmarks.classroom_load import SAMPLING, QueueSession, controls
from playground import i18n, lessons
from playground.ui.guards import as_user_error, md_text, toast_text
from playground.train import PRESETS
from tests.test_bad_inputs import refused, session, still_works
from tests.test_browser import TIMEOUT, chips, shoot
from tests.test_ui_api import model_and_tok, server  # noqa: F401  (fixtures)

BIG = "x" * 1_000_000  # a megabyte of text in every field
SURROGATE = "ROMEO\ud800:"
EVIL = "evil.example"

# -- the share link, pure ---------------------------------------------------------------------------------
HOSTILE_KEY = ('<div id="atk-div" style="position:fixed;inset:0;background:red;z-index:9999">The class has moved. '
               f'<a id="atk-a" href="http://{EVIL}/login">Log in</a></div>')


def test_unknown_link_parameters_are_counted_never_echoed():
    query = {HOSTILE_KEY: "1", f"<form id=atk-form action=//{EVIL}>": "", "k" * 10_000: "v", "temperature": "0.5"}
    c, problems = lessons.decode_link(query)
    assert problems == ["3 unknown link parameters (ignored)"]
    assert c["temperature"] == 0.5  # the good value still applies


@pytest.mark.parametrize("key", ["prompt", "stop", "temperature", "model", "strategy", "tab", "lang", "kv", "steps"])
def test_every_link_value_is_capped_and_quoted_short(key):
    limit = lessons.LINK_LIMITS.get(key, lessons.MAX_LINK_VALUE_CHARS)
    c, problems = lessons.decode_link({key: "<img src=x>" * 100_000})
    (p,) = problems
    assert p.startswith(f"{key}=") and f"1,100,000 characters is over the limit of {limit:,}" in p
    assert len(p) < 150  # the value is quoted by its start only
    assert c == lessons.default_controls()
    c, problems = lessons.decode_link({key: "y" * limit})  # at the limit: not refused for its length
    assert all("over the limit" not in p for p in problems)


def test_a_lone_surrogate_in_a_link_is_named_not_a_codec_error():
    c, (p,) = lessons.decode_link({"prompt": SURROGATE})
    assert p.startswith("prompt=") and "U+D800" in p and "surrogate" in p and "codec" not in p
    assert c["prompt"] == lessons.DEFAULT_PROMPT


def test_a_link_the_receiving_page_would_refuse_is_not_made():
    d = lessons.default_controls()
    ok = {**d, "prompt": "y" * lessons.LINK_LIMITS["prompt"], "stop": "\\n\\n"}
    assert lessons.decode_link(dict(parse_qsl(lessons.encode_link(ok), keep_blank_values=True))) == (ok, [])
    for controls_, needles in [
        ({**d, "prompt": "y" * 2001}, ["Prompt (share link): 2,001 characters", "limit of 2,000"]),
        ({**d, "stop": "z" * 201}, ["Stop strings (share link): 201 characters", "limit of 200"]),
        ({**d, "prompt": SURROGATE}, ["Prompt (share link): U+D800"]),
        ({**d, "prompt": "莎" * 1000}, ["the link would be 9,0", "over the 8,000"]),  # 9 encoded bytes each
        ({**d, "steps": 300}, ["would not take steps=300", "from 0 to 256"]),
    ]:
        with pytest.raises(ValueError) as e:
            lessons.encode_link(controls_)
        for n in needles:
            assert n in str(e.value), (n, str(e.value))


def test_values_are_echoed_short():
    assert lessons.short_repr(10**300) == "1e+300"
    assert lessons.short_repr(BIG) == "'xxxxxxxxxxxxxxxxx...xxxxxxxxxxxxxxxxxx'"
    assert len(lessons.short_repr(list(range(10**5)))) <= 40 and lessons.short_repr(None) == "None"
    assert lessons.short_repr("hot") == "'hot'" and lessons.short_repr(2.5) == "2.5"


# -- Markdown and toasts, pure ------------------------------------------------------------------------------
MARKUP = [HOSTILE_KEY, f"[Log in](http://{EVIL}/md)", f"![x](http://{EVIL}/i.png)", f"http://{EVIL}/auto",
          f"www.{EVIL}", f"x@{EVIL}", "`code` *em* _em_ # head | pipe \\ back", "R&D &amp; &#60; <b>", "tab\tcr\r"]


@pytest.mark.parametrize("text", MARKUP)
def test_md_text_leaves_nothing_markdown_or_html_could_read(text):
    out = md_text(text)
    assert not re.search(r"[!-/:-@\[-`{-~]", out.replace("&#", "").replace(";", "")), out  # no ASCII punctuation
    assert html.unescape(out) == text.replace("\n", "↵ ")  # the browser shows exactly the text
    assert md_text("a\nb|c", 3) == "a↵ …"


def test_toast_text_and_user_errors_escape_what_they_quote():
    assert toast_text('<img src=x> & "q"') == '&lt;img src=x&gt; &amp; "q"'
    e = as_user_error(ValueError(f"unknown preset {lessons.short_repr('<img id=atk src=x>')}"))
    assert "<img" not in e.message and "&lt;img id=atk src=x&gt;" in e.message


# -- limits through the running server ----------------------------------------------------------------------
def side_values(**column_a) -> list:
    """The Compare tab's 4 × 6 values with column A changed."""
    return lessons.side_values((lessons.Side(**column_a), lessons.Side(temperature=1.0)))


def with_inputs(*values, at: int = 4, **kw) -> list:
    """controls(**kw) with ``values`` inserted after (state, model, prompt, kv)."""
    data = controls(**kw)
    data[at:at] = list(values)
    return data


def lesson_inputs(key="mask", leak_text=" the", prompt="ROMEO:", sides=None) -> list:
    """lesson_run: state, lesson key, leak position, leak token, compare n, model, prompt, kv, 4 x 6 Compare values,
    11 sampling and 4 view controls (the key is a gr.State: the server reads its own, set by a lesson click)."""
    data = controls(prompt=prompt)
    data[1:1] = [key, 3, leak_text, 64]
    data[8:8] = side_values() if sides is None else sides
    return data


def link_inputs(prompt="ROMEO:", stop="") -> list:
    """share_link: state, lang, projector, tab, model, prompt, kv, 11 sampling controls."""
    return [None, "en", False, "next", "shakespeare", prompt, True, *{**SAMPLING, "stop": stop}.values()]


OVERSIZED = [  # (api, data, what the refusal must name)
    ("step", controls(prompt=BIG), ["Prompt: 1,000,000 characters is over the limit of 20,000"]),
    ("step", controls(stop=BIG), ["Stop strings: 1,000,000 characters is over the limit of 200"]),
    ("resample", controls(stop=BIG), ["Stop strings: 1,000,000 characters is over the limit of 200"]),
    ("compare", with_inputs(*side_values(prompt=BIG)), ["column A prompt: 1,000,000 characters", "limit of 20,000"]),
    ("leak_check", with_inputs(1, BIG), ["Put this token there: 1,000,000 characters is over the limit of 200"]),
    ("share_link", link_inputs(prompt="y" * 2001), ["Prompt (share link): 2,001 characters", "limit of 2,000"]),
    ("share_link", link_inputs(stop=BIG), ["Stop strings (share link): 1,000,000 characters is over the limit of 200"]),
    ("lesson_show", lesson_inputs(leak_text=BIG), ["Put this token there: 1,000,000"]),
    ("lesson_run", lesson_inputs(prompt=BIG), ["Prompt: 1,000,000 characters"]),
]


@pytest.mark.parametrize("api,data,needles", OVERSIZED,
                         ids=[f"{a}-{n[0].split(':')[0]}" for a, _, n in OVERSIZED])
def test_oversized_text_is_refused_naming_the_field_and_the_limit(server, api, data, needles):
    demo, _ = server
    q = session(demo)
    refused(q.call(api, data), *needles)
    still_works(q)


def test_a_compare_column_over_the_limit_in_a_compare_lesson(server):
    """lesson_show of a Compare lesson (its key set by the lesson click) checks the columns' prompts."""
    demo, _ = server
    q = session(demo)
    setup = q.call("lesson", [1, "en"])  # the "sampling" lesson: a Compare
    assert setup.ok, setup.error
    refused(q.call("lesson_show", lesson_inputs("sampling", sides=side_values(prompt=BIG))), "column A prompt",
            "limit of 20,000")
    still_works(q)


def test_a_prompt_after_the_tab_trained_a_model_is_bounded_too(server):
    demo, _ = server
    q = session(demo)
    r = q.call("train", [None, next(iter(PRESETS)), 1, 2, 32, 32, 3e-3, 3])
    assert r.ok, r.error
    name = next(v for v, _ in r.data[5]["choices"] if v.startswith("my model"))
    refused(q.call("step", controls(model_name=name, prompt=BIG)),
            "Prompt: 1,000,000 characters is over the limit of 20,000")
    ok = q.call("step", controls(model_name=name))
    assert ok.ok and f"**{name}**" in ok.status, ok.error
    q.close()


# -- messages through the running server ---------------------------------------------------------------------
@pytest.mark.parametrize("api,data,field", [
    ("compare", with_inputs(*side_values(prompt=SURROGATE)), "column A prompt"),
    ("leak_check", with_inputs(1, " the\ud800"), "Put this token there"),
    ("step", controls(stop="END\udfff"), "Stop strings"),
    ("share_link", link_inputs(prompt=SURROGATE), "Prompt (share link)"),
])
def test_a_lone_surrogate_is_named_in_every_text_field(server, api, data, field):
    demo, _ = server
    q = session(demo)
    r = q.call(api, data)
    refused(r, field, "half of a surrogate pair")
    assert "codec" not in r.error and "went wrong" not in r.error
    still_works(q)


CHIP_CONTROLS = controls()


@pytest.mark.parametrize("data", [[1, 2], "step", 5, None], ids=["list", "str", "number", "null"])
@pytest.mark.parametrize("api", ["pick_step", "pick_head", "tab_seen"])
def test_event_data_that_is_not_an_object(server, api, data):
    demo, _ = server
    q = session(demo)
    inputs = {"pick_step": CHIP_CONTROLS, "pick_head": CHIP_CONTROLS, "tab_seen": []}[api]
    r = q.call(api, inputs, event_data=data)
    if api in ("pick_step", "pick_head"):  # a click must say where: refused, saying what it expects
        refused(r, "this event carries an object such as", "got")
    else:  # "which tab opened": not an object is not this tab, nothing changes
        assert r.ok, r.error
    still_works(q)


def test_a_position_of_1e300_is_echoed_short(server):
    demo, _ = server
    q = session(demo)
    r = q.call("leak_check", with_inputs(1e300, " the"))
    refused(r, "position to change", "1e+300")
    assert not re.search(r"\d{20}", r.error)
    still_works(q)


def test_a_hostile_value_in_a_refusal_is_escaped_for_the_toast(server):
    demo, _ = server
    q = session(demo)
    r = q.call("step", controls(view_layer="<img id=atk src=x onerror=alert(1)>"))
    refused(r, "&lt;img id=atk")
    assert "<img" not in r.error
    still_works(q)


def test_the_compare_table_shows_the_prompt_once_escaped(server):
    demo, _ = server
    q = QueueSession(demo.local_url)
    prompt = f"R&D <b id=atk-b>x</b> [a](http://{EVIL})"
    r = q.call("compare", with_inputs(*side_values(prompt=prompt, temperature=0.0), max_new_tokens=3))
    assert r.ok, r.error
    md = r.data[2]
    row = next(line for line in md.splitlines() if line.startswith("| **A** |"))
    assert "<b" not in row and "](" not in row and "http:" not in row
    code = re.search(r"<code>(.*?)</code>", row).group(1)
    assert html.unescape(code) == prompt[:29] + "…"  # R&D, not R&amp;D
    assert html.unescape(row).count(f"“{prompt[:17]}…”") == 1  # the settings column, cut at 18
    q.close()


# -- in Chromium ---------------------------------------------------------------------------------------------
HOSTILE_LINK = [
    (HOSTILE_KEY, "1"),
    (f'<form id="atk-form" action="http://{EVIL}/f"><input name="pw"><button>Go</button></form>', "1"),
    ("prompt", f"<form id=atk-form2><img id=atk-img2 src=http://{EVIL}/p.png></form>"),
    ("temperature", f"<img id=atk-img src=//{EVIL}/i>"),
    ("model", f"[Log in](http://{EVIL}/md)"),
    ("strategy", f"![x](http://{EVIL}/m.png)"),
    ("tab", f"http://{EVIL}/auto"),
    ("seed", f"x@{EVIL}"),
    ("kv", f"<a href=//{EVIL} id=atk-k>x</a>"),
]


def no_attacker_elements(page: Page, forms: int) -> None:
    for sel in ("[id^=atk]", f"a[href*='{EVIL}']", f"img[src*='{EVIL}']", f"form[action*='{EVIL}']",
                "[style*='z-index:9999']"):
        assert page.locator(sel).count() == 0, sel
    assert page.locator("form").count() == forms


def test_a_hostile_link_leaves_no_attacker_element_in_the_page(page: Page, server):  # noqa: F811
    demo, _ = server
    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto(demo.local_url)
    expect(page.locator("#chips .tok.prompt").first).to_be_visible(timeout=TIMEOUT)
    forms = page.locator("form").count()  # Gradio's own (none today)

    page.goto(demo.local_url.rstrip("/") + "/?" + urlencode(HOSTILE_LINK))
    note = page.locator("#link-note")
    expect(note).to_contain_text("could not be used", timeout=TIMEOUT)
    expect(page.locator("[data-testid=toast-body]").first).to_be_visible(timeout=TIMEOUT)
    expect(page.locator("#chips .tok.prompt").first).to_be_visible(timeout=TIMEOUT)
    no_attacker_elements(page, forms)  # the note and the toast are drawn: nothing of the link's became markup
    expect(note).to_contain_text("2 unknown link parameters (ignored)")
    # the values are shown as text, cut short: what the link said, not what it tried to draw
    expect(note).to_contain_text(f"temperature='<img id=atk-img src=//{EVIL}/i>'")
    expect(note).to_contain_text(f"model='[Log in](http://{EVIL}/md)'")
    expect(note).to_contain_text(f"strategy='![x](http://{EVIL}/m.png)'")
    toast = page.locator("[data-testid=toast-body]").first
    expect(toast).to_contain_text("2 unknown link parameters (ignored)", timeout=TIMEOUT)
    expect(toast).to_contain_text(f"<img id=atk-img src=//{EVIL}/i>")
    assert "atk-div" not in note.inner_text() and "Log in</a>" not in note.inner_text()  # the key is not shown
    # the prompt is text: the box holds it as the link gave it
    expect(page.locator("#prompt textarea")).to_have_value(HOSTILE_LINK[2][1])
    no_attacker_elements(page, forms)
    shoot(page, "hostile-link")
    page.locator("#step").click()  # the page works
    expect(chips(page)).to_have_count(1, timeout=TIMEOUT)
    no_attacker_elements(page, forms)


def test_compare_shows_r_and_d_as_typed_and_no_markup(page: Page, server):  # noqa: F811
    demo, _ = server
    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto(demo.local_url)
    expect(page.locator("#chips .tok.prompt").first).to_be_visible(timeout=TIMEOUT)
    forms = page.locator("form").count()
    page.locator("#views [role=tab]").filter(has_text=i18n.t("tab.compare")).first.click()
    prompt = f"R&D <b id=atk-b>x</b> [a](http://{EVIL})"
    page.locator("#cmp_prompt_0 textarea, #cmp_prompt_0 input").first.fill(prompt)
    page.locator("#cmp_btn").click()
    cell = page.locator("#cmp-md table tbody tr").first
    expect(cell.locator("code")).to_be_visible(timeout=TIMEOUT)
    no_attacker_elements(page, forms)
    expect(cell.locator("code")).to_have_text(prompt[:29] + "…")  # R&D, not R&amp;D
    expect(cell).to_contain_text(f"“{prompt[:17]}…”")
    shoot(page, "hostile-compare")


def test_an_oversized_share_link_is_refused_in_the_page(page: Page, server):  # noqa: F811
    demo, _ = server
    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto(demo.local_url)
    expect(page.locator("#chips .tok.prompt").first).to_be_visible(timeout=TIMEOUT)
    page.locator("#prompt textarea").fill("thee " * 500)  # 2,500 characters: more than a link carries
    page.locator("#share_btn").click()
    toast = page.locator("[data-testid=toast-body]").first
    expect(toast).to_contain_text("2,500 characters is over the limit of 2,000", timeout=TIMEOUT)
    link = page.locator("#link textarea, #link input").first  # no link that would not work (hidden, or empty)
    expect(link).to_have_count(0) if not link.count() else expect(link).to_have_value("")


def test_the_readme_states_the_text_limits():
    readme = (Path(lessons.__file__).resolve().parent.parent / "README.md").read_text()
    bullet = readme.split("* **Text limits**", 1)[1].split("\n* ", 1)[0]
    for n in (lessons.MAX_PROMPT_CHARS, lessons.MAX_STOP_CHARS, lessons.MAX_TOKEN_CHARS, lessons.LINK_LIMITS["prompt"],
              lessons.LINK_LIMITS["stop"], lessons.MAX_LINK_VALUE_CHARS, lessons.MAX_LINK_CHARS):
        assert f"{n:,}" in bullet, n
