"""Docker cannot run on this machine: check what can be checked by reading the Dockerfile."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEXT = (ROOT / "Dockerfile").read_text()


def instructions(name: str) -> list[str]:
    return [m.group(1).strip() for m in re.finditer(rf"^{name}\s+(.+)$", TEXT, re.M)]


def test_runs_as_uid_1000_on_port_7860_bound_to_all_interfaces():
    assert instructions("USER") == ["user"] and "useradd -m -u 1000 user" in TEXT
    assert instructions("EXPOSE") == ["7860"]
    assert "GRADIO_SERVER_NAME=0.0.0.0" in TEXT and "GRADIO_SERVER_PORT=7860" in TEXT


def test_entry_point_health_check_font_and_cpu_torch():
    assert instructions("CMD")[-1] == '["python", "app.py"]' and (ROOT / "app.py").is_file()
    assert instructions("HEALTHCHECK") and "fonts-wqy-microhei" in TEXT
    assert "download.pytorch.org/whl/cpu" in TEXT  # CPU build: no CUDA in the image


def test_every_copied_path_exists():
    for line in instructions("COPY"):
        parts = [p for p in line.split() if not p.startswith("--")]
        for src in parts[:-1]:
            assert (ROOT / src).exists(), src


def test_image_has_no_compiler_and_no_kernel_step():
    """The app runs on torch alone: nothing is compiled in the image or at run time."""
    packages = " ".join(re.findall(r"apt-get install([^\n]*)", TEXT)).split()
    assert "fonts-wqy-microhei" in packages and "curl" in packages  # the install line is the one read here
    assert not {"gcc", "g++", "cc", "clang", "libc6-dev", "build-essential", "make"} & set(packages)
    assert not re.search(r"kernel|\.c\b|\bcc\b|gcc|-fopenmp", TEXT)
