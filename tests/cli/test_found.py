"""Models other apps keep, through the real command: `list --found`, `import NAME`, `run`/`info` in place, `rm`."""

from __future__ import annotations

import json
import struct

from deskseek.cli.main import main
from deskseek.models import store
from tests.cli.test_run import guarded  # noqa: F401  (fixture: deskseek in a child process that may not network)
from tests.engines.test_local import starter_path  # noqa: F401  (session fixture)
from tests.fixtures import gguf_writers
from tests.fixtures.app_stores import apps, tiny_models  # noqa: F401
from tests.models.test_gguf import UINT32, kv, write

FOUND_KEYS = {"name", "app", "path", "files", "size", "quant", "architecture", "params", "params_active", "reasoning",
              "state", "problem"}


def column(lines: list[str], row: str, name: str) -> str:
    """The word under column `name` in the table row starting with `row`."""
    start = lines[0].index(name)
    line = next(line for line in lines if line.startswith(row))
    return line[start:].split()[0]


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_list_found_shows_each_model_with_its_state(apps, tiny_models, capsys):  # noqa: F811
    blob = apps.ollama("deepseek-r1", "7b", tiny_models.r1)
    apps.lmstudio("p", "r", {"Plain-Q8_0.gguf": tiny_models.plain})
    gone = apps.ollama("gone", "1b", tiny_models.bare)
    gone.unlink()
    code, out, _ = run(capsys, "list", "--found", "--json")
    rows = {row["name"]: row for row in json.loads(out)}
    assert code == 0 and set(rows) == {"ollama:deepseek-r1:7b", "lmstudio:p/r/Plain-Q8_0", "ollama:gone:1b"}
    assert all(set(row) == FOUND_KEYS for row in rows.values())
    r1 = rows["ollama:deepseek-r1:7b"]
    assert (r1["path"], r1["reasoning"], r1["quant"], r1["architecture"], r1["state"]) == (
        str(blob), True, "F16", "llama", "ok")
    assert rows["lmstudio:p/r/Plain-Q8_0"]["reasoning"] is False and rows["lmstudio:p/r/Plain-Q8_0"]["quant"] == "Q8_0"
    assert rows["ollama:gone:1b"]["state"] == "damaged" and rows["ollama:gone:1b"]["problem"] == f"{gone} is missing"
    code, out, _ = run(capsys, "list", "--found")
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "SIZE", "QUANT", "ARCH", "PARAMS", "THINKS", "STATE", "PATH"]
    assert column(lines, "ollama:deepseek-r1:7b", "THINKS") == "yes"
    assert column(lines, "ollama:deepseek-r1:7b", "STATE") == "ok"
    assert column(lines, "lmstudio:p/r/Plain-Q8_0", "THINKS") == "no"
    assert any(line.startswith("ollama:gone:1b") and "damaged" in line for line in lines)


def test_plain_list_hints_at_found_models_only_when_nothing_is_installed(apps, tiny_models, capsys, monkeypatch):  # noqa: F811
    apps.ollama("deepseek-r1", "7b", tiny_models.r1)
    _, out, _ = run(capsys, "list")
    assert out.splitlines()[1] == ("1 model from other apps (Ollama, LM Studio, caches) can run as they are: "
                                   "`deskseek list --found`")
    monkeypatch.setenv("DESKSEEK_OTHER_APPS", "off")
    _, out, _ = run(capsys, "list")
    assert len(out.splitlines()) == 1
    code, out, _ = run(capsys, "list", "--found")
    assert code == 0 and out == "no models found in no other apps (DESKSEEK_OTHER_APPS)\n"


def test_import_a_found_r1_and_list_says_it_thinks(apps, tiny_models, capsys):  # noqa: F811
    blob = apps.ollama("deepseek-r1", "7b", tiny_models.r1)
    code, out, _ = run(capsys, "import", "ollama:deepseek-r1:7b", "--name", "r1")
    size = tiny_models.r1.stat().st_size
    assert code == 0 and out.startswith("imported r1 (") and ", llama, thinks) from ollama:deepseek-r1:7b: hard-linked at " in out
    code, out, _ = run(capsys, "list", "--json")
    [row] = json.loads(out)
    assert row["reasoning"] is True and row["quant"] == "F16" and row["size"] == size
    assert row["origin"] == {"name": "ollama:deepseek-r1:7b", "path": str(blob), "kept_as": "link"}
    code, out, _ = run(capsys, "list")
    assert column(out.splitlines(), "r1 ", "THINKS") == "yes"
    code, out, _ = run(capsys, "rm", "r1")
    assert out.strip() == (f"removed r1, freed 0 B (your imported file was left in place at {blob}; "
                           "only deskseek's hard link to it was removed)")
    assert blob.exists() and store.installed() == []


def test_import_copy_then_rm_frees_the_copy(apps, tiny_models, capsys):  # noqa: F811
    apps.lmstudio("p", "r", {"R1-Q4_K_M.gguf": tiny_models.r1})
    code, out, err = run(capsys, "import", "lmstudio:p/r/R1-Q4_K_M", "--copy")
    assert code == 0 and "copied to" in out and err == "copying…\n"
    code, out, _ = run(capsys, "rm", "R1-Q4_K_M")
    assert out.startswith("removed R1-Q4_K_M, freed ") and "deskseek's copy; your original at" in out


def test_bad_headers_are_refused_at_import_and_info_and_list_keeps_working(apps, starter_path, tmp_path, capsys):  # noqa: F811
    cut = gguf_writers.truncated(starter_path, tmp_path / "cut.gguf", 60_000_000)
    for argv in (["import", str(cut)], ["info", str(cut)]):
        code, out, err = run(capsys, *argv)
        assert code == 1 and out == "" and err.count("\n") == 1
        assert err.startswith(f"error: {cut}: truncated: tensor data ends at ")
    int_arch = write(tmp_path / "int-arch.gguf", [kv("general.architecture", UINT32, struct.pack("<I", 7))])
    code, _, err = run(capsys, "import", str(int_arch))
    assert code == 1 and err == f"error: {int_arch}: malformed GGUF header (general.architecture is 7, not a string)\n"
    code, out, _ = run(capsys, "list")
    assert code == 0 and out.startswith("no models installed")


def test_unknown_found_names_suggest_close_ones(apps, tiny_models, capsys):  # noqa: F811
    apps.ollama("deepseek-r1", "7b", tiny_models.r1)
    code, out, err = run(capsys, "info", "ollama:deepseek-r1:8b")
    assert code == 3 and err == "error: no model 'ollama:deepseek-r1:8b' in Ollama; did you mean ollama:deepseek-r1:7b?\n"


def test_info_plans_a_found_model_in_place(apps, tiny_models, capsys):  # noqa: F811
    blob = apps.ollama("deepseek-r1", "7b", tiny_models.r1)
    code, out, _ = run(capsys, "info", "ollama:deepseek-r1:7b", "--json")
    report = json.loads(out)
    assert code == 0 and report["model"] == "ollama:deepseek-r1:7b" and report["path"] == str(blob)
    assert report["architecture"] == "llama" and report["plan"]["fits"] is True


def test_run_a_found_model_in_place_offline(apps, tiny_models, guarded, home):  # noqa: F811
    blob = apps.ollama("deepseek-r1", "7b", tiny_models.r1)
    done = guarded("run", "--model", "ollama:deepseek-r1:7b", "--json", "--max-tokens", "8", "--think-budget", "2", "--threads", "2", "hi")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["model"] == "ollama:deepseek-r1:7b" and result["stats"]["completion_tokens"] > 0
    assert not guarded.marker.exists() and not (home / "models").exists()  # nothing copied, nothing installed
    again = guarded("run", "--json", "--max-tokens", "4", "--think-budget", "1", "--threads", "2", "hi")  # the last model used, again
    assert again.returncode == 0 and json.loads(again.stdout)["model"] == "ollama:deepseek-r1:7b", again.stderr
    blob.unlink()
    gone = guarded("run", "--model", "ollama:deepseek-r1:7b", "hi")
    assert gone.returncode == 3 and gone.stderr == f"error: ollama:deepseek-r1:7b cannot be run: {blob} is missing\n"


def test_run_a_split_set_in_place(apps, tiny_models, guarded):  # noqa: F811
    apps.hf_cache("o/r", {f"Q8/{part.name}": part for part in tiny_models.split})
    done = guarded("run", "--model", "hf:o/r/Q8/r1-split", "--json", "--max-tokens", "4", "--think-budget", "1", "--threads", "2", "hi")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["model"] == "hf:o/r/Q8/r1-split-00001-of-00002"


def test_imports_cannot_take_a_name_pull_gives(apps, tiny_models, capsys):  # noqa: F811
    apps.ollama("smol", "latest", tiny_models.plain)
    for taken in ("starter", "starter:Q4_1", "hf.co/o/q8:Q2_K", "o/r/x.gguf"):
        code, _, err = run(capsys, "import", "ollama:smol", "--name", taken)
        assert code == 2 and err.startswith("error: ") and "--name" in err, (taken, err)
    assert store.installed() == []
    code, _, err = run(capsys, "import", "ollama:smol", "--name", "")
    assert code != 0 and "needs a name" in err


def test_names_print_as_typed_not_as_markup_or_emoji(apps, tiny_models, capsys):  # noqa: F811
    apps.ollama("ghost", "7b", tiny_models.plain)
    code, out, _ = run(capsys, "list", "--found")
    assert code == 0 and "ollama:ghost:7b" in out
    for odd in ("weird[/]", ":fire: [bold]x[/bold]"):
        assert run(capsys, "import", "ollama:ghost:7b", "--name", odd)[0] == 0
    code, out, _ = run(capsys, "list")
    assert code == 0 and "weird[/]" in out and ":fire: [bold]x[/bold]" in out
