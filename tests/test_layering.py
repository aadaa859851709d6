"""Data flows one way (DESIGN.md §1): hold the import lines and the size limits with ast.

Walks every module under playground/ (subpackages included, recursively) and app.py:
  * gradio only in playground/ui/ and app.py; plotly only in playground/figures/;
  * torch in neither playground/ui/ nor playground/figures/, and importing them loads no torch at all;
  * nn.Module subclasses only in playground/model.py;
  * no import cycle among playground's modules (lazy, function-level imports count too);
  * no module over 500 lines (the page's string table aside), no function over 120 lines.
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "playground"
MODULES = sorted(PKG.rglob("*.py"))
MAX_MODULE_LINES, MAX_FUNCTION_LINES = 500, 120
LONG_TABLES = {"playground/i18n.py"}  # the string table: data, not code


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Absolute names imported anywhere in ``path`` (relative imports resolved)."""
    nodes = ast.walk(ast.parse(path.read_text()))
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    names = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([node.module] if node.module else []))
            names.add(base)
            names |= {f"{base}.{a.name}" for a in node.names}  # `from playground import figures`
    return names


def roots(names: set[str]) -> set[str]:
    return {n.split(".")[0] for n in names}


def test_the_walk_sees_the_subpackages():
    """A glob of playground/*.py alone would stop checking the moment a package appears."""
    assert (PKG / "ui").is_dir() and (PKG / "figures").is_dir()
    assert any(p.parent.name == "ui" for p in MODULES) and any(p.parent.name == "figures" for p in MODULES)


def test_gradio_plotly_and_torch_stay_in_their_layers():
    allowed = {"gradio": lambda r: r.startswith("playground/ui/") or r == "app.py",
               "plotly": lambda r: r.startswith("playground/figures/")}
    for f in [ROOT / "app.py", *MODULES]:
        r, libs = rel(f), roots(imports(f))
        for lib, ok in allowed.items():
            assert lib not in libs or ok(r), f"{r} imports {lib}"
        if r.startswith(("playground/ui/", "playground/figures/")):
            assert "torch" not in libs, f"{r} imports torch"


def test_importing_the_ui_and_the_figures_loads_no_torch():
    code = "import sys, playground.figures, playground.ui; print(sorted(m for m in sys.modules if m.split('.')[0] == 'torch')[:3])"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]", out.stdout


def test_nn_module_is_defined_only_in_model():
    for f in MODULES:
        if rel(f) == "playground/model.py":
            continue
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.ClassDef):
                bases = {ast.unparse(b) for b in node.bases}
                assert not bases & {"nn.Module", "torch.nn.Module", "Module"}, f"{rel(f)}: {node.name}"


def test_no_import_cycle():
    names = {module_name(f): f for f in MODULES}
    graph = {}
    for name, f in names.items():
        deps = set()
        for imp in imports(f):  # function-level imports too: a lazy import is still a dependency
            while imp and imp not in names:  # `playground.figures.style.FONT` -> playground.figures.style
                imp = imp.rpartition(".")[0]
            if imp and imp != name:
                deps.add(imp)
        graph[name] = deps
    # a package's __init__ importing its own submodules is how packages re-export; not a cycle through them
    for name in graph:
        graph[name] = {d for d in graph[name] if not (name.startswith(d + ".") and d in names)}
    state: dict[str, int] = {}

    def visit(n: str, path: list[str]) -> None:
        state[n] = 1
        for d in sorted(graph[n]):
            if state.get(d) == 1:
                raise AssertionError("import cycle: " + " -> ".join(path[path.index(d):] + [d]))
            if d not in state:
                visit(d, path + [d])
        state[n] = 2

    for n in sorted(graph):
        if n not in state:
            visit(n, [n])


def test_modules_and_functions_stay_small():
    too_long = []
    for f in MODULES:
        text = f.read_text()
        if rel(f) not in LONG_TABLES and len(text.splitlines()) > MAX_MODULE_LINES:
            too_long.append(f"{rel(f)}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    too_long.append(f"{rel(f)}: {node.name} is {n} lines")
    assert not too_long, too_long


def test_the_package_loads_lazily():
    out = subprocess.run([sys.executable, "-c", "import sys, playground; print('torch' in sys.modules)"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "False", (out.stdout, out.stderr[-1000:])
