from __future__ import annotations

import pytest

ODD = [
    "",
    "Hello, world!",
    "  leading spaces and\ttabs\n\nnewlines\r\n",
    "emoji 🤗🦜👩🏽‍🚀 flags 🇫🇷",
    "中文：我喜欢猫。日本語のテキスト、한국어",
    "combining: e\u0301 a\u0308 \u0915\u094d\u0937",
    "zero width: a\u200bb\u200dc\ufeff",
    "controls: \x00\x01\x7f and rtl \u202eevil\u202c",
    "lone surrogate-free astral: \U0001d54f\U0010fffd",
]


@pytest.mark.parametrize("text", ODD)
def test_round_trip_any_unicode(small_tokenizer, text):
    enc = small_tokenizer.encode(text)
    assert small_tokenizer.decode(enc.ids) == text
    assert len(enc.ids) == len(enc.tokens) == len(enc.offsets)
    assert all(0 <= i < small_tokenizer.vocab_size for i in enc.ids)


def test_readable_tokens_show_spaces_and_newlines(small_tokenizer):
    enc = small_tokenizer.encode("To be,\nor not")
    joined = "".join(enc.tokens)
    assert "↵" in joined and "␣" in joined and " " not in joined and "\n" not in joined
    assert joined.replace("␣", " ").replace("↵", "\n") == "To be,\nor not"


def test_offsets_point_into_the_text(small_tokenizer):
    text = "ROMEO: But soft, what light"
    enc = small_tokenizer.encode(text)
    pieces = [text[a:b] for a, b in enc.offsets]
    assert "".join(pieces) == text


def test_split_character_shows_bytes(small_tokenizer):
    enc = small_tokenizer.encode("猫")
    assert len(enc.ids) > 1 and all(t.startswith("<0x") for t in enc.tokens)
    assert small_tokenizer.decode(enc.ids[:1]) == "\ufffd"  # a cut-off character cannot decode


def test_eos_is_a_single_special_token(small_tokenizer):
    assert small_tokenizer.token_str(small_tokenizer.eos_id) == "<|endoftext|>"


@pytest.mark.parametrize("text", ODD[3:6])
def test_offsets_cover_odd_unicode_in_order(small_tokenizer, text):
    """Character offsets stay in the text and in order; a character split over several tokens gives
    each of them that character's span (so a chip can always point at the text it came from)."""
    enc = small_tokenizer.encode(text)
    assert all(0 <= a <= b <= len(text) for a, b in enc.offsets)
    assert all(a1 <= a2 for (a1, _), (a2, _) in zip(enc.offsets, enc.offsets[1:]))
    covered = {i for a, b in enc.offsets for i in range(a, b)}
    assert {i for i, ch in enumerate(text) if not ch.isspace()} <= covered  # every visible character is some token's
