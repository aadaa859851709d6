"""Byte-level BPE tokenizer (Hugging Face ``tokenizers``), as GPT-2 uses.

Every byte has a token, so any Unicode text round-trips exactly. ``encode`` also gives
readable token strings (spaces and newlines made visible) and character offsets.

A loaded ``tokenizer.json`` may also be SentencePiece-style (Llama-2, TinyLlama): "▁" stands for a
space, ``<0xNN>`` pieces for single bytes (byte fallback). Such a tokenizer puts a space before the
text ("a" -> "▁a"); ``decode`` keeps it (a continuation must keep its first space; Hugging Face's
decoder strips it), so there ``decode(encode(t)) == " " + t``. Added tokens ("<|im_start|>") are their text.
"""
from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from tokenizers import Tokenizer as HFTokenizer
from tokenizers import decoders, models, pre_tokenizers, trainers

EOS = "<|endoftext|>"

# GPT-2's byte <-> printable-unicode table (a byte-level token is a string of these chars)
def _bytes_to_unicode() -> dict[int, str]:
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


_BYTE_TO_CHAR = _bytes_to_unicode()
_CHAR_TO_BYTE = {c: b for b, c in _BYTE_TO_CHAR.items()}
_VISIBLE = {" ": "␣", "\n": "↵", "\t": "⇥", "\r": "␍"}
_BYTE_PIECE = re.compile(r"<0x([0-9A-Fa-f]{2})>")  # SentencePiece's byte fallback


@dataclass(frozen=True)
class Encoding:
    ids: list[int]
    tokens: list[str]  # readable: "␣thee", "↵", "<0xE7>" for a lone byte of a longer character
    offsets: list[tuple[int, int]]  # character span of each token in the text


def readable(raw: bytes) -> str:
    """Show a token's bytes as text with visible whitespace; undecodable bytes as <0xNN>."""
    out, i = [], 0
    while i < len(raw):
        for j in range(min(len(raw), i + 4), i, -1):  # longest valid UTF-8 sequence at i
            try:
                ch = raw[i:j].decode("utf-8")
            except UnicodeDecodeError:
                continue
            out.append("".join(_VISIBLE.get(c, c) if c.isprintable() or c in _VISIBLE else f"<U+{ord(c):04X}>" for c in ch))
            i = j
            break
        else:
            out.append(f"<0x{raw[i]:02X}>")
            i += 1
    return "".join(out)


def complete_text(data: bytes) -> str:
    """Decode UTF-8 ``data``, leaving out a trailing character whose bytes are not all there yet.

    Byte-level BPE can split one character (an emoji, a CJK ideograph) across tokens; decoding
    after each token would show U+FFFD until the last byte arrives. Bytes that can never form a
    character (invalid anywhere but at the end) still show as U+FFFD.
    """
    return codecs.getincrementaldecoder("utf-8")(errors="replace").decode(data, final=False)


def _piece_bytes(token: str, byte_level: bool) -> bytes:
    """The bytes a vocabulary entry stands for: GPT-2's byte alphabet, or SentencePiece's "▁" and <0xNN>."""
    if byte_level:
        if any(c not in _CHAR_TO_BYTE for c in token):
            return token.encode("utf-8")  # not in the byte alphabet: a special token, shown as itself
        return bytes(_CHAR_TO_BYTE[c] for c in token)
    if m := _BYTE_PIECE.fullmatch(token):
        return bytes([int(m.group(1), 16)])
    return token.replace("▁", " ").encode("utf-8")


class Tokenizer:
    """A thin, read-only wrapper around a Hugging Face BPE tokenizer (byte-level, or SentencePiece-style).

    ``eos_id``: the end-of-text token; by default the id of "<|endoftext|>" (None when there is none).
    """

    def __init__(self, hf: HFTokenizer, eos_id: int | None = None):
        self.hf = hf
        self.vocab_size = hf.get_vocab_size()
        self.eos_id = hf.token_to_id(EOS) if eos_id is None else eos_id
        byte_level = isinstance(hf.decoder, decoders.ByteLevel)
        added = {t.content for t in hf.get_added_tokens_decoder().values()} | {EOS}
        # each id's raw bytes, for readable strings and incremental decoding
        self._bytes: list[bytes] = [b""] * self.vocab_size
        for tok, i in hf.get_vocab().items():
            if i < self.vocab_size:
                self._bytes[i] = tok.encode("utf-8") if tok in added else _piece_bytes(tok, byte_level)

    # -- construction -------------------------------------------------------------------
    @classmethod
    def train(cls, texts: Iterable[str], vocab_size: int) -> "Tokenizer":
        hf = HFTokenizer(models.BPE())
        hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        hf.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            special_tokens=[EOS],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),  # all 256 bytes: nothing is unknown
            show_progress=False,
        )
        hf.train_from_iterator(texts, trainer)
        return cls(hf)

    @classmethod
    def from_file(cls, path: str | Path, eos_id: int | None = None) -> "Tokenizer":
        return cls(HFTokenizer.from_file(str(path)), eos_id)

    def save(self, path: str | Path) -> None:
        self.hf.save(str(path))

    # -- use ------------------------------------------------------------------------------
    def encode(self, text: str) -> Encoding:
        enc = self.hf.encode(text, add_special_tokens=False)
        return Encoding(ids=list(enc.ids), tokens=[self.token_str(i) for i in enc.ids], offsets=list(enc.offsets))

    def encode_ids(self, text: str) -> list[int]:
        return list(self.hf.encode(text, add_special_tokens=False).ids)

    def decode(self, ids: Iterable[int]) -> str:
        """The ids' bytes as text: the exact inverse of a byte-level encode; a cut-off character shows as U+FFFD."""
        return self.token_bytes(ids).decode("utf-8", errors="replace")

    def decode_complete(self, ids: Iterable[int]) -> str:
        """Decode generated ids for display: a character whose bytes are not all there yet is left out."""
        return complete_text(self.token_bytes(ids))

    def token_bytes(self, ids: Iterable[int]) -> bytes:
        return b"".join(self._bytes[int(i)] for i in ids)

    def token_str(self, token_id: int) -> str:
        return readable(self._bytes[int(token_id)])
