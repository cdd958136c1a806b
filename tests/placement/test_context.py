"""The default context: room to think where memory allows, never past what the model was trained for."""

from __future__ import annotations

import dataclasses

import pytest

from deskseek.placement import context, planner
from tests.fixtures import tensor_tables as tables
from tests.placement.test_planner import cpu_only, cuda


@pytest.fixture(scope="module")
def r1_7b() -> planner.ModelFacts:
    return dataclasses.replace(planner.ModelFacts.of(tables.r1_distill_qwen_7b()), trained_ctx=131072)


def test_a_thinking_model_gets_32k_where_it_keeps_its_placement(r1_7b):
    ctx, why = context.default(r1_7b, cuda(24), reasoning=True, explicit_gpu_budget=True)
    assert ctx == 32768 and why == "the cap of 32768 for models that think"
    assert planner.plan(r1_7b, cuda(24), ctx=ctx, explicit_gpu_budget=True).strategy == "all-gpu"


def test_a_model_that_does_not_think_gets_8k(r1_7b):
    assert context.default(r1_7b, cuda(24), reasoning=False, explicit_gpu_budget=True)[0] == 8192


def test_never_past_the_trained_length(r1_7b):
    short = dataclasses.replace(r1_7b, trained_ctx=10000)
    ctx, why = context.default(short, cuda(24), reasoning=True, explicit_gpu_budget=True)
    assert ctx == 10000 and why == "its trained length (10000)"


def test_on_a_tight_gpu_it_keeps_the_placement_if_that_still_leaves_16k(r1_7b):
    """Find a budget where 32k would spill to RAM but 16k stays all on the GPU: 16k or more, still all-gpu."""
    need = {c: planner.plan(r1_7b, cuda(100), ctx=c, explicit_gpu_budget=True).gpu_bytes for c in (16384, 32768)}
    budget = cuda((need[16384] + need[32768]) / 2 / 1e9)
    ctx, _ = context.default(r1_7b, budget, reasoning=True, explicit_gpu_budget=True)
    assert 16384 <= ctx < 32768 and planner.plan(r1_7b, budget, ctx=ctx, explicit_gpu_budget=True).strategy == "all-gpu"


def test_room_to_think_beats_speed_when_only_a_short_context_stays_on_the_gpu(r1_7b):
    """If only a context under 16k keeps every weight on the GPU, a thinking model still gets 16k (slower, but an
    answer), and the reason says what it costs."""
    need = planner.plan(r1_7b, cuda(100), ctx=4096, explicit_gpu_budget=True).gpu_bytes
    budget = cuda(need * 1.02 / 1e9)
    ctx, why = context.default(r1_7b, budget, reasoning=True, explicit_gpu_budget=True)
    assert ctx == 16384 and "moves some weights off the GPU" in why
    assert context.default(r1_7b, budget, reasoning=False, explicit_gpu_budget=True)[0] < 16384


def test_a_small_machine_gets_what_fits(r1_7b):
    weights = r1_7b.total_bytes
    ctx, why = context.default(r1_7b, cpu_only((weights + r1_7b.kv_bytes(5000)) / 1e9 + 0.2), reasoning=True)
    assert 2048 <= ctx < 16384 and "memory allows" in why


def test_more_context_never_moves_more_experts_off_the_gpu_for_free():
    """Two plans of the same strategy can keep different experts in RAM: the size that keeps the short context's
    split is chosen, not merely one with the same strategy's name."""
    qwen = dataclasses.replace(planner.ModelFacts.of(tables.qwen3_30b_a3b()), trained_ctx=40960)
    machine = cuda(16)
    ctx, why = context.default(qwen, machine, reasoning=True, explicit_gpu_budget=True)
    short = planner.plan(qwen, machine, ctx=2048, explicit_gpu_budget=True)
    chosen = planner.plan(qwen, machine, ctx=ctx, explicit_gpu_budget=True)
    if chosen.cpu_expert_blocks == short.cpu_expert_blocks:
        assert "keeps the weights" in why or why.startswith("the cap")
    else:
        assert ctx == 16384 and "moves some weights off the GPU" in why
