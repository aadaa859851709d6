"""Classroom mode: the string table, the lessons, the share link (pure), and their endpoints (gradio_client)."""
from __future__ import annotations

import json
from urllib.parse import parse_qsl, urlencode

import pytest

from playground import i18n, lessons
from playground.config import SamplingParams, validate_params
from playground.train import PRESETS
from tests.test_ui_api import call, client, model_and_tok, plain, server, title  # noqa: F401  (fixtures)


# -- strings -----------------------------------------------------------------------------------------------
def test_both_languages_have_every_key_and_no_empty_string():
    for key, pair in i18n.STRINGS.items():
        assert isinstance(pair, tuple) and len(pair) == len(i18n.LANGS), key
        for s in pair:
            assert isinstance(s, str) and s.strip(), key
        en, zh = pair
        assert i18n.placeholders(en) == i18n.placeholders(zh), key  # the same {fields} in both


def test_the_chinese_strings_are_chinese_where_the_english_are_words():
    untranslated = [k for k, (en, zh) in i18n.STRINGS.items() if en == zh and len(en.split()) > 1]
    assert untranslated == [], untranslated


def test_every_lesson_and_view_note_has_its_strings():
    for key in lessons.LESSON_KEYS:
        assert f"lesson.{key}.title" in i18n.STRINGS and f"lesson.{key}.body" in i18n.STRINGS
        assert "$" in i18n.t(f"lesson.{key}.body", "en") and "$" in i18n.t(f"lesson.{key}.body", "zh")  # a formula
    for view in ("next", "attention", "mask", "kv", "beam", "compare", "train", "inside"):
        assert "$" in i18n.t(f"note.{view}", "en"), view


@pytest.mark.parametrize("header, lang", [("zh-CN,zh;q=0.9,en;q=0.8", "zh"), ("en-US,en;q=0.9", "en"),
                                          ("en-GB,zh;q=0.5", "en"), ("fr-FR,zh-TW;q=0.7", "zh"), ("", "en"),
                                          (None, "en"), ("de,fr", "en"), ("zh;q=abc,en;q=0.1", "en")])
def test_the_browser_language_picks_the_default(header, lang):
    assert i18n.lang_from_accept(header) == lang


# -- lessons -----------------------------------------------------------------------------------------------
def test_every_lesson_sets_valid_controls():
    assert len(lessons.LESSONS) >= 8 and len(set(lessons.LESSON_KEYS)) == len(lessons.LESSONS)  # tabs add theirs
    lessons.validate_lessons()
    for les in lessons.LESSONS:
        c = les.all_controls()
        validate_params(lessons.params_of(c))
        assert les.tab in lessons.TABS
        for side in les.sides:
            if side is not lessons.OFF:
                validate_params(side.params(lessons.params_of(c)))
        values = lessons.side_values(les.sides)
        if les.sides:
            assert [k for k, _ in lessons.sides_from_values(values)] == [k for k, s in enumerate(les.sides)
                                                                         if s is not lessons.OFF]


def test_lessons_use_the_prompts_that_show_their_effect():
    sampling = lessons.lesson("sampling")
    assert [s.temperature for s in sampling.sides if s] == [0.0, 0.7, 1.5]
    topk = lessons.lesson("topk_topp")
    assert {s.prompt for s in topk.sides} == {"To-morrow, and to-", "The"}
    pen = lessons.lesson("penalty")
    assert [s.repetition_penalty for s in pen.sides if s] == [1.0, 1.2]
    with pytest.raises(ValueError, match="unknown lesson"):
        lessons.lesson("nope")


def test_compare_columns_refuse_bad_numbers_and_need_one_column():
    values = lessons.side_values((lessons.Side(temperature=-1.0),))
    with pytest.raises(ValueError, match="column A: temperature"):
        lessons.sides_from_values(values)
    with pytest.raises(ValueError, match="at least one column"):
        lessons.sides_from_values(lessons.side_values(()))


# -- the link ----------------------------------------------------------------------------------------------
def test_link_round_trip():
    c = {**lessons.default_controls(), "prompt": "ROMEO:\nO & =?", "model": "shakespeare", "strategy": "greedy",
         "temperature": 0.7, "top_k": 40, "top_p": 0.9, "min_p": 0.05, "repetition_penalty": 1.2, "seed": 7,
         "max_new_tokens": 30, "stop": "\\n\\n", "num_beams": 3, "length_penalty": 0.5, "kv": False, "steps": 5,
         "tab": "mask", "lang": "zh", "projector": True}
    q = lessons.encode_link(c)
    back, problems = lessons.decode_link(dict(parse_qsl(q, keep_blank_values=True)), {"shakespeare": None})
    assert problems == []
    assert back == c
    assert lessons.decode_link({}, None) == (lessons.default_controls(), [])
    short = lessons.encode_link(lessons.default_controls())
    assert dict(parse_qsl(short)) == {"prompt": "ROMEO:", "model": "shakespeare"}  # defaults are left out


@pytest.mark.parametrize("query, bad", [
    ({"temperature": "nan"}, "temperature"), ({"temperature": "-1"}, "temperature"), ({"top_k": "2.5"}, "top_k"),
    ({"top_p": "7"}, "top_p"), ({"seed": "-3"}, "seed"), ({"strategy": "magic"}, "strategy"),
    ({"max_new_tokens": "abc"}, "max_new_tokens"), ({"kv": "maybe"}, "kv"), ({"tab": "x"}, "tab"),
    ({"lang": "fr"}, "lang"), ({"model": "gpt5"}, "model"), ({"model": "gpt2"}, "model"), ({"steps": "9999"}, "steps"),
    ({"prompt": "x" * 3000}, "prompt"), ({"foo": "1"}, "1 unknown link parameter"), ({"num_beams": "100"}, "num_beams"),
])
def test_bad_link_values_are_reported_and_replaced_by_defaults(query, bad):
    c, problems = lessons.decode_link(query, {"shakespeare": None, "gpt2": "not downloaded"})
    assert len(problems) == 1 and bad in problems[0], problems
    d = lessons.default_controls()
    assert c == d  # nothing bad got through
    SamplingParams(**{k: v for k, v in lessons.params_of(c).__dict__.items()})


# -- endpoints ---------------------------------------------------------------------------------------------
def test_language_switch_relabels_and_redraws(client):  # noqa: F811
    call(client, "load_page")
    out = client.predict(api_name="/set_language", lang="zh")
    figs = [json.loads(x["plot"]) for x in out if isinstance(x, dict) and x.get("type") == "plotly"]
    assert figs, "figures are redrawn"
    texts = json.dumps(out, ensure_ascii=False)
    assert "按“单步”" in texts and "下一个词元" in texts and "温度" in texts
    client.predict(api_name="/step")
    res = call(client, "step")
    assert title(res["next"]).startswith("第 2 步")
    assert "KV 缓存" in res["status"]
    out = client.predict(api_name="/set_language", lang="en")
    res = call(client, "step")
    assert title(res["next"]).startswith("Step 3")


def test_share_link_and_lessons_through_the_api(client):  # noqa: F811
    call(client, "load_page")
    client.predict(api_name="/step")
    q = client.predict(api_name="/share_link", lang="zh", projector=True, prompt="ROMEO:", temperature=0.7)
    d = dict(parse_qsl(q))
    assert d == {"prompt": "ROMEO:", "model": "shakespeare", "temperature": "0.7", "steps": "1", "lang": "zh",
                 "projector": "1"}
    for i, les in enumerate(lessons.LESSONS):
        setup = client.predict(lesson=i, lang="en", api_name="/lesson")
        assert setup[1] == les.all_controls()["prompt"]
        assert any(isinstance(x, dict) and les.key and x.get("value", "").startswith("### ") for x in setup
                   if isinstance(x, dict)) or any(isinstance(x, str) and x.startswith("### ") for x in setup)
    with pytest.raises(Exception, match="pick a lesson"):
        client.predict(lesson=99, lang="en", api_name="/lesson")


def test_compare_runs_every_switched_on_column(client):  # noqa: F811
    call(client, "load_page")
    fig, md = client.predict(api_name="/compare", prompt="ROMEO:", max_new_tokens=6, cmp_a_temperature=0.0,
                             cmp_b_on=True, cmp_b_temperature=1.5, cmp_c_on=True, cmp_c_prompt="The", cmp_c_top_p=0.5)
    fig = plain(json.loads(fig["plot"]))
    assert len([t for t in fig["data"] if t["type"] == "bar"]) == 3
    notes = " ".join(a["text"] for a in fig["layout"]["annotations"])
    assert "<b>A</b> · greedy" in notes and "<b>C</b>" in notes and "top-p 0.5" in notes
    assert md.count("\n") == 4 and "| **B** |" in md


def test_chained_endpoints_answer_through_gradio_client(client):  # noqa: F811
    """The step a link runs after the page loads (relabel in the link's language), and the Train preset."""
    call(client, "load_page")
    out = client.predict(lang="zh", prompt="ROMEO:", api_name="/apply_link")
    assert "温度" in json.dumps(out, ensure_ascii=False)
    # the Train preset fills the fields with that preset's sizes
    name = next(iter(PRESETS))
    m, t = PRESETS[name]
    layers, heads, width, block, lr, steps = client.predict(name=name, api_name="/train_preset")
    assert (layers, heads, width, lr) == (m["n_layer"], m["n_head"], m["n_embd"], t["lr"])
    with pytest.raises(Exception, match="preset"):
        client.predict(name="no such preset", api_name="/train_preset")
