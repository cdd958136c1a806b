"""`deskseek show MODEL`: the template, the sampling a run will use and where it comes from, the licence, what
the model is, and the same memory plan as `info` — from the files on disk, with no network."""

from __future__ import annotations

import json

import pytest

from deskseek.errors import NOT_FOUND
from tests.cli.test_run import guarded  # noqa: F401  (fixture: deskseek in a process that may not use the network)
from tests.engines.test_local import starter_path  # noqa: F401  (session fixture)
from tests.fixtures import gguf_writers
from tests.tui.test_app import offer_tiny_on_the_hub


def test_show_a_gguf_file(guarded, starter_path):  # noqa: F811
    done = guarded("show", str(starter_path))
    assert done.returncode == 0, done.stderr
    lines = dict(line.split(None, 1) for line in done.stdout.splitlines()[:10] if line[:1] != " ")
    assert lines["what"] == "llama, 135M parameters, Q4_1, trained for 8192 tokens"
    assert lines["licence"] == "apache-2.0 (from the GGUF)"
    assert lines["thinks"] == "no"
    assert lines["sampling"].startswith("temperature 0.7, top-p 0.95, top-k 40, min-p 0.05, repeat penalty 1 "
                                        "(from deskseek")
    assert lines["context"] == "8192 tokens: the cap of 8192 for models that do not think"
    assert lines["KV"].startswith("cache   188.74 MB for 8192 tokens (K f16, V f16)")
    assert lines["plan"] and lines["memory"].startswith("GPU")  # info's plan, word for word
    template = gguf_writers.read_kv(starter_path)["tokenizer.chat_template"].value
    assert done.stdout.endswith(template + ("" if template.endswith("\n") else "\n"))
    assert not guarded.marker.exists()  # offline


def test_template_alone_and_json(guarded, starter_path):  # noqa: F811
    template = gguf_writers.read_kv(starter_path)["tokenizer.chat_template"].value
    only = guarded("show", str(starter_path), "--template")
    assert only.returncode == 0 and only.stdout.rstrip("\n") == template.rstrip("\n")
    done = guarded("show", str(starter_path), "--json", "-c", "2048", "-ctk", "q8_0", "-ctv", "q8_0")
    report = json.loads(done.stdout)
    assert set(report) == {"model", "path", "architecture", "parameters", "parameters_active", "quant",
                           "context_length", "license", "license_source", "reasoning", "system_prompt", "sampling",
                           "template", "plan"}
    assert report["template"] == template and report["parameters"] == 134_515_008
    assert report["sampling"]["source"] == "deskseek" and report["license"] == "apache-2.0"
    plan = report["plan"]
    assert (plan["ctx"], plan["cache_type_k"], plan["cache_type_v"]) == (2048, "q8_0", "q8_0")
    assert plan["kv_bytes"] == 2 * 30 * 3 * 64 * 2048 * 34 // 32  # K and V, 30 layers, 3 heads of 64, in q8_0
    info = json.loads(guarded("info", str(starter_path), "--json", "-c", "2048", "-ctk", "q8_0", "-ctv", "q8_0").stdout)
    assert {key: info[key] for key in plan if key != "machine"} == {k: v for k, v in plan.items() if k != "machine"}


def test_the_ggufs_own_sampling_advice_is_shown_and_used(guarded, starter_path, tmp_path):  # noqa: F811
    """A GGUF that recommends top-k 1 samples greedily however hot the temperature: show says so, run does so."""
    advised = gguf_writers.with_metadata(starter_path, tmp_path / "advised.gguf", set_kv={
        "general.sampling.top_k": 1, "general.sampling.temp": 3.0, "general.sampling.penalty_repeat": 1.0,
        "general.sampling.min_p": 0.1})
    sampling = json.loads(guarded("show", str(advised), "--json").stdout)["sampling"]
    assert sampling == {"temperature": 3.0, "top_p": 0.95, "top_k": 1, "min_p": 0.1, "repeat_penalty": 1.0,
                        "source": "the GGUF"}
    run = ["run", "-t", "2", "-n", "12", "--json", "--seed", "7", "Name a fruit."]
    greedy = json.loads(guarded(*run, "-m", str(starter_path), "--temp", "0").stdout)["content"]
    assert json.loads(guarded(*run, "-m", str(advised)).stdout)["content"] == greedy
    wild = json.loads(guarded(*run, "-m", str(advised), "--top-k", "0", "--min-p", "0", "--top-p", "1").stdout)
    assert wild["content"] != greedy  # the flags still win over the file's advice


@pytest.fixture
def pulled_tiny(hub, home, tmp_path):
    """A model deskseek knows by name (models.toml), pulled from the test Hub: advice and licence come from there."""
    offer_tiny_on_the_hub(hub, home, tmp_path, "reasoning = true\n"
                          "sampling = { temperature = 0.6, top_p = 0.9, top_k = 20, system_prompt = false }")
    from deskseek.cli.main import main

    assert main(["pull", "tiny"]) == 0
    return "tiny:Q8_0"


def test_show_a_registry_model(guarded, pulled_tiny):  # noqa: F811
    done = guarded("show", pulled_tiny)
    assert done.returncode == 0, done.stderr
    lines = dict(line.split(None, 1) for line in done.stdout.splitlines() if line[:1].isalpha() and " " in line)
    assert lines["licence"] == "MIT (from models.toml)" and lines["thinks"] == "yes"
    assert lines["sampling"].startswith("temperature 0.6, top-p 0.9, top-k 20, min-p 0.05, repeat penalty 1 "
                                        "(from models.toml")
    assert lines["system"].startswith("none: a system prompt is folded into the first user turn")
    assert "template   none in the GGUF" in done.stdout
    missing = guarded("show", pulled_tiny, "--template")
    assert missing.returncode == NOT_FOUND and missing.stderr == (
        "error: tiny:Q8_0 has no chat template in its GGUF (tokenizer.chat_template)\n")


def test_show_an_unknown_model_is_not_found(guarded):  # noqa: F811
    done = guarded("show", "nothing-like-it")
    assert done.returncode == NOT_FOUND and done.stderr.startswith("error: ") and done.stdout == ""
