"""The package loads lazily, and the engine has no import cycle between config and sampling."""
from __future__ import annotations

import subprocess
import sys


def _run(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def test_importing_the_package_loads_no_torch_until_a_name_is_used():
    out = _run("import sys, playground; a = 'torch' in sys.modules; from playground import GPTConfig;"
               " b = 'torch' in sys.modules; m = playground.load_model; print(a, b, 'torch' in sys.modules)")
    assert out == "False False True"


def test_records_and_units_load_without_torch():
    assert _run("import sys, playground.records, playground.units, playground.config; print('torch' in sys.modules)") \
        == "False"


def test_config_does_not_import_sampling():
    """Parameter validation lives with SamplingParams: config needs no engine module."""
    out = _run("import sys; from playground.config import SamplingParams; SamplingParams(top_k=3);"
               " print(sorted(m for m in sys.modules if m.startswith('playground.')))")
    assert out == "['playground.config']"
