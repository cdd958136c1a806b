"""What a look into another app's model folder yields, before any file is opened.

Each app keeps GGUFs its own way (Ollama by content hash behind manifests, LM Studio and llama.cpp by file
name, the Hugging Face cache as symlinks into blobs); each source module turns its layout into `Spot`s,
and `models/found.py` reads their headers. Finding spots touches only folder listings and small text
files, so resolving one name (`run --model ollama:...`) never reads every model's header.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from deskseek.models import gguf_names


@dataclass
class Spot:
    app: str  # "ollama" | "lmstudio" | "hf" | "llamacpp"
    name: str  # the name deskseek accepts for it, prefix included: "ollama:deepseek-r1:7b"
    files: list[Path]  # every part, first first, as the app keeps them (symlinks unresolved)
    problem: str | None = None  # why it cannot load, when the layout alone says so (a missing part or blob)
    sizes: list[int] | None = None  # what the app recorded for each part, where it records sizes
    sha256: str | None = None  # of a single-file model whose app names it by content (not verified here)
    thinks_hint: bool | None = None  # the app's own word on reasoning, for a GGUF that carries no template
    aliases: set[str] = field(default_factory=set)  # other spellings accepted for `name`
    incomplete: bool = False  # a split set with parts missing: listed, never loadable


def model_sets(paths: Iterable[str]) -> Iterator[tuple[str, list[str], list[str]]]:
    """Group .gguf paths ("/"-separated, relative to one folder) into models: (first part, parts, missing).

    Vision projectors (`mmproj`) are not models and are left out; a split set is one model, named by its
    first part even when that part is the one missing.
    """
    present = {p for p in paths if p.lower().endswith(".gguf")}
    seen: set[str] = set()
    for path in sorted(present):
        folder, _, file = path.rpartition("/")
        if "mmproj" in file.lower():
            continue
        parts = [f"{folder}/{part}" if folder else part for part in gguf_names.split_parts(file)]
        if parts[0] in seen:
            continue
        seen.add(parts[0])
        yield parts[0], parts, [p for p in parts if p not in present]


def files_under(folder: Path) -> list[str]:
    """Every file (and symlink) below `folder`, as "/"-separated relative paths; unreadable folders skipped."""
    found = []
    for top, dirs, files in os.walk(folder, onerror=lambda _err: None):
        relative = Path(top).relative_to(folder).as_posix()
        found.extend(name if relative == "." else f"{relative}/{name}" for name in files)
        dirs[:] = [d for d in dirs if not d.startswith(".")]
    return found


def subfolders(folder: Path) -> list[Path]:
    """The folders directly inside `folder`, sorted; none when it is missing or unreadable."""
    try:
        with os.scandir(folder) as entries:
            return sorted(Path(e.path) for e in entries if _is_dir(e) and not e.name.startswith("."))
    except OSError:
        return []


def _is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def path_spots(app: str, root: Path, relative: list[str], base: str) -> Iterator[Spot]:
    """Spots for the GGUFs among `relative` (paths under `root`), named `app:base/PATH` without `.gguf`.

    A missing part is named in the spot's problem; nothing here raises.
    """
    for first, parts, missing in model_sets(relative):
        stem = first[: -len(".gguf")]
        name = f"{app}:{base}/{stem}" if base else f"{app}:{stem}"
        aliases = {name + ".gguf"}
        split = gguf_names.split_info(first.rpartition("/")[2])
        if split:
            folder = first.rpartition("/")[0]
            set_name = f"{folder}/{split[0]}" if folder else split[0]
            aliases.add(f"{app}:{base}/{set_name}" if base else f"{app}:{set_name}")
        problem = None
        if missing:
            problem = f"missing {len(missing)} of {len(parts)} parts ({missing[0].rpartition('/')[2]} first)"
        yield Spot(app=app, name=name, files=[root / p for p in parts], problem=problem, aliases=aliases,
                   incomplete=bool(missing))
