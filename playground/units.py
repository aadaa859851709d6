"""Byte counts as text (stdlib only): the one copy the page and the figures use."""
from __future__ import annotations

UNITS = ((2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB"))


def byte_unit(n: float) -> tuple[float, str]:
    """The largest binary unit ``n`` bytes reaches: (its size in bytes, its name); (1, "bytes") below 1 KiB."""
    for scale, unit in UNITS:
        if n >= scale:
            return float(scale), unit
    return 1.0, "bytes"


def fmt_bytes(n: float) -> str:
    """``n`` bytes as text: "512 bytes", "1.5 KiB", "12.0 MiB", "1,024.0 GiB" (GiB is the largest unit)."""
    scale, unit = byte_unit(n)
    return f"{n:,.0f} bytes" if unit == "bytes" else f"{n / scale:,.1f} {unit}"
