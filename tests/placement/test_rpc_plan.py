"""Workers' devices (--rpc) in the plan: memory from the workers, and a speed estimate that pays for the network."""

from __future__ import annotations

from dataclasses import replace

import pytest

from deskseek.placement import planner
from deskseek.placement.hardware import Device, Machine
from deskseek.placement.planner import ModelFacts
from deskseek.placement.speed import network_seconds
from tests.fixtures import tensor_tables as tables

GB = 10**9
NAME = "r1-distill-llama-70b-Q4_K_M"


def local_gpu(gb: float) -> Device:
    return Device("CUDA0", "NVIDIA test GPU", "gpu", int(gb * GB), int(gb * GB), 1000.0)


def worker(index: int, gb: float, *, link_gbit: float = 1.0, rtt_ms: float = 0.2) -> Device:
    return Device(f"RPC{index}@10.0.0.{index + 2}:50052", f"worker 10.0.0.{index + 2}:50052", "rpc", int(gb * GB),
                  int(gb * GB), 1000.0, link_gbs=link_gbit / 8, rtt_s=rtt_ms / 1000)


def machine(*gpus: Device, link_given: bool = False) -> Machine:
    return Machine(backend="cuda+rpc", gpus=list(gpus), ram_bytes=64 * GB, cpu_bandwidth_gbs=60.0,
                   rpc_link_given=link_given)


@pytest.fixture(scope="module")
def facts():
    return ModelFacts.of(tables.ALL[NAME]())


def test_two_workers_hold_what_one_gpu_cannot(facts):
    alone = planner.plan(facts, machine(local_gpu(24)), ctx=4096, explicit_gpu_budget=True)
    together = planner.plan(facts, machine(local_gpu(24), worker(0, 24), worker(1, 24)), ctx=4096,
                            explicit_gpu_budget=True)
    assert alone.strategy == "layers" and together.strategy == "all-gpu"


def test_the_estimate_pays_for_the_network(facts):
    same_box = planner.plan(facts, machine(local_gpu(48), replace(worker(0, 48), kind="gpu")), ctx=4096,
                            explicit_gpu_budget=True)
    gigabit = planner.plan(facts, machine(local_gpu(48), worker(0, 48)), ctx=4096, explicit_gpu_budget=True)
    slow = planner.plan(facts, machine(local_gpu(48), worker(0, 48, link_gbit=0.1, rtt_ms=5)), ctx=4096,
                        explicit_gpu_budget=True)
    assert same_box.strategy == gigabit.strategy == slow.strategy == "all-gpu"
    assert same_box.expected_tok_s > gigabit.expected_tok_s > slow.expected_tok_s > 0
    # the difference is the wire: each token's activations there and back, and two round trips
    per_token = 1 / gigabit.expected_tok_s - 1 / same_box.expected_tok_s
    assert per_token == pytest.approx(network_seconds(worker(0, 48), facts.n_embd), rel=5e-2)  # rates are rounded to 0.01


def test_the_plan_says_what_it_assumed_about_the_workers(facts):
    plan = planner.plan(facts, machine(local_gpu(24), worker(0, 24), worker(1, 8)), ctx=4096,
                        explicit_gpu_budget=True)
    note = next(note for note in plan.notes if "network" in note)
    assert "CUDA0 43%" in note and "RPC0@10.0.0.2:50052 43%" in note and "RPC1@10.0.0.3:50052 14%" in note
    assert "link 1 Gbit/s (assumed; --rpc-link GBIT sets it)" in note and "round trip 0.20 ms (measured)" in note
    given = planner.plan(facts, machine(local_gpu(24), worker(0, 24, link_gbit=10), link_given=True), ctx=4096,
                         explicit_gpu_budget=True)
    assert "link 10 Gbit/s (set by --rpc-link)" in next(n for n in given.notes if "network" in n)


def test_a_machine_without_workers_plans_as_before(facts):
    plan = planner.plan(facts, machine(local_gpu(48)), ctx=4096, explicit_gpu_budget=True)
    assert not any("network" in note for note in plan.notes)


def test_gpu_mem_budgets_this_machines_gpu_and_keeps_the_workers():
    from deskseek.placement.hardware import assumed

    base = machine(local_gpu(24), worker(0, 24))
    planned_for = assumed(gpu_bytes=8 * GB, base=base)
    assert [(gpu.kind, gpu.free_bytes) for gpu in planned_for.gpus] == [("gpu", 8 * GB), ("rpc", 24 * GB)]
    assert planned_for.gpus[1].name == "RPC0@10.0.0.2:50052"
