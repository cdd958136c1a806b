"""Other apps' models, found in real folder layouts written the way Ollama, LM Studio, the HF cache and llama.cpp do.

Every test runs in a fake user home (the `apps` fixture sets HOME) and points deskseek at each store with the
variable the app itself reads (OLLAMA_MODELS, HF_HUB_CACHE / HF_HOME, LLAMA_CACHE), or at the app's default place.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time

import pytest

from deskseek.errors import DeskseekError, NotFound
from deskseek.models import found, store
from tests.fixtures.app_stores import OLLAMA_R1_TEMPLATE, apps, sha256_of, tiny_models  # noqa: F401


def names() -> set[str]:
    return {spot.name for spot in found.spots()}


def by_name() -> dict[str, found.Found]:
    return {model.name: model for model in found.scan()}


# -- Ollama ------------------------------------------------------------------------------------------------------


def test_ollama_models_carry_the_names_ollama_list_shows(apps, tiny_models):  # noqa: F811
    r1 = apps.ollama("deepseek-r1", "7b", tiny_models.r1)
    apps.ollama("deepseek-r1-abliterated", "8b", tiny_models.plain, namespace="huihui_ai")
    apps.ollama("DeepSeek-R1-Distill-Qwen-7B-GGUF", "Q4_K_M", tiny_models.bare, host="hf.co", namespace="bartowski")
    apps.ollama("smol", "latest", tiny_models.plain)
    assert names() == {"ollama:deepseek-r1:7b", "ollama:huihui_ai/deepseek-r1-abliterated:8b",
                       "ollama:hf.co/bartowski/DeepSeek-R1-Distill-Qwen-7B-GGUF:Q4_K_M", "ollama:smol:latest"}
    model = by_name()["ollama:deepseek-r1:7b"]
    assert model.ok and model.path == r1 and model.size == tiny_models.r1.stat().st_size
    assert (model.architecture, model.quant, model.reasoning) == ("llama", "F16", True)
    assert model.sha256 == sha256_of(tiny_models.r1) and r1.name == f"sha256-{model.sha256}"
    assert by_name()["ollama:huihui_ai/deepseek-r1-abliterated:8b"].reasoning is False
    assert by_name()["ollama:hf.co/bartowski/DeepSeek-R1-Distill-Qwen-7B-GGUF:Q4_K_M"].reasoning is None


def test_ollama_names_resolve_as_ollama_resolves_them(apps, tiny_models):  # noqa: F811
    apps.ollama("deepseek-r1", "7b", tiny_models.r1)
    apps.ollama("smol", "latest", tiny_models.plain)
    for typed in ("ollama:deepseek-r1:7b", "ollama:DeepSeek-R1:7B", "ollama:registry.ollama.ai/library/deepseek-r1:7b"):
        assert found.get(typed).name == "ollama:deepseek-r1:7b"
    assert found.get("ollama:smol").name == "ollama:smol:latest"
    with pytest.raises(NotFound) as caught:
        found.get("ollama:deepseek-r1:8b")
    assert str(caught.value) == "no model 'ollama:deepseek-r1:8b' in Ollama; did you mean ollama:deepseek-r1:7b?"


def test_ollama_template_says_it_thinks_when_the_gguf_has_no_template(apps, tiny_models):  # noqa: F811
    apps.ollama("r1-bare", "latest", tiny_models.bare, template=OLLAMA_R1_TEMPLATE)
    apps.ollama("bare", "latest", tiny_models.bare, template="{{ .Prompt }}")
    models = by_name()
    assert models["ollama:r1-bare:latest"].reasoning is True and models["ollama:bare:latest"].reasoning is False


def test_ollama_damage_is_listed_with_its_reason_never_raised(apps, tiny_models, tmp_path):  # noqa: F811
    gone = apps.ollama("gone", "1b", tiny_models.r1)
    apps.ollama("grown", "1b", tiny_models.plain)
    html = tmp_path / "page.gguf"
    html.write_text("<!DOCTYPE html><html>404</html>")
    apps.ollama("html", "1b", html)
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(tiny_models.bare.read_bytes()[:-100])
    apps.ollama("cut", "1b", cut)
    gone.unlink()
    grown = apps.ollama_root / "blobs" / f"sha256-{sha256_of(tiny_models.plain)}"
    with open(grown, "ab") as handle:
        handle.write(b"x")
    broken = apps.ollama_root / "manifests" / "registry.ollama.ai" / "library" / "broken" / "1b"
    broken.parent.mkdir(parents=True)
    broken.write_text("{not json")
    models = by_name()
    assert {name: m.state for name, m in models.items()} == {
        "ollama:gone:1b": "damaged", "ollama:grown:1b": "damaged", "ollama:html:1b": "damaged",
        "ollama:cut:1b": "damaged", "ollama:broken:1b": "damaged"}
    assert models["ollama:gone:1b"].problem == f"{gone} is missing"
    size = tiny_models.plain.stat().st_size
    assert models["ollama:grown:1b"].problem == f"{grown.name} is {size + 1} bytes, Ollama recorded {size}"
    assert models["ollama:html:1b"].problem == "not a GGUF file"
    assert models["ollama:cut:1b"].problem.startswith("truncated: tensor data ends at")
    assert models["ollama:broken:1b"].problem.startswith("its manifest cannot be read")


def test_ollama_manifests_without_a_model_layer_are_not_models(apps):  # noqa: F811
    manifest = apps.ollama_root / "manifests" / "registry.ollama.ai" / "library" / "embed-only" / "latest"
    manifest.parent.mkdir(parents=True)
    manifest.write_text(json.dumps({"layers": [{"mediaType": "application/vnd.ollama.image.license",
                                                "digest": "sha256:" + "0" * 64, "size": 3}]}))
    assert names() == set()


def test_ollama_default_stores_without_ollama_models(apps, tiny_models, tmp_path, monkeypatch):  # noqa: F811
    from deskseek.models.sources import ollama

    monkeypatch.delenv("OLLAMA_MODELS")
    apps.ollama("home", "1b", tiny_models.r1, root=apps.home / ".ollama" / "models")
    apps.ollama("service", "1b", tiny_models.plain, root=ollama.SYSTEM_STORES[0])
    expected = {"ollama:home:1b"} | ({"ollama:service:1b"} if sys.platform.startswith("linux") else set())
    assert names() == expected
    monkeypatch.setenv("OLLAMA_MODELS", str(tmp_path / "elsewhere"))
    apps.ollama("moved", "1b", tiny_models.r1, root=tmp_path / "elsewhere")
    assert names() == {"ollama:moved:1b"}  # Ollama reads only OLLAMA_MODELS when it is set, and so do we


# -- LM Studio ---------------------------------------------------------------------------------------------------


def test_lmstudio_files_split_sets_and_projectors(apps, tiny_models):  # noqa: F811
    folder = apps.lmstudio("lmstudio-community", "DeepSeek-R1-Distill-Qwen-7B-GGUF", {
        "DeepSeek-R1-Distill-Qwen-7B-Q4_K_M.gguf": tiny_models.r1,
        "mmproj-model-f16.gguf": tiny_models.plain,
        **{part.name: part for part in tiny_models.split},
    })
    models = by_name()
    base = "lmstudio:lmstudio-community/DeepSeek-R1-Distill-Qwen-7B-GGUF"
    assert set(models) == {f"{base}/DeepSeek-R1-Distill-Qwen-7B-Q4_K_M", f"{base}/r1-split-00001-of-00002"}
    single = models[f"{base}/DeepSeek-R1-Distill-Qwen-7B-Q4_K_M"]
    assert single.ok and single.quant == "Q4_K_M" and single.reasoning is True
    split = models[f"{base}/r1-split-00001-of-00002"]
    assert split.ok and split.files == [folder / p.name for p in tiny_models.split]
    assert split.size == sum(p.stat().st_size for p in tiny_models.split)
    assert found.get(f"{base}/r1-split").name == split.name  # the set's own name works too
    assert found.get(f"{base}/DeepSeek-R1-Distill-Qwen-7B-Q4_K_M.gguf").name == single.name
    (folder / tiny_models.split[1].name).unlink()
    split = by_name()[f"{base}/r1-split-00001-of-00002"]
    assert split.state == "incomplete" and split.problem == "missing 1 of 2 parts (r1-split-00002-of-00002.gguf first)"
    assert split.architecture == "llama"  # still read from the part that is there


def test_lmstudio_folders_from_its_settings_and_home_pointer(apps, tiny_models, tmp_path):  # noqa: F811
    settings_folder = tmp_path / "big-disk" / "models"
    (apps.home / ".lmstudio").mkdir()
    (apps.home / ".lmstudio" / "settings.json").write_text(json.dumps({"downloadsFolder": str(settings_folder)}))
    apps.lmstudio("a", "r", {"set.gguf": tiny_models.r1}, root=settings_folder)
    apps.lmstudio("b", "r", {"old.gguf": tiny_models.r1}, root=apps.home / ".cache" / "lm-studio" / "models")
    pointed = tmp_path / "lmstudio-home"
    (apps.home / ".lmstudio-home-pointer").write_text(f"{pointed}\n")
    apps.lmstudio("c", "r", {"pointed.gguf": tiny_models.r1}, root=pointed / "models")
    apps.lmstudio("d", "r", {"default.gguf": tiny_models.r1})
    (apps.home / ".lmstudio" / "models" / "loose.gguf").write_bytes(tiny_models.r1.read_bytes())  # LM Studio skips it
    assert names() == {"lmstudio:a/r/set", "lmstudio:b/r/old", "lmstudio:c/r/pointed", "lmstudio:d/r/default"}


def test_odd_entries_in_a_models_folder_are_damaged_not_errors(apps, tiny_models):  # noqa: F811
    folder = apps.lmstudio("p", "r", {"fine.gguf": tiny_models.r1})
    (folder / "loop.gguf").symlink_to(folder / "loop.gguf")
    (folder / "folder.gguf").mkdir()
    (folder / "empty.gguf").touch()
    models = by_name()
    assert models["lmstudio:p/r/fine"].ok
    assert models["lmstudio:p/r/loop"].problem == f"{folder / 'loop.gguf'} cannot be read (Too many levels of symbolic links)"
    assert models["lmstudio:p/r/folder"].problem == "cannot open: Is a directory"
    assert models["lmstudio:p/r/empty"].problem == "not a GGUF file"


# -- the Hugging Face cache ------------------------------------------------------------------------------------------


def test_hf_cache_picks_the_snapshot_refs_main_names(apps, tiny_models):  # noqa: F811
    repo = "unsloth/DeepSeek-R1-Distill-Qwen-7B-GGUF"
    apps.hf_cache(repo, {"Q4/model-Q4_K_M.gguf": tiny_models.plain, "old-only.gguf": tiny_models.bare},
                  revision="b" * 40, main=False)
    time.sleep(0.01)
    main = apps.hf_cache(repo, {"Q4/model-Q4_K_M.gguf": tiny_models.r1, "README.md": tiny_models.bare},
                         revision="a" * 40)
    os.utime(main, (1, 1))  # older than the other snapshot: refs/main must win anyway
    models = by_name()
    assert set(models) == {f"hf:{repo}/Q4/model-Q4_K_M", f"hf:{repo}/old-only"}
    model = models[f"hf:{repo}/Q4/model-Q4_K_M"]
    assert model.path == main / "Q4" / "model-Q4_K_M.gguf" and model.reasoning is True
    assert model.sha256 == sha256_of(tiny_models.r1) and model.quant == "Q4_K_M"


def test_hf_cache_broken_links_and_locations(apps, tiny_models, tmp_path, monkeypatch):  # noqa: F811
    snapshot = apps.hf_cache("o/r", {"x.gguf": tiny_models.r1})
    blob = (snapshot / "x.gguf").resolve()
    blob.unlink()
    assert by_name()["hf:o/r/x"].problem == f"{snapshot / 'x.gguf'} is a link to a file that is gone"
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub-cache"))
    apps.hf_cache("o/moved", {"y.gguf": tiny_models.r1})
    assert names() == {"hf:o/moved/y"}
    monkeypatch.delenv("HF_HUB_CACHE")
    monkeypatch.delenv("HF_HOME")
    apps.hf_cache("o/home", {"z.gguf": tiny_models.r1}, root=apps.home / ".cache" / "huggingface" / "hub")
    assert names() == {"hf:o/home/z"}


# -- llama.cpp's cache ----------------------------------------------------------------------------------------------


def test_llama_cpp_cache_both_layouts(apps, tiny_models, monkeypatch, tmp_path):  # noqa: F811
    sha = sha256_of(tiny_models.r1)
    flat = apps.llama_cpp_flat("bartowski/R1-GGUF", "R1-Q4_K_M.gguf", tiny_models.r1, etag=sha)
    assert flat == apps.home / ".cache" / "llama.cpp" / "bartowski_R1-GGUF_R1-Q4_K_M.gguf"
    model = by_name()["llamacpp:bartowski_R1-GGUF_R1-Q4_K_M"]
    assert model.ok and model.sha256 == sha and model.quant == "Q4_K_M"
    monkeypatch.setenv("LLAMA_CACHE", str(tmp_path / "llama-cache"))
    apps.llama_cpp_flat("o/r", "old.gguf", tiny_models.plain, etag="0" * 64, legacy_json=True)
    apps.hf_cache("ggml-org/new", {"new-Q8_0.gguf": tiny_models.r1}, root=tmp_path / "llama-cache")
    models = by_name()
    assert set(models) == {"llamacpp:o_r_old", "llamacpp:ggml-org/new/new-Q8_0"}
    assert models["llamacpp:o_r_old"].sha256 == "0" * 64  # a claim read from the ETag, never hashed here


def test_a_file_reachable_two_ways_is_listed_once(apps, tiny_models, monkeypatch):  # noqa: F811
    apps.hf_cache("o/r", {"x.gguf": tiny_models.r1})
    monkeypatch.setenv("LLAMA_CACHE", str(apps.hf_root))  # llama.cpp told to share the HF cache
    assert names() == {"hf:o/r/x"}


def test_a_symlink_from_one_app_into_anothers_blob_is_listed_once(apps, tiny_models):  # noqa: F811
    blob = apps.ollama("smol", "latest", tiny_models.plain)
    folder = apps.lmstudio("pub", "linked", {})
    (folder / "smol-Q4_1.gguf").symlink_to(blob)
    assert names() == {"ollama:smol:latest"}


# -- switches, speed, and pull's blob search -----------------------------------------------------------------------


def test_the_off_switch_and_the_app_list(apps, tiny_models, monkeypatch):  # noqa: F811
    apps.ollama("r1", "1b", tiny_models.r1)
    apps.hf_cache("o/r", {"x.gguf": tiny_models.r1})
    monkeypatch.setenv("DESKSEEK_OTHER_APPS", "off")
    assert found.spots() == [] and found.scan() == []
    with pytest.raises(NotFound, match=r"deskseek is not looking in Ollama \(DESKSEEK_OTHER_APPS=off\)"):
        found.get("ollama:r1:1b")
    monkeypatch.setenv("DESKSEEK_OTHER_APPS", "hf")
    assert names() == {"hf:o/r/x"}
    monkeypatch.setenv("DESKSEEK_OTHER_APPS", "ollama,nope")
    with pytest.raises(DeskseekError, match="unknown app 'nope'; use off, or some of: ollama, lmstudio, hf, llamacpp"):
        found.spots()


def test_scanning_reads_headers_only(apps, tiny_models):  # noqa: F811
    folder = apps.lmstudio("p", "r", {"huge.gguf": tiny_models.r1})
    os.truncate(folder / "huge.gguf", 200 << 30)  # 200 GB, sparse: reading it would take minutes
    started = time.monotonic()
    [model] = found.scan()
    assert model.ok and model.size == 200 << 30 and time.monotonic() - started < 5


def test_blob_with_sha256_finds_content_by_name_only(apps, tiny_models, tmp_path, monkeypatch):  # noqa: F811
    sha, size = sha256_of(tiny_models.r1), tiny_models.r1.stat().st_size
    assert found.blob_with_sha256(sha, size) is None
    snapshot = apps.hf_cache("o/r", {"x.gguf": tiny_models.r1})
    assert found.blob_with_sha256(sha.upper(), size) == (snapshot / "x.gguf").resolve()
    assert found.blob_with_sha256(sha, size + 1) is None and found.blob_with_sha256("nothex", size) is None
    shutil.rmtree(apps.hf_root)
    blob = apps.ollama("r1", "1b", tiny_models.r1)
    assert found.blob_with_sha256(sha, size) == blob
    shutil.rmtree(apps.ollama_root)
    flat = apps.llama_cpp_flat("o/r", "x.gguf", tiny_models.r1, etag=sha)
    assert found.blob_with_sha256(sha, size) == flat
    monkeypatch.setenv("DESKSEEK_OTHER_APPS", "off")
    assert found.blob_with_sha256(sha, size) is None
    staged = tmp_path / "staged.gguf"
    shutil.copyfile(tiny_models.r1, staged)
    item = store.commit(store.Installed(name="mine", files=[store.InstalledFile("r1.gguf", size, sha)]), [staged])
    assert found.blob_with_sha256(sha, size) == item.path  # deskseek's own verified files count, always
