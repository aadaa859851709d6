"""Data flows one way (DESIGN.md §1): hold the import lines with ast."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# module -> third-party modules it may NOT import
FORBIDDEN = {"gradio": {"playground/ui.py", "app.py"}, "plotly": {"playground/figures.py"}}


def imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_gradio_and_plotly_stay_in_their_modules():
    files = [ROOT / "app.py", *sorted((ROOT / "playground").glob("*.py"))]
    for f in files:
        rel = f.relative_to(ROOT).as_posix()
        for lib, allowed in FORBIDDEN.items():
            if lib in imported(f):
                assert rel in allowed, f"{rel} imports {lib}; only {sorted(allowed)} may"


def test_nn_module_is_defined_only_in_model():
    for f in sorted((ROOT / "playground").glob("*.py")):
        if f.name == "model.py":
            continue
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.ClassDef):
                bases = {ast.unparse(b) for b in node.bases}
                assert not bases & {"nn.Module", "torch.nn.Module", "Module"}, f"{f.name}: {node.name}"
