"""Pulls that cannot go wrong: unverifiable files, commits that move, full disks at the last step, rm during a pull,
names that collide or make no sense. Each against the real Hub test server and real files."""

from __future__ import annotations

import hashlib
import os
import signal

import pytest

from deskseek.cli.main import main
from deskseek.errors import CorruptDownload, DiskFull, NetworkError, NotFound
from deskseek.models import download, pull, store
from deskseek.models.sources import hf
from tests.conftest import gguf_bytes, write_registry
from tests.engines.test_local import starter_path  # noqa: F401  (session fixture)
from tests.fixtures.hub_server import LISTING
from tests.models.test_pull import MB, Q4, REPO, deskseek, events, registry_entry, wait_for_part


@pytest.fixture
def tiny(hub, home):
    blob = gguf_bytes(3 * MB, seed=1)
    hub.add_file(REPO, Q4, blob)
    write_registry(home, registry_entry())
    return blob


def cut_after(hub, monkeypatch, at: int) -> None:
    """The next pull stops with `at` bytes kept (one attempt, then the error a dropped line gives)."""
    monkeypatch.setattr(hf, "MAX_ATTEMPTS_WITHOUT_PROGRESS", 1)
    hub.fault(REPO, Q4, "cut", after=at)
    hub.fault(REPO, Q4, "status500")
    with pytest.raises(NetworkError):
        pull.pull("tiny")
    monkeypatch.setattr(hf, "MAX_ATTEMPTS_WITHOUT_PROGRESS", 6)


# --- what is verified -------------------------------------------------------------------------------------


def test_plain_git_file_is_verified_by_its_blob_id(hub, home):
    blob = gguf_bytes(MB, seed=3)
    hub.add_file("acme/Plain", "plain-Q8_0.gguf", blob, lfs=False)
    item, _ = pull.pull("hf.co/acme/Plain:Q8_0")
    assert item.path.read_bytes() == blob and item.files[0].sha256 == hashlib.sha256(blob).hexdigest()


def test_plain_git_file_with_wrong_bytes_is_refused(hub, home):
    hub.add_file("acme/Plain", "plain-Q8_0.gguf", gguf_bytes(MB, seed=3), lfs=False)
    hub.fault("acme/Plain", "plain-Q8_0.gguf", "corrupt", after=1000)
    with pytest.raises(CorruptDownload, match="corrupt"):
        pull.pull("hf.co/acme/Plain:Q8_0")
    assert store.installed() == []


def test_file_with_no_hash_at_all_needs_insecure(hub, home):
    blob = gguf_bytes(MB, seed=4)
    hub.add_file("acme/Mirror", "m-Q8_0.gguf", blob, lfs=False, listed_hash=False)
    with pytest.raises(CorruptDownload, match=r"lists no hash .* `deskseek pull hf.co/acme/Mirror:Q8_0 --insecure`"):
        pull.pull("hf.co/acme/Mirror:Q8_0")
    assert hub.bytes_sent("acme/Mirror", "m-Q8_0.gguf") == 0 and store.installed() == []
    seen, on_event = events()
    item, _ = pull.pull("hf.co/acme/Mirror:Q8_0", on_event=on_event, insecure=True)
    assert item.path.read_bytes() == blob
    assert any(isinstance(e, download.Note) and "size alone" in e.message for e in seen)


# --- the commit a resume follows --------------------------------------------------------------------------


def test_resume_stays_on_the_commit_it_started_from(tiny, hub, monkeypatch):
    cut_after(hub, monkeypatch, MB)
    hub.add_file(REPO, Q4, gguf_bytes(3 * MB, seed=99))  # a re-upload between the cut and the resume
    hub.reset_log()
    item, _ = pull.pull("tiny")
    assert item.path.read_bytes() == tiny  # the bytes of the commit it started from, whole
    assert hub.bytes_sent(REPO, Q4) == 2 * MB  # and only the rest of them was fetched


def test_a_commit_gone_from_the_hub_keeps_the_bytes_until_the_user_says(tiny, hub, monkeypatch):
    cut_after(hub, monkeypatch, MB)
    newer = gguf_bytes(3 * MB, seed=99)
    hub.add_file(REPO, Q4, newer)
    hub.remove_revision_history(REPO)  # a force-push: the old commit no longer resolves
    with pytest.raises(NotFound, match=r"no longer on the Hub; `deskseek pull tiny:Q4_K_M --restart` deletes the 1\.05 MB"):
        pull.pull("tiny")
    assert download.size_of(next(store.staging_folder("tiny:Q4_K_M").glob("*.part"))) == MB
    item, _ = pull.pull("tiny", restart=True)
    assert item.path.read_bytes() == newer


def test_file_list_errors_are_retried(tiny, hub):
    hub.fault(REPO, LISTING, "status500", times=2)
    seen, on_event = events()
    item, _ = pull.pull("tiny", on_event=on_event)
    assert item.path.read_bytes() == tiny
    assert [e.file for e in seen if isinstance(e, download.Retrying)] == ["file list", "file list"]


def test_a_part_longer_than_the_file_restarts_with_sane_progress(tiny, hub):
    staging = store.staging_folder("tiny:Q4_K_M")
    staging.mkdir(parents=True)
    (staging / (Q4 + ".part")).write_bytes(b"x" * (5 * MB))  # left by another file of that name, longer
    seen, on_event = events()
    item, _ = pull.pull("tiny", on_event=on_event)
    assert item.path.read_bytes() == tiny
    progress = [e for e in seen if isinstance(e, download.Progress)]
    assert all(0 <= e.done <= e.total for e in progress) and progress[-1].done == 3 * MB


# --- the last step ----------------------------------------------------------------------------------------


def test_disk_full_at_the_manifest_keeps_the_verified_files_for_the_next_pull(tiny, hub):
    folder = store.model_folder("tiny:Q4_K_M")
    folder.mkdir(parents=True)
    full = folder / (store.PENDING + ".tmp")
    full.symlink_to("/dev/full")  # the kernel answers ENOSPC to every write of the manifest, as a full disk does
    with pytest.raises(DiskFull, match="disk full while installing tiny:Q4_K_M"):
        pull.pull("tiny")
    assert store.installed() == [] and not (folder / Q4).exists()  # nothing moved
    full.unlink(missing_ok=True)  # commit cleans up its temporary name
    hub.reset_log()
    item, fetched = pull.pull("tiny")
    assert fetched and item.path.read_bytes() == tiny
    assert hub.bytes_sent(REPO, Q4) == 0  # the kept parts were re-checked, not fetched again


def test_a_crash_after_the_files_moved_is_finished_by_the_next_pull(tiny, hub, monkeypatch):
    item, _ = pull.pull("tiny")
    os.replace(item.folder / store.MANIFEST, item.folder / store.PENDING)  # where a crash between the two leaves it
    assert store.get("tiny:Q4_K_M") is None
    hub.reset_log()
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # finishing needs no network
    again, fetched = pull.pull("tiny")
    assert not fetched and again.path.read_bytes() == tiny and hub.requests == []


# --- rm ---------------------------------------------------------------------------------------------------


def test_rm_during_a_pull_says_so_and_the_pull_finishes(tiny, hub, capsys):
    hub.fault(REPO, Q4, "slow", delay=0.05)
    running = deskseek("pull", "tiny")
    try:
        wait_for_part("tiny:Q4_K_M", 1)
        assert main(["rm", "tiny:Q4_K_M"]) != 0
        assert "a pull of tiny:Q4_K_M is running; stop it first" in capsys.readouterr().err
    finally:
        out, err = running.communicate(timeout=60)
    assert running.returncode == 0, err
    assert store.get("tiny:Q4_K_M").path.read_bytes() == tiny


def test_rm_alias_finds_what_pull_alias_left(tiny, hub, monkeypatch, capsys):
    cut_after(hub, monkeypatch, MB)
    assert main(["rm", "tiny"]) == 0
    assert "removed the unfinished download of tiny:Q4_K_M, freed 1.05 MB" in capsys.readouterr().out
    assert not store.staging_folder("tiny:Q4_K_M").exists()


def test_rm_removes_files_a_failed_install_left(tiny, hub, capsys):
    item, _ = pull.pull("tiny")
    os.replace(item.folder / store.MANIFEST, item.folder / store.PENDING)
    assert main(["rm", "tiny:Q4_K_M"]) == 0
    assert "removed the unfinished download" in capsys.readouterr().out and not item.folder.exists()


def test_rm_wants_the_full_name_not_a_prefix(tiny, hub, capsys):
    pull.pull("tiny")
    assert main(["rm", "tin"]) != 0
    assert "did you mean tiny:Q4_K_M?" in capsys.readouterr().err
    assert store.get("tiny:Q4_K_M") is not None
    assert main(["rm", "tiny"]) == 0 and store.installed() == []  # the alias is a name


# --- names ------------------------------------------------------------------------------------------------


def test_names_that_differ_get_their_own_folders(hub, home):
    first, second = gguf_bytes(MB, seed=5), gguf_bytes(MB, seed=6)
    hub.add_file("test/uni", "é.gguf", first)
    hub.add_file("test/uni", "ü.gguf", second)
    a, _ = pull.pull("test/uni/é.gguf")
    b, _ = pull.pull("test/uni/ü.gguf")
    assert a.folder != b.folder and a.path.read_bytes() == first and b.path.read_bytes() == second
    assert len(store.installed()) == 2
    folders = {store.slug(n).lower() for n in ("모델", "モデル", "x:Q8_0", "x:q8_0", "CON", "aux.x")}
    assert len(folders) == 6  # distinct even on a case-insensitive disk
    assert all(not f.split(".")[0].upper() in {"CON", "AUX"} for f in folders)


def test_models_installed_by_older_versions_are_still_found(tiny, hub):
    item, _ = pull.pull("tiny")
    legacy = store.paths.models_dir() / "tiny--Q4_K_M"  # the folder name before names got a hash
    os.replace(item.folder, legacy)
    found = store.get("tiny:Q4_K_M")
    assert found is not None and found.path.read_bytes() == tiny
    hub.reset_log()
    assert pull.pull("tiny") == (found, False) and hub.requests == []


def test_quant_in_any_case_is_one_install(tiny, hub):
    first, _ = pull.pull(f"hf.co/{REPO}:q4_k_m")
    second, fetched = pull.pull(f"hf.co/{REPO}:Q4_K_M")
    assert first.name == second.name == f"hf.co/{REPO}:Q4_K_M" and not fetched


def test_a_repo_whose_ggufs_name_no_quantization_says_how_to_pull_one(hub, home):
    """It said "no GGUF files"; it has one, whose name gives no quantization: say how to pull it."""
    blob = gguf_bytes(MB, seed=8)
    hub.add_file("acme/OneFile", "model.gguf", blob)
    with pytest.raises(NotFound, match=r"GGUF names give no quantization; pull one by its path: "
                                       r"`deskseek pull acme/OneFile/model.gguf`"):
        pull.pull("hf.co/acme/OneFile")
    item, _ = pull.pull("acme/OneFile/model.gguf")
    assert item.path.read_bytes() == blob


@pytest.mark.parametrize("name", ["../../x.gguf", "hf.co/../../x.gguf", "test//r1/x.gguf", f"a/b/{'x' * 300}.gguf",
                                  "a/b/../x.gguf", "hf.co/a/b:Q4/../../x"])
def test_odd_names_are_one_line_and_leave_nothing(home, name, capsys):
    assert main(["pull", name]) == 2  # a user's mistake (usage), not the internal-error exit
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err
    partial = store.paths.partial_dir()
    assert not partial.exists() or not any(partial.iterdir())  # no lock, no folder


def test_pull_reuses_a_blob_another_app_has(tiny, hub, tmp_path, monkeypatch):
    """The Hugging Face cache names LFS blobs by their sha256: link it in, check it, download nothing."""
    sha = hashlib.sha256(tiny).hexdigest()
    cache = tmp_path / "hf-hub"
    blobs = cache / "models--acme--Tiny-R1-GGUF" / "blobs"
    blobs.mkdir(parents=True)
    (blobs / sha).write_bytes(tiny)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("DESKSEEK_OTHER_APPS", "hf")
    seen, on_event = events()
    item, fetched = pull.pull("tiny", on_event=on_event)
    assert fetched and item.path.read_bytes() == tiny and hub.bytes_sent(REPO, Q4) == 0
    assert any(isinstance(e, download.Note) and "nothing to download" in e.message for e in seen)
    assert not any(isinstance(e, download.Checking) for e in seen)  # not "kept from an earlier pull"
    assert os.path.samefile(item.path, blobs / sha)  # a link: no second copy on disk


def test_a_blob_whose_name_lies_is_downloaded_instead(tiny, hub, tmp_path, monkeypatch):
    sha = hashlib.sha256(tiny).hexdigest()
    blobs = tmp_path / "hf-hub" / "models--x--y" / "blobs"
    blobs.mkdir(parents=True)
    (blobs / sha).write_bytes(b"\0" * len(tiny))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-hub"))
    monkeypatch.setenv("DESKSEEK_OTHER_APPS", "hf")
    item, _ = pull.pull("tiny")
    assert item.path.read_bytes() == tiny and hub.bytes_sent(REPO, Q4) == 3 * MB
    assert (blobs / sha).read_bytes() == b"\0" * len(tiny)  # the other app's file is left as it was


def test_sigint_is_still_an_interruption(tiny, hub):
    hub.fault(REPO, Q4, "slow", delay=0.05)
    running = deskseek("pull", "tiny")
    wait_for_part("tiny:Q4_K_M", 1)
    running.send_signal(signal.SIGINT)
    out, err = running.communicate(timeout=30)
    assert running.returncode == 130 and "run the same command again" in err


# --- found by trying it as a user ---------------------------------------------------------------------------


def test_a_pull_that_kept_nothing_pins_nothing_and_leaves_nothing(hub, home):
    """Asking for a quant before the uploader publishes it must not tie the next pull to the old commit."""
    hub.add_file("acme/Later", "m-Q8_0.gguf", gguf_bytes(MB, seed=1))
    with pytest.raises(NotFound, match="no Q4_0 GGUF"):
        pull.pull("hf.co/acme/Later:Q4_0")
    assert not store.staging_folder("hf.co/acme/Later:Q4_0").exists()
    blob = gguf_bytes(MB, seed=2)
    hub.add_file("acme/Later", "m-Q4_0.gguf", blob)
    item, _ = pull.pull("hf.co/acme/Later:Q4_0")
    assert item.path.read_bytes() == blob


def test_the_starter_comes_from_this_machine_when_another_app_has_it(home, starter_path, tmp_path, monkeypatch):  # noqa: F811
    """The registry pins the starter's sha256; the HF cache names blobs by it: no pip, no network."""
    sha = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
    blobs = tmp_path / "hf-hub" / "models--QuantFactory--SmolLM2-135M-Instruct-GGUF" / "blobs"
    blobs.mkdir(parents=True)
    os.link(starter_path, blobs / sha)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-hub"))
    monkeypatch.setenv("DESKSEEK_OTHER_APPS", "hf")
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")  # were pip asked, it would fail
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    item, fetched = pull.pull("starter")
    assert fetched and item.files[0].sha256 == sha and os.path.samefile(item.path, blobs / sha)


def test_rm_alias_means_the_quant_pull_alias_installs(tiny, hub, capsys):
    hub.add_file(REPO, "Tiny-R1-Q8_0.gguf", gguf_bytes(4 * MB, seed=2))
    pull.pull("tiny:Q8_0")
    assert main(["rm", "tiny"]) == 3  # tiny is tiny:Q4_K_M, which is not installed
    assert "did you mean tiny:Q8_0?" in capsys.readouterr().err and store.get("tiny:Q8_0") is not None


def test_rm_of_a_name_nothing_has_creates_nothing(home, capsys):
    assert main(["rm", "zzz-nope"]) == 3
    assert "`deskseek list` shows their names" in capsys.readouterr().err
    partial = store.paths.partial_dir()
    assert not partial.exists() or not any(partial.iterdir())


def test_pull_and_rm_leave_partial_empty(tiny, hub, capsys):
    pull.pull("tiny")
    assert list(store.paths.partial_dir().iterdir()) == []  # no lock file per name ever pulled
    assert main(["rm", "tiny:Q4_K_M"]) == 0
    assert list(store.paths.partial_dir().iterdir()) == []


def test_a_full_disk_while_replacing_a_damaged_model_keeps_it_listed(tiny, hub):
    item, _ = pull.pull("tiny")
    with open(item.path, "r+b") as handle:
        handle.truncate(100)  # damaged: the next pull replaces it
    full = item.folder / (store.PENDING + ".tmp")
    full.symlink_to("/dev/full")
    with pytest.raises(DiskFull):
        pull.pull("tiny")
    assert [m.name for m in store.installed()] == ["tiny:Q4_K_M"]  # still listed (as damaged), not vanished
    full.unlink(missing_ok=True)
    again, _ = pull.pull("tiny")
    assert again.path.read_bytes() == tiny


def test_re_pulling_a_model_an_older_version_installed_lists_it_once(tiny, hub):
    item, _ = pull.pull("tiny")
    legacy = store.paths.models_dir() / "tiny--Q4_K_M"
    os.replace(item.folder, legacy)
    with open(legacy / Q4, "r+b") as handle:
        handle.truncate(100)  # damaged in its old folder: pull fetches it again into the new one
    again, fetched = pull.pull("tiny")
    assert fetched and [m.name for m in store.installed()] == ["tiny:Q4_K_M"] and not legacy.exists()
