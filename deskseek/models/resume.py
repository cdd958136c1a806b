"""What an interrupted pull remembers so that its resume fetches the same bytes: the commit it started from.

A repo's newest commit can change between a cut and a resume (a re-upload, a fixed file). Resuming against
the newest commit would append new bytes to old ones and end in a hash mismatch that deletes the whole
part, 40 GB gone. So the first listing's commit is written next to the parts and every later attempt lists
and downloads at that commit. If the Hub no longer has it (a force-push, a squashed history), the user
decides whether the kept bytes go: `pull --restart`.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

STATE = "pull.json"


@dataclass(frozen=True)
class Pin:
    repo: str
    revision: str  # the commit sha the download started from


def read(staging: Path) -> Pin | None:
    try:
        data = json.loads((staging / STATE).read_text(encoding="utf-8"))
        return Pin(repo=str(data["repo"]), revision=str(data["revision"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write(staging: Path, pin: Pin) -> None:
    """Atomic and small; a failure to write it only costs the pin, never the download."""
    tmp = staging / (STATE + ".tmp")
    try:
        tmp.write_text(json.dumps({"repo": pin.repo, "revision": pin.revision}), encoding="utf-8")
        os.replace(tmp, staging / STATE)
    except OSError:
        tmp.unlink(missing_ok=True)


def kept_bytes(staging: Path) -> int:
    return sum(p.stat().st_size for p in staging.glob("*.part") if p.is_file())


def discard_if_empty(staging: Path) -> None:
    """A pull that failed before keeping a byte leaves no folder behind (and no pin to a commit)."""
    try:
        kept = [p for p in staging.rglob("*") if p.is_file() and not p.name.startswith(STATE)]
    except OSError:
        return
    if not kept:
        shutil.rmtree(staging, ignore_errors=True)
