"""Pulling from the Hugging Face Hub: one listing for sizes and LFS hashes, then HTTP Range GETs that resume.

Requests go through huggingface_hub's own session (proxies, HF_ENDPOINT mirrors, HF_TOKEN), and every
error it raises is turned into one line a user can act on.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from deskseek import paths
from deskseek.errors import CorruptDownload, DeskseekError, NetworkError, NotFound
from deskseek.models import gguf_names, registry, resume, store
from deskseek.models.download import (
    Counter,
    Digest,
    Note,
    OnEvent,
    RemoteFile,
    Retrying,
    Started,
    check_space,
    hash_existing,
    part_path,
    raise_if_disk_full,
    reuse_local_copy,
    size_of,
    spec_facts,
)
from deskseek.models.registry import HfSource, Ref
from deskseek.units import human_bytes

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


def out_of_reach(timeout: float = 3.0) -> str | None:
    """Why the Hub cannot be reached from here, in a few words; None when it answers.

    For the first-run screen, which downloads from it: better said before the user picks an R1 model than
    after. Any HTTP answer counts as reachable (a mirror may refuse a bare HEAD); only no answer does not.
    """
    from huggingface_hub import constants

    constants.HF_HUB_OFFLINE = False  # asked by a face that is about to download, on the user's behalf
    host = endpoint().split("://", 1)[-1]
    try:
        _hub().get_session().head(endpoint(), timeout=timeout, follow_redirects=False)
    except Exception as err:  # noqa: BLE001 (whatever the client raises, the answer is the same: not reachable)
        words = str(err).split("\n")[0][:120] or type(err).__name__
        return f"{host} cannot be reached ({words})"
    return None


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
                raise RevisionGone(f"{repo}: revision not found") from None
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


class RevisionGone(NotFound):
    """The commit asked for is not on the Hub (any more)."""


def _reason(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[-1] if text else type(err).__name__


def _list_files(repo: str, revision: str | None, emit: OnEvent) -> tuple[str, dict[str, RemoteFile]]:
    """The repo's commit and its files with sizes and hashes (LFS sha256, else git blob id), in one request.

    Retried like a download when the Hub answers 5xx/429 or a connection drops; a refused connection or an
    unknown host fails at once (an offline user should not wait half a minute to be told).
    """
    hub = _hub()
    failures = 0
    while True:
        try:
            with _hub_errors(repo, "file list"):
                info = hub.HfApi(endpoint=endpoint(), token=_token()).model_info(
                    repo, revision=revision, files_metadata=True, timeout=_timeout())
            break
        except NetworkError as err:
            if not _transient_listing(err):
                raise
            failures += 1
            if failures >= MAX_ATTEMPTS_WITHOUT_PROGRESS:
                raise NetworkError(f"{repo}: the file list keeps failing ({_reason(err)}); try again later") from None
            delay = min(FIRST_BACKOFF_S * 2 ** (failures - 1), 8.0)
            emit(Retrying("file list", _reason(err), delay))
            time.sleep(delay)
    files = {}
    for sibling in info.siblings or []:
        lfs = sibling.lfs
        git = None if lfs else getattr(sibling, "blob_id", None)
        files[sibling.rfilename] = RemoteFile(sibling.rfilename, sibling.size or 0, lfs.sha256 if lfs else None, git)
    return info.sha, files


def _transient_listing(err: NetworkError) -> bool:
    text = str(err)
    return "HTTP 5" in text or "HTTP 429" in text or any(
        word in text.lower() for word in ("timed out", "timeout", "reset", "closed", "disconnected"))


def _choose(ref: Ref, source: HfSource, listing: dict[str, RemoteFile]) -> list[RemoteFile]:
    """The files that make up the model: one GGUF, or every part of a split set."""
    if ref.kind == "hf-repo":
        models = sorted(p for p in listing if gguf_names.is_model_file(p))
        candidates = [p for p in models if gguf_names.quant_of(p) == ref.quant.upper()]
        if not candidates:
            offered = sorted({q for p in models if (q := gguf_names.quant_of(p))})
            if not models:
                raise NotFound(f"{source.repo} has no GGUF files")
            if not offered:  # names that say no quantization: the user picks the file (Ollama errors here too)
                raise NotFound(f"{source.repo} has no {ref.quant} GGUF, and its GGUF names give no quantization; "
                               f"pull one by its path: `deskseek pull {source.repo}/{models[0]}`")
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


def _listing_for(ref: Ref, source: HfSource, staging: Path, emit: OnEvent) -> tuple[str, dict[str, RemoteFile]]:
    """List at the commit an interrupted pull started from (resume.py says why), else at the newest one."""
    pin = resume.read(staging)
    if pin is None or pin.repo != source.repo or not resume.kept_bytes(staging):
        return _list_files(source.repo, None, emit)  # nothing kept: nothing to stay consistent with
    try:
        return _list_files(source.repo, pin.revision, emit)
    except RevisionGone:
        kept = human_bytes(resume.kept_bytes(staging))
        raise NotFound(
            f"the commit this download started from ({pin.revision[:12]}) is no longer on the Hub; "
            f"`deskseek pull {ref.name} --restart` deletes the {kept} kept and starts over at the newest commit"
        ) from None


def pull_hf(ref: Ref, source: HfSource, quant: registry.Quant | None, emit: OnEvent, *,
            insecure: bool = False) -> store.Installed:
    staging = paths.ensure(store.staging_folder(ref.name))
    commit, listing = _listing_for(ref, source, staging, emit)
    files = _choose(ref, source, listing)
    pinned = quant.sha256 if quant else None
    unverifiable = [f for i, f in enumerate(files) if not f.verifiable and not (pinned and i == 0)]
    if unverifiable and not insecure:
        raise CorruptDownload(
            f"{source.repo}/{unverifiable[0].path}: the Hub lists no hash for this file, so its bytes cannot be "
            f"verified; `deskseek pull {ref.name} --insecure` installs it on its size alone"
        )
    check_space(staging, files)
    resume.write(staging, resume.Pin(source.repo, commit))  # from the first byte kept, a resume stays on it
    already = sum(min(size_of(part_path(staging, f)), f.size) for f in files)
    total = sum(f.size for f in files)
    emit(Started(ref.name, f"{endpoint()}/{source.repo}", total, already))
    for remote in unverifiable:
        emit(Note(f"{remote.path} has no hash to check against: installed on its size alone (--insecure)"))
    counter = Counter(total, already, emit)
    staged, hashes = [], []
    for index, remote in enumerate(files):
        url = _file_url(source.repo, remote.path, commit)
        part = part_path(staging, remote)
        pin = pinned if index == 0 else None
        reused = reuse_local_copy(remote, part, pin, counter, emit)
        hashes.append(reused or _download(url, source.repo, remote, part, pin, counter, emit))
        staged.append(part)
    item = store.Installed(
        name=ref.name,
        files=[store.InstalledFile(path=f.path.rsplit("/", 1)[-1], size=f.size, sha256=sha)
               for f, sha in zip(files, hashes)],
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


def _download(url, repo, remote: RemoteFile, part: Path, pinned: str | None, counter: Counter, emit) -> str:
    """Fetch one file into `part`, resuming with HTTP Range and retrying dropped connections; its sha256."""
    get_session = _hub().get_session
    from huggingface_hub.utils import build_hf_headers, hf_raise_for_status

    if size_of(part) > remote.size:  # not this file's bytes: counted as `remote.size` already, now none
        counter.rewind(remote.size)
        part.unlink()
    hasher = hash_existing(part, emit, remote)
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
                        hasher, offset = Digest(remote), 0
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
    return hasher.check(remote, pinned, part)


class _Transient(Exception):
    """A failure worth retrying from the current offset: 5xx, 429, or a connection that ended early."""


def _transient_network(err: NetworkError) -> bool:
    return "cannot reach" in str(err) or "HTTP 5" in str(err)
