"""MoE placement on a GPU: the planner's choice beside llama.cpp's --n-cpu-moe and plain layer offload, one run.

    python benchmarks/moe_placement.py --model PATH.gguf --gpu-mem 12G [--tokens 128] [--ctx 4096] [--step 1]
                                       [--llama-bench PATH]

Needs a GPU build of llama-cpp-python (CMAKE_ARGS=-DGGML_CUDA=on) and a MoE GGUF that does not fit the
memory you allow it (benchmarks/moe_model.py writes one of Qwen3-30B-A3B's shapes). For each placement it
loads the model in a fresh interpreter and measures decode tok/s over N tokens:
- the planner's plan for --gpu-mem;
- `--n-cpu-moe N` in llama.cpp's meaning (the routed experts of blocks 0..N-1 in RAM) for N from 0 to the
  block count in steps of --step, skipping those whose GPU share the planner's arithmetic says exceeds
  --gpu-mem (they would not fit a card of that size);
- plain layer offload (no expert overrides): as many whole layers as fit --gpu-mem.
With --llama-bench, llama.cpp's own llama-bench runs the same --n-cpu-moe values (all layers on the GPU, tg
only) in the same run: deskseek's rate over llama-bench's is the engine's cost for the same placement.
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


def llama_bench(binary: str, model: str, tokens: int, values: list[int]) -> dict[int, float]:
    """llama.cpp's own decode rate (tg) for each --n-cpu-moe, every layer on the GPU."""
    command = [binary, "-m", model, "-p", "0", "-n", str(tokens), "-ngl", "999", "-r", "2", "-o", "json",
               "--n-cpu-moe", ",".join(map(str, values))]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        print(f"llama-bench failed: {done.stderr.strip().splitlines()[-1:]}")
        return {}
    return {int(row.get("n_cpu_moe", 0)): float(row["avg_ts"]) for row in json.loads(done.stdout)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--gpu-mem", required=True)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--ctx", type=int, default=4096)
    parser.add_argument("--step", type=int, default=1, help="sweep every STEP-th --n-cpu-moe value")
    parser.add_argument("--llama-bench", help="llama.cpp's llama-bench binary, to run beside deskseek")
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
    moe_layers = planner.moe_blocks(facts)
    on_gpu_all = facts.total_bytes - facts.input_bytes
    fixed = facts.kv_bytes(args.ctx) + planner.compute_buffer_bytes(facts)

    rows = [(f"planner: {chosen.summary()}", chosen.gpu_bytes,
             measure(args.model, args.ctx, args.tokens, chosen.gpu_layers, chosen.cpu_tensor_patterns), None)]
    swept = []
    values = sorted({*range(0, facts.n_layer + 1, max(args.step, 1)), chosen.same_as_n_cpu_moe or 0})
    for count in values:  # llama.cpp's meaning: the experts of blocks 0..count-1
        blocks = [i for i in moe_layers if i < count]
        gpu = on_gpu_all - sum(facts.expert_bytes[i] for i in blocks) + fixed
        if gpu > budget:
            continue
        swept.append(count)
        patterns = planner.expert_patterns(blocks, len(moe_layers)) if blocks else []
        rows.append((f"--n-cpu-moe {count}", gpu, measure(args.model, args.ctx, args.tokens, -1, patterns), count))
    dense = planner.ModelFacts(**{**facts.__dict__, "expert_bytes": [0] * facts.n_layer})
    layers = planner.plan(dense, machine, ctx=args.ctx, explicit_gpu_budget=True)
    rows.append((f"layer offload: {layers.gpu_layers} layers", layers.gpu_bytes,
                 measure(args.model, args.ctx, args.tokens, layers.gpu_layers, []), None))
    raw = llama_bench(args.llama_bench, args.model, args.tokens, swept) if args.llama_bench and swept else {}

    best = max(rate for _, _, rate, _ in rows) or 1.0
    print(f"\n{path.name}, --gpu-mem {args.gpu_mem}, ctx {args.ctx}, {args.tokens} tokens")
    print(f"{'placement':<72}{'GPU GB':>8}{'tok/s':>9}{'vs best':>9}{'llama-bench':>13}{'ours/theirs':>13}")
    for name, gpu, rate, count in rows:
        theirs = raw.get(count) if count is not None else None
        extra = f"{theirs:>13.1f}{rate / theirs:>12.2f}x" if theirs else ""
        print(f"{name:<72}{gpu / 1e9:>8.1f}{rate:>9.1f}{rate / best:>8.2f}x{extra}")
    print(f"planner estimate: {chosen.est_decode_tok_s:.1f} tok/s (upper bound from bandwidth)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
