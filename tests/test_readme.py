"""The README's two commands, the Space front matter and CI stay in sync."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def code_blocks() -> list[str]:
    return re.findall(r"```bash\n(.*?)```", README, re.S)


def test_readme_opens_with_the_run_and_test_commands():
    run, test = code_blocks()[:2]
    assert "pip install -r requirements.txt" in run and "python app.py" in run
    assert "bash scripts/test.sh" in test
    assert "bash scripts/test.sh" in (ROOT / ".ci/run").read_text()  # CI calls the README's test command


def test_space_front_matter_matches_the_pinned_gradio():
    front = README.split("---")[1]
    pinned = re.search(r"^gradio==(\S+)$", (ROOT / "requirements.txt").read_text(), re.M).group(1)
    assert f"sdk_version: {pinned}" in front and "sdk: gradio" in front and "app_file: app.py" in front
    assert 'python_version: "3.11"' in front


def test_no_file_over_10_mb_outside_lfs():
    import subprocess

    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    if not files:  # not a git checkout: check the tree instead
        files = [str(p.relative_to(ROOT)) for p in ROOT.rglob("*") if p.is_file() and ".git" not in p.parts]
    big = [f for f in files if (ROOT / f).is_file() and (ROOT / f).stat().st_size > 10_000_000]
    assert not big, big
