"""Byte counts as text (playground.units): the one copy the page and the figures share."""
from __future__ import annotations

import pytest

from playground.units import byte_unit, fmt_bytes


@pytest.mark.parametrize("n, text", [
    (0, "0 bytes"), (1023, "1,023 bytes"), (1024, "1.0 KiB"), (1536, "1.5 KiB"), (2**20, "1.0 MiB"),
    (12 * 2**20 + 2**19, "12.5 MiB"), (3 * 2**30, "3.0 GiB"), (2**40, "1,024.0 GiB"),
])
def test_fmt_bytes_picks_the_largest_binary_unit(n, text):
    assert fmt_bytes(n) == text


def test_byte_unit_gives_the_scale_to_divide_by():
    assert byte_unit(5) == (1.0, "bytes")
    assert byte_unit(3 * 2**20) == (2.0**20, "MiB")
    assert byte_unit(2**30) == (2.0**30, "GiB")
