"""Which draft model a launch uses, and where it goes: its memory counted before the target is placed.

A draft model drafts for the target on the target's device: checking a draft costs the target a batch, and a draft
that comes from slower memory than the target reads arrives too late to pay. So where the target runs on a GPU,
the draft goes there too when both fit without pushing any of the target off it; else into RAM, when the target
still fits beside it; else the target runs alone, and a note says so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

from deskseek.errors import DeskseekError
from deskseek.models import choice
from deskseek.placement import hardware, planner

log = logging.getLogger("deskseek.launch")


@dataclass(frozen=True)
class DraftPlacement:
    name: str
    path: Path
    gpu_layers: int  # llama.cpp's n_gpu_layers: -1 all on the GPU, 0 none
    bytes: int  # its weights, KV cache and compute buffer
    where: str  # "GPU" | "RAM"


def pick(flags, spec) -> choice.Chosen | None:
    """The draft model: --draft, else the registry's `draft` for this model where it is installed; none with
    --speculate off. A --draft that names nothing installed is the user's error (NotFound, one line)."""
    if (getattr(flags, "speculate", None) or "auto") == "off":
        return None
    named = getattr(flags, "draft", None)
    if named:
        return choice.choose(named)
    alias = spec.draft if spec is not None else None
    if not alias:
        return None
    try:
        return choice.choose(alias)
    except DeskseekError as err:
        log.info("no draft model for %s: %s", spec.alias, err)
        return None


def needs(facts: planner.ModelFacts, ctx: int) -> int:
    """Bytes a draft model takes: all its weights, a KV cache as long as the target's, its compute buffer."""
    return facts.total_bytes + facts.kv_bytes(ctx) + planner.compute_buffer_bytes(facts)


def without(machine: hardware.Machine, size: int, *, on_gpu: bool) -> hardware.Machine | None:
    """The machine with `size` bytes taken from its first GPU (and RAM, where the two are one) or from RAM;
    None where that much is not there."""
    if on_gpu:
        if not machine.gpus or machine.gpus[0].free_bytes < size:
            return None
        gpus = [replace(machine.gpus[0], free_bytes=machine.gpus[0].free_bytes - size), *machine.gpus[1:]]
        ram = machine.ram_bytes - size if machine.unified_memory else machine.ram_bytes
        return replace(machine, gpus=gpus, ram_bytes=ram)
    if machine.ram_bytes < size:
        return None
    return replace(machine, ram_bytes=machine.ram_bytes - size)


def place(draft: choice.Chosen, facts: planner.ModelFacts, target_plan: planner.Plan, machine: hardware.Machine,
          replan):
    """(DraftPlacement or None, the target's plan beside it, a note or ""). `facts`: the draft model's;
    `replan(machine)` plans the target on a machine with less memory."""
    size = needs(facts, target_plan.ctx or 4096)
    if target_plan.gpu_layers != 0 and target_plan.strategy not in ("cpu", "wont-fit"):
        smaller = without(machine, size, on_gpu=True)
        if smaller is not None:
            plan = replan(smaller)
            if plan.fits and plan.strategy == target_plan.strategy and plan.gpu_layers >= target_plan.gpu_layers:
                return DraftPlacement(draft.name, draft.path, -1, size, "GPU"), plan, ""
    smaller = without(machine, size, on_gpu=False)
    if smaller is not None:
        plan = replan(smaller)
        if plan.fits:
            return DraftPlacement(draft.name, draft.path, 0, size, "RAM"), plan, ""
    return None, target_plan, f"the draft model {draft.name} does not fit beside the model; running without it"

