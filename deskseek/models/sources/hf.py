"""Pulling from the Hugging Face Hub: one listing for sizes and LFS hashes, then HTTP Range GETs that resume.

Requests go through huggingface_hub's own session (proxies, HF_ENDPOINT mirrors, HF_TOKEN), and every
error it raises is turned into one line a user can act on.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from pathlib import Path

from deskseek import paths
from deskseek.errors import CorruptDownload, DeskseekError, NetworkError, NotFound
from deskseek.models import gguf_names, registry, store
from deskseek.models.download import (
    Counter,
    OnEvent,
    RemoteFile,
    Retrying,
    Started,
    check_space,
    hash_existing,
    part_path,
    raise_if_disk_full,
    size_of,
    spec_facts,
    verify,
)
from deskseek.models.registry import HfSource, Ref

MAX_ATTEMPTS_WITHOUT_PROGRESS = 6
FIRST_BACKOFF_S = 0.5


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


def pull_hf(ref: Ref, source: HfSource, quant: registry.Quant | None, emit: OnEvent) -> store.Installed:
    commit, listing = _list_files(source.repo)
    files = _choose(ref, source, listing)
    pinned = quant.sha256 if quant else None
    staging = paths.ensure(store.staging_folder(ref.name))
    check_space(staging, files)
    already = sum(min(size_of(part_path(staging, f)), f.size) for f in files)
    total = sum(f.size for f in files)
    emit(Started(ref.name, f"{endpoint()}/{source.repo}", total, already))
    counter = Counter(total, already, emit)
    staged = []
    for index, remote in enumerate(files):
        expected = [remote.sha256] + ([pinned] if pinned and index == 0 else [])
        url = _file_url(source.repo, remote.path, commit)
        staged.append(_download(url, source.repo, remote, part_path(staging, remote), expected, counter, emit))
    item = store.Installed(
        name=ref.name,
        files=[store.InstalledFile(path=f.path.rsplit("/", 1)[-1], size=f.size, sha256=f.sha256) for f in files],
        quant=ref.quant or gguf_names.quant_of(files[0].path),
        repo=source.repo,
        revision=commit,
        source="hf",
        **spec_facts(ref),
    )
    installed = store.commit(item, staged)
    shutil.rmtree(staging, ignore_errors=True)
    return installed


def _file_url(repo: str, path: str, commit: str) -> str:
    from huggingface_hub import hf_hub_url

    return hf_hub_url(repo, path, revision=commit, endpoint=endpoint())


def _timeout() -> float:
    """HF_HUB_DOWNLOAD_TIMEOUT, the Hub client's own knob, read at call time; seconds without a byte."""
    try:
        return float(os.environ.get("HF_HUB_DOWNLOAD_TIMEOUT", "10"))
    except ValueError:
        return 10.0


def _download(url, repo, remote: RemoteFile, part: Path, expected, counter: Counter, emit) -> Path:
    """Fetch one file into `part`, resuming with HTTP Range and retrying dropped connections."""
    get_session = _hub().get_session
    from huggingface_hub.utils import build_hf_headers, hf_raise_for_status

    if size_of(part) > remote.size:
        counter.rewind(size_of(part) - remote.size)
        part.unlink()
    hasher = hash_existing(part, emit)
    offset = size_of(part)
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
        except (_Transient, NetworkError) as err:  # _hub_errors made transport errors NetworkError
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
            raise_if_disk_full(err, part)
            raise
    if offset > remote.size:
        part.unlink()
        raise CorruptDownload(f"{remote.path}: the server sent more bytes than the file has; deleted, run again")
    verify(hasher.hexdigest(), expected, remote, part)
    return part


class _Transient(Exception):
    """A failure worth retrying from the current offset: 5xx, 429, or a connection that ended early."""


def _transient_network(err: NetworkError) -> bool:
    return "cannot reach" in str(err) or "HTTP 5" in str(err)
