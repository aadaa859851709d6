"""What `python app.py` runs: torch alone (no C compiled or loaded at run time), and a bad
PLAYGROUND_TORCH_THREADS falls back to the default with a warning, as the other variables do."""
from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = [ROOT / "app.py", *sorted((ROOT / "playground").rglob("*.py"))]
# the only library the product may open by hand: glibc, for malloc_trim (playground/ui/sessions.py)
SYSTEM_LIBRARIES = {"libc.so.6"}


def start_app(env: dict[str, str], then: str) -> subprocess.CompletedProcess:
    """`import app` in a fresh process (builds the page as `python app.py` does), then run ``then``."""
    full = {**os.environ, "PYTHONPATH": str(ROOT), "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", **env}
    return subprocess.run([sys.executable, "-c", f"import app, json, torch\n{then}"], cwd=ROOT, env=full,
                          capture_output=True, text=True, timeout=180)


def test_bad_torch_threads_fall_back_to_one_with_a_warning():
    probe = ("print(json.dumps([torch.get_num_threads(), "
             "[app.torch_threads({'PLAYGROUND_TORCH_THREADS': v}) for v in ('0', 'abc', '1e3', '-2', '3')]]))")
    done = start_app({"PLAYGROUND_TORCH_THREADS": "abc"}, probe)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr[-2000:]
    threads, parsed = json.loads(done.stdout.strip().splitlines()[-1])
    assert threads == 1 and parsed == [1, 1, 1, 1, 3]
    for bad in ("abc", "0", "1e3", "-2"):
        assert f"PLAYGROUND_TORCH_THREADS={bad!r} is not a positive whole number; using the default 1" in done.stderr


def test_a_started_app_maps_no_library_built_by_the_project():
    """After start-up and a prefill + cached decode step, every mapped shared object is an installed one."""
    probe = ("from playground.weights import load_model\n"
             "model, tok = load_model()\n"
             "with torch.no_grad():\n"
             "    out = model(torch.tensor([tok.encode_ids('ROMEO:')]))\n"
             "    model(out.logits[:, -1:].argmax(-1), past_kv=out.kv)\n"
             "print(json.dumps(sorted({line.split()[-1] for line in open('/proc/self/maps') if '.so' in line})))")
    done = start_app({"PLAYGROUND_TORCH_THREADS": "1"}, probe)
    assert done.returncode == 0, done.stderr[-2000:]
    mapped = json.loads(done.stdout.strip().splitlines()[-1])
    installed = tuple(os.path.realpath(p) + os.sep for p in
                      {sys.prefix, sys.base_prefix, "/usr", "/lib", "/lib64", "/opt"})
    assert mapped and all(os.path.realpath(p).startswith(installed) for p in mapped), \
        [p for p in mapped if not os.path.realpath(p).startswith(installed)]
    assert not any("gpt-playground" in p or "kernels" in Path(p).name for p in mapped)


def test_product_has_no_c_sources_no_kernel_module_and_no_ctypes_loading_of_its_own():
    assert not [p for p in (ROOT / "playground").rglob("*") if p.suffix in {".c", ".h", ".cc", ".cpp", ".so"}]
    assert find_spec("playground.kernel") is None and not (ROOT / "playground" / "kernel.py").exists()
    for f in PRODUCT:
        tree = ast.parse(f.read_text())
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):  # nothing that builds or runs a compiler
                names = ({a.name for a in node.names} if isinstance(node, ast.Import)
                         else {node.module or ""} | {f"{node.module}.{a.name}" for a in node.names})
                assert not names & {"subprocess", "cffi", "distutils", "setuptools", "torch.utils.cpp_extension"}, \
                    f"{f.name}: {sorted(names)}"
            if isinstance(node, ast.Call):
                called = ast.unparse(node.func)
                if called.endswith(("CDLL", "PyDLL", "LoadLibrary", "load_library", "load_inline", "cpp_extension.load")):
                    args = [a.value for a in node.args if isinstance(a, ast.Constant)]
                    assert args and args[0] in SYSTEM_LIBRARIES, f"{f.name}: {ast.unparse(node)} loads a library"
