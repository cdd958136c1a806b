"""Plans applied for real: tiny MoE GGUFs loaded by llama.cpp with the planner's tensor overrides.

This machine has no GPU, so every buffer is a CPU buffer anyway; what is proven here is that the patterns
the planner writes reach llama.cpp through our ctypes array and land on exactly the planned tensors
(llama.cpp names each overridden tensor in its log), and that the model still loads and generates.
Where a CUDA build is present, the same lines name the tensors kept out of VRAM.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from deskseek.engines.events import Settings
from deskseek.engines.local import Engine
from deskseek.llama import native_log
from deskseek.models import gguf
from deskseek.placement import planner
from deskseek.placement.hardware import Device, Machine
from tests.conftest import REPO_ROOT
from tests.fixtures import tiny_moe

WRITERS = {
    "qwen2moe": tiny_moe.tiny_qwen2moe,
    "qwen3moe": tiny_moe.tiny_qwen3moe,
    "deepseek2": tiny_moe.tiny_deepseek2,
}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("moe")
    return {arch: write(folder / f"{arch}.gguf") for arch, write in WRITERS.items()}


def overridden_since(mark: int) -> set[str]:
    names = set()
    for line in native_log.lines_since(mark):
        match = tiny_moe.OVERRIDE_LINE.match(line.strip())
        if match:
            names.add(match["name"])
    return names


def matching(path, patterns) -> set[str]:
    return {t.name for t in gguf.read(path).tensors if any(re.search(p, t.name) for p in patterns)}


def budget_for_one_expert_layer(facts: planner.ModelFacts, ctx: int) -> Machine:
    """A GPU just too small for the whole model, so the planner must move the first MoE layer's experts."""
    first_moe = next(i for i, size in enumerate(facts.expert_bytes) if size)
    need = facts.total_bytes - facts.input_bytes + facts.kv_bytes(ctx) + planner.compute_buffer_bytes(facts)
    gpu = need - facts.expert_bytes[first_moe] // 2
    return Machine(backend="cuda", gpus=[Device("CUDA0", "test", "gpu", gpu, gpu, 900.0)],
                   ram_bytes=16 * 10**9, cpu_bandwidth_gbs=50.0)


@pytest.mark.parametrize("arch", list(WRITERS))
def test_planned_overrides_land_on_exactly_the_planned_tensors(models, arch):
    path = models[arch]
    facts = planner.ModelFacts.of(gguf.read(path))
    plan = planner.plan(facts, budget_for_one_expert_layer(facts, 128), ctx=128, explicit_gpu_budget=True)
    assert plan.strategy == "experts-cpu" and len(plan.cpu_tensor_patterns) == 1
    planned = matching(path, plan.cpu_tensor_patterns)
    first_moe = next(i for i, size in enumerate(facts.expert_bytes) if size)
    assert planned == {f"blk.{first_moe}.ffn_{kind}_exps.weight" for kind in ("up", "down", "gate")}

    mark = native_log.mark()
    with Engine(path, n_ctx=128, n_threads=2, n_gpu_layers=plan.gpu_layers,
                cpu_patterns=plan.cpu_tensor_patterns, reasoning=False) as engine:
        reply = engine.generate([{"role": "user", "content": "hi"}],
                                Settings(temperature=0, max_tokens=4, ignore_eos=True)).wait()
    assert overridden_since(mark) == planned
    assert reply.error is None and reply.stats.completion_tokens == 4


def test_all_experts_to_ram_skips_deepseek2s_dense_layer(models):
    path = models["deepseek2"]
    mark = native_log.mark()
    with Engine(path, n_ctx=128, n_threads=2, cpu_patterns=[planner.EXPERT_PATTERN], reasoning=False):
        pass
    moved = overridden_since(mark)
    assert moved == matching(path, [planner.EXPERT_PATTERN]) and moved
    assert not any(name.startswith("blk.0.") or "shexp" in name for name in moved)


def test_no_plan_means_no_overrides(models):
    mark = native_log.mark()
    with Engine(models["qwen3moe"], n_ctx=128, n_threads=2, reasoning=False):
        pass
    assert overridden_since(mark) == set()


def test_info_and_run_on_a_moe_model(models, home):
    """The CLI end to end: `info --json` reports the MoE facts and a plan; `run --n-cpu-moe` generates."""
    path = str(models["qwen2moe"])
    info = subprocess.run([sys.executable, "-m", "deskseek.cli", "info", path, "--json", "--ctx", "128",
                           "--gpu-mem", "8G"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert info.returncode == 0, info.stderr
    report = json.loads(info.stdout)
    assert report["architecture"] == "qwen2moe" and report["moe"]["expert_count"] == 4
    assert report["moe"]["expert_bytes"] + report["moe"]["dense_bytes"] == report["weights_bytes"]
    assert report["plan"]["strategy"] == "all-gpu" and report["plan"]["fits"] is True
    run = subprocess.run([sys.executable, "-m", "deskseek.cli", "run", "--model", path, "--n-cpu-moe", "1",
                          "--max-tokens", "3", "--temperature", "0", "--json", "hello"],
                         cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["finish_reason"] in ("stop", "length")
