"""What every source does with the bytes of a model: progress events, room on disk, resumable parts, hashes.

A download lands in the model's staging folder as `<file>.part`; its sha256 is computed while it streams
and checked against every hash the source and the registry promise before the store takes it.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from deskseek.errors import CorruptDownload, DeskseekError, DiskFull
from deskseek.models.registry import Ref
from deskseek.units import human_bytes

CHUNK = 1 << 20


@dataclass(frozen=True)
class Started:
    name: str
    source: str
    total: int  # bytes of the whole model
    already: int  # bytes already on disk from an earlier, interrupted pull


@dataclass(frozen=True)
class Progress:
    done: int  # bytes of the whole model now on disk
    total: int


@dataclass(frozen=True)
class Checking:
    """Re-hashing bytes kept from an interrupted pull, so the final check covers the whole file."""

    file: str
    size: int


@dataclass(frozen=True)
class Retrying:
    file: str
    reason: str
    delay_s: float


@dataclass(frozen=True)
class Note:
    message: str


Event = Started | Progress | Checking | Retrying | Note
OnEvent = Callable[[Event], None]


@dataclass(frozen=True)
class RemoteFile:
    path: str  # inside the repo (or the wheel)
    size: int
    sha256: str | None  # an LFS file's content hash, as the source lists it
    git_sha1: str | None = None  # a plain git file's blob id: sha1("blob SIZE\0" + content)

    @property
    def verifiable(self) -> bool:
        return bool(self.sha256 or self.git_sha1)


class Digest:
    """Every hash a file's bytes are checked against, fed once as the bytes stream by."""

    def __init__(self, remote: RemoteFile):
        self.sha256 = hashlib.sha256()
        self.git = None
        if remote.git_sha1:
            self.git = hashlib.sha1(b"blob %d\0" % remote.size)

    def update(self, block: bytes) -> None:
        self.sha256.update(block)
        if self.git is not None:
            self.git.update(block)

    def check(self, remote: RemoteFile, pinned: str | None, part: Path) -> str:
        """The sha256 of the bytes, once every promise holds; else the part is deleted and CorruptDownload raised."""
        actual = self.sha256.hexdigest()
        problems = [(actual, want) for want in (remote.sha256, pinned) if want and actual != want]
        if self.git is not None and self.git.hexdigest() != remote.git_sha1:
            problems.append((self.git.hexdigest(), remote.git_sha1))
        if problems:
            got, want = problems[0]
            part.unlink()
            raise CorruptDownload(
                f"{remote.path} is corrupt (hash {got[:12]}…, expected {want[:12]}…); "
                "the bad file was deleted, run the same command to fetch it again"
            )
        return actual


def spec_facts(ref: Ref) -> dict:
    if ref.spec is None:
        return {}
    return {"alias": ref.spec.alias, "architecture": ref.spec.architecture, "reasoning": ref.spec.reasoning}


def part_path(staging: Path, remote: RemoteFile) -> Path:
    """Where a file's bytes gather while downloading; a name too long for a filesystem gets a hashed one."""
    name = remote.path.replace("/", "__") + ".part"
    if len(name.encode()) > 200:
        name = hashlib.sha256(remote.path.encode()).hexdigest()[:16] + "-" + name[-120:]
    return staging / name


def size_of(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def check_space(staging: Path, files: list[RemoteFile], extra: int = 0) -> None:
    """Refuse before the first byte when the rest of the download cannot fit."""
    need = extra + sum(max(f.size - size_of(part_path(staging, f)), 0) for f in files)
    free = shutil.disk_usage(staging).free
    if need > free:
        raise DiskFull(
            f"not enough disk space: the download needs {human_bytes(need)} more, "
            f"{human_bytes(free)} free in {staging.parent}"
        )


class Counter:
    """Turns per-chunk byte counts into whole-model Progress events."""

    def __init__(self, total: int, done: int, emit: OnEvent):
        self.total, self.done, self.emit = total, done, emit

    def add(self, count: int) -> None:
        self.done += count
        self.emit(Progress(self.done, self.total))

    def rewind(self, count: int) -> None:
        self.done -= count
        self.emit(Progress(self.done, self.total))


def hash_existing(part: Path, emit: OnEvent, remote: RemoteFile, *, announce: bool = True) -> Digest:
    """Hash the bytes kept from an interrupted pull (hash state cannot be saved across processes)."""
    hasher = Digest(remote)
    size = size_of(part)
    if size:
        if announce:
            emit(Checking(part.name.removesuffix(".part"), size))
        with open(part, "rb") as handle:
            while block := handle.read(8 * CHUNK):
                hasher.update(block)
    return hasher


def raise_if_disk_full(err: OSError, part: Path) -> None:
    if err.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        raise DiskFull(
            f"disk full while writing {part.parent}: free some space and run the same command to resume "
            f"({human_bytes(size_of(part))} of this file are kept)"
        ) from None


def find_local_copy(sha256: str, size: int) -> Path | None:
    """A file on this machine named for this sha256 (models/found.py says where it looks), or None."""
    from deskseek.models import found

    try:
        return found.blob_with_sha256(sha256, size)
    except DeskseekError:
        return None  # a bad DESKSEEK_OTHER_APPS: no reuse, the download still works


def reuse_local_copy(remote: RemoteFile, part: Path, pinned: str | None, counter: Counter,
                      emit: OnEvent, local: Path | None = None) -> str | None:
    """Take a file already on this machine with the same sha256 (another app's cache, another install).

    Linked where the filesystem allows (no space used), else copied; then hashed, so a file whose name lied
    is dropped and downloaded instead. Returns the verified sha256, or None when the download must run.
    """
    if not remote.sha256 or size_of(part) >= remote.size:
        return None
    local = local or find_local_copy(remote.sha256, remote.size)
    if local is None:
        return None
    before = size_of(part)
    part.unlink(missing_ok=True)
    try:
        os.link(local, part)
        how = "linked"
    except OSError:
        try:
            shutil.copyfile(local, part)
            how = "copied"
        except OSError as err:
            part.unlink(missing_ok=True)
            counter.rewind(before)
            raise_if_disk_full(err, part)
            return None
    counter.add(remote.size - before)
    emit(Note(f"{remote.path}: {how} from {local} (same sha256 by its name); checking its bytes"))
    digest = hash_existing(part, emit, remote, announce=False)
    if digest.sha256.hexdigest() != remote.sha256 or (pinned and digest.sha256.hexdigest() != pinned):
        part.unlink(missing_ok=True)
        counter.rewind(remote.size)
        emit(Note(f"{local} is named for {remote.path}'s sha256 but its bytes differ; downloading instead"))
        return None
    emit(Note(f"{remote.path}: checked, nothing to download"))
    return digest.sha256.hexdigest()
