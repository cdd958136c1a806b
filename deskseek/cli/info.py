"""`deskseek info`: this machine as llama.cpp sees it, where data lives, and a model's memory plan."""

from __future__ import annotations

import json

from deskseek import __version__, paths
from deskseek.cli import flags
from deskseek.engines import launch


def cmd_info(args) -> int:
    all_paths = {key: str(value) for key, value in paths.all_paths().items()}
    if args.paths:
        width = max(len(key) for key in all_paths)
        for key, value in all_paths.items():
            print(f"{key:<{width}}  {value}")
        return 0
    flags.go_offline()
    from deskseek.llama import cpu

    machine, explicit = launch.machine(args)
    machine.amx = cpu.prepare().as_dict()
    if not args.model:
        if args.json:
            print(json.dumps({"version": __version__, "paths": all_paths, "machine": machine.as_dict()}, indent=2))
            return 0
        print(f"deskseek {__version__}")
        _print_machine(machine)
        width = max(len(key) for key in all_paths)
        for key, value in all_paths.items():
            print(f"{key:<{width}}  {value}")
        return 0
    from deskseek.models import choice

    chosen = choice.choose(args.model)
    facts, plan = launch.plan_for(chosen.path, args, machine, explicit)
    report = {
        "model": chosen.name,
        "path": str(chosen.path),
        "architecture": facts.architecture,
        "layers": facts.n_layer,
        "weights_bytes": facts.total_bytes,
        "moe": {
            "expert_count": facts.n_expert,
            "expert_used_count": facts.n_expert_used,
            "expert_bytes": facts.routed_expert_bytes,
            "dense_bytes": facts.dense_bytes,
        } if facts.moe else None,
        "ctx": args.ctx,
        "kv_bytes": plan.kv_bytes,
        "plan": {
            "strategy": plan.strategy,
            "gpu_layers": plan.gpu_layers,
            "cpu_tensor_patterns": plan.cpu_tensor_patterns,
            "gpu_bytes": plan.gpu_bytes,
            "cpu_bytes": plan.cpu_bytes,
            "est_decode_tok_s": plan.est_decode_tok_s,
            "fits": plan.fits,
            "reason": plan.reason,
        },
        "machine": machine.as_dict(),
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    from deskseek.units import human_bytes

    _print_machine(machine)
    print(f"model      {chosen.name} ({facts.architecture}, {facts.n_layer} layers, {human_bytes(facts.total_bytes)})")
    if facts.moe:
        print(f"experts    {facts.n_expert} routed, {facts.n_expert_used} used per token; "
              f"{human_bytes(facts.routed_expert_bytes)} of expert weights, {human_bytes(facts.dense_bytes)} the rest")
    print(f"KV cache   {human_bytes(plan.kv_bytes)} for {args.ctx} tokens")
    print(f"plan       {plan.summary()}: {plan.reason}")
    if plan.fits:
        print(f"memory     GPU {human_bytes(plan.gpu_bytes)}, RAM {human_bytes(plan.cpu_bytes)}; "
              f"about {plan.est_decode_tok_s:.1f} tok/s at best (from memory bandwidth)")
    for pattern in plan.cpu_tensor_patterns:
        print(f"in RAM     {pattern}")
    for note in plan.notes:
        print(f"note       {note}")
    if machine.unified_memory:
        print("note       unified memory: GPU and CPU share RAM, so experts in RAM only help past Metal's working-set limit")
    return 0 if plan.fits else 1


def _print_machine(machine) -> None:
    from deskseek.units import human_bytes

    gpus = ", ".join(f"{g.description or g.name} ({human_bytes(g.free_bytes)} free)" for g in machine.gpus) or "none"
    print(f"backend    {machine.backend}; GPU: {gpus}")
    print(f"CPU        {machine.cpu_name}; RAM {human_bytes(machine.ram_bytes)} available "
          f"of {human_bytes(machine.ram_total_bytes)}")
    print(f"features   {' '.join(machine.cpu_features) or 'unknown'}")
    if machine.amx is not None:
        state = "used" if machine.amx["used"] else "not used"
        print(f"AMX        {state}: {machine.amx['reason']}")


def add_commands(commands) -> None:
    p = commands.add_parser("info", help="this machine, where data lives, and a model's memory plan")
    p.add_argument("model", nargs="?", help="installed name, alias or path to a .gguf")
    p.add_argument("--paths", action="store_true", help="only the data paths")
    p.add_argument("--json", action="store_true")
    p.add_argument("--ctx", type=flags.positive_int, default=4096, help="context to plan for (default 4096)")
    flags.memory_flags(p)
    p.set_defaults(func=cmd_info)
