"""A draft model's place: its memory is counted before the target is placed, on the target's device where both fit."""

from __future__ import annotations

import pytest

from deskseek.cli.main import build_parser
from deskseek.engines import draft_plan, launch
from deskseek.errors import NotFound
from deskseek.models import choice, registry
from deskseek.placement import planner
from deskseek.placement.hardware import Device, Machine
from tests.engines.test_local import starter_path  # noqa: F401  (session fixture)
from tests.fixtures import tensor_tables as tables

GB = 10**9
CTX = 8192


def cuda(gpu_gb: float, ram_gb: float = 64) -> Machine:
    gpu = Device("CUDA0", "NVIDIA test GPU", "gpu", int(gpu_gb * GB), int(gpu_gb * GB), 1000.0)
    return Machine(backend="cuda", gpus=[gpu], ram_bytes=int(ram_gb * GB), cpu_bandwidth_gbs=60.0)


def cpu_only(ram_gb: float) -> Machine:
    return Machine(backend="cpu", ram_bytes=int(ram_gb * GB), cpu_bandwidth_gbs=40.0)


TARGET = planner.ModelFacts.of(tables.r1_distill_qwen_7b())
DRAFT = planner.ModelFacts.of(tables.r1_distill_qwen_1_5b())
HELPER = choice.Chosen("r1-distill-qwen-1.5b:Q4_K_M", tables.r1_distill_qwen_1_5b().path, True, registry.Sampling())


def plan_on(machine: Machine) -> planner.Plan:
    plan = planner.plan(TARGET, machine, ctx=CTX, explicit_gpu_budget=True)
    plan.ctx = CTX
    return plan


def place(machine: Machine):
    seen = []

    def replan(smaller):
        seen.append(smaller)
        return plan_on(smaller)

    return (*draft_plan.place(HELPER, DRAFT, plan_on(machine), machine, replan), seen)


def test_the_draft_joins_the_target_on_a_gpu_with_room_for_both():
    machine = cuda(24)
    draft, plan, note, seen = place(machine)
    size = draft_plan.needs(DRAFT, CTX)
    assert draft == draft_plan.DraftPlacement(HELPER.name, HELPER.path, -1, size, "GPU") and note == ""
    assert 1 * GB < size < 2 * GB  # its 1.1 GB of weights, and a KV cache as long as the target's
    assert plan.strategy == "all-gpu"
    assert seen[0].gpus[0].free_bytes == machine.gpus[0].free_bytes - size  # planned beside it
    assert machine.gpus[0].free_bytes == 24 * GB  # the caller's machine is left as it was


def test_a_draft_that_would_push_the_target_off_the_gpu_goes_to_ram():
    alone = plan_on(cuda(24))
    tight = cuda((alone.gpu_bytes + draft_plan.needs(DRAFT, CTX) // 2) / GB)
    assert plan_on(tight).strategy == "all-gpu"
    draft, plan, note, _ = place(tight)
    assert draft.where == "RAM" and draft.gpu_layers == 0 and plan.strategy == "all-gpu" and note == ""


def test_on_a_cpu_the_draft_is_counted_in_ram():
    draft, plan, note, seen = place(cpu_only(16))
    assert draft.where == "RAM" and plan.strategy == "cpu" and note == ""
    assert seen[-1].ram_bytes == 16 * GB - draft.bytes


def test_where_there_is_room_for_the_target_alone_it_runs_alone_and_says_so():
    alone = plan_on(cpu_only(64))
    machine = cpu_only((alone.cpu_bytes + GB // 2) / GB)
    draft, plan, note, _ = place(machine)
    assert draft is None and plan.fits and plan.strategy == "cpu"
    assert note == "the draft model r1-distill-qwen-1.5b:Q4_K_M does not fit beside the model; running without it"


def test_unified_memory_loses_the_drafts_bytes_on_both_sides():
    gpu = Device("Metal", "Apple M-series", "gpu", 24 * GB, 24 * GB, 400.0)
    mac = Machine(backend="metal", gpus=[gpu], ram_bytes=28 * GB, unified_memory=True, cpu_bandwidth_gbs=400.0)
    draft, _, _, seen = place(mac)
    assert draft.where == "GPU"
    assert seen[0].ram_bytes == 28 * GB - draft.bytes and seen[0].gpus[0].free_bytes == 24 * GB - draft.bytes


def parse(*argv):
    return build_parser().parse_args(["run", *argv])


def test_which_draft(home, starter_path):  # noqa: F811
    spec = registry.load()["r1-distill-qwen-7b"]
    assert spec.draft == "r1-distill-qwen-1.5b"
    assert draft_plan.pick(parse(), spec) is None  # the registry's draft, not installed: none, quietly
    assert draft_plan.pick(parse("--speculate", "off", "--draft", str(starter_path)), spec) is None
    assert draft_plan.pick(parse("--draft", str(starter_path)), None).path == starter_path.resolve()
    with pytest.raises(NotFound, match="'nosuch' is not installed"):
        draft_plan.pick(parse("--draft", "nosuch"), spec)


def test_a_launch_with_a_draft_model_carries_it_to_the_engine(home, starter_path):  # noqa: F811
    prepared = launch.prepare(parse("--draft", str(starter_path), "-c", "1024"), str(starter_path))
    assert prepared.draft is not None and prepared.draft.path == starter_path.resolve()
    assert launch.draft_options(prepared) == {"draft": prepared.draft.path,
                                              "draft_gpu_layers": prepared.draft.gpu_layers}
    assert launch.draft_options(launch.prepare(parse("-c", "1024"), str(starter_path))) == {}
