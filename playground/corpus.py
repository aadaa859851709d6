"""The shipped Shakespeare corpus (assets/corpus) and its train/validation split."""
from __future__ import annotations

from pathlib import Path

ASSETS = Path(__file__).resolve().parent.parent / "assets"
CORPUS_DIR = ASSETS / "corpus"
# whole works held out, so validation measures generalisation to unseen plays and poems
VALIDATION_WORKS = ("hamlet.txt", "sonnets.txt", "tempest.txt")


def works(split: str) -> dict[str, str]:
    """{file name: text} of the 'train' or 'val' works."""
    if split not in ("train", "val"):
        raise ValueError(f"split must be 'train' or 'val', got {split!r}")
    files = sorted(p for p in CORPUS_DIR.glob("*.txt"))
    if not files:
        raise FileNotFoundError(f"no corpus found in {CORPUS_DIR}")
    chosen = [p for p in files if (p.name in VALIDATION_WORKS) == (split == "val")]
    return {p.name: p.read_text(encoding="utf-8") for p in chosen}
