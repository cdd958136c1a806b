"""The recommendation: which DeepSeek-R1 model each kind of machine gets, and why.

Machines are given as the facts deskseek reads from them (hardware.detect on each): a Mac's Metal device
reports recommendedMaxWorkingSetSize, two thirds of its memory up to 36 GB and three quarters above
(5.3 GiB of 8, 10.7 of 16, 21.3 of 32, 48 of 64, 96 of 128); RAM available is what the OS says is free
(a quarter in use assumed). The catalogue is the shipped models.toml, so a change to its sizes or scores
that changes a recommendation shows up here.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from deskseek.llama.devices import Device
from deskseek.models import registry
from deskseek.placement import context, planner, recommend
from deskseek.placement.hardware import DEFAULT_CPU_BANDWIDTH, DEFAULT_GPU_BANDWIDTH, Machine
from tests.engines.test_local import starter_path  # noqa: F401  (session fixture)
from tests.fixtures import tensor_tables as tables

GiB = 2**30


def mac(memory_gib: int, bandwidth: float, chip: str) -> Machine:
    total = memory_gib * GiB
    ceiling = int(total * (2 / 3 if memory_gib <= 36 else 0.75))
    metal = Device("Metal", f"Apple {chip}", "gpu", ceiling, ceiling, bandwidth)
    return Machine("metal", [metal], ram_bytes=int(total * 0.75), ram_total_bytes=total,
                   cpu_bandwidth_gbs=bandwidth, unified_memory=True)


def nvidia(vram_gib: int, ram_gib: int, bandwidth: float, name: str) -> Machine:
    free = int(vram_gib * GiB * 0.97)  # the driver and the desktop keep a little
    gpu = Device("CUDA0", name, "gpu", free, vram_gib * GiB, bandwidth)
    return Machine("cuda", [gpu], ram_bytes=int(ram_gib * GiB * 0.8), ram_total_bytes=ram_gib * GiB,
                   cpu_bandwidth_gbs=DEFAULT_CPU_BANDWIDTH)


def cpu(ram_gib: int) -> Machine:
    return Machine("cpu", ram_bytes=int(ram_gib * GiB * 0.75), ram_total_bytes=ram_gib * GiB,
                   cpu_bandwidth_gbs=DEFAULT_CPU_BANDWIDTH)


# (machine, the model it should get, why, words its reason must carry)
TABLE = [
    ("8 GB M1", mac(8, 68, "M1"), "r1-distill-qwen-1.5b",
     "the 7B would need 95% of the memory a Mac of 8 GB has free at 16k: no room for anything else", ["5.73 GB Metal"]),
    ("16 GB M2", mac(16, 100, "M2"), "r1-distill-qwen-7b",
     "all on the GPU at 32k, ~12 tok/s; the 14B spills past the Metal ceiling to ~6 tok/s", ["11.45 GB Metal", "32k"]),
    ("32 GB M2 Pro", mac(32, 200, "M2 Pro"), "r1-distill-qwen-14b",
     "the issue's reporter's machine: the 14B fits the 21.3 GiB ceiling; the 32B does not and drops to ~6 tok/s",
     ["22.91 GB Metal", "r1-distill-qwen-32b fits too"]),
    ("64 GB M2 Max", mac(64, 400, "M2 Max"), "r1-distill-qwen-32b",
     "the 32B is all on the GPU at ~11 tok/s; the 70B fits but at ~6 and scores lower on AIME", ["51.54 GB Metal"]),
    ("128 GB M2 Ultra", mac(128, 800, "M2 Ultra"), "r1-distill-qwen-32b",
     "the 70B runs at ~11 tok/s but scores below the 32B on AIME (70.0 vs 72.6); R1 671B does not fit", ["32k"]),
    ("12 GB NVIDIA + 32 GB RAM", nvidia(12, 32, 360, "NVIDIA GeForce RTX 3060"), "r1-distill-qwen-14b",
     "the 14B's layers fit the GPU at 16k (only the output head in RAM): ~19 tok/s; the 32B half in RAM: ~3",
     ["16k", "GPU and RAM"]),
    ("12 GB NVIDIA + 64 GB RAM", nvidia(12, 64, 360, "NVIDIA GeForce RTX 3060"), "r1-distill-qwen-14b",
     "more RAM makes the 70B fit, at ~1 tok/s: not a conversation", ["16k"]),
    ("24 GB NVIDIA + 32 GB RAM", nvidia(24, 32, 1008, "NVIDIA GeForce RTX 4090"), "r1-distill-qwen-32b",
     "the 32B all on the GPU at 16k: ~30 tok/s", ["the GPU's", "16k"]),
    ("24 GB NVIDIA + 64 GB RAM", nvidia(24, 64, 1008, "NVIDIA GeForce RTX 4090"), "r1-distill-qwen-32b",
     "the 70B would mostly run from RAM: ~2 tok/s", ["16k"]),
    ("CPU only, 16 GB", cpu(16), "r1-distill-qwen-1.5b",
     "the 7B fits but decodes at ~7.6 tok/s on a desktop's memory bandwidth; the 1.5B at ~28",
     ["of RAM", "r1-distill-qwen-7b fits too, but at about 7.6 tok/s"]),
]


@pytest.fixture(scope="module")
def specs():
    return registry.parse(*registry._packaged_text())


@pytest.mark.parametrize("name, machine, expected, why, words", TABLE, ids=[row[0] for row in TABLE])
def test_each_machine_gets_the_strongest_r1_it_runs_well(specs, name, machine, expected, why, words):
    items = recommend.recommend(specs, machine)
    chosen = [item for item in items if item.recommended]
    assert len(chosen) == 1
    best = chosen[0]
    assert best.alias == expected, f"{name}: {best.alias} ({best.why}); expected {expected}: {why}"
    assert best.est_tok_s >= recommend.USABLE_TOK_S and best.roomy
    assert best.ctx >= context.THINKING_FLOOR
    for word in words:
        assert word in best.why, best.why
    assert f"about {recommend.tok_s(best.est_tok_s)}" in best.why
    # nothing stronger would also have been usable
    stronger = [i for i in items if i.scores and i.scores["aime_2024"] > best.scores["aime_2024"]]
    assert all(not i.roomy or i.est_tok_s < recommend.USABLE_TOK_S for i in stronger)


def test_only_published_r1_models_are_recommended_and_the_starter_never(specs):
    huge = mac(512, 800, "M3 Ultra")
    items = {item.alias: item for item in recommend.recommend(specs, huge)}
    assert items["starter"].scores is None and not items["starter"].recommended
    assert items["qwen3-30b-a3b"].scores is None  # a thinking model, but not in DeepSeek's report
    assert [a for a, item in items.items() if item.recommended] == ["deepseek-r1"]  # 79.8 on AIME, fits 512 GB


def test_with_nothing_fast_enough_the_fastest_is_recommended(specs):
    slow = Machine("cpu", ram_bytes=12 * GiB, ram_total_bytes=16 * GiB, cpu_bandwidth_gbs=8.0)
    best = next(item for item in recommend.recommend(specs, slow) if item.recommended)
    assert best.alias == "r1-distill-qwen-1.5b" and best.est_tok_s < recommend.USABLE_TOK_S
    assert "the fastest here" in best.why and "none reaches 8 tok/s" in best.why


def test_with_nothing_that_fits_the_smallest_is_named_and_says_so(specs):
    tiny = Machine("cpu", ram_bytes=1 * GiB, ram_total_bytes=2 * GiB)
    items = recommend.recommend(specs, tiny)
    best = next(item for item in items if item.recommended)
    assert best.alias == "r1-distill-qwen-1.5b" and not best.fits
    assert best.why.startswith("the smallest: no model fits")
    assert sum(item.recommended for item in items) == 1


@pytest.mark.parametrize("machine", [
    Machine("cpu", ram_bytes=12 * GiB, ram_total_bytes=16 * GiB, cpu_bandwidth_gbs=0.0),
    Machine("cuda", [Device("CUDA0", "an unknown card", "gpu", 12 * GiB, 12 * GiB, 0.0)], ram_bytes=12 * GiB,
            ram_total_bytes=16 * GiB, cpu_bandwidth_gbs=0.0),
    Machine("metal", [Device("Metal", "Apple M9", "gpu", 10 * GiB, 10 * GiB, 0.0)], ram_bytes=12 * GiB,
            ram_total_bytes=16 * GiB, cpu_bandwidth_gbs=0.0, unified_memory=True),
], ids=["cpu", "cuda", "metal"])
def test_an_unknown_bandwidth_is_taken_as_the_default_not_divided_by(specs, machine):
    """A bandwidth of 0 (a Machine built without one) raised ZeroDivisionError on the CPU side and, on the
    GPU side, made every model decode at 1 GB/s: "about 0.5 tok/s, the fastest here"."""
    items = recommend.recommend(specs, machine)
    assert sum(item.recommended for item in items) == 1
    known = replace(machine, cpu_bandwidth_gbs=DEFAULT_CPU_BANDWIDTH,
                    gpus=[replace(gpu, bandwidth_gbs=DEFAULT_GPU_BANDWIDTH) for gpu in machine.gpus])
    assert [(i.alias, i.est_tok_s) for i in items] == [(i.alias, i.est_tok_s) for i in recommend.recommend(specs, known)]


def test_a_gpu_with_no_free_memory_plans_on_the_ram(specs):
    busy = Machine("cuda", [Device("CUDA0", "NVIDIA GeForce RTX 3060", "gpu", 0, 12 * GiB, 360)],
                   ram_bytes=16 * GiB, ram_total_bytes=32 * GiB)
    best = next(item for item in recommend.recommend(specs, busy) if item.recommended)
    assert best.fit == "fits (RAM)" and "of RAM" in best.why


def test_two_gpus_are_named_as_two(specs):
    two = Machine("cuda", [Device("CUDA0", "NVIDIA GeForce RTX 4090", "gpu", 24 * GiB, 24 * GiB, 1008),
                           Device("CUDA1", "NVIDIA GeForce RTX 3060", "gpu", 12 * GiB, 12 * GiB, 360)],
                  ram_bytes=32 * GiB, ram_total_bytes=64 * GiB)
    best = next(item for item in recommend.recommend(specs, two) if item.recommended)
    assert best.why.startswith("fits the 2 GPUs' 38.65 GB with a "), best.why


def test_a_thinking_model_trained_on_a_short_context_is_never_recommended(specs):
    """Trained on 2,048 tokens, an R1-style model ends its replies inside the thought, whatever its scores."""
    short = registry.parse("""
[models.short]
description = "a user's own, trained on 2k"
repo = "me/Short-GGUF"
architecture = "qwen2"
params = 1.78
reasoning = true
license = "MIT"
scores = { aime_2024 = 99.0, math_500 = 99.0, source = "its author" }
shape = { layers = 28, embd = 1536, vocab = 151936, kv_heads = 2, head_dim = 128, context = 2048 }
quants.Q4_K_M = { file = "short.gguf", size = 1117320736 }
""", "models.toml")
    items = {item.alias: item for item in recommend.recommend({**specs, **short}, cpu(16))}
    assert items["short"].fits and items["short"].ctx == 2048 and not items["short"].roomy
    assert not items["short"].recommended and items["r1-distill-qwen-1.5b"].recommended


# The estimate made before download must plan like the real tensor table does once the file is here.
REAL = [("r1-distill-qwen-7b", "r1-distill-qwen-7b-Q4_K_M"), ("r1-distill-llama-70b", "r1-distill-llama-70b-Q4_K_M"),
        ("deepseek-r1", "deepseek-r1-671b-UD-IQ1_S"), ("deepseek-v2-lite-chat", "deepseek-v2-lite-Q4_K_M"),
        ("qwen3-30b-a3b", "qwen3-30b-a3b-Q4_K_M")]


@pytest.mark.parametrize("alias, table", REAL)
def test_the_estimate_before_download_matches_the_real_tensor_table(specs, alias, table):
    spec = specs[alias]
    real = planner.ModelFacts.of(tables.ALL[table]())
    estimate = recommend.facts_for(spec, spec.default_quant)
    assert (estimate.n_layer, estimate.trained_ctx) == (real.n_layer, real.trained_ctx)
    assert (estimate.k_per_token, estimate.v_per_token) == (real.k_per_token, real.v_per_token)
    assert estimate.total_bytes == pytest.approx(real.total_bytes, rel=0.01)
    assert estimate.routed_expert_bytes == pytest.approx(real.routed_expert_bytes, rel=0.15, abs=1)
    for machine in (mac(16, 100, "M2"), mac(64, 400, "M2 Max"), nvidia(24, 64, 1008, "RTX 4090"), cpu(64),
                    nvidia(12, 128, 360, "RTX 3060")):
        ctx = 16384
        ours, theirs = planner.plan(estimate, machine, ctx=ctx), planner.plan(real, machine, ctx=ctx)
        assert ours.fits == theirs.fits and ours.strategy == theirs.strategy, (machine.gpus, ours.reason, theirs.reason)
        assert ours.expected_tok_s == pytest.approx(theirs.expected_tok_s, rel=0.2)


def test_every_r1_model_in_the_catalogue_carries_its_published_scores(specs):
    published = {"r1-distill-qwen-1.5b": (28.9, 83.9), "r1-distill-qwen-7b": (55.5, 92.8),
                 "r1-distill-llama-8b": (50.4, 89.1), "r1-distill-qwen-14b": (69.7, 93.9),
                 "r1-distill-qwen-32b": (72.6, 94.3), "r1-distill-llama-70b": (70.0, 94.5), "deepseek-r1": (79.8, 97.3)}
    for alias, (aime, math) in published.items():
        scores = specs[alias].scores
        assert (scores.aime_2024, scores.math_500) == (aime, math)
        assert "arXiv:2501.12948" in scores.source and "full precision" in scores.source
    assert {alias for alias, spec in specs.items() if spec.scores} == set(published)
    assert all(spec.shape is not None for spec in specs.values())


def test_the_starters_shape_is_its_gguf_header(specs, starter_path):  # noqa: F811
    from deskseek.models import gguf

    real = planner.ModelFacts.of(gguf.read(starter_path))
    estimate = recommend.facts_for(specs["starter"], "Q4_1")
    assert (estimate.n_layer, estimate.n_embd, estimate.n_vocab, estimate.trained_ctx) == (
        real.n_layer, real.n_embd, real.n_vocab, real.trained_ctx)
    assert (estimate.k_per_token, estimate.v_per_token) == (real.k_per_token, real.v_per_token)
