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
    from deskseek.cli import plan_view
    from deskseek.models import choice

    if not args.model:
        from deskseek.llama import cpu

        machine, _ = launch.machine(args)
        machine.amx = cpu.prepare().as_dict()
        if args.json:
            print(json.dumps({"version": __version__, "paths": all_paths, "machine": machine.as_dict()}, indent=2))
            return 0
        print(f"deskseek {__version__}")
        _print_machine(machine)
        width = max(len(key) for key in all_paths)
        for key, value in all_paths.items():
            print(f"{key:<{width}}  {value}")
        return 0
    chosen = choice.choose(args.model)
    machine, facts, plan = plan_view.make(chosen, args)
    if args.json:
        report = {"model": chosen.name, "path": str(chosen.path), **plan_view.as_dict(facts, plan),
                  "machine": machine.as_dict()}
        print(json.dumps(report, indent=2))
        return 0
    _print_machine(machine)
    plan_view.print_model(chosen.name, facts)
    plan_view.print_plan(machine, facts, plan)
    return 0 if plan.fits else 1


def _print_machine(machine) -> None:
    from deskseek.units import human_bytes

    local = [g for g in machine.gpus if g.kind != "rpc"]
    gpus = ", ".join(f"{g.description or g.name} ({human_bytes(g.free_bytes)} free)" for g in local) or "none"
    print(f"backend    {machine.backend}; GPU: {gpus}")
    for worker in (g for g in machine.gpus if g.kind == "rpc"):
        print(f"worker     {worker.name}: {human_bytes(worker.free_bytes)} free of {human_bytes(worker.total_bytes)}, "
              f"round trip {worker.rtt_s * 1000:.2f} ms")
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
    flags.context_flags(p)
    flags.memory_flags(p)
    p.set_defaults(func=cmd_info)
