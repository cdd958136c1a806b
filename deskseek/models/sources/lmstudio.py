"""LM Studio's downloads, found where LM Studio keeps them and run in place.

LM Studio keeps `PUBLISHER/REPO/FILE.gguf` under one models folder, which it requires to be exactly two
levels deep. Which folder: the `downloadsFolder` its `settings.json` names (set under "Models Directory"
in the app), else `models/` in its home. Its home is the folder named by `~/.lmstudio-home-pointer` (the
file LM Studio, `lms` and `llmster` all read at start), else `~/.lmstudio`, else the older
`~/.cache/lm-studio`. Every one of these that exists is looked in, so models left behind by an older
install are found too. Names: `lmstudio:PUBLISHER/REPO/FILE`, FILE without `.gguf`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from deskseek.models.sources.on_disk import Spot, path_spots, subfolders

APP = "lmstudio"
POINTER = ".lmstudio-home-pointer"


def homes() -> list[Path]:
    home = Path.home()
    found = []
    try:
        pointed = (home / POINTER).read_text(encoding="utf-8").strip().splitlines()
        if pointed and pointed[0].strip():
            found.append(Path(pointed[0].strip()).expanduser())
    except (OSError, UnicodeDecodeError):
        pass
    return found + [home / ".lmstudio", home / ".cache" / "lm-studio"]


def roots() -> list[Path]:
    found: list[Path] = []
    for home in homes():
        try:
            settings = json.loads((home / "settings.json").read_text(encoding="utf-8"))
            folder = settings.get("downloadsFolder") if isinstance(settings, dict) else None
            if isinstance(folder, str) and folder.strip():
                found.append(Path(folder.strip()).expanduser())
        except (OSError, ValueError):
            pass
        found.append(home / "models")
    return found


def scan(root: Path) -> Iterator[Spot]:
    for publisher in subfolders(root):
        for repo in subfolders(publisher):
            try:
                names = [p.name for p in repo.iterdir()]
            except OSError:
                continue
            yield from path_spots(APP, repo, names, f"{publisher.name}/{repo.name}")
