"""What is installed, where, and whether it can be trusted.

A model lives in `models/<slug>/` with its GGUF file(s) and a `manifest.json` written last, atomically:
no manifest, no model. Downloads happen in `partial/` and are moved in only after verification, so
nothing half-downloaded or unverified can ever be listed or loaded. Imported models keep their files
where the user has them; the manifest just points there.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import filelock

from deskseek import paths
from deskseek.errors import Busy, DeskseekError, DiskFull, NotFound
from deskseek.models import gguf, gguf_names

MANIFEST = "manifest.json"
FORMAT = 1


@dataclass
class InstalledFile:
    path: str  # relative to the model's folder, or absolute for imported models
    size: int
    sha256: str | None = None


@dataclass
class Installed:
    name: str
    files: list[InstalledFile]
    quant: str | None = None
    architecture: str | None = None
    params: int | None = None
    params_active: int | None = None
    reasoning: bool = False
    alias: str | None = None
    repo: str | None = None
    revision: str | None = None
    source: str = "hf"  # "hf" | "pypi" | "import"
    # imports: {"name": the found name it came by (or None), "path": the original's first file,
    # "kept_as": "link" (a hard link here) | "path" (the manifest points there) | "copy"}
    origin: dict | None = None
    installed_at: float = field(default_factory=time.time)
    folder: Path | None = field(default=None, compare=False)

    def file_paths(self) -> list[Path]:
        return [Path(f.path) if os.path.isabs(f.path) else self.folder / f.path for f in self.files]

    @property
    def path(self) -> Path:
        """The file to hand to llama.cpp: the first part of a split set."""
        return self.file_paths()[0]

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    def problems(self) -> list[str]:
        """Cheap integrity check (existence and size) done on every listing; hashes were checked at install."""
        found = []
        for spec, actual in zip(self.files, self.file_paths()):
            try:
                size = actual.stat().st_size
            except OSError:
                found.append(f"{actual} is missing")
                continue
            if size != spec.size:
                found.append(f"{actual} is {size} bytes, expected {spec.size}")
        return found

    def to_json(self) -> dict:
        data = asdict(self)
        data.pop("folder")
        data["format"] = FORMAT
        return data


_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)), *(f"LPT{i}" for i in range(10))}


def slug(name: str) -> str:
    """A folder name for a model name: readable, safe on every filesystem, and one per name.

    The readable part alone would merge names (`é.gguf` and `ü.gguf`, `모델` and `モデル`, `Q8_0` and `q8_0` on a
    case-insensitive disk); a short hash of the exact name keeps them apart. Windows refuses `CON`, `AUX.x`
    and friends whatever follows the first dot, so such a stem gets a leading underscore.
    """
    readable = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")[:60].rstrip("-.") or "model"
    if readable.split(".")[0].upper() in _WINDOWS_RESERVED:
        readable = "_" + readable
    return f"{readable}-{hashlib.sha256(name.encode()).hexdigest()[:10]}"


def _legacy_slug(name: str) -> str:
    """The folder name before 0.2 (not one per name): still read, so older installs and partials are found."""
    return re.sub(r"[^A-Za-z0-9._-]+", "--", name).strip("-.") or "model"


def model_folder(name: str) -> Path:
    return paths.models_dir() / slug(name)


def staging_folder(name: str) -> Path:
    """Where a pull of `name` gathers its parts; a partial left by an older version is picked up."""
    folder = paths.partial_dir() / slug(name)
    legacy = paths.partial_dir() / _legacy_slug(name)
    return legacy if not folder.exists() and legacy.is_dir() else folder


def _read_manifest(folder: Path, file: str = MANIFEST) -> Installed | None:
    try:
        data = json.loads((folder / file).read_text(encoding="utf-8"))
        data.pop("format", None)
        files = [InstalledFile(**item) for item in data.pop("files")]
        return Installed(files=files, folder=folder, **data)
    except (OSError, ValueError, TypeError, KeyError):
        return None


def installed() -> list[Installed]:
    """Every model with a readable manifest, sorted by name. Damaged ones are included (see problems())."""
    root = paths.models_dir()
    if not root.is_dir():
        return []
    found = [_read_manifest(folder) for folder in sorted(root.iterdir()) if folder.is_dir()]
    return sorted((item for item in found if item is not None), key=lambda item: item.name)


def get(name: str) -> Installed | None:
    """The installed model of exactly this name, if it is there and whole."""
    item = _read_manifest(model_folder(name))
    if item is None:
        item = _read_manifest(paths.models_dir() / _legacy_slug(name))
    if item is None or item.name != name or item.problems():
        return None
    return item


def find(text: str, *, prefix: bool = True) -> Installed:
    """Resolve what a user typed to one installed model: exact name, alias, name without its quant, or a unique
    prefix. With prefix=False (rm) only the exact name: deleting whatever starts with, or shares an alias with,
    what was typed is not what anyone asked for."""
    models = installed()
    by_name = {m.name: m for m in models}
    if text in by_name:
        return by_name[text]
    loose = [m for m in models if m.alias == text or m.name.split(":")[0] == text]
    if not prefix:
        close = loose + [m for m in models if m.name.startswith(text) and m not in loose]
        if close:
            raise NotFound(f"no installed model is named {text!r}; did you mean "
                           f"{', '.join(m.name for m in close)}? (give the full name)")
        raise NotFound(f"no installed model is named {text!r}; `deskseek list` shows their names")
    candidates = loose or [m for m in models if m.name.startswith(text)]
    if len(candidates) == 1:
        return candidates[0]
    if len(candidates) > 1:
        names = ", ".join(m.name for m in candidates)
        raise NotFound(f"{text!r} matches several installed models: {names}")
    raise NotFound(f"model {text!r} is not installed; " + (
        f"`deskseek pull {text}` fetches it" if _pullable(text) else "`deskseek list` shows what is"))


def _pullable(text: str) -> bool:
    from deskseek.models import registry

    try:
        registry.parse_ref(text, registry.load())
    except DeskseekError:
        return False
    return True


def _write_atomic(path: Path, text: str) -> None:
    """Write, fsync, rename, fsync the folder: after a crash the file is either old or new, never torn."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    _fsync_folder(path.parent)


def _fsync_folder(folder: Path) -> None:
    """Make a rename durable: after a power cut the folder lists the new name, not the old."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def describe(item: Installed, files: list[Path] | None = None) -> Installed:
    """Fill architecture, parameter counts and quant from the GGUF header where the registry was silent."""
    try:
        info = gguf.read_set(files or item.file_paths())
    except DeskseekError:
        return item
    item.architecture = item.architecture or info.architecture
    item.params = info.parameters
    item.params_active = info.active_parameters if info.active_parameters != info.parameters else None
    item.quant = item.quant or gguf_names.quant_of(item.files[0].path) or info.quant
    if item.alias is None:  # no registry entry speaks for it: the GGUF's own template says whether it thinks
        item.reasoning = bool(info.thinks)
    return item


PENDING = MANIFEST + ".pending"


def commit(item: Installed, staged: list[Path]) -> Installed:
    """Move verified files from the staging area into the model's folder, then install its manifest.

    The manifest is written first, as `manifest.json.pending`: a full disk fails there, before any file
    moves, and the verified parts stay where the next pull re-checks them without a download. Moving and
    renaming need no space. If the process dies after the files moved, the pending manifest is the record
    that they were verified: `finish_commit` completes the install on the next pull.
    """
    folder = model_folder(item.name)
    paths.ensure(folder)
    item.folder = folder
    describe(item, [Path(p) for p in staged])
    pending = folder / PENDING
    try:
        _write_atomic(pending, json.dumps(item.to_json(), indent=2))
    except OSError as err:
        pending.with_name(pending.name + ".tmp").unlink(missing_ok=True)
        if err.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            raise DiskFull(f"disk full while installing {item.name}: free a few MB and run the same command; "
                           "the downloaded files are kept and will not be fetched again") from None
        raise
    with contextlib.suppress(FileNotFoundError):
        (folder / MANIFEST).unlink()  # replacing a model: it is not installed until the new manifest lands
    for source, entry in zip(staged, item.files):
        target = folder / entry.path
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, target)
    os.replace(pending, folder / MANIFEST)
    _fsync_folder(folder)
    _drop_legacy_copy(item.name, folder)
    return item


def _drop_legacy_copy(name: str, folder: Path) -> None:
    """A re-pull of a model an older version installed: its old folder must not list it twice."""
    legacy = paths.models_dir() / _legacy_slug(name)
    old = _read_manifest(legacy) if legacy != folder else None
    if old is not None and old.name == name:
        with contextlib.suppress(FileNotFoundError):
            (legacy / MANIFEST).unlink()
        shutil.rmtree(legacy, ignore_errors=True)


def finish_commit(name: str) -> Installed | None:
    """Complete an install a crash interrupted after its files moved in (see commit); None if there is none."""
    folder = model_folder(name)
    pending = folder / PENDING
    if not pending.is_file():
        return None
    item = _read_manifest(folder, PENDING)
    if item is None or item.name != name or item.problems():
        pending.unlink(missing_ok=True)  # not every file made it: the pull fetches what is missing
        return None
    os.replace(pending, folder / MANIFEST)
    _fsync_folder(folder)
    return item


def leftovers(name: str) -> list[Path]:
    """What a model name still holds on disk without being installed: a partial pull, a half-made folder."""
    found = [folder for folder in {staging_folder(name), model_folder(name),
                                   paths.models_dir() / _legacy_slug(name)} if folder.is_dir()]
    return [f for f in found if f.parent == paths.partial_dir() or _read_manifest(f) is None]


def remove(item: Installed) -> int:
    """Delete an installed model (never the user's own files of an import); returns bytes freed.

    A hard-linked import's file is another name for the user's own: unlinking ours frees nothing while
    theirs remains, so only files with no other link count as freed.
    """
    freed = 0
    folder = item.folder or model_folder(item.name)
    with contextlib.suppress(FileNotFoundError):
        (folder / MANIFEST).unlink()  # first: a crash mid-way leaves no half-listed model
    for path in item.file_paths():
        with contextlib.suppress(OSError):
            if path.is_relative_to(folder) and (info := path.stat()).st_nlink <= 1:
                freed += info.st_size
    shutil.rmtree(folder, ignore_errors=True)
    return freed


def import_note(item: Installed) -> str:
    """What `rm` of this model does to the user's own file, said before it is removed ("" for downloads)."""
    if item.source != "import":
        return ""
    kept_as = (item.origin or {}).get("kept_as", "path")
    original = (item.origin or {}).get("path")
    if kept_as == "link":
        try:
            linked = item.path.stat().st_nlink > 1
        except OSError:
            linked = False
        if not linked:
            return " (deskseek held the last link to this file: the original was already gone)"
        return f" (your imported file was left in place at {original}; only deskseek's hard link to it was removed)"
    if kept_as == "copy":
        return f" (deskseek's copy; your original at {original} was left in place)"
    if original and not Path(original).exists():
        return f" (its file {original} was already gone)"
    return " (your imported file was left in place)"


@contextlib.contextmanager
def lock(name: str, doing: str = "pull"):
    """Hold the per-model lock (a pull, an rm); a second process is told at once rather than left waiting.

    The OS releases the lock when its holder dies, even by kill -9, so a crash never wedges a model. The
    holder removes the lock file when done (else `partial/` gathers one per name ever used); a process that
    locked a file just removed that way sees it is no longer the one at that path and takes the new one.
    """
    lock_path = paths.ensure(paths.partial_dir()) / f"{slug(name)}.lock"
    for _ in range(5):
        guard = filelock.FileLock(lock_path, timeout=0)
        try:
            guard.acquire()
        except filelock.Timeout:
            if doing == "rm":
                raise Busy(f"a pull of {name} is running; stop it first, then remove") from None
            raise Busy(f"another deskseek is already pulling {name}; wait for it or stop it first") from None
        if _holds(guard, lock_path) is not False:
            break
        guard.release()
    else:  # five lock files removed under us in a row: someone else is busy with this name
        raise Busy(f"another deskseek is working on {name}; try again in a moment")
    try:
        yield
    finally:
        if _holds(guard, lock_path):
            with contextlib.suppress(OSError):  # Windows keeps an open file: it stays, harmlessly
                lock_path.unlink()
        guard.release()


def _holds(guard: filelock.FileLock, path: Path) -> bool | None:
    """Whether the locked file is still the one at `path` (None: filelock does not say which file it holds)."""
    fd = getattr(getattr(guard, "_context", None), "lock_file_fd", None)
    if fd is None:
        return None
    try:
        held, there = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (held.st_dev, held.st_ino) == (there.st_dev, there.st_ino)
