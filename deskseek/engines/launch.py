"""From a user's flags to something loadable: the model, its placement on this machine, its settings.

`run`, `chat` and the chat app's model switch all start a model the same way; this is that way, in the
core, so every face applies the same planner, the same user overrides and the same defaults.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from deskseek.engines import draft_plan
from deskseek.engines.events import Settings
from deskseek.errors import DeskseekError, UsageError
from deskseek.models import choice, gguf, gguf_names, registry
from deskseek.placement import context, hardware, kv_cache, planner
from deskseek.units import parse_size

log = logging.getLogger("deskseek.launch")


@dataclass
class Launch:
    chosen: choice.Chosen
    machine: hardware.Machine
    plan: planner.Plan
    settings: Settings
    draft: draft_plan.DraftPlacement | None = None  # the model drafting for it (speculative decoding), if any


@dataclass(frozen=True)
class Defaults:
    """The sampling a model runs with where no flag says otherwise, and where those values come from."""

    temperature: float
    top_p: float
    top_k: int
    min_p: float
    repeat_penalty: float
    source: str  # "models.toml" | "the GGUF" | "deskseek"


# The GGUF keys llama.cpp reads a model's own sampling advice from (llama_model_meta_key_str), and our names.
GGUF_SAMPLING = {
    "general.sampling.temp": "temperature", "general.sampling.top_p": "top_p", "general.sampling.top_k": "top_k",
    "general.sampling.min_p": "min_p", "general.sampling.penalty_repeat": "repeat_penalty",
}


def sampling_defaults(chosen: choice.Chosen, info: gguf.GgufInfo | None) -> Defaults:
    """The registry's advice for a model it knows; else what the GGUF itself recommends; else ours."""
    spec = registry_spec(chosen)
    base = spec.sampling if spec else registry.Sampling()
    values = {"temperature": base.temperature, "top_p": base.top_p, "top_k": base.top_k, "min_p": base.min_p,
              "repeat_penalty": 1.0}
    if spec:
        return Defaults(**values, source="models.toml")
    found = {}
    for key, name in GGUF_SAMPLING.items():
        value = (info.metadata if info else {}).get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and _sane(name, value):
            found[name] = int(value) if name == "top_k" else float(f"{value:.6g}")  # float32's 0.6000000238 is 0.6
    return Defaults(**{**values, **found}, source="the GGUF" if found else "deskseek")


def _sane(name: str, value: float) -> bool:
    """A GGUF is a downloaded file: take its numbers only where they are ones the flags would accept."""
    if name in ("top_p", "min_p"):
        return 0 <= value <= 1
    if name == "repeat_penalty":
        return 0 < value < 100
    return 0 <= value < 2**31


def registry_spec(chosen: choice.Chosen) -> registry.ModelSpec | None:
    alias = chosen.installed.alias if chosen.installed else None
    if not alias:
        return None
    try:
        return registry.load().get(alias)
    except registry.RegistryError:
        return None  # a broken user registry must not stop an installed model from running


def settings(flags, sampling) -> Settings:
    """Sampling from the flags where given, else the model's defaults (a Defaults, or models.toml's Sampling)."""

    def pick(name: str, fallback):
        given = getattr(flags, name, None)
        return given if given is not None else getattr(sampling, name, fallback)

    return Settings(
        temperature=pick("temperature", None),
        top_p=pick("top_p", None),
        top_k=pick("top_k", None),
        min_p=pick("min_p", None),
        repeat_penalty=pick("repeat_penalty", 1.0),
        stop=tuple(getattr(flags, "stop", None) or ()),
        seed=flags.seed,
        max_tokens=flags.max_tokens,
        think_budget=flags.think_budget,
        think_lang=getattr(flags, "think_lang", None) or "auto",
        speculate=getattr(flags, "speculate", None) or "auto",
        grammar=read_grammar(flags.grammar_file),
    )


def cache_types(flags) -> tuple[str, str]:
    return (getattr(flags, "cache_type_k", None) or kv_cache.DEFAULT,
            getattr(flags, "cache_type_v", None) or kv_cache.DEFAULT)


def engine_options(flags) -> dict:
    """What the engine is built with from the flags, beside the plan's context and placement:
    Engine(path, **these, n_ctx=plan.ctx, ...)."""
    type_k, type_v = cache_types(flags)
    flash_attn = getattr(flags, "flash_attn", None) or "auto"
    problem = kv_cache.conflict(type_v, flash_attn)
    if problem:
        raise UsageError(problem)
    return {"n_threads": flags.threads, "cache_type_k": type_k, "cache_type_v": type_v, "flash_attn": flash_attn}


def draft_options(prepared: Launch) -> dict:
    """What the engine is built with for its draft model: Engine(path, **these, ...); nothing without one."""
    if prepared.draft is None:
        return {}
    return {"draft": prepared.draft.path, "draft_gpu_layers": prepared.draft.gpu_layers}


def read_grammar(path: str | None) -> str | None:
    if not path:
        return None
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise DeskseekError(f"cannot read grammar file {path}: {getattr(err, 'strerror', None) or err}") from None


def machine(flags) -> tuple[hardware.Machine, bool]:
    """This machine, with --gpu-mem/--ram as budgets where given, and the devices of the --rpc workers (added
    to llama.cpp's registry here, so the model loaded next uses them); and whether the GPU budget was explicit."""
    gpu, ram = _size(getattr(flags, "gpu_mem", None)), _size(getattr(flags, "ram", None))
    workers, link = getattr(flags, "rpc", None), getattr(flags, "rpc_link", None)
    if workers:
        from deskseek.llama import rpc

        rpc.connect(workers)
    here = hardware.assumed(gpu_bytes=gpu, ram_bytes=ram, link_gbit=link or hardware.DEFAULT_LINK_GBIT)
    here.rpc_link_given = link is not None
    return here, gpu is not None


def _size(value: int | str | None) -> int | None:
    """A size the parser already read (an int), or one given as text by a caller without a parser."""
    if value is None or isinstance(value, int):
        return value
    try:
        return parse_size(value)
    except ValueError as err:
        raise UsageError(str(err)) from None


def split_set(path: Path) -> list[Path]:
    return [path.with_name(part) for part in gguf_names.split_parts(path.name)]


def read_model(path: Path) -> gguf.GgufInfo:
    """The header and tensor table of a model, every part of a split set."""
    return gguf.read_set(split_set(path))


def plan_for(path: Path, flags, on: hardware.Machine, explicit: bool, info: gguf.GgufInfo | None = None,
             reasoning: bool | None = None):
    """The model's facts (its KV cache in the flags' cache types) and the plan the flags ask for, at the
    context -c/--ctx sets, else the one placement/context.py chooses for this model on this machine."""
    info = info or read_model(path)
    facts = planner.ModelFacts.of(info).with_cache(*cache_types(flags))
    by_hand = (getattr(flags, "gpu_layers", None) is not None or getattr(flags, "plan", "auto") == "off"
               or getattr(flags, "cpu_moe", False) or getattr(flags, "n_cpu_moe", None) is not None)
    if getattr(flags, "ctx", None):
        ctx, why = flags.ctx, "set by -c/--ctx"
    elif by_hand:  # the planner's sizes assume its own placement; a hand-made one gets the usual size
        ctx, why = context.MANUAL, "the placement is set by hand (-ngl, --plan off, --cpu-moe): -c N for more"
    else:
        thinks = reasoning if reasoning is not None else gguf.is_reasoning_template(
            info.metadata.get("tokenizer.chat_template") or "")
        ctx, why = context.default(facts, on, reasoning=thinks, explicit_gpu_budget=explicit)
    chosen = planner.choose(
        facts, on, ctx=ctx, mode=getattr(flags, "plan", "auto"), cpu_moe=getattr(flags, "cpu_moe", False),
        n_cpu_moe=getattr(flags, "n_cpu_moe", None), gpu_layers=getattr(flags, "gpu_layers", None),
        explicit_gpu_budget=explicit,
    )
    chosen.ctx, chosen.ctx_reason = ctx, why
    return facts, chosen


def prepare(flags, model: str | None) -> Launch:
    """The model to load and how, or one line saying why it cannot run here."""
    chosen = choice.choose(model)
    engine_options(flags)  # a combination that cannot load is refused before anything is read
    here, explicit = machine(flags)
    info = read_model(chosen.path)
    _, plan = plan_for(chosen.path, flags, here, explicit, info, chosen.reasoning)
    if not plan.fits:
        notes = "".join(f"; {note}" for note in plan.notes)
        raise DeskseekError(f"{chosen.name} does not fit this machine: {plan.reason}{notes} (--plan off tries anyway)")
    draft = None
    helper = draft_plan.pick(flags, registry_spec(chosen))
    if helper is not None:
        draft_facts = planner.ModelFacts.of(read_model(helper.path))
        draft, plan, note = draft_plan.place(
            helper, draft_facts, plan, here,
            lambda smaller: plan_for(chosen.path, flags, smaller, explicit, info, chosen.reasoning)[1])
        if note:
            plan.notes.append(note)
        elif draft is not None:
            log.info("draft model %s in %s (%d bytes)", draft.name, draft.where, draft.bytes)
    log.info("placement for %s: %s (%s)", chosen.name, plan.summary(), plan.reason)
    return Launch(chosen, here, plan, settings(flags, sampling_defaults(chosen, info)), draft)
