"""The flags `run` and `chat` share: llama.cpp's spellings beside ours, every number checked at the parser (one
line, exit 2, never an OverflowError deep inside), and the values reaching the engine's Settings."""

from __future__ import annotations

import subprocess
import sys

import pytest

from deskseek.cli.main import build_parser, main
from deskseek.engines import launch
from deskseek.errors import USAGE, UsageError
from deskseek.models import registry
from deskseek.units import parse_size
from tests.conftest import REPO_ROOT
from tests.engines.test_local import starter_path  # noqa: F401  (session fixture)


def parse(*argv):
    return build_parser().parse_args(list(argv))


@pytest.mark.parametrize("command", ["run", "chat"])
def test_llama_cpp_short_forms_mean_the_same(command):
    ours = parse(command, "--ctx", "2048", "--threads", "3", "--gpu-layers", "7", "--max-tokens", "99",
                 "--temperature", "0.2", "--cache-type-k", "q8_0", "--cache-type-v", "q4_0", "--flash-attn", "on")
    short = parse(command, "-c", "2048", "-t", "3", "-ngl", "7", "-n", "99", "--temp", "0.2",
                  "-ctk", "q8_0", "-ctv", "q4_0", "-fa", "on")
    also = parse(command, "--ctx-size", "2048", "--threads", "3", "--n-gpu-layers", "7", "--n-predict", "99",
                 "--temp", "0.2", "-ctk", "Q8_0", "-ctv", "Q4_0", "-fa", "ON")
    names = ("ctx", "threads", "gpu_layers", "max_tokens", "temperature", "cache_type_k", "cache_type_v", "flash_attn")
    want = (2048, 3, 7, 99, 0.2, "q8_0", "q4_0", "on")
    for args in (ours, short, also):
        assert tuple(getattr(args, name) for name in names) == want


def test_defaults_are_llama_cpps():
    args = parse("run")
    # No -c: the context is chosen per model and machine (placement/context.py), not one size for all.
    assert (args.ctx, args.cache_type_k, args.cache_type_v, args.flash_attn) == (None, "f16", "f16", "auto")
    assert args.max_tokens is None and args.stop is None and args.seed is None
    assert parse("run", "-n", "-1").max_tokens is None and parse("run", "--seed", "-1").seed is None


def test_think_lang_reaches_the_settings_and_defaults_to_auto():
    assert launch.settings(parse("run"), registry.Sampling()).think_lang == "auto"
    assert launch.settings(parse("chat", "--think-lang", "Any"), registry.Sampling()).think_lang == "any"
    assert parse("run").think_lang is None  # not given: a resumed chat keeps its own


def test_speculate_and_draft_flags():
    assert launch.settings(parse("run"), registry.Sampling()).speculate == "auto"
    assert launch.settings(parse("chat", "--speculate", "OFF"), registry.Sampling()).speculate == "off"
    assert parse("run").speculate is None and parse("run").draft is None  # a resumed chat keeps its own
    for spelling in ("--draft", "-md", "--model-draft"):
        assert parse("run", spelling, "small.gguf").draft == "small.gguf"


def test_sampling_flags_reach_the_settings():
    args = parse("run", "--temp", "0", "--top-p", "0.5", "--top-k", "7", "--min-p", "0.1", "--repeat-penalty", "1.1",
                 "--stop", "\nUser:", "--stop", "###", "--seed", "4294967294", "-n", "12")
    settings = launch.settings(args, registry.Sampling(temperature=0.6, top_k=40))
    assert (settings.temperature, settings.top_p, settings.top_k, settings.min_p) == (0, 0.5, 7, 0.1)
    assert settings.repeat_penalty == 1.1 and settings.stop == ("\nUser:", "###")
    assert settings.seed == 4294967294 and settings.max_tokens == 12
    unset = launch.settings(parse("run"), registry.Sampling(temperature=0.6, top_p=0.9, top_k=20, min_p=0.01))
    assert (unset.temperature, unset.top_p, unset.top_k, unset.min_p, unset.repeat_penalty) == (0.6, 0.9, 20, 0.01, 1.0)
    assert unset.stop == ()


BAD = [
    (["--temp", "-1"], "--temp/--temperature: -1 must be at least 0"),
    (["--temp", "nan"], "nan is not a finite number"),
    (["--top-p", "1.5"], "--top-p: 1.5 must be at most 1"),
    (["--min-p", "-0.1"], "--min-p: -0.1 must be at least 0"),
    (["--top-k", "-3"], "--top-k: -3 is not between 0 and 2147483647"),
    (["--top-k", "99999999999999999999"], "is not between 0 and 2147483647"),
    (["--repeat-penalty", "0"], "--repeat-penalty: 0 must be more than 0"),
    (["--seed", "4294967295"], "--seed: 4294967295 is not between -1 and 4294967294"),
    (["-n", "0"], "0 tokens is no reply"),
    (["-c", "0"], "-c/--ctx/--ctx-size: 0 is not between 1 and 2147483647"),
    (["-c", "9" * 30], "is not between 1 and 2147483647"),
    (["-t", "100000"], "-t/--threads: 100000 is not between 1 and 512"),
    (["-ngl", "-2"], "-2 is not between -1 and 2147483647"),
    (["-ctk", "q9_9"], "invalid choice: 'q9_9'"),
    (["-fa", "maybe"], "invalid choice: 'maybe'"),
    (["--stop", ""], "an empty stop text would stop before the first token"),
    (["--gpu-mem", "1e400"], "--gpu-mem: '1e400' is more than any machine has"),
    (["--ram", "99999999999999999999999T"], "is more than any machine has"),
    (["--ram", "lots"], "'lots' is not a size like 24G"),
    (["--speculate", "always"], "--speculate: invalid choice: 'always'"),  # the tests' mode is not the users'
]


@pytest.mark.parametrize("flags, message", BAD)
def test_bad_values_are_one_line_usage_errors(capsys, flags, message):
    for command in ("run", "chat"):
        with pytest.raises(SystemExit) as caught:
            main([command, *flags, "hello"] if command == "run" else [command, *flags])
        err = capsys.readouterr().err
        assert caught.value.code == USAGE
        assert err.startswith("error: argument ") and message in err and err.count("\n") == 1, err


def test_a_bad_flag_in_a_real_process_is_one_line_and_exit_2(home):
    done = subprocess.run([sys.executable, "-m", "deskseek.cli", "run", "--gpu-mem", "1e400", "hi"], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == USAGE and done.stdout == ""
    assert done.stderr == ("error: argument --gpu-mem: '1e400' is more than any machine has (at most 1 EiB) "
                           "(`deskseek run --help` lists the options)\n")


def test_resume_takes_last_or_an_id_sqlite_can_hold(capsys):
    assert parse("chat", "--resume").resume == "last" and parse("chat", "--resume", "last").resume == "last"
    assert parse("chat", "--resume", "9223372036854775807").resume == 2**63 - 1
    for bad in ("99999999999999999999", "9223372036854775808", "0", "first"):
        with pytest.raises(SystemExit) as caught:
            main(["chat", "--resume", bad])
        assert caught.value.code == USAGE and capsys.readouterr().err.startswith("error: argument --resume: ")


def test_a_quantized_v_cache_with_flash_attention_off_is_a_usage_error():
    with pytest.raises(UsageError, match="q8_0 V cache needs flash attention"):
        launch.engine_options(parse("run", "-ctv", "q8_0", "-fa", "off"))
    assert launch.engine_options(parse("run", "-ctk", "q8_0", "-fa", "off"))["cache_type_k"] == "q8_0"  # K alone may


def test_sizes():
    assert parse_size("24G") == 24 * 10**9 and parse_size("1K") == 1000 and parse_size("1.5e3") == 1500
    assert parse_size("2e+3M") == 2 * 10**9 and parse_size("1PiB") == 2**50
    for text in ("1e400", "2e18", "inf", "-1G", "1 G G"):
        with pytest.raises(ValueError):
            parse_size(text)


def test_a_placement_set_by_hand_gets_the_usual_context(starter_path):  # noqa: F811
    """The planner's context sizes assume its own placement: with -ngl (or --plan off, --cpu-moe) the default
    is llama.cpp's usual 4096, said so; -c still wins."""
    from deskseek.placement import hardware

    machine = hardware.assumed()
    for extra in (["-ngl", "99"], ["--plan", "off"], ["--cpu-moe"]):
        _, plan = launch.plan_for(starter_path, parse("run", *extra), machine, False)
        assert plan.ctx == 4096 and "set by hand" in plan.ctx_reason, extra
    _, plan = launch.plan_for(starter_path, parse("run", "-ngl", "99", "-c", "2048"), machine, False)
    assert plan.ctx == 2048
