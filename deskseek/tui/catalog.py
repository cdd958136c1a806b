"""What the chat app offers to pick from, and how a pick becomes a ModelRequest, via the core."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from deskseek.engines import launch
from deskseek.engines.events import Settings
from deskseek.models import registry, store
from deskseek.placement import hardware, planner
from deskseek.units import human_bytes


@dataclass
class ModelRequest:
    """What to load, decided by the CLI (model choice and placement are core concerns, not the TUI's)."""

    name: str
    path: Path
    reasoning: bool | None
    allow_system: bool
    settings: Settings
    n_ctx: int = 4096
    n_threads: int | None = None
    cache_type_k: str = "f16"
    cache_type_v: str = "f16"
    flash_attn: str = "auto"
    gpu_layers: int = -1
    cpu_patterns: list[str] = field(default_factory=list)
    placement: str = ""
    backend: str = ""


def _fit(size: int | None, machine: hardware.Machine) -> str:
    return planner.fit_from_size(size, machine) if size else "?"


def installed_rows() -> list[tuple[str, str]]:
    machine = hardware.detect()
    return [(m.name, f"{m.name:<36} {human_bytes(m.size):>10}  {m.quant or '?':<8} {_fit(m.size, machine)}")
            for m in store.installed() if not m.problems()]


def available_rows() -> list[tuple[str, str]]:
    machine = hardware.detect()
    rows = []
    for spec in registry.load().values():
        size = spec.quants[spec.default_quant].size
        thinks = "thinks" if spec.reasoning else "      "
        rows.append((spec.alias, f"{spec.alias:<24} {human_bytes(size) if size else '?':>10}  {thinks}  "
                                 f"{_fit(size, machine):<14} {spec.description}"))
    return rows


def pinned_settings(flags, request: ModelRequest | None) -> dict:
    """The settings the command line set (and its --system): they win over a resumed conversation's own."""
    if flags is None:
        return {}
    names = ("temperature", "top_p", "seed", "max_tokens", "think_budget", "think_lang")
    pinned = {name: getattr(flags, name) for name in names if getattr(flags, name, None) is not None}
    if getattr(flags, "grammar_file", None) and request is not None:
        pinned["grammar"] = request.settings.grammar
    if getattr(flags, "system", None) is not None:
        pinned["system"] = flags.system
    return pinned


def request_for(flags, model: str | None):
    """A loadable request for `model` with the user's flags (placement, sampling); raises DeskseekError."""
    prepared = launch.prepare(flags, model)
    chosen, plan = prepared.chosen, prepared.plan
    return ModelRequest(
        name=chosen.name, path=chosen.path, reasoning=chosen.reasoning,
        allow_system=chosen.sampling.system_prompt, settings=prepared.settings,
        **launch.engine_options(flags), n_ctx=plan.ctx, gpu_layers=plan.gpu_layers,
        cpu_patterns=plan.cpu_tensor_patterns, placement=plan.summary(), backend=prepared.machine.backend,
    )
