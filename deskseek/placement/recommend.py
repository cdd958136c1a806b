"""Which DeepSeek-R1 model this machine should run: the strongest that fits with room to think and decodes
at a usable speed, and why, in one line.

Newcomers pick by name or size and end up on a model far weaker than their machine could run (the user
who inspired deskseek ran a 7B distill on a Mac that holds the 14B: AIME 55.5 against 69.7). Nobody can
judge "fits and is fast enough" from a file size, so each catalogue model is planned here exactly as
`run` would plan it, before a byte is downloaded: its tensor sizes estimated from the file size and the
architecture's shape (`models.toml`), the context chosen by the same rule (context.default), the same
planner, the same speed estimate. Strength is the published score (AIME 2024, then MATH-500); only
models with scores are ever recommended, so a model nobody measured is never called the best.

A thinking model is only a candidate where it fits with at least context.THINKING_FLOOR tokens: with
less, its replies end inside the thought. Among candidates, the strongest decoding at USABLE_TOK_S or
more wins; where none does, the fastest; where nothing fits at all, the smallest, said plainly. A recommended model
also leaves a tenth of the memory to the user's other apps (HEADROOM): "it loads" is not "it runs well".
"""

from __future__ import annotations

from dataclasses import dataclass

from deskseek.models.registry import ModelSpec
from deskseek.placement import context, planner
from deskseek.placement.hardware import Machine
from deskseek.units import human_bytes

USABLE_TOK_S = 8.0  # a 2,000-token thought takes four minutes at this rate; slower is not a conversation
HEADROOM = 0.9  # what a recommended model may take of the memory there is: the rest is the user's other apps


@dataclass
class Assessment:
    """One catalogue model on this machine, as `run` would place it."""

    alias: str
    quant: str
    size: int
    fits: bool
    fit: str  # "fits (GPU)", "fits (GPU+RAM)", "fits (RAM)", "won't fit": the words list and pull use
    ctx: int
    est_tok_s: float  # expected decode speed (planner.Plan.expected_tok_s), 0 when it does not fit
    where: str  # the plan in a few words ("all on GPU", "20 layers on GPU")
    roomy: bool  # fits with enough context to think (or does not think), and a tenth of the memory to spare
    scores: dict | None  # {"aime_2024", "math_500"} or None where nothing is published
    recommended: bool = False
    why: str = ""  # for the recommended one: the reason, in one line


def facts_for(spec: ModelSpec, quant: str) -> planner.ModelFacts | None:
    """A model's planning figures before download: its file size spread over its tensors by the shape.

    Every weight is taken at the file's average bytes per parameter; the embeddings and output head are
    vocab x embd each; the rest is shared evenly among the blocks, and for a Mixture-of-Experts the routed
    experts' part follows from total and active parameters. Close enough to place a model and estimate its
    speed; the real tensor table takes over once the file is here.
    """
    size, shape = spec.quants[quant].size, spec.shape
    if not size or shape is None or spec.params <= 0:
        return None
    per_param = size / (spec.params * 1e9)
    embedding = int(shape.vocab * shape.embd * per_param)
    blocks = max(size - 2 * embedding, size // 2)
    layer = blocks // shape.layers
    expert_bytes = [0] * shape.layers
    if shape.experts and spec.params_active:
        dense_share = shape.experts_used / shape.experts
        routed = (spec.params - spec.params_active) / (1 - dense_share) * 1e9 * per_param
        moe_layers = range(shape.dense_layers, shape.layers)
        per_moe = min(int(routed / max(len(moe_layers), 1)), int(layer * 0.98))
        for index in moe_layers:
            expert_bytes[index] = per_moe
    return planner.ModelFacts(
        architecture=spec.architecture, n_layer=shape.layers, n_expert=shape.experts,
        n_expert_used=shape.experts_used, n_vocab=shape.vocab, n_embd=shape.embd, total_bytes=size,
        input_bytes=embedding, output_bytes=size - embedding - layer * shape.layers,
        layer_bytes=[layer] * shape.layers, expert_bytes=expert_bytes,
        k_per_token=shape.layers * shape.kv_heads * shape.head_dim,
        v_per_token=shape.layers * shape.kv_heads * shape.value_dim, trained_ctx=shape.context,
    )


_FIT_WORDS = {"all-gpu": "fits (GPU)", "experts-cpu": "fits (GPU+RAM)", "experts-cpu+layers": "fits (GPU+RAM)",
              "layers": "fits (GPU+RAM)", "cpu": "fits (RAM)", "wont-fit": "won't fit"}


def assess(spec: ModelSpec, machine: Machine, quant: str | None = None) -> Assessment:
    quant = quant or spec.default_quant
    size = spec.quants[quant].size or 0
    scores = spec.scores.as_dict() if spec.scores else None
    facts = facts_for(spec, quant)
    if facts is None:  # a user's entry without a shape: the file size alone says whether it fits
        fit = planner.fit_from_size(size, machine) if size else "?"
        fits = fit.startswith("fits")
        return Assessment(spec.alias, quant, size, fits, fit, 0, 0.0, "", fits and not spec.reasoning, scores)
    ctx, _ = context.default(facts, machine, reasoning=spec.reasoning)
    plan = planner.plan(facts, machine, ctx=ctx)
    fit = _FIT_WORDS.get(plan.strategy, plan.strategy)
    floor = context.THINKING_FLOOR if spec.reasoning else 0  # a model trained on less has no room to think either
    roomy = plan.fits and ctx >= floor and plan.gpu_bytes + plan.cpu_bytes <= HEADROOM * _capacity(machine)
    where = plan.summary()
    if plan.strategy == "layers":
        where = (f"{plan.gpu_layers} of {facts.n_layer} layers on the GPU, the rest on the CPU"
                 if plan.gpu_layers < facts.n_layer else "every layer on the GPU, the output head on the CPU")
    return Assessment(spec.alias, quant, size, plan.fits, fit, ctx, plan.expected_tok_s if plan.fits else 0.0,
                      where, roomy, scores)


def _capacity(machine: Machine) -> int:
    """All the memory a model may take: unified memory is one pool, a discrete GPU's adds to the RAM."""
    if machine.unified_memory or not machine.gpus:
        return machine.ram_bytes
    return max(machine.gpu_bytes - planner.GPU_RESERVE, 0) + machine.ram_bytes


def _strength(item: Assessment) -> tuple[float, float]:
    scores = item.scores or {}
    return scores.get("aime_2024") or 0.0, scores.get("math_500") or 0.0


def recommend(specs: dict[str, ModelSpec], machine: Machine) -> list[Assessment]:
    """Every catalogue model assessed, in catalogue order, exactly one marked recommended (with why)."""
    items = [assess(spec, machine) for spec in specs.values()]
    scored = [item for item in items if item.scores and specs[item.alias].reasoning]
    if not scored:
        scored = [item for item in items if specs[item.alias].reasoning] or items
    roomy = [item for item in scored if item.roomy]
    usable = [item for item in roomy if item.est_tok_s >= USABLE_TOK_S]
    if usable:
        best = max(usable, key=_strength)
        best.why = f"{_where(best, machine)}; about {tok_s(best.est_tok_s)}"
        stronger = [item for item in scored if _strength(item) > _strength(best) and item.fits
                    and item.ctx >= context.THINKING_FLOOR]  # loads, with room to think, but too slow or tight
        if stronger:
            next_up = max(stronger, key=lambda item: item.est_tok_s)  # the next step up, usually
            best.why += f"; {next_up.alias} fits too, but at about {tok_s(next_up.est_tok_s)}"
    elif roomy:
        best = max(roomy, key=lambda item: item.est_tok_s)
        best.why = (f"{_where(best, machine)}; about {tok_s(best.est_tok_s)}, the fastest here "
                    f"(none reaches {USABLE_TOK_S:.0f} tok/s on this machine)")
    else:
        best = min(scored, key=lambda item: item.size or float("inf"))
        best.why = (f"the smallest: no model fits this machine's memory with room to think "
                    f"({_memory(machine)})")
    best.recommended = True
    return items


def tok_s(rate: float) -> str:
    """A speed as people say it: "12 tok/s", and "7.6 tok/s" near the threshold, where a rounded 8 would mislead."""
    return f"{rate:.0f} tok/s" if rate >= 10 else f"{rate:.1f} tok/s"


def _where(item: Assessment, machine: Machine) -> str:
    """Where it fits, in the words a user knows their machine by."""
    room = f"a {item.ctx // 1024}k context" if item.ctx >= 1024 else f"a {item.ctx}-token context"
    if item.fit == "fits (GPU)":
        ceiling = max((gpu.total_bytes for gpu in machine.gpus), default=0)
        if machine.unified_memory:
            return f"fits the {human_bytes(ceiling)} Metal ceiling with {room}"
        gpus = "the GPU's" if len(machine.gpus) == 1 else f"the {len(machine.gpus)} GPUs'"
        return f"fits {gpus} {human_bytes(machine.gpu_bytes)} with {room}"
    if item.fit == "fits (RAM)":
        return f"fits {human_bytes(machine.ram_bytes)} of RAM with {room}"
    if machine.unified_memory:
        return f"fits this Mac's memory with {room} ({item.where}: past the Metal ceiling)"
    return f"fits GPU and RAM together with {room} ({item.where})"


def _memory(machine: Machine) -> str:
    if machine.gpus and not machine.unified_memory:
        return f"{human_bytes(machine.gpu_bytes)} of GPU memory, {human_bytes(machine.ram_bytes)} of RAM"
    return f"{human_bytes(machine.ram_bytes)} of memory available"
