"""From a user's flags to something loadable: the model, its placement on this machine, its settings.

`run`, `chat` and the chat app's model switch all start a model the same way; this is that way, in the
core, so every face applies the same planner, the same user overrides and the same defaults.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from deskseek.engines.events import Settings
from deskseek.errors import DeskseekError
from deskseek.models import choice, gguf, gguf_names
from deskseek.placement import hardware, planner
from deskseek.units import parse_size

log = logging.getLogger("deskseek.launch")


@dataclass
class Launch:
    chosen: choice.Chosen
    machine: hardware.Machine
    plan: planner.Plan
    settings: Settings


def settings(flags, sampling) -> Settings:
    """Sampling from the flags where given, else the model's recommended values from models.toml."""
    return Settings(
        temperature=flags.temperature if flags.temperature is not None else sampling.temperature,
        top_p=flags.top_p if flags.top_p is not None else sampling.top_p,
        top_k=sampling.top_k,
        min_p=sampling.min_p,
        seed=flags.seed,
        max_tokens=flags.max_tokens,
        think_budget=flags.think_budget,
        grammar=read_grammar(flags.grammar_file),
    )


def read_grammar(path: str | None) -> str | None:
    if not path:
        return None
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise DeskseekError(f"cannot read grammar file {path}: {getattr(err, 'strerror', None) or err}") from None


def machine(flags) -> tuple[hardware.Machine, bool]:
    """This machine, with --gpu-mem/--ram as budgets where given; and whether the GPU budget was explicit."""
    try:
        gpu = parse_size(flags.gpu_mem) if getattr(flags, "gpu_mem", None) else None
        ram = parse_size(flags.ram) if getattr(flags, "ram", None) else None
    except ValueError as err:
        raise DeskseekError(str(err)) from None
    return hardware.assumed(gpu_bytes=gpu, ram_bytes=ram), gpu is not None


def split_set(path: Path) -> list[Path]:
    return [path.with_name(part) for part in gguf_names.split_parts(path.name)]


def plan_for(path: Path, flags, on: hardware.Machine, explicit: bool):
    facts = planner.ModelFacts.of(gguf.read_set(split_set(path)))
    chosen = planner.choose(
        facts, on, ctx=flags.ctx, mode=getattr(flags, "plan", "auto"), cpu_moe=getattr(flags, "cpu_moe", False),
        n_cpu_moe=getattr(flags, "n_cpu_moe", None), gpu_layers=getattr(flags, "gpu_layers", None),
        explicit_gpu_budget=explicit,
    )
    return facts, chosen


def prepare(flags, model: str | None) -> Launch:
    """The model to load and how, or one line saying why it cannot run here."""
    chosen = choice.choose(model)
    here, explicit = machine(flags)
    _, plan = plan_for(chosen.path, flags, here, explicit)
    if not plan.fits:
        notes = "".join(f"; {note}" for note in plan.notes)
        raise DeskseekError(f"{chosen.name} does not fit this machine: {plan.reason}{notes} (--plan off tries anyway)")
    log.info("placement for %s: %s (%s)", chosen.name, plan.summary(), plan.reason)
    return Launch(chosen, here, plan, settings(flags, chosen.sampling))
