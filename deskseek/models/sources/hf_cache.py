"""GGUFs in the Hugging Face cache (huggingface_hub, `hf download`, and llama.cpp's newer `-hf`), in place.

The cache keeps `models--OWNER--REPO/snapshots/REVISION/PATH` as symlinks into `blobs/`, where each
file is named by its hash: an LFS file (every GGUF) by its sha256. A repo may hold several snapshots;
for each path the one `refs/main` points at wins, else the newest, so a model is listed once. Names:
`hf:OWNER/REPO/PATH` without `.gguf`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

from deskseek.models.sources.on_disk import Spot, files_under, path_spots, subfolders

APP = "hf"
_SHA256 = re.compile(r"[0-9a-f]{64}")


def roots() -> list[Path]:
    """Where huggingface_hub puts its cache: HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub."""
    for variable in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(variable):
            return [Path(os.environ[variable]).expanduser()]
    if os.environ.get("HF_HOME"):
        return [Path(os.environ["HF_HOME"]).expanduser() / "hub"]
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return [Path(cache).expanduser() / "huggingface" / "hub"]


def repo_of(folder: Path) -> str | None:
    """`models--OWNER--REPO` -> `OWNER/REPO` (the Hub forbids `--` inside names, so the split is exact)."""
    if not folder.name.startswith("models--"):
        return None
    return folder.name[len("models--"):].replace("--", "/") or None


def scan(root: Path, app: str = APP) -> Iterator[Spot]:
    for folder in subfolders(root):
        repo = repo_of(folder)
        if repo is not None:
            yield from _repo_spots(folder, repo, app)


def _snapshots_in_order(folder: Path) -> list[Path]:
    """The snapshot `refs/main` names first, then the others, newest first."""
    snapshots = subfolders(folder / "snapshots")
    try:
        main = (folder / "refs" / "main").read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        main = ""

    def newest_first(path: Path) -> float:
        try:
            return -path.stat().st_mtime
        except OSError:
            return 0.0

    return sorted(snapshots, key=lambda p: (p.name != main, newest_first(p)))


def _repo_spots(folder: Path, repo: str, app: str) -> Iterator[Spot]:
    chosen: dict[str, Spot] = {}
    for snapshot in _snapshots_in_order(folder):
        for spot in path_spots(app, snapshot, files_under(snapshot), repo):
            earlier = chosen.get(spot.name)
            if earlier is None or (earlier.incomplete and not spot.incomplete):
                chosen[spot.name] = spot
    for spot in chosen.values():
        if len(spot.files) == 1:
            spot.sha256 = lfs_sha256(spot.files[0])
        yield spot


def lfs_sha256(path: Path) -> str | None:
    """The sha256 a snapshot file's blob is named by (an LFS file), without reading it; None otherwise."""
    try:
        target = os.path.basename(os.readlink(path)) if path.is_symlink() else path.name
    except OSError:
        return None
    return target if _SHA256.fullmatch(target) else None


def blob(root: Path, sha256: str) -> Iterator[Path]:
    """Every blob of this sha256 in the cache at `root` (one per repo that holds the file)."""
    for folder in subfolders(root):
        if repo_of(folder) is not None:
            candidate = folder / "blobs" / sha256
            if os.path.isfile(candidate):
                yield candidate
