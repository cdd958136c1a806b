"""`import` by reference: a hard link, a path, or a copy, of real GGUFs in real folders (and another filesystem)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from deskseek import paths
from deskseek.errors import DeskseekError, DiskFull, NotFound
from deskseek.models import imports, store
from tests.conftest import REPO_ROOT
from tests.engines.test_local import starter_path  # noqa: F401  (session fixture)
from tests.fixtures.app_stores import apps, sha256_of, tiny_models  # noqa: F401


@pytest.fixture
def other_filesystem(tmp_path):
    """A folder on another filesystem than the data root (tmpfs at /dev/shm), where no hard link can reach."""
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("no second filesystem to import from")
    folder = Path(tempfile.mkdtemp(dir=shm, prefix="deskseek-test-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_a_path_is_hard_linked_and_survives_its_original(tiny_models, tmp_path):  # noqa: F811
    mine = tmp_path / "R1-Distill-Q4_K_M.gguf"
    shutil.copyfile(tiny_models.r1, mine)
    item = imports.import_model(str(mine))
    assert item.name == "R1-Distill-Q4_K_M" and item.path.parent == store.model_folder(item.name)
    assert os.path.samefile(item.path, mine) and item.origin == {"name": None, "path": str(mine), "kept_as": "link"}
    assert item.reasoning is True and item.quant == "Q4_K_M" and item.architecture == "llama"
    note = store.import_note(item)
    assert note == f" (your imported file was left in place at {mine}; only deskseek's hard link to it was removed)"
    mine.unlink()  # the user (or the other app) deletes theirs: deskseek's link keeps the model whole
    [listed] = store.installed()
    assert listed.problems() == [] and store.import_note(listed).startswith(" (deskseek held the last link")
    assert store.remove(listed) == tiny_models.r1.stat().st_size


def test_removing_a_linked_import_frees_nothing_and_keeps_the_original(tiny_models, tmp_path):  # noqa: F811
    mine = tmp_path / "m.gguf"
    shutil.copyfile(tiny_models.r1, mine)
    item = imports.import_model(mine, "m")
    assert store.remove(item) == 0 and mine.read_bytes() == tiny_models.r1.read_bytes()
    assert store.installed() == [] and not store.model_folder("m").exists()


def test_another_filesystem_is_referenced_by_path(tiny_models, other_filesystem):  # noqa: F811
    mine = other_filesystem / "far.gguf"
    shutil.copyfile(tiny_models.plain, mine)
    item = imports.import_model(mine, "far")
    assert item.path == mine and item.origin["kept_as"] == "path" and item.reasoning is False
    assert not any(p.suffix == ".gguf" for p in store.model_folder("far").iterdir())
    assert store.import_note(item) == " (your imported file was left in place)"
    assert store.remove(item) == 0 and mine.exists()


def test_copy_is_verified_against_the_name_it_came_by(apps, tiny_models):  # noqa: F811
    blob = apps.ollama("deepseek-r1", "7b", tiny_models.r1)
    item = imports.import_model("ollama:deepseek-r1:7b", "r1", copy=True)
    assert item.path == store.model_folder("r1") / "model.gguf" and not os.path.samefile(item.path, blob)
    assert item.files[0].sha256 == sha256_of(tiny_models.r1) and item.quant == "F16" and item.reasoning is True
    assert item.origin == {"name": "ollama:deepseek-r1:7b", "path": str(blob), "kept_as": "copy"}
    assert [p for p in paths.partial_dir().iterdir() if p.suffix != ".lock"] == []  # no staging left
    blob.unlink()
    assert store.installed()[0].problems() == []


def test_a_found_model_imports_under_its_own_name_by_default(apps, tiny_models):  # noqa: F811
    apps.ollama("deepseek-r1", "7b", tiny_models.r1)
    item = imports.import_model("ollama:deepseek-r1:7b")
    assert item.name == "deepseek-r1:7b" and item.origin["kept_as"] == "link" and item.reasoning is True
    with pytest.raises(DeskseekError, match="a model named 'deepseek-r1:7b' is already installed"):
        imports.import_model("ollama:deepseek-r1:7b")
    with pytest.raises(DeskseekError, match="'ollama:r1' names a model in another app; choose a name without ollama:"):
        imports.import_model("ollama:deepseek-r1:7b", "ollama:r1")


def test_split_sets_stay_sets(apps, tiny_models, tmp_path):  # noqa: F811
    folder = apps.lmstudio("p", "r", {part.name: part for part in tiny_models.split})
    item = imports.import_model("lmstudio:p/r/r1-split")
    assert item.name == "r1-split" and [f.path for f in item.files] == [p.name for p in tiny_models.split]
    assert all(os.path.samefile(mine, folder / p.name) for mine, p in zip(item.file_paths(), tiny_models.split))
    (folder / tiny_models.split[1].name).unlink()
    with pytest.raises(DeskseekError, match=r"lmstudio:p/r/r1-split-00001-of-00002 cannot be imported: missing 1 of 2"):
        imports.import_model("lmstudio:p/r/r1-split", "again")
    with pytest.raises(NotFound, match="split GGUF is incomplete: .*r1-split-00002-of-00002.gguf is missing"):
        imports.import_model(folder / tiny_models.split[0].name, "again")


def test_bad_files_are_refused_and_nothing_is_registered(starter_path, tmp_path):  # noqa: F811
    from tests.fixtures import gguf_writers

    cut = gguf_writers.truncated(starter_path, tmp_path / "cut.gguf", 60_000_000)
    with pytest.raises(DeskseekError, match="truncated: tensor data ends at"):
        imports.import_model(cut, "cut")
    assert store.installed() == [] and not store.model_folder("cut").exists()


def test_a_copy_that_cannot_fit_is_refused_before_a_byte(tiny_models, tmp_path):  # noqa: F811
    huge = tmp_path / "huge.gguf"
    shutil.copyfile(tiny_models.r1, huge)
    paths.ensure(paths.partial_dir())
    os.truncate(huge, shutil.disk_usage(paths.partial_dir()).free + (1 << 30))  # sparse, bigger than the disk
    with pytest.raises(DiskFull, match=r"copying needs .* free in .*; import without --copy links it instead"):
        imports.import_model(huge, "huge", copy=True)
    assert store.installed() == [] and [p for p in paths.partial_dir().iterdir() if p.suffix != ".lock"] == []


def test_an_interrupted_copy_leaves_nothing(tiny_models, tmp_path, home):  # noqa: F811
    big = tmp_path / "big.gguf"
    shutil.copyfile(tiny_models.r1, big)
    os.truncate(big, 400 << 20)  # copying takes long enough to be interrupted
    process = subprocess.Popen([sys.executable, "-m", "deskseek.cli", "import", str(big), "--copy"],
                               cwd=REPO_ROOT, env=os.environ.copy(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    staging = store.staging_folder("big") / "import" / "big.gguf.part"
    deadline = time.monotonic() + 60
    while not (staging.exists() and staging.stat().st_size > 0) and time.monotonic() < deadline:
        time.sleep(0.005)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert store.installed() == [] and not store.model_folder("big").exists()
    assert not store.staging_folder("big").exists()


def test_a_copy_that_does_not_match_its_hash_is_not_kept(apps, tiny_models):  # noqa: F811
    blob = apps.ollama("r1", "1b", tiny_models.r1)
    data = bytearray(blob.read_bytes())
    data[-1] ^= 0xFF  # rot in the tensor data: the header still reads, the bytes no longer match the name
    blob.write_bytes(bytes(data))
    with pytest.raises(DeskseekError, match=r"does not hash to the sha256 it is stored under; nothing was kept"):
        imports.import_model("ollama:r1:1b", "r1", copy=True)
    assert store.installed() == [] and not store.staging_folder("r1").exists()


def test_an_import_whose_file_went_away_says_to_import_it_again(tiny_models, other_filesystem, capsys):  # noqa: F811
    from deskseek.cli.main import main

    theirs = other_filesystem / "R1-Q8_0.gguf"
    shutil.copyfile(tiny_models.r1, theirs)
    item = imports.import_model(str(theirs), "kept-by-path")
    assert item.origin["kept_as"] == "path"
    theirs.unlink()
    assert main(["run", "-m", "kept-by-path", "hi"]) == 3
    err = capsys.readouterr().err
    assert "is damaged" in err and "then import it again" in err and "pull" not in err
    assert main(["rm", "kept-by-path"]) == 0
    assert f"its file {theirs} was already gone" in capsys.readouterr().out


def test_a_split_set_named_by_hashes_keeps_one_file_per_part(apps, tiny_models):  # noqa: F811
    """Parts reached as hash-named blobs (an HF cache resolved to its blobs) must not all become model.gguf."""
    from deskseek.models import found

    apps.hf_cache("o/r", {f"Q8/{part.name}": part for part in tiny_models.split})
    model = found.get("hf:o/r/Q8/r1-split")
    blobs = [Path(os.path.realpath(f)) for f in model.files]
    names = [imports._local_name(blob, blobs) for blob in blobs]
    assert names == ["model-00001-of-00002.gguf", "model-00002-of-00002.gguf"]
    item = imports.import_model("hf:o/r/Q8/r1-split", "split-copy", copy=True)
    assert [p.read_bytes() for p in item.file_paths()] == [p.read_bytes() for p in tiny_models.split]
