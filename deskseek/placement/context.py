"""How long a context a model gets when the user does not say: room to think, within what this machine holds.

An R1 distill thinks for 1,000 to 8,000 tokens before it answers; a 4,096-token context, the old default for
every model, ends many of its replies inside the thought, with no answer at all. So a model that thinks gets
up to 32k tokens, and at least 16k where memory allows even if that moves some weights off the GPU (an
answer, slower, beats no answer); other models get up to 8k. Never past the length the model was trained
for. Among the sizes that fit, the largest that keeps the placement a 2k context would get wins, so the
extra room costs no speed where it can be had for free.
"""

from __future__ import annotations

from deskseek.placement import planner
from deskseek.placement.hardware import Machine

STEPS = (32768, 24576, 16384, 12288, 8192, 6144, 4096, 2048)
THINKING_CAP, THINKING_FLOOR = 32768, 16384
PLAIN_CAP = 8192


MANUAL = 4096  # with the placement set by hand (-ngl, --plan off, --cpu-moe): llama.cpp's usual size


def _placement(plan: planner.Plan) -> tuple:
    """Where the weights are: the same strategy can hold very different splits (2 or 12 layers' experts)."""
    return plan.strategy, plan.gpu_layers, tuple(plan.cpu_expert_blocks)


def default(facts: planner.ModelFacts, machine: Machine, *, reasoning: bool,
            explicit_gpu_budget: bool = False) -> tuple[int, str]:
    """(tokens, why) for a model whose context the user did not set."""
    cap = THINKING_CAP if reasoning else PLAIN_CAP
    top = min(cap, facts.trained_ctx) if facts.trained_ctx else cap
    sizes = sorted({top, *(step for step in STEPS if step < top)}, reverse=True)
    plans = {size: planner.plan(facts, machine, ctx=size, explicit_gpu_budget=explicit_gpu_budget) for size in sizes}
    smallest = plans[sizes[-1]]
    kind = "models that think" if reasoning else "models that do not think"
    limit = f"its trained length ({top})" if top < cap else f"the cap of {cap} for {kind}"
    where = _placement(smallest)
    same = [size for size in sizes if plans[size].fits and _placement(plans[size]) == where]
    floor = min(THINKING_FLOOR, top) if reasoning else 0
    if same and same[0] >= floor:
        if same[0] == top:
            return top, limit
        return same[0], f"the largest up to {limit} that keeps the weights where a short context has them"
    roomy = [size for size in sizes if plans[size].fits and size >= floor]
    if roomy:
        return roomy[-1], (f"{roomy[-1]} tokens of room to think, though it moves some weights off the GPU "
                           f"(a short context would keep them: {smallest.summary()})")
    fitting = [size for size in sizes if plans[size].fits]
    if fitting:
        return fitting[0], f"the most this machine's memory allows beside the weights (up to {limit})"
    return sizes[-1], "nothing fits this machine; planned at the smallest size"
