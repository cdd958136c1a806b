"""Registering a GGUF the user already has, by reference: a hard link, a path, or (when asked) a copy.

`deskseek import` takes a path or another app's model name (`ollama:deepseek-r1:7b`) and installs it
under a short name without copying a byte: a hard link into the model's folder where the filesystem
allows (so the model survives the other app deleting its copy, and costs no space while both exist),
else the manifest points at the file where it is. `--copy` copies, after checking the space, into the
staging area first, so an interrupted copy leaves nothing behind. Split sets stay sets.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
from pathlib import Path

from deskseek import paths
from deskseek.errors import CorruptDownload, DeskseekError, DiskFull, NotFound, UsageError
from deskseek.models import found, gguf, gguf_names, registry, store
from deskseek.units import human_bytes

_CHUNK = 8 << 20
_ROOM = 64 << 20  # kept free beyond the copy itself


def import_model(what: str | Path, name: str | None = None, *, copy: bool = False) -> store.Installed:
    """Install `what` (a path to a .gguf, or a found model's name) under `name`; nothing of the original moves."""
    what = str(what)
    if found.app_of(what):
        model = found.get(what)
        if not model.ok:
            raise DeskseekError(f"{model.name} cannot be imported: {model.problem}")
        files, origin_name, default = [f.absolute() for f in model.files], model.name, found.short_name(model)
        sha256 = model.sha256 if len(model.files) == 1 else None
    else:
        files, origin_name, sha256 = _parts_of(Path(what)), None, None
        split = gguf_names.split_info(files[0].name)
        default = split[0] if split else re.sub(r"\.gguf$", "", files[0].name, flags=re.IGNORECASE)
    name = (default if name is None else name).strip()
    if not name:
        raise DeskseekError("the model needs a name; give one with --name")
    if found.app_of(name):  # `run --model ollama:x` must mean Ollama's model, never an import that shadows it
        raise UsageError(f"{name!r} names a model in another app; choose a name without {name.partition(':')[0]}:")
    _refuse_pullable_name(name)
    gguf.read_set(files)  # refuse what is not a whole GGUF before registering anything
    with store.lock(name):
        if any(item.name == name for item in store.installed()):
            raise DeskseekError(f"a model named {name!r} is already installed; choose another with --name")
        staging = store.staging_folder(name) / "import"
        shutil.rmtree(staging, ignore_errors=True)  # what a killed import left
        try:
            if copy:
                staged, kept_as = _copy(files, staging, sha256), "copy"
            else:
                staged = _link(files, staging)
                kept_as = "link" if staged else "path"
            entries = [
                store.InstalledFile(path=_local_name(f, files) if staged else str(f),
                                    size=os.stat(f).st_size, sha256=sha256 if kept_as == "copy" else None)
                for f in files
            ]
            item = store.Installed(name=name, files=entries, source="import", origin={
                "name": origin_name, "path": str(files[0]), "kept_as": kept_as})
            return store.commit(item, staged)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
            with contextlib.suppress(OSError):
                staging.parent.rmdir()  # the model's staging folder, when the import was all it held


def _refuse_pullable_name(name: str) -> None:
    """An import must not take a name `pull` gives: `pull r1-distill-qwen-7b` would then say "already installed"
    about a file that is not that model, and `run` would silently run it. (Ollama's `deepseek-r1:7b` is fine:
    no pull makes that name.)"""
    try:
        ref = registry.parse_ref(name, registry.load())
    except DeskseekError:
        return
    raise UsageError(f"{name!r} is what `deskseek pull {name}` would install as {ref.name}; "
                     "choose another with --name")


def _parts_of(path: Path) -> list[Path]:
    """Every part of the GGUF at `path` (the first part of a split set may be given), each checked present."""
    path = path.expanduser().absolute()
    if not path.is_file():
        raise NotFound(f"{path}: no such file")
    parts = [path.with_name(part) for part in gguf_names.split_parts(path.name)]
    missing = [str(p) for p in parts if not p.is_file()]
    if missing:
        raise NotFound(f"split GGUF is incomplete: {missing[0]} is missing")
    return parts


def _local_name(path: Path, files: list[Path]) -> str:
    """The file's name in deskseek's folder: its own, or, for blobs named by their hash, `model.gguf` (one file)
    or `model-0000I-of-0000N.gguf` (a split set: the names llama.cpp derives the other parts from)."""
    if path.name.lower().endswith(".gguf"):
        return path.name
    if len(files) == 1:
        return "model.gguf"
    return f"model-{files.index(path) + 1:05d}-of-{len(files):05d}.gguf"


def _link(files: list[Path], staging: Path) -> list[Path]:
    """Hard links to every part in `staging`, or none at all (another filesystem, or one without links)."""
    staging.mkdir(parents=True, exist_ok=True)
    made = []
    try:
        for path in files:
            target = staging / _local_name(path, files)
            os.link(path.resolve(), target)
            made.append(target)
    except OSError:
        for target in made:
            target.unlink(missing_ok=True)
        return []
    return made


def _copy(files: list[Path], staging: Path, sha256: str | None) -> list[Path]:
    """Copies of every part in `staging`, with room checked first; a known sha256 is checked on the way."""
    staging.mkdir(parents=True, exist_ok=True)
    need = sum(os.stat(f).st_size for f in files)
    free = shutil.disk_usage(staging).free
    if need + _ROOM > free:
        raise DiskFull(f"copying needs {human_bytes(need + _ROOM)} free in {paths.home()}, "
                       f"{human_bytes(free)} is; import without --copy links it instead")
    copies = []
    for path in files:
        target = staging / (_local_name(path, files) + ".part")
        digest = hashlib.sha256() if sha256 else None
        try:
            with open(path, "rb") as src, open(target, "wb") as dst:
                while chunk := src.read(_CHUNK):
                    dst.write(chunk)
                    if digest is not None:
                        digest.update(chunk)
                dst.flush()
                os.fsync(dst.fileno())
        except OSError as err:
            if err.errno == 28:  # ENOSPC: something else took the room meanwhile
                raise DiskFull(f"the disk filled while copying {path.name}; nothing was kept") from None
            raise DeskseekError(f"cannot copy {path}: {err.strerror or err}") from None
        if digest is not None and digest.hexdigest() != sha256:
            raise CorruptDownload(f"{path} does not hash to the sha256 it is stored under; nothing was kept")
        final = target.with_name(target.name.removesuffix(".part"))
        os.replace(target, final)
        copies.append(final)
    return copies
