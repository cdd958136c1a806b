"""The placement planner on the real tensor tables of R1 671B, V2-Lite, Qwen3-30B-A3B and two R1 distills."""

from __future__ import annotations

import re

import pytest

from deskseek.placement import planner
from deskseek.placement.hardware import Device, Machine
from deskseek.placement.planner import EXPERT_PATTERN, ModelFacts
from deskseek.units import parse_size
from tests.fixtures import tensor_tables as tables

GB = 10**9


def cuda(gpu_gb: float, ram_gb: float = 192) -> Machine:
    gpu = Device("CUDA0", "NVIDIA test GPU", "gpu", int(gpu_gb * GB), int(gpu_gb * GB), 1000.0)
    return Machine(backend="cuda", gpus=[gpu], ram_bytes=int(ram_gb * GB), cpu_bandwidth_gbs=60.0)


def apple(unified_gb: float) -> Machine:
    working_set = int(unified_gb * GB * 0.75)  # Metal's recommended working set
    gpu = Device("Metal", "Apple M-series", "gpu", working_set, working_set, 400.0)
    return Machine(backend="metal", gpus=[gpu], ram_bytes=int(unified_gb * GB * 0.9), unified_memory=True,
                   cpu_bandwidth_gbs=400.0)


def cpu_only(ram_gb: float) -> Machine:
    return Machine(backend="cpu", ram_bytes=int(ram_gb * GB), cpu_bandwidth_gbs=40.0)


@pytest.fixture(scope="module")
def facts():
    return {name: ModelFacts.of(make()) for name, make in tables.ALL.items()}


def planned(facts, name, machine, ctx=4096):
    return planner.plan(facts[name], machine, ctx=ctx, explicit_gpu_budget=True)


@pytest.mark.parametrize("name", list(tables.ALL))
@pytest.mark.parametrize("gpu_gb", [8, 12, 16, 24, 48, 80])
def test_byte_sums_match_the_tensor_table_and_respect_the_budget(facts, name, gpu_gb):
    plan = planned(facts, name, cuda(gpu_gb))
    if not plan.fits:
        assert plan.strategy == "wont-fit"
        return
    assert plan.gpu_weight_bytes + plan.cpu_weight_bytes == facts[name].total_bytes
    assert plan.gpu_bytes <= gpu_gb * GB  # --gpu-mem is the budget itself: no hidden margin on top
    kv_on_gpu = plan.gpu_bytes - plan.gpu_weight_bytes - plan.compute_bytes
    assert 0 <= kv_on_gpu <= plan.kv_bytes


@pytest.mark.parametrize(
    "name, expected",
    [
        ("r1-distill-qwen-7b-Q4_K_M", {8: "all-gpu", 24: "all-gpu", 80: "all-gpu"}),
        ("r1-distill-llama-70b-Q4_K_M", {8: "layers", 24: "layers", 48: "all-gpu", 80: "all-gpu"}),
        ("qwen3-30b-a3b-Q4_K_M", {8: "experts-cpu", 16: "experts-cpu", 24: "all-gpu", 80: "all-gpu"}),
        ("deepseek-v2-lite-Q4_K_M", {8: "experts-cpu", 12: "all-gpu", 80: "all-gpu"}),
        ("deepseek-r1-671b-UD-IQ1_S", {8: "experts-cpu+layers", 24: "experts-cpu", 48: "experts-cpu",
                                       80: "experts-cpu"}),
        ("deepseek-r1-671b-Q4_K_M", {8: "wont-fit", 24: "wont-fit", 80: "wont-fit"}),
    ],
)
def test_choices_across_gpu_sizes(facts, name, expected):
    assert {gb: planned(facts, name, cuda(gb)).strategy for gb in expected} == expected


def test_more_gpu_memory_means_fewer_expert_layers_in_ram_and_more_speed(facts):
    name = "deepseek-r1-671b-UD-IQ1_S"
    plans = [planned(facts, name, cuda(gb)) for gb in (24, 32, 48, 64, 80)]
    in_ram = [len(p.cpu_tensor_patterns) for p in plans]
    assert in_ram == sorted(in_ram, reverse=True) and in_ram[0] > in_ram[-1] > 0
    rates = [p.est_decode_tok_s for p in plans]
    assert rates == sorted(rates) and rates[0] > 0


def test_r1_keeps_its_dense_layers_and_shared_experts_on_the_gpu(facts):
    plan = planned(facts, "deepseek-r1-671b-UD-IQ1_S", cuda(48))
    table = tables.deepseek_r1_671b("UD-IQ1_S")
    in_ram = {t.name for t in table.tensors if any(re.search(p, t.name) for p in plan.cpu_tensor_patterns)}
    assert in_ram and all("_exps" in name for name in in_ram)
    assert not any(name.startswith(("blk.0.", "blk.1.", "blk.2.")) for name in in_ram)  # dense layers
    layers = sorted({int(name.split(".")[1]) for name in in_ram})
    assert layers == list(range(3, 3 + len(plan.cpu_tensor_patterns)))  # the first MoE layers, as --n-cpu-moe
    assert plan.gpu_layers == 62  # every block (and the output head) on the GPU


def test_r1_q4_needs_half_a_terabyte(facts):
    refused = planned(facts, "deepseek-r1-671b-Q4_K_M", cuda(80, ram_gb=192))
    assert not refused.fits and "needs 405.0 GB" in refused.reason and "together hold 272.0 GB" in refused.reason
    assert planned(facts, "deepseek-r1-671b-Q4_K_M", cuda(80, ram_gb=512)).strategy == "experts-cpu"


@pytest.mark.parametrize(
    "name, expected",
    [
        ("r1-distill-qwen-7b-Q4_K_M", {16: "all-gpu", 192: "all-gpu"}),
        ("r1-distill-llama-70b-Q4_K_M", {16: "wont-fit", 32: "wont-fit", 64: "all-gpu", 128: "all-gpu"}),
        ("qwen3-30b-a3b-Q4_K_M", {16: "wont-fit", 24: "experts-cpu", 36: "all-gpu"}),
        ("deepseek-r1-671b-UD-IQ1_S", {64: "wont-fit", 128: "wont-fit", 192: "all-gpu"}),
    ],
)
def test_apple_unified_memory(facts, name, expected):
    """One pool: what Metal takes, the CPU side no longer has, so the total never exceeds RAM."""
    plans = {gb: planner.plan(facts[name], apple(gb), ctx=4096) for gb in expected}
    assert {gb: p.strategy for gb, p in plans.items()} == expected
    for gb, plan in plans.items():
        if plan.fits:
            assert plan.gpu_bytes + plan.cpu_bytes <= apple(gb).ram_bytes


def test_cpu_only_machine(facts):
    assert planned(facts, "r1-distill-qwen-7b-Q4_K_M", cpu_only(16)).strategy == "cpu"
    refused = planned(facts, "r1-distill-llama-70b-Q4_K_M", cpu_only(16))
    assert refused.strategy == "wont-fit" and "of RAM" in refused.reason


def test_kv_cache_sizes(facts):
    # MLA (current conversions): one 576-wide key and a 512-wide value per token and layer.
    assert facts["deepseek-r1-671b-UD-IQ1_S"].kv_bytes(4096) == 61 * 4096 * (576 + 512) * 2
    # Qwen2 7B: 28 layers, 4 KV heads of 128.
    assert facts["r1-distill-qwen-7b-Q4_K_M"].kv_bytes(4096) == 28 * 4096 * 4 * 128 * 2 * 2


def test_moe_facts(facts):
    r1 = facts["deepseek-r1-671b-UD-IQ1_S"]
    assert (r1.n_layer, r1.n_expert, r1.n_expert_used) == (61, 256, 8)
    assert r1.expert_bytes[:3] == [0, 0, 0] and all(r1.expert_bytes[3:])
    assert r1.routed_expert_bytes + r1.dense_bytes == r1.total_bytes
    assert not facts["r1-distill-llama-70b-Q4_K_M"].moe


def test_user_flags_win_over_the_planner(facts):
    r1, machine = facts["deepseek-r1-671b-UD-IQ1_S"], cuda(48)
    everything = planner.choose(r1, machine, ctx=4096, cpu_moe=True, explicit_gpu_budget=True)
    assert everything.cpu_tensor_patterns == [EXPERT_PATTERN] and everything.gpu_layers == -1
    # llama.cpp's meaning: blocks 0..N-1, and R1's first three blocks are dense, so 3 moves nothing.
    three = planner.choose(r1, machine, ctx=4096, n_cpu_moe=3, explicit_gpu_budget=True)
    assert three.cpu_tensor_patterns == [] and three.cpu_expert_blocks == []
    six = planner.choose(r1, machine, ctx=4096, n_cpu_moe=6, explicit_gpu_budget=True)
    assert six.cpu_tensor_patterns == [rf"^blk\.{i}{EXPERT_PATTERN}" for i in (3, 4, 5)]
    assert six.summary() == "manual: -1 GPU layers, experts of 3 layers in RAM" and six.same_as_n_cpu_moe == 6
    assert "3 of 58 MoE layers" in six.reason
    off = planner.choose(r1, machine, ctx=4096, mode="off", explicit_gpu_budget=True)
    assert off.cpu_tensor_patterns == [] and off.gpu_layers == -1 and "planner would choose" in off.notes[0]
    layers = planner.choose(r1, machine, ctx=4096, gpu_layers=10, explicit_gpu_budget=True)
    assert layers.gpu_layers == 10 and layers.strategy == "manual"


def test_all_experts_in_ram_is_counted_not_minus_one(facts):
    """When every MoE layer's experts go to RAM the pattern is the global one; the count must stay the real one."""
    r1 = facts["deepseek-r1-671b-UD-IQ1_S"]
    everything = planner.choose(r1, cuda(48), ctx=4096, cpu_moe=True, explicit_gpu_budget=True)
    assert everything.cpu_tensor_patterns == [EXPERT_PATTERN] and everything.cpu_expert_layers == 58
    assert everything.same_as_n_cpu_moe == 61 and "-1" not in everything.summary().replace("-1 GPU", "")
    qwen = facts["qwen3-30b-a3b-Q4_K_M"]
    some = planner.plan(qwen, cuda(16), ctx=4096, explicit_gpu_budget=True)
    assert some.strategy in ("experts-cpu", "experts-cpu+layers") and some.cpu_expert_layers > 0
    if some.strategy == "experts-cpu":  # qwen3 has no dense blocks: the first k MoE blocks are --n-cpu-moe k
        assert some.summary().endswith(f"(llama.cpp: --n-cpu-moe {some.cpu_expert_layers})")
    r1_plan = planner.plan(r1, cuda(140), ctx=4096, explicit_gpu_budget=True)  # R1 at IQ1_S: 131 GB
    assert r1_plan.strategy == "experts-cpu"  # three dense blocks first: k MoE blocks are --n-cpu-moe k+3
    assert r1_plan.same_as_n_cpu_moe == r1_plan.cpu_expert_layers + 3


def test_expert_pattern_is_llama_cpps():
    """Fused gate_up experts and the `_chexps` form are routed experts too; shared experts and dense FFNs are not."""
    hits = ["blk.3.ffn_gate_up_exps.weight", "blk.3.ffn_up_chexps.weight", "blk.3.ffn_down_exps.weight",
            "blk.3.ffn_gate_exps.weight"]
    misses = ["blk.3.ffn_up_shexp.weight", "blk.3.ffn_gate.weight", "blk.3.ffn_gate_inp.weight",
]
    assert all(re.search(EXPERT_PATTERN, name) for name in hits)
    assert not any(re.search(EXPERT_PATTERN, name) for name in misses)
    one = planner.expert_patterns([3], 48)[0]
    assert re.search(one, "blk.3.ffn_gate_up_exps.weight") and not re.search(one, "blk.13.ffn_gate_up_exps.weight")


def test_expert_patterns_match_routed_experts_only():
    table = tables.qwen3_30b_a3b()
    matched = {t.name for t in table.tensors if re.search(EXPERT_PATTERN, t.name)}
    assert len(matched) == 48 * 3 and all(name.endswith(("_exps.weight",)) for name in matched)
    one = planner.expert_patterns([7], 48)
    assert {t.name for t in table.tensors if re.search(one[0], t.name)} == {
        f"blk.7.ffn_{kind}_exps.weight" for kind in ("up", "down", "gate")}
    assert not any(re.search(one[0], f"blk.17.ffn_{k}_exps.weight") for k in ("up", "down", "gate"))


def test_fit_before_download():
    assert planner.fit_from_size(5 * GB, cuda(8)) == "fits (GPU)"
    assert planner.fit_from_size(40 * GB, cuda(8, ram_gb=64)) == "fits (GPU+RAM)"
    assert planner.fit_from_size(5 * GB, cpu_only(16)) == "fits (RAM)"
    assert planner.fit_from_size(14 * GB, cpu_only(16)) == "tight"
    assert planner.fit_from_size(140 * GB, cpu_only(64)) == "won't fit"


def test_sizes_are_parsed_as_users_write_them():
    assert parse_size("24G") == 24 * GB and parse_size("24GB") == 24 * GB
    assert parse_size("16GiB") == 16 * 2**30 and parse_size("512m") == 512 * 10**6
    with pytest.raises(ValueError):
        parse_size("lots")


def mac(memory_gb: float) -> Machine:
    """An Apple Silicon Mac as ggml reports it: the Metal device's memory is recommendedMaxWorkingSetSize (75%)."""
    machine = apple(memory_gb)
    machine.ram_total_bytes = int(memory_gb * GB)
    return machine


def test_metal_ceiling_says_how_to_raise_it_when_that_is_all_that_keeps_a_model_off_the_gpu(facts):
    model = facts["qwen3-30b-a3b-Q4_K_M"]
    plan = planner.plan(model, mac(24), ctx=4096)
    assert plan.strategy == "experts-cpu" and plan.fits  # it runs, but not all on the GPU
    [note] = plan.notes
    limit_mb = int(re.search(r"`sudo sysctl iogpu\.wired_limit_mb=(\d+)`", note)[1])
    need = model.total_bytes - model.input_bytes + model.kv_bytes(4096) + planner.compute_buffer_bytes(model)
    assert need < limit_mb * 2**20 <= 24 * GB - 4 * 2**30  # enough for the model, and macOS keeps 4 GiB
    assert note.startswith("Metal keeps at most 18.0 GB of this Mac's 24.0 GB on the GPU; all on the GPU needs")
    # With the limit raised to that figure (ggml then reports it as the device's memory), the plan is all on the GPU.
    raised = mac(24)
    raised.gpus[0].free_bytes = raised.gpus[0].total_bytes = limit_mb * 2**20
    assert planner.plan(model, raised, ctx=4096).strategy == "all-gpu"


def test_metal_ceiling_gives_no_remedy_that_would_starve_macos(facts):
    plan = planner.plan(facts["r1-distill-llama-70b-Q4_K_M"], mac(48), ctx=4096)
    assert plan.notes == ["Metal keeps at most 36.0 GB of this Mac's 48.0 GB on the GPU; all on the GPU needs "
                          "44.4 GB, more than macOS can spare"]
    assert planner.plan(facts["r1-distill-llama-70b-Q4_K_M"], mac(64), ctx=4096).notes == []  # under the ceiling
    assert planner.plan(facts["qwen3-30b-a3b-Q4_K_M"], cuda(16), ctx=4096).notes == []  # not a Mac: no such limit


def test_head_counts_given_per_layer_are_summed_not_a_crash(tmp_path):
    """Some models store attention.head_count_kv as one number per layer (0: a layer without attention)."""
    from pathlib import Path

    from deskseek.models.gguf import GgufInfo

    per_layer = [8, 8, 0, 4] + [4] * 76  # 80 layers: longer than the 64 items a vocabulary-sized array keeps
    info = GgufInfo(Path("x.gguf"), 3, {"general.architecture": "llama", "llama.block_count": 80,
                                        "llama.attention.head_count": 32, "llama.attention.head_count_kv": per_layer,
                                        "llama.embedding_length": 4096})
    facts = ModelFacts.of(info)
    assert facts.kv_bytes(1) == sum(per_layer) * 128 * 2 * 2  # K and V, f16
    uniform = GgufInfo(Path("x.gguf"), 3, {**info.metadata, "llama.attention.head_count_kv": 8})
    assert ModelFacts.of(uniform).kv_bytes(1) == 80 * 8 * 128 * 2 * 2


def test_all_on_gpu_still_needs_ram_for_the_token_embeddings(facts):
    """`info --gpu-mem 24G --ram 1K` said "all on GPU, fits": llama.cpp keeps token_embd in RAM whatever the plan."""
    model = facts["r1-distill-qwen-7b-Q4_K_M"]
    starved = planner.plan(model, cuda(24, ram_gb=1e-6), ctx=4096, explicit_gpu_budget=True)
    assert not starved.fits and starved.strategy == "wont-fit" and "of RAM" in starved.reason
    assert planner.plan(model, cuda(24), ctx=4096, explicit_gpu_budget=True).strategy == "all-gpu"
