"""Models llama.cpp downloaded with `-hf`, in its cache, run in place.

The cache is `$LLAMA_CACHE`, else the platform's cache folder's `llama.cpp` (`~/.cache/llama.cpp` or
`$XDG_CACHE_HOME/llama.cpp` on Linux, `~/Library/Caches/llama.cpp` on macOS, `%LOCALAPPDATA%\\llama.cpp`
on Windows), as llama.cpp's `fs_get_cache_directory` decides. Two layouts live there:

- older releases: flat files `OWNER_REPO_FILE.gguf` (every `/` of `OWNER/REPO/FILE` made `_`), each
  with its ETag beside it in `FILE.etag` (older: `FILE.json`); named `llamacpp:OWNER_REPO_FILE`;
- newer releases (common/hf-cache.cpp): the Hugging Face cache's own layout (`models--OWNER--REPO/...`): in `$LLAMA_CACHE` when set
  (named `llamacpp:OWNER/REPO/PATH`), otherwise llama.cpp writes into the Hugging Face cache itself and
  its models are listed as `hf:` ones.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

from deskseek.models.sources import hf_cache
from deskseek.models.sources.on_disk import Spot, path_spots

APP = "llamacpp"
_SHA256 = re.compile(r"[0-9a-f]{64}")


def roots() -> list[Path]:
    override = os.environ.get("LLAMA_CACHE")
    if override:
        return [Path(override).expanduser()]
    if sys.platform == "darwin":
        return [Path.home() / "Library" / "Caches" / "llama.cpp"]
    if sys.platform == "win32":
        local = os.environ.get("LOCALAPPDATA")
        return [Path(local) / "llama.cpp"] if local else []
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return [Path(cache).expanduser() / "llama.cpp"]


def scan(root: Path) -> Iterator[Spot]:
    try:
        with os.scandir(root) as entries:
            names = [entry.name for entry in entries if not entry.name.startswith(".")]
    except OSError:
        return
    for spot in path_spots(APP, root, names, ""):
        if len(spot.files) == 1:
            spot.sha256 = etag_sha256(spot.files[0])
        yield spot
    yield from hf_cache.scan(root, app=APP)


def etag_sha256(path: Path) -> str | None:
    """The sha256 llama.cpp's saved ETag claims for a flat file (the Hub's ETag of an LFS file is its sha256).

    Only a claim, read without hashing the file: whoever links the file in on its strength verifies it.
    """
    etag = None
    try:
        etag = Path(f"{path}.etag").read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        try:
            etag = json.loads(Path(f"{path}.json").read_text(encoding="utf-8")).get("etag")
        except (OSError, ValueError, AttributeError):
            return None
    if not isinstance(etag, str):
        return None
    etag = etag.removeprefix("W/").strip('"').lower()
    return etag if _SHA256.fullmatch(etag) else None
