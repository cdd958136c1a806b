"""A model's memory plan on this machine, as `info MODEL` and `show MODEL` both print it (text and JSON).

One module so the two commands can never describe the same plan differently.
"""

from __future__ import annotations

from deskseek.engines import launch
from deskseek.units import human_bytes


def make(chosen, flags, info=None):
    """(machine, facts, plan) for a chosen model under the flags' context, cache types and budgets."""
    from deskseek.llama import cpu

    machine, explicit = launch.machine(flags)
    machine.amx = cpu.prepare().as_dict()
    facts, plan = launch.plan_for(chosen.path, flags, machine, explicit, info, chosen.reasoning)
    return machine, facts, plan


def as_dict(facts, plan) -> dict:
    """The model's figures and its plan: the part of `info MODEL --json` that `show --json` repeats as "plan"."""
    return {
        "architecture": facts.architecture,
        "layers": facts.n_layer,
        "weights_bytes": facts.total_bytes,
        "moe": {
            "expert_count": facts.n_expert,
            "expert_used_count": facts.n_expert_used,
            "expert_bytes": facts.routed_expert_bytes,
            "dense_bytes": facts.dense_bytes,
        } if facts.moe else None,
        "ctx": plan.ctx,
        "ctx_reason": plan.ctx_reason,
        "cache_type_k": facts.cache_type_k,
        "cache_type_v": facts.cache_type_v,
        "kv_bytes": plan.kv_bytes,
        "plan": {
            "strategy": plan.strategy,
            "gpu_layers": plan.gpu_layers,
            "cpu_tensor_patterns": plan.cpu_tensor_patterns,
            "gpu_bytes": plan.gpu_bytes,
            "cpu_bytes": plan.cpu_bytes,
            "est_decode_tok_s": plan.est_decode_tok_s,
            "expected_tok_s": plan.expected_tok_s,
            "fits": plan.fits,
            "reason": plan.reason,
            "notes": plan.notes,
        },
    }


def print_model(name: str, facts) -> None:
    print(f"model      {name} ({facts.architecture}, {facts.n_layer} layers, {human_bytes(facts.total_bytes)})")
    if facts.moe:
        print(f"experts    {facts.n_expert} routed, {facts.n_expert_used} used per token; "
              f"{human_bytes(facts.routed_expert_bytes)} of expert weights, {human_bytes(facts.dense_bytes)} the rest")


def print_plan(machine, facts, plan) -> None:
    print(f"context    {plan.ctx} tokens: {plan.ctx_reason}")
    print(f"KV cache   {human_bytes(plan.kv_bytes)} for {plan.ctx} tokens (K {facts.cache_type_k}, V {facts.cache_type_v})")
    print(f"plan       {plan.summary()}: {plan.reason}")
    if plan.fits:
        print(f"memory     GPU {human_bytes(plan.gpu_bytes)}, RAM {human_bytes(plan.cpu_bytes)}; "
              f"about {plan.expected_tok_s:.1f} tok/s to expect, {plan.est_decode_tok_s:.1f} at best (from memory bandwidth)")
    for pattern in plan.cpu_tensor_patterns:
        print(f"in RAM     {pattern}")
    for note in plan.notes:
        print(f"note       {note}")
    if machine.unified_memory:
        print("note       unified memory: GPU and CPU share RAM, so experts in RAM only help past Metal's working-set limit")
