"""The core never imports the faces: no Textual (and no CLI module) below deskseek/tui and the CLI.

A static walk of every import statement, so a lazy import inside a function is caught too.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "deskseek"
FACES = {"cli", "tui"}


def imports_of(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            names.add(base)
            names.update(f"{base}.{alias.name}" if node.level and not node.module else base for alias in node.names)
    return names


def core_modules() -> list[Path]:
    return [
        path for path in PACKAGE.rglob("*.py")
        if path.relative_to(PACKAGE).parts[0].removesuffix(".py") not in FACES
    ]


def test_core_never_imports_textual_or_a_face():
    assert len(core_modules()) >= 10
    offenders = []
    for path in core_modules():
        for name in imports_of(path):
            top = name.lstrip(".").split(".")[0]
            face = name.startswith(".") and top in FACES or name.startswith("deskseek.") and name.split(".")[1] in FACES
            if top == "textual" or face:
                offenders.append(f"{path.relative_to(PACKAGE)} imports {name}")
    assert offenders == []


def test_the_check_sees_a_violation(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from textual.app import App\n    from .tui import app\n")
    assert {"textual.app", ".tui"} <= imports_of(bad)
