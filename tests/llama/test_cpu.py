"""The AMX decision: probed in a child, cached per machine, forced by DESKSEEK_CPU_AMX, obeyed by every load.

The decision is process-wide (AMX is taken out of ggml's own list of buffer types), so each test that loads a model
under a particular verdict runs in a fresh interpreter, and reads llama.cpp's own log for the buffer types it used.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from deskseek.errors import DeskseekError
from deskseek.llama import cpu, probe_models
from tests.conftest import REPO_ROOT
from tests.fixtures.chat_templates import R1_TEMPLATE_NEW
from tests.fixtures.gguf_writers import tiny_llama

HAS_AMX = "AMX" in cpu.extra_buffer_types()
NO_AMX = "this CPU (or this llama.cpp build) has no AMX: nothing to use"

# Loads a model through deskseek's engine and reports which buffer types llama.cpp put the weights in.
LOAD = textwrap.dedent("""
    import json, sys
    from deskseek.engines.local import Engine
    from deskseek.llama import cpu, native_log
    mark = native_log.mark()
    with Engine(sys.argv[1], n_ctx=128, n_threads=2, reasoning=False) as engine:
        pass
    buffers = [line.split(":", 1)[1].split(" model buffer")[0].strip()
               for line in native_log.lines_since(mark) if "model buffer size" in line]
    json.dump({"buffers": buffers, "verdict": cpu.prepare().as_dict(), "extra": cpu.extra_buffer_types()},
              sys.stdout)
""")


@pytest.fixture(scope="module")
def quantized(tmp_path_factory) -> dict[str, Path]:
    """The tests' tiny R1-template llama, 256 wide, in every quantization llama.cpp has AMX kernels for."""
    out = tmp_path_factory.mktemp("quants")
    source = tiny_llama(out / "tiny-f16.gguf", n_embd=256, n_ff=512, chat_template=R1_TEMPLATE_NEW)
    return {quant: probe_models.quantize(source, out / f"tiny-{quant}.gguf", quant) for quant in probe_models.QUANTS}


def load_in_child(path: Path, home: Path, amx: str | None) -> dict:
    env = {**os.environ, "DESKSEEK_HOME": str(home)}
    env.pop(cpu.ENV, None)
    if amx is not None:
        env[cpu.ENV] = amx
    done = subprocess.run([sys.executable, "-c", LOAD, str(path)], capture_output=True, text=True, timeout=120,
                          env=env, cwd=REPO_ROOT)  # fmt: skip
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stderr[-3000:]}"
    return json.loads(done.stdout)


def cache_verdict(home: Path, used: bool, reason: str) -> None:
    """What a probe on this machine would have left behind."""
    os.environ["DESKSEEK_HOME"] = str(home)  # the per-test root: the key is computed the same way as in the child
    home.mkdir(parents=True, exist_ok=True)
    (home / "machine.json").write_text(json.dumps({"amx": {cpu._cache_key(): {"used": used, "reason": reason}}}))


def test_an_unsafe_verdict_keeps_every_weight_out_of_amx(quantized, home, monkeypatch):
    monkeypatch.delenv(cpu.ENV, raising=False)
    cache_verdict(home, used=False, reason="crashes here (test)")
    report = load_in_child(quantized["Q4_0"], home, amx=None)
    assert "AMX" not in report["buffers"] and report["buffers"], report
    assert "AMX" not in report["extra"]
    assert report["verdict"]["used"] is False
    if HAS_AMX:
        assert report["verdict"]["reason"] == "crashes here (test)"
        assert "CPU_REPACK" in report["extra"] or "CPU_REPACK" not in cpu.extra_buffer_types()  # only AMX goes


@pytest.mark.skipif(not HAS_AMX, reason=NO_AMX)
def test_a_safe_verdict_puts_quantized_weights_in_amx(quantized, home, monkeypatch):
    monkeypatch.delenv(cpu.ENV, raising=False)
    cache_verdict(home, used=True, reason="checked (test)")
    report = load_in_child(quantized["Q4_0"], home, amx=None)  # load only: a decode could crash where AMX is broken
    assert "AMX" in report["buffers"], report
    assert report["verdict"] == {"present": True, "used": True, "reason": "checked (test)", "plain_buffers": False}


@pytest.mark.parametrize("forced", ["on", "off"])
def test_the_variable_overrides_the_cache(quantized, home, forced, monkeypatch):
    monkeypatch.delenv(cpu.ENV, raising=False)
    cache_verdict(home, used=forced == "off", reason="the opposite (test)")
    report = load_in_child(quantized["Q8_0"], home, amx=forced)
    assert ("AMX" in report["buffers"]) == (forced == "on" and HAS_AMX), report
    if HAS_AMX:
        assert report["verdict"]["reason"] == f"set by DESKSEEK_CPU_AMX={forced} (the check found: the opposite (test))"


@pytest.mark.parametrize("quant", list(probe_models.QUANTS))
def test_every_quantization_runs_through_deskseek_run(quantized, quant, tmp_path):
    """With this machine's verdict (conftest probes once): on an AMX host whose kernels crash, this is what crashed."""
    done = subprocess.run(
        [sys.executable, "-m", "deskseek.cli", "run", "--model", str(quantized[quant]), "--threads", "2",
         "--temperature", "0", "--max-tokens", "12", "--think-budget", "4", "--json",
         "Tell me about the weather in Seoul today, please."],
        capture_output=True, text=True, timeout=120, cwd=REPO_ROOT,
    )  # fmt: skip
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stderr[-2000:]}"
    stats = json.loads(done.stdout)["stats"]
    assert stats["prompt_tokens"] > 8 and stats["completion_tokens"] > 0  # a multi-token batch, then decoding


# --- the probe ------------------------------------------------------------------------------------------------------


def fake_probe(tmp_path: Path, body: str) -> list[str]:
    script = tmp_path / "probe.py"
    script.write_text(textwrap.dedent(body))
    return [sys.executable, str(script)]


def test_a_probe_that_crashes_is_a_verdict_naming_signal_and_model(tmp_path):
    verdict = cpu.probe(fake_probe(tmp_path, """
        import os, signal
        print('{"phase": "amx", "model": "llama Q4_0"}', flush=True)
        print('{"phase": "amx", "model": "deepseek2 Q4_K_M"}', flush=True)
        os.kill(os.getpid(), signal.SIGSEGV)
    """))
    assert (verdict.present, verdict.used) == (True, False)
    assert verdict.reason == "llama.cpp's AMX kernels crash on this CPU (SIGSEGV on a deepseek2 Q4_K_M model)"


@pytest.mark.parametrize("how, phase", [("SIGKILL", "amx"), ("SIGSEGV", "plain"), ("SIGSEGV", None)])
def test_a_death_that_says_nothing_about_amx_is_not_blamed_on_it(tmp_path, how, phase):
    """The OOM killer, or a crash outside the AMX pass (quantizing, the plain pass): asked again next time."""
    said = f"print('{{\"phase\": \"{phase}\", \"model\": \"llama Q8_0\"}}', flush=True)" if phase else ""
    verdict = cpu.probe(fake_probe(tmp_path, f"""
        import os, signal
        {said}
        os.kill(os.getpid(), signal.{how})
    """))
    assert verdict.used is False and verdict.reason == f"the AMX check died of {how}; AMX left off"


def test_a_probe_with_wrong_numbers_is_refused(tmp_path):
    verdict = cpu.probe(fake_probe(tmp_path, """
        print('{"phase": "amx", "model": "llama Q4_0"}')
        print('{not json, but a brace')
        print('{"errors": {"llama Q4_0": 0.001, "deepseek2 F16": 0.83}, "amx": {"llama Q4_0": [true, false], '
              '"deepseek2 F16": [true, false]}, "control": false}')
    """))
    assert verdict.used is False and "wrong results" in verdict.reason and "deepseek2 F16: 0.83" in verdict.reason


def test_numbers_that_are_not_numbers_are_wrong_numbers(tmp_path):
    verdict = cpu.probe(fake_probe(tmp_path, """
        print('{"errors": {"llama Q4_0": NaN, "llama Q8_0": 0.0}, "amx": {"llama Q4_0": [true, false], '
              '"llama Q8_0": [true, false]}, "control": false}')
    """))
    assert verdict.used is False and verdict.reason == "llama.cpp's AMX kernels give wrong results on this CPU " \
                                                       "(llama Q4_0: nan relative error)"


@pytest.mark.parametrize("flags", [[[False, False]], [[True, True]], [[True, False], [True, True]]])
def test_agreement_counts_only_when_amx_was_used_then_left_out(tmp_path, flags):
    """Two passes that both ran AMX, or neither, agree without comparing anything."""
    models = {f"m{i}": pair for i, pair in enumerate(flags)}
    result = json.dumps({"errors": {name: 0.0 for name in models}, "amx": models, "control": False})
    verdict = cpu.probe(fake_probe(tmp_path, f"print({result!r})"))
    assert verdict.used is False and verdict.reason == (
        "the AMX check could not compare AMX with the plain path; AMX left off")


def test_a_probe_that_hangs_is_a_verdict(tmp_path, monkeypatch):
    monkeypatch.setattr(cpu, "PROBE_TIMEOUT_S", 1)
    verdict = cpu.probe(fake_probe(tmp_path, "import time; time.sleep(30)"))
    assert verdict.used is False and verdict.reason == "llama.cpp's AMX check hung for 1 s on this CPU"


def test_a_probe_that_cannot_run_leaves_amx_off_and_is_asked_again(tmp_path, home, monkeypatch):
    command = fake_probe(tmp_path, "import sys; sys.exit('gguf is not installed')")
    verdict = cpu.probe(command)
    assert verdict.used is False and "gguf is not installed" in verdict.reason and "left off" in verdict.reason

    monkeypatch.delenv(cpu.ENV, raising=False)
    monkeypatch.setattr(cpu, "extra_buffer_types", lambda: ["AMX", "CPU_REPACK"])  # decide() as on an AMX host
    monkeypatch.setattr(cpu, "probe", lambda: verdict)
    assert cpu.decide() == verdict
    assert not (home / "machine.json").exists()  # not cached: the next start tries again


HOSTILE = {
    "not json": "{{{",
    "a list": "[1, 2]",
    "a string": '"x"',
    "amx null": '{"amx": null}',
    "amx a list": '{"amx": [1]}',
    "entry a string": '{"amx": {"KEY": "yes"}}',
    "used a string": '{"amx": {"KEY": {"used": "false", "reason": "r"}}}',
    "no used": '{"amx": {"KEY": {"reason": "r"}}}',
    "deeply nested": "[" * 100_000,
}


@pytest.mark.parametrize("kind", list(HOSTILE))
def test_a_hostile_machine_json_is_ignored_and_replaced(kind, home, monkeypatch):
    monkeypatch.delenv(cpu.ENV, raising=False)
    monkeypatch.setattr(cpu, "extra_buffer_types", lambda: ["AMX", "CPU_REPACK"])
    monkeypatch.setattr(cpu, "probe", lambda: cpu.Verdict(True, False, "crashed (test)"))
    home.mkdir(parents=True, exist_ok=True)
    (home / "machine.json").write_text(HOSTILE[kind].replace("KEY", cpu._cache_key()))
    assert cpu.decide() == cpu.Verdict(True, False, "crashed (test)")  # asked afresh, never trusted
    assert cpu._read_cache()[cpu._cache_key()] == {"used": False, "reason": "crashed (test)"}


def test_a_verdict_that_cannot_be_kept_still_stands(home, monkeypatch):
    """A data root where machine.json cannot be written (here it is a folder): no traceback, the verdict holds."""
    monkeypatch.delenv(cpu.ENV, raising=False)
    monkeypatch.setattr(cpu, "extra_buffer_types", lambda: ["AMX", "CPU_REPACK"])
    monkeypatch.setattr(cpu, "probe", lambda: cpu.Verdict(True, False, "crashed (test)"))
    (home / "machine.json").mkdir(parents=True)
    assert cpu.decide().reason == "crashed (test)"
    assert [p.name for p in home.iterdir() if p.name.startswith(".machine")] == []  # no temporary left behind


def test_forcing_amx_against_the_check_says_what_the_check_found(home, monkeypatch):
    monkeypatch.setattr(cpu, "extra_buffer_types", lambda: ["AMX", "CPU_REPACK"])
    cache_verdict(home, used=False, reason="llama.cpp's AMX kernels crash on this CPU (SIGILL on a llama Q4_0 model)")
    monkeypatch.setenv(cpu.ENV, " On ")
    assert cpu.decide() == cpu.Verdict(True, True, "set by DESKSEEK_CPU_AMX=on (the check found: llama.cpp's AMX "
                                                   "kernels crash on this CPU (SIGILL on a llama Q4_0 model))")


def test_the_verdict_is_probed_once_then_read_from_the_cache(home, monkeypatch):
    monkeypatch.delenv(cpu.ENV, raising=False)
    monkeypatch.setattr(cpu, "extra_buffer_types", lambda: ["AMX", "CPU_REPACK"])
    calls = []
    monkeypatch.setattr(cpu, "probe", lambda: calls.append(1) or cpu.Verdict(True, False, "crashed (test)"))
    assert cpu.decide().reason == "crashed (test)"
    assert cpu.decide().reason == "crashed (test)"
    assert calls == [1]
    assert stat.S_IMODE((home / "machine.json").stat().st_mode) == 0o600
    assert stat.S_IMODE(home.stat().st_mode) == 0o700


def test_the_real_probe_machinery_passes_a_control_run():
    """The probe's models, quantizer and comparison, with AMX excluded from both passes: must agree everywhere."""
    verdict = cpu.probe([sys.executable, "-m", "deskseek.llama.amx_probe", "--plain"])
    assert verdict.used is True, verdict.reason
    assert verdict.reason == "checked on this CPU: 14 models agree with the plain path"


@pytest.mark.skipif(not HAS_AMX, reason=NO_AMX)
def test_the_real_probe_reaches_a_verdict_on_this_amx_cpu():
    verdict = cpu.probe()
    assert verdict.present
    assert verdict.used or "crash" in verdict.reason or "wrong results" in verdict.reason, verdict.reason


def test_a_wrong_setting_is_one_clear_line(monkeypatch):
    monkeypatch.setenv(cpu.ENV, "maybe")
    with pytest.raises(DeskseekError, match="DESKSEEK_CPU_AMX must be on, off or auto, not 'maybe'"):
        cpu.decide()


def test_info_says_which_features_llama_cpp_sees_and_why_amx_is_or_is_not_used(tmp_path):
    done = subprocess.run([sys.executable, "-m", "deskseek.cli", "info", "--json"], capture_output=True, text=True,
                          timeout=120, cwd=REPO_ROOT)  # fmt: skip
    assert done.returncode == 0, done.stderr
    machine = json.loads(done.stdout)["machine"]
    assert machine["cpu_features"] == cpu.features() and machine["cpu_features"]
    assert set(machine["amx"]) == {"present", "used", "reason", "plain_buffers"}
    assert machine["amx"]["present"] == HAS_AMX and machine["amx"]["reason"]
    text = subprocess.run([sys.executable, "-m", "deskseek.cli", "info"], capture_output=True, text=True,
                          timeout=120, cwd=REPO_ROOT).stdout  # fmt: skip
    assert f"AMX        {'used' if machine['amx']['used'] else 'not used'}: {machine['amx']['reason']}" in text


def test_a_probe_that_crashes_leaves_no_models_behind(tmp_path):
    """The probe's child writes ~25 MB of test models, then may die of the very crash it looks for: the folder is
    the parent's, and goes with the verdict (before, every crash left one in the temp folder)."""
    seen = tmp_path / "seen.txt"
    verdict = cpu.probe(fake_probe(tmp_path, f"""
        import os, signal, pathlib
        work = pathlib.Path(os.environ["{cpu.WORK_DIR_ENV}"])
        (work / "llama-Q4_0.gguf").write_bytes(b"GGUF" * 1000)
        pathlib.Path({str(seen)!r}).write_text(str(work))
        print('{{"phase": "amx", "model": "llama Q4_0"}}', flush=True)
        os.kill(os.getpid(), signal.SIGSEGV)
    """))
    assert "crash" in verdict.reason
    work = Path(seen.read_text())
    assert work.name.startswith("deskseek-amx-probe-") and not work.exists()
