"""MoE placement on a GPU: the planner's choice beside every --n-cpu-moe and plain layer offload, one run.

    .venv/bin/python benchmarks/moe_placement.py --model PATH.gguf --gpu-mem 12G [--tokens 128] [--ctx 4096]

Needs a GPU build of llama-cpp-python (CMAKE_ARGS=-DGGML_CUDA=on) and a MoE GGUF that does not fit the
memory you allow it. For each placement it loads the model in a fresh interpreter and measures decode
tok/s over N tokens:
- the planner's plan for --gpu-mem;
- --n-cpu-moe N for every N from 0 to the number of MoE layers, skipping those whose GPU share the
  planner's arithmetic says exceeds --gpu-mem (they would not fit a card of that size);
- plain layer offload (no expert overrides): as many whole layers as fit --gpu-mem.
The table gives each as a ratio to the best one found by the sweep. The goal: the planner within 5% of
the best, and at least 2x plain layer offload.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def measure(model: str, ctx: int, tokens: int, gpu_layers: int, patterns: list[str]) -> float:
    """Decode tok/s of one placement, in a fresh interpreter (no state carried between placements)."""
    code = (
        "import json, sys; from deskseek.engines.local import Engine; from deskseek.engines.events import Settings; "
        f"e = Engine({model!r}, n_ctx={ctx}, n_gpu_layers={gpu_layers}, cpu_patterns={patterns!r}, reasoning=False); "
        "r = e.generate([{'role': 'user', 'content': 'Tell me a long story.'}], "
        f"Settings(temperature=0, max_tokens={tokens}, ignore_eos=True)).wait(); "
        "print(json.dumps({'tok_s': r.stats.gen_tok_s, 'error': r.error}))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        return 0.0  # did not load (out of memory): reported as 0
    return json.loads(done.stdout.strip().splitlines()[-1])["tok_s"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--gpu-mem", required=True)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--ctx", type=int, default=4096)
    args = parser.parse_args()

    from deskseek.models import gguf, gguf_names
    from deskseek.placement import hardware, planner
    from deskseek.units import parse_size

    path = Path(args.model)
    parts = [path.with_name(part) for part in gguf_names.split_parts(path.name)]
    facts = planner.ModelFacts.of(gguf.read_set(parts))
    budget = parse_size(args.gpu_mem)
    machine = hardware.assumed(gpu_bytes=budget)
    chosen = planner.plan(facts, machine, ctx=args.ctx, explicit_gpu_budget=True)
    moe_layers = [i for i in range(facts.n_layer) if facts.expert_bytes[i]]
    on_gpu_all = facts.total_bytes - facts.input_bytes
    fixed = facts.kv_bytes(args.ctx) + planner.compute_buffer_bytes(facts)

    rows = [(f"planner: {chosen.summary()}", chosen.gpu_bytes,
             measure(args.model, args.ctx, args.tokens, chosen.gpu_layers, chosen.cpu_tensor_patterns))]
    for count in range(len(moe_layers) + 1):
        gpu = on_gpu_all - sum(facts.expert_bytes[i] for i in moe_layers[:count]) + fixed
        if gpu > budget:
            continue
        patterns = planner.expert_patterns(moe_layers[:count], len(moe_layers)) if count else []
        rows.append((f"--n-cpu-moe {count}", gpu, measure(args.model, args.ctx, args.tokens, -1, patterns)))
    dense = planner.ModelFacts(**{**facts.__dict__, "expert_bytes": [0] * facts.n_layer})
    layers = planner.plan(dense, machine, ctx=args.ctx, explicit_gpu_budget=True)
    rows.append((f"layer offload: {layers.gpu_layers} layers", layers.gpu_bytes,
                 measure(args.model, args.ctx, args.tokens, layers.gpu_layers, [])))

    best = max(rate for _, _, rate in rows) or 1.0
    print(f"\n{path.name}, --gpu-mem {args.gpu_mem}, ctx {args.ctx}, {args.tokens} tokens")
    print(f"{'placement':<40}{'GPU GB':>8}{'tok/s':>9}{'vs best':>9}")
    for name, gpu, rate in rows:
        print(f"{name:<40}{gpu / 1e9:>8.1f}{rate:>9.1f}{rate / best:>8.2f}x")
    print(f"planner estimate: {chosen.est_decode_tok_s:.1f} tok/s (upper bound from bandwidth)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
