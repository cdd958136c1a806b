"""KV cache types (-ctk/-ctv): the planner counts their bytes as llama.cpp allocates them, on the real llama.cpp."""

from __future__ import annotations

import re

import pytest

from deskseek.engines.events import Settings
from deskseek.engines.local import Engine
from deskseek.errors import UsageError
from deskseek.llama import native_log
from deskseek.models import gguf
from deskseek.placement import kv_cache, planner
from tests.engines.test_local import starter_path  # noqa: F401  (session fixture)

KV_LINE = re.compile(r"llama_kv_cache: size = +([0-9.]+) MiB.*K \((\w+)\): +([0-9.]+) MiB, V \((\w+)\): +([0-9.]+) MiB")


@pytest.fixture(scope="module")
def facts(starter_path):  # noqa: F811
    return planner.ModelFacts.of(gguf.read(starter_path))


def test_bytes_per_value_follow_ggml_blocks():
    assert kv_cache.bytes_per_element("f16") == 2 and kv_cache.bytes_per_element("f32") == 4
    assert kv_cache.bytes_per_element("bf16") == 2
    assert kv_cache.bytes_per_element("q8_0") == 34 / 32 and kv_cache.bytes_per_element("q4_0") == 18 / 32
    assert kv_cache.bytes_per_element("q4_1") == 20 / 32 and kv_cache.bytes_per_element("iq4_nl") == 18 / 32
    assert kv_cache.bytes_per_element("q5_0") == 22 / 32 and kv_cache.bytes_per_element("q5_1") == 24 / 32


def test_the_plan_counts_the_cache_types(facts):
    # SmolLM2-135M: 30 layers, 3 KV heads of 64 for keys and for values.
    assert facts.k_per_token == facts.v_per_token == 30 * 3 * 64
    f16 = facts.kv_bytes(4096)
    assert f16 == 2 * 2 * 30 * 3 * 64 * 4096
    assert facts.with_cache("q8_0", "q8_0").kv_bytes(4096) == f16 * 34 // 64
    assert facts.with_cache("q8_0", "q4_0").kv_bytes(4096) == f16 * (34 + 18) // 128
    assert facts.with_cache("f32", "f16").kv_bytes(4096) == f16 * 3 // 2
    assert facts.kv_bytes(4096) == f16  # with_cache made a copy; the facts themselves are unchanged
    smaller = planner.plan(facts.with_cache("q4_0", "q4_0"), _cpu(), ctx=4096)
    assert smaller.kv_bytes == f16 * 18 // 64 and smaller.cpu_bytes < planner.plan(facts, _cpu(), ctx=4096).cpu_bytes


def _cpu():
    from deskseek.placement import hardware

    return hardware.assumed(gpu_bytes=0, ram_bytes=64 * 10**9)


@pytest.mark.parametrize("type_k, type_v", [("f16", "f16"), ("q8_0", "q8_0"), ("q8_0", "q4_0"), ("f32", "q5_1")])
def test_llama_cpp_allocates_what_the_planner_counts_and_generates(starter_path, facts, type_k, type_v):  # noqa: F811
    mark = native_log.mark()
    with Engine(starter_path, n_ctx=512, n_threads=2, cache_type_k=type_k, cache_type_v=type_v) as engine:
        reply = engine.generate([{"role": "user", "content": "What is the capital of France?"}],
                                Settings(temperature=0, max_tokens=8)).wait()
        n_ctx = engine.n_ctx
    assert reply.error is None and reply.content.strip()
    [line] = [m for m in map(KV_LINE.search, native_log.lines_since(mark)) if m]
    total, k_type, k_mib, v_type, v_mib = line.groups()
    assert (k_type, v_type) == (type_k, type_v)
    planned = facts.with_cache(type_k, type_v)
    assert float(total) == round(planned.kv_bytes(n_ctx) / 2**20, 2)
    assert float(k_mib) == round(facts.k_per_token * kv_cache.bytes_per_element(type_k) * n_ctx / 2**20, 2)


def test_a_quantized_v_cache_turns_flash_attention_on(starter_path):  # noqa: F811
    mark = native_log.mark()
    with Engine(starter_path, n_ctx=256, n_threads=2, cache_type_v="q8_0", flash_attn="auto"):
        pass
    assert any(re.search(r"flash_attn += enabled", line) for line in native_log.lines_since(mark))


def test_a_quantized_v_cache_without_flash_attention_is_refused_before_loading(starter_path):  # noqa: F811
    mark = native_log.mark()
    with pytest.raises(UsageError, match="q4_0 V cache needs flash attention"):
        Engine(starter_path, n_ctx=256, n_threads=2, cache_type_v="q4_0", flash_attn="off")
    assert not any("llama_model_loader" in line for line in native_log.lines_since(mark))  # nothing was read
