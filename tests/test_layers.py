"""The package's layers, enforced: which subpackage may import which, lazy imports inside functions included.

A static walk of every import statement of every module (never importing them), resolved to the top-level unit of
deskseek it reaches: a subpackage (`cli`, `tui`, `chat`, `engines`, `placement`, `models`, `llama`) or a bottom
module (`paths`, `errors`, `units`). The table says what each unit may reach; the faces (`cli`, `tui`) are the only
units that may import Textual, and only the CLI's `chat` command may import the TUI.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "deskseek"

# unit -> the units of deskseek it may import (itself always allowed). Arrows point down only.
ALLOWED = {
    "errors": set(),
    "units": set(),
    "paths": {"errors"},
    "__init__": set(),
    "llama": {"errors", "paths"},
    "models": {"errors", "paths", "units"},
    "placement": {"llama", "models", "errors", "paths", "units"},
    "engines": {"llama", "models", "placement", "errors", "paths", "units"},
    "chat": {"engines", "models", "errors", "paths", "units"},
    "tui": {"chat", "engines", "models", "placement", "llama", "errors", "paths", "units", "__init__"},
    "cli": {"tui", "chat", "engines", "models", "placement", "llama", "errors", "paths", "units", "__init__"},
}
FACES = {"cli", "tui"}
TUI_GATE = "cli/chat.py"  # the one module outside tui/ that may import it


def imports_of(source: str, module: str) -> set[str]:
    """Absolute dotted names imported by `source`, the code of `module` (e.g. "deskseek.models.pull")."""
    names = set()
    package = module.split(".")[:-1]  # what a relative import is relative to (an __init__'s own package, too)
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package[: len(package) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            names.update(f"{base}.{alias.name}" for alias in node.names)  # `from x import y` reaches x.y
    return names


def unit_of(name: str) -> str | None:
    """The unit of deskseek a dotted name lands in; None outside deskseek."""
    parts = name.split(".")
    if parts[0] != "deskseek":
        return None
    return parts[1] if len(parts) > 1 and parts[1] in ALLOWED else "__init__"  # deskseek.__version__ and the like


def violations(root: Path = PACKAGE) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root)
        unit = relative.parts[0].removesuffix(".py")
        module = ".".join(("deskseek", *relative.with_suffix("").parts))
        for name in sorted(imports_of(path.read_text(encoding="utf-8"), module)):
            top = name.split(".")[0]
            if top == "textual" and unit not in FACES:
                found.append(f"{relative} imports {name}: only cli/ and tui/ may use Textual")
            target = unit_of(name)
            if target is None or target == unit:
                continue
            if target not in ALLOWED.get(unit, set()):
                found.append(f"{relative} imports {name}: {unit} may not import {target}")
            elif target == "tui" and relative.as_posix() != TUI_GATE:
                found.append(f"{relative} imports {name}: only {TUI_GATE} may import the TUI")
    return found


def test_the_tree_is_laid_out_as_the_table_says():
    units = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    modules = {p.stem for p in PACKAGE.glob("*.py")}
    assert units | modules == set(ALLOWED), "a unit without a rule, or a rule without a unit: update ALLOWED"


def test_every_import_follows_the_layers():
    assert violations() == []


# --- the check itself must catch what it is for -----------------------------------------------------------------

CASES = {
    "models/pull.py": ("def fit():\n    from deskseek.placement import planner\n", "models may not import placement"),
    "models/store.py": ("from ..placement.planner import plan\n", "models may not import placement"),
    "llama/cpu.py": ("from deskseek.models import gguf\n", "llama may not import models"),
    "chat/history.py": ("def f():\n    import textual.app\n", "only cli/ and tui/ may use Textual"),
    "engines/local.py": ("from deskseek.chat import history\n", "engines may not import chat"),
    "cli/run.py": ("def f():\n    from deskseek.tui.app import DeskseekApp\n", "only cli/chat.py may import the TUI"),
    "units.py": ("from deskseek import paths\n", "units may not import paths"),
    "placement/planner.py": ("from . import hardware\nfrom .. import engines\n", "placement may not import engines"),
}


@pytest.mark.parametrize("where", list(CASES))
def test_the_check_catches_a_violation(where, tmp_path):
    code, message = CASES[where]
    target = tmp_path / "deskseek" / where
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(code)
    assert any(message in line for line in violations(tmp_path / "deskseek")), violations(tmp_path / "deskseek")


def test_the_check_allows_what_the_table_allows(tmp_path):
    allowed = {
        "cli/chat.py": "def f():\n    from deskseek.tui.app import DeskseekApp\n    import textual\n",
        "engines/local.py": "from deskseek.llama import cpu\nfrom ..models import gguf\nfrom . import events\n",
        "models/pull.py": "from deskseek import paths\nfrom deskseek.units import human_bytes\n",
        "llama/cpu.py": "from deskseek import paths\nfrom deskseek.errors import DeskseekError\n",
    }
    for where, code in allowed.items():
        target = tmp_path / "deskseek" / where
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(code)
    assert violations(tmp_path / "deskseek") == []
