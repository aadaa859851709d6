"""Classroom mode, as plain data: the guided lessons and the shareable page link (no gradio here).

A ``Lesson`` is a preset: the page's controls, the view (tab) to open, how many tokens to step,
and what to run there (a leak check, a side-by-side comparison, beam search, the KV-cache timing,
the GQA comparison, or nothing). Its title and explanation live in ``playground.i18n`` under
``lesson.<key>.title`` / ``lesson.<key>.body``.

The link: the page's prompt, model and every sampling setting, the seed and the number of steps
taken, as URL query parameters (``?prompt=ROMEO%3A&model=shakespeare&strategy=greedy&...``), so
that a teacher can send a link that reproduces what the class saw. ``decode_link`` never raises:
a bad value is reported and replaced by its default; ``encode_link`` refuses a link that the page
opening it would not take whole.

The limits on text, for the page and the link alike (``check_text``), live here too: one table.
"""
from __future__ import annotations

import math
import reprlib
from dataclasses import dataclass
from enum import Enum
from typing import Mapping
from urllib.parse import parse_qsl, urlencode

from playground.config import DEFAULT_MODEL, SamplingParams, validate_params

DEFAULT_PROMPT = "ROMEO:"
TABS = ("next", "attention", "mask", "kv", "beam", "compare", "train", "inside", "faster", "arch")
LANGS = ("en", "zh")
MAX_LINK_STEPS = 256
SAMPLING_FIELDS = ("strategy", "temperature", "top_k", "top_p", "min_p", "repetition_penalty", "seed",
                   "max_new_tokens", "stop", "num_beams", "length_penalty")
WHOLE_FIELDS = ("top_k", "seed", "max_new_tokens", "num_beams")  # whole numbers (a slider sends 3.0 for 3)
SIDE_FIELDS = ("prompt", "temperature", "top_k", "top_p", "repetition_penalty")  # one column of the Compare tab
COMPARE_SIDES = 4


# -- text: every text field's limit, checked before anything tokenizes it ---------------------------------
MAX_PROMPT_CHARS = 20_000  # the page's prompt and a Compare column's (no context window here holds that much text)
MAX_STOP_CHARS = 200  # the stop-strings box, every line together
MAX_TOKEN_CHARS = 200  # the leak check's new token (only its first token is used)
MAX_ECHO_CHARS = 40  # a value quoted back in a message
# a share link: its prompt, its stop strings, any other value; and the whole query, percent-encoded (web
# servers and proxies refuse longer addresses: nginx's default line buffer is 8 KB)
LINK_LIMITS = {"prompt": 2_000, "stop": MAX_STOP_CHARS}
MAX_LINK_VALUE_CHARS = 40
MAX_LINK_CHARS = 8_000


def short_repr(value, limit: int = MAX_ECHO_CHARS) -> str:
    """``repr(value)`` for a message, at most ``limit`` characters (a 10 MB string or a 300-digit number
    sent by a client is quoted as its start, or in e-notation)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**15:
        return f"{float(value):.6g}" if math.isfinite(float(value)) else "a number over 1e308"
    r = reprlib.Repr()
    r.maxstring = r.maxother = r.maxlong = limit
    r.maxlevel, r.maxlist, r.maxtuple, r.maxdict = 2, 4, 4, 4
    text = r.repr(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def text_problem(value, limit: int) -> str | None:
    """Why ``value`` is not text of at most ``limit`` characters (None when it is). Checks the length
    before anything reads the text; refuses a lone surrogate (JSON "\\ud800"), which no tokenizer takes."""
    if not isinstance(value, str):
        return f"must be text; got {short_repr(value)}"
    if len(value) > limit:
        return f"{len(value):,} characters is over the limit of {limit:,}"
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as e:
            return (f"U+{ord(value[e.start]):04X} at character {e.start:,} is half of a surrogate pair, not a "
                    f"character; delete it and type the character again")
    return None


def check_text(name: str, value, limit: int, hint: str = "") -> str:
    """``value``, or ValueError("{name}: why") when ``text_problem`` finds something (``hint`` added when it is
    too long)."""
    why = text_problem(value, limit)
    if why:
        too_long = isinstance(value, str) and len(value) > limit
        raise ValueError(f"{name}: {why}" + (f"; {hint}" if hint and too_long else ""))
    return value


# -- controls <-> SamplingParams: the one conversion (the page's sidebar, the link and the lessons use it) ----------
def whole_or_raw(x):
    """Sliders with step=1 deliver floats; pass 3.0 as 3 and let validation refuse 2.5, NaN, None."""
    if isinstance(x, float) and math.isfinite(x) and x == int(x):
        return int(x)
    return x


def whole_number(label: str, value, low: int, high: int) -> int:
    """``value`` as a whole number in [low, high] (a slider's 3.0 counts), or ValueError naming the control."""
    v = whole_or_raw(value)
    if isinstance(v, bool) or not isinstance(v, int) or not low <= v <= high:
        raise ValueError(f"{label} must be a whole number from {low:,} to {high:,}; got {short_repr(value)}")
    return v


def parse_stop(text) -> tuple[str, ...]:
    """The stop-strings box: one stop string per line; a literal backslash-n means a newline."""
    if not text:
        return ()
    if isinstance(text, tuple):  # already stop strings
        return text
    check_text("Stop strings", text, MAX_STOP_CHARS)  # not text (an API client's number...): refused by name
    return tuple(s.replace("\\n", "\n") for s in text.split("\n") if s.strip())


def params_of(controls: Mapping) -> SamplingParams:
    """The SamplingParams a set of controls (SAMPLING_FIELDS -> control values) means; ValueError names a bad one."""
    given = {k: whole_or_raw(controls[k]) if k in WHOLE_FIELDS else controls[k]
             for k in SAMPLING_FIELDS if k != "stop" and k in controls}
    return SamplingParams(**given, stop=parse_stop(controls.get("stop", "")))


def controls_of(p: SamplingParams) -> dict:
    """The control values (SAMPLING_FIELDS -> value) that ``params_of`` turns back into ``p``."""
    return {k: "\n".join(s.replace("\n", "\\n") for s in p.stop) if k == "stop" else getattr(p, k)
            for k in SAMPLING_FIELDS}


def default_controls() -> dict:
    """Every control the link carries, at the page's defaults (SamplingParams' defaults)."""
    return dict(prompt=DEFAULT_PROMPT, model=DEFAULT_MODEL, kv=True, **controls_of(SamplingParams()),
                steps=0, tab="next", lang="en", projector=False)


# -- lessons ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Side:
    """One column of the Compare tab: its own prompt (blank = the page's) and decoding settings."""

    prompt: str = ""
    temperature: float = 1.0  # 0 = greedy
    top_k: int = 0
    top_p: float = 1.0
    repetition_penalty: float = 1.0

    def params(self, base: SamplingParams) -> SamplingParams:
        """This side's settings on top of the page's seed and max new tokens."""
        return SamplingParams(strategy="sample", temperature=self.temperature, top_k=self.top_k, top_p=self.top_p,
                              repetition_penalty=self.repetition_penalty, seed=base.seed,
                              max_new_tokens=base.max_new_tokens, stop=base.stop)


OFF = None  # a Compare column that is switched off


class Action(str, Enum):
    """What a lesson runs after its steps, in its tab."""

    LEAK = "leak"  # the causal mask's leak check (Lesson.leak_pos, leak_text)
    COMPARE = "compare"  # the Compare tab's columns (Lesson.sides)
    BEAM = "beam"  # beam search
    KV_COMPARE = "kv_compare"  # the KV cache's on / off timing (Lesson.compare_n)
    GQA = "gqa"  # the multi-head vs grouped-query cache comparison
    ARCH = "arch"  # the Architecture tab: two blocks side by side (Lesson.configs) and the RoPE shift experiment
    MEMORY = "memory"  # the Architecture tab's size and KV-memory calculator on Lesson.configs


@dataclass(frozen=True)
class Lesson:
    key: str
    tab: str  # one of TABS
    controls: dict  # overrides of default_controls()
    steps: int = 0  # Step presses after the reset
    action: Action | None = None
    sides: tuple = ()  # Compare columns (Side or OFF), for Action.COMPARE
    leak_pos: int | None = None  # the leak check's position and new token (Action.LEAK)
    leak_text: str | None = None
    compare_n: int | None = None  # tokens the cache comparison generates (Action.KV_COMPARE)
    configs: tuple[str, ...] = ()  # shipped configs (playground.arch.SHIPPED) of Action.ARCH / Action.MEMORY

    def all_controls(self) -> dict:
        return {**default_controls(), **self.controls, "tab": self.tab}


LESSONS: tuple[Lesson, ...] = (
    # the leak check changes token 3 of the prompt; the mask view shows its first 8 tokens
    Lesson("mask", "mask", dict(prompt="To be, or not to be, that is the question", strategy="greedy"), steps=1,
           action=Action.LEAK, leak_pos=3, leak_text=" the"),
    # the same logits under greedy, T = 0.7, T = 1.5: greedy loops ("MESSENGER. He is not so." again and again),
    # 0.7 writes a plausible scene, 1.5 turns to made-up words; entropy of the first token 4.05 -> 1.88 / 6.39 nats
    Lesson("sampling", "compare", dict(prompt="ROMEO:", strategy="sample", temperature=0.7, seed=0, max_new_tokens=40),
           steps=1, action=Action.COMPARE, sides=(Side(temperature=0.0), Side(temperature=0.7), Side(temperature=1.5), OFF)),
    # peaked: after "To-morrow, and to-" top-p 0.9 keeps 2 tokens ("morrow" 68 %, "night" 25 %);
    # flat: after "The" it keeps ~810; top-k = 10 keeps 10 in both
    Lesson("topk_topp", "compare", dict(prompt="To-morrow, and to-", strategy="sample", temperature=1.0, top_k=10,
                                        top_p=1.0, seed=0, max_new_tokens=12), steps=1, action=Action.COMPARE,
           sides=(Side("To-morrow, and to-", top_k=10), Side("To-morrow, and to-", top_p=0.9),
                  Side("The", top_k=10), Side("The", top_p=0.9))),
    # greedy from "ROMEO:" repeats "MESSENGER.\nHe is not so." five times in 60 tokens; a penalty of 1.2 breaks the loop
    Lesson("penalty", "compare", dict(prompt="ROMEO:", strategy="greedy", repetition_penalty=1.2, max_new_tokens=60),
           steps=1, action=Action.COMPARE,
           sides=(Side(temperature=0.0), Side(temperature=0.0, repetition_penalty=1.2), OFF, OFF)),
    # four beams, ten tokens: the hypotheses end "[Exeunt.] SCENE II." / "SCENE III." ..., unlike greedy's loop
    Lesson("beam", "beam", dict(prompt="ROMEO:", strategy="beam", num_beams=4, length_penalty=1.0, max_new_tokens=10),
           action=Action.BEAM),
    Lesson("kv", "kv", dict(prompt="ROMEO:", strategy="greedy", kv=True, max_new_tokens=200), steps=12,
           action=Action.KV_COMPARE, compare_n=200),
    Lesson("gqa", "kv", dict(prompt="ROMEO:", strategy="greedy", kv=True), steps=12, action=Action.GQA),
    Lesson("train", "train", dict(prompt="ROMEO:", strategy="sample", temperature=0.8)),
    # GPT-2 small (124 M) beside SmolLM2-135M (135 M, a Llama): same size, every part of the block changed
    Lesson("modern", "arch", dict(prompt="To be, or not to be, that is the question"), action=Action.ARCH,
           configs=("GPT-2 small", "SmolLM2-135M")),
    # the notes' example: Llama-2-7B's fp16 cache at 4,096 positions is 2 GiB; Llama-3-8B and Mistral-7B are GQA-8
    Lesson("memory", "arch", {}, action=Action.MEMORY, configs=("Llama-2-7B", "Llama-3-8B", "Mistral-7B")),
    # the Faster inference tab runs these itself when one is picked (ui/faster.py: FasterView.lesson)
    Lesson("batching", "faster", dict(prompt="ROMEO:", strategy="greedy")),
    Lesson("continuous", "faster", dict(prompt="ROMEO:", strategy="greedy")),
    # ui/faster_spec.py runs these: shakespeare-tiny drafts for shakespeare, k = 4, greedy (the target's own text);
    # the shipped model quantised to int8
    Lesson("speculative", "faster", dict(prompt="ROMEO:", strategy="greedy")),
    Lesson("quantize", "faster", dict(prompt="ROMEO:", strategy="greedy")),
)
LESSON_KEYS = tuple(lesson.key for lesson in LESSONS)


def lesson(key: str) -> Lesson:
    for x in LESSONS:
        if x.key == key:
            return x
    raise ValueError(f"unknown lesson {short_repr(key)}: choose one of {', '.join(LESSON_KEYS)}")


def side_values(sides: tuple) -> list:
    """Flat values of the Compare columns, COMPARE_SIDES × (on, *SIDE_FIELDS), as the tab's inputs take them."""
    out: list = []
    for k in range(COMPARE_SIDES):
        s = sides[k] if k < len(sides) else OFF
        out += [s is not OFF, *((s or Side()).prompt, (s or Side()).temperature, (s or Side()).top_k,
                                (s or Side()).top_p, (s or Side()).repetition_penalty)]
    return out


def sides_from_values(values: list) -> list[tuple[int, Side]]:
    """(column index, Side) of each switched-on column; raises ValueError for a bad number."""
    n = 1 + len(SIDE_FIELDS)
    if len(values) != COMPARE_SIDES * n:
        raise ValueError(f"expected {COMPARE_SIDES * n} compare values, got {len(values)}")
    out = []
    for k in range(COMPARE_SIDES):
        on, prompt, t, top_k, top_p, pen = values[k * n:(k + 1) * n]
        if not on:
            continue
        top_k = whole_or_raw(top_k)
        prompt = check_text(f"column {'ABCD'[k]} prompt", "" if prompt is None else prompt, MAX_PROMPT_CHARS)
        side = Side(prompt, t, top_k, top_p, pen)
        try:
            side.params(SamplingParams())
        except ValueError as e:
            raise ValueError(f"column {'ABCD'[k]}: {e}") from e
        out.append((k, side))
    if not out:
        raise ValueError("switch on at least one column to compare")
    return out


# -- the link -----------------------------------------------------------------------------------------
def encode_link(controls: Mapping) -> str:
    """The query string (no leading ?) that restores ``controls``; values at their default are left out.

    Raises ValueError, saying what to change, when the page opening the link would not take all of it:
    a text over its link limit, a link too long for web servers, any value ``decode_link`` refuses.
    """
    d = default_controls()
    q = {}
    for k in d:
        v = controls.get(k, d[k])
        if k in ("prompt", "stop"):  # text: checked before encoding (a lone surrogate cannot be encoded)
            name = {"prompt": "Prompt", "stop": "Stop strings"}[k]
            check_text(f"{name} (share link)", v, LINK_LIMITS[k], hint="shorten it to share the page")
        if k in ("prompt", "model"):  # always written: they are what the link is about
            q[k] = v
        elif v != d[k] or (isinstance(v, bool) != isinstance(d[k], bool)):
            q[k] = _text(v)
    query = urlencode(q)
    if len(query) > MAX_LINK_CHARS:
        raise ValueError(f"the link would be {len(query):,} characters long, over the {MAX_LINK_CHARS:,} that web "
                         f"servers take; shorten the prompt to share the page")
    _, problems = decode_link(dict(parse_qsl(query, keep_blank_values=True)))  # what the receiving page reads
    if problems:
        raise ValueError(f"the page opening this link would not take {'; '.join(problems)}")
    return query


def _text(v) -> str:
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, float) and math.isfinite(v) and v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return str(v)


def _number(text: str, whole: bool):
    v = float(text)  # ValueError for junk; "nan"/"inf" pass here and validation refuses them
    if whole:
        if not math.isfinite(v) or v != int(v):
            raise ValueError("not a whole number")
        return int(v)
    return v


FLOATS = ("temperature", "top_p", "min_p", "repetition_penalty", "length_penalty")
INTS = ("top_k", "seed", "max_new_tokens", "num_beams", "steps")


def decode_link(query: Mapping[str, str], models: Mapping[str, str | None] | None = None) -> tuple[dict, list[str]]:
    """(controls, problems): the link's settings on top of the defaults. Never raises: each bad value is
    named in ``problems`` as ``key=<its start, quoted>: why`` (plain text: whoever shows it escapes it)
    and its default kept. Unknown parameters are only counted: a link's text is never shown as a name.
    ``models`` maps the offered model names to None / why unavailable."""
    c = default_controls()
    problems: list[str] = []
    unknown = 0
    for k, raw in query.items():
        if k not in c:
            unknown += 1
            continue
        raw = str(raw)
        try:
            why = text_problem(raw, LINK_LIMITS.get(k, MAX_LINK_VALUE_CHARS))
            if why:
                raise ValueError(why)
            if k == "prompt":
                c[k] = raw
            elif k == "model":
                if models is not None and raw not in models:
                    raise ValueError(f"not offered here (choose {', '.join(models)})")
                if models is not None and models.get(raw):
                    raise ValueError(f"not available here: {str(models[raw]).split('. ')[0]}")
                c[k] = raw
            elif k in ("kv", "projector"):
                if raw.lower() not in ("1", "0", "true", "false", "on", "off"):
                    raise ValueError("must be 1 or 0")
                c[k] = raw.lower() in ("1", "true", "on")
            elif k == "strategy":
                c[k] = raw
            elif k == "stop":
                c[k] = raw
            elif k in FLOATS:
                c[k] = _number(raw, False)
            elif k in INTS:
                c[k] = _number(raw, True)
            elif k == "tab":
                if raw not in TABS:
                    raise ValueError(f"must be one of {', '.join(TABS)}")
                c[k] = raw
            elif k == "lang":
                if raw not in LANGS:
                    raise ValueError(f"must be one of {', '.join(LANGS)}")
                c[k] = raw
        except ValueError as e:
            problems.append(f"{k}={short_repr(raw)}: {e}")
    # each sampling setting by SamplingParams' own rules; a refused one goes back to its default
    d = default_controls()
    for f in SAMPLING_FIELDS:
        try:
            params_of({**d, f: c[f]})
        except ValueError as e:
            problems.append(f"{f}={short_repr(_text(c[f]))}: {e}")
            c[f] = d[f]
    if not 0 <= c["steps"] <= MAX_LINK_STEPS:
        problems.append(f"steps={short_repr(c['steps'])}: must be from 0 to {MAX_LINK_STEPS}")
        c["steps"] = 0
    if unknown:
        problems.append(f"{unknown:,} unknown link parameter{'s' if unknown > 1 else ''} (ignored)")
    return c, problems


def validate_lessons() -> None:
    """Every lesson's page settings and every Compare column are valid SamplingParams (tests call this)."""
    for x in LESSONS:
        assert x.tab in TABS, x.key
        base = params_of(x.all_controls())
        validate_params(base)
        for s in x.sides:
            if s is not OFF:
                validate_params(s.params(base))

