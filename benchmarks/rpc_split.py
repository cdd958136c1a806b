"""One model split over `deskseek worker`s (llama.cpp's RPC backend) against the same model on this machine alone.

    .venv/bin/python benchmarks/rpc_split.py [--model PATH] [--workers 2] [--threads 2] [--tokens 64] [--rounds 3]
                                            [--worker-env K=V] [--main-env K=V] [--rpc-link GBIT]

Starts the workers itself (real `deskseek worker` processes on 127.0.0.1, free ports) and measures, for each
arrangement, prompt processing and decode speed from the engine's own Stats (a ~300-token prompt, then
--tokens tokens with end of generation banned, greedy), each in a fresh process (adding workers to llama.cpp's
device registry lasts for the life of a process), beside the planner's estimate for the same placement
(`expected_tok_s`, what `deskseek info MODEL --rpc ...` prints). Rounds alternate the arrangements; the table
gives medians.

On one machine the workers share its CPU or GPU with the main process, so this measures what the RPC path
costs (serialising every graph, activations over loopback TCP, one client at a time), not what a second
machine's memory adds. On a CUDA machine: `--worker-env CUDA_VISIBLE_DEVICES=0 --main-env CUDA_VISIBLE_DEVICES=`
puts the GPU behind the worker and takes it from the main process (benchmarks/gpu_rpc.sh does this).
Default model: the starter (SmolLM2-135M-Instruct Q4_1) from the test cache.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PROMPT = ("Summarise the following notes in one paragraph. " + " ".join(
    f"Note {i}: the lighthouse keeper logged the weather, the ships that passed and the state of the lamp." for i in range(16)))


def child(args) -> dict:
    """In a fresh process: plan and load the model as `deskseek run` does, generate once, report the figures."""
    from deskseek.cli.main import build_parser
    from deskseek.engines import launch
    from deskseek.engines.events import Settings, Stats
    from deskseek.engines.local import Engine

    argv = ["run", "-m", args.model, "-t", str(args.threads), "-c", "2048"]
    if args.rpc:
        argv += ["--rpc", args.rpc]
    if args.rpc_link:
        argv += ["--rpc-link", str(args.rpc_link)]
    flags = build_parser().parse_args([*argv, "x"])
    prepared = launch.prepare(flags, flags.model)
    plan = prepared.plan
    started = time.perf_counter()
    engine = Engine(prepared.chosen.path, **launch.engine_options(flags), n_ctx=plan.ctx,
                    n_gpu_layers=plan.gpu_layers, cpu_patterns=plan.cpu_tensor_patterns)
    load_s = time.perf_counter() - started
    settings = Settings(temperature=0, max_tokens=args.tokens, ignore_eos=True, speculate="off")
    reply = engine.generate([{"role": "user", "content": PROMPT}], settings)
    stats = next(e for e in reply if isinstance(e, Stats))
    text = reply.wait().content
    return {"text": text, "placement": plan.summary(), "expected_tok_s": plan.expected_tok_s, "bound_tok_s": plan.est_decode_tok_s,
            "prompt_tokens": stats.prompt_tokens, "prompt_tok_s": stats.prompt_tok_s, "gen_tok_s": stats.gen_tok_s,
            "tokens": stats.completion_tokens, "load_s": load_s, "notes": plan.notes}


def measure(args, rpc: str | None, env: dict) -> dict:
    command = [sys.executable, __file__, "--child", "--model", args.model, "--threads", str(args.threads),
               "--tokens", str(args.tokens)]
    if rpc:
        command += ["--rpc", rpc]
    if args.rpc_link:
        command += ["--rpc-link", str(args.rpc_link)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=1800)
    if done.returncode != 0:
        raise SystemExit(f"measurement failed ({rpc or 'local'}): {done.stderr.strip()[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def pairs(items: list[str]) -> dict:
    return dict(item.split("=", 1) for item in items)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rpc")
    parser.add_argument("--rpc-link", type=float)
    parser.add_argument("--worker-env", action="append", default=[], metavar="K=V")
    parser.add_argument("--main-env", action="append", default=[], metavar="K=V",
                        help="for the main process of the split runs only")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.model is None:
        from tests.fixtures import gguf_writers

        args.model = str(gguf_writers.starter_gguf(gguf_writers.default_cache_dir()))
    if args.child:
        print(json.dumps(child(args)), flush=True)
        os._exit(0)  # workers' dispatcher threads: nothing to tidy, and nothing to wait for
    from tests.fixtures.rpc_workers import Worker

    home = Path(os.environ.get("DESKSEEK_HOME", "/tmp/deskseek-rpc-bench"))
    base = {**os.environ, "DESKSEEK_HOME": str(home), "OMP_WAIT_POLICY": "PASSIVE"}
    saved = dict(os.environ)
    os.environ.update(pairs(args.worker_env))  # Worker() starts its process with this process's environment
    workers = [Worker(home, "--threads", str(args.threads)) for _ in range(args.workers)]
    os.environ.clear()
    os.environ.update(saved)
    try:
        for worker in workers:
            worker.wait_for("use it from the main machine")
        print("\n".join(line for w in workers for line in w.lines if line.startswith("  ")), file=sys.stderr)
        endpoints = ",".join(w.endpoint for w in workers)
        arrangements = {"this machine alone": (None, base),
                        f"split over {args.workers} workers": (endpoints, {**base, **pairs(args.main_env)})}
        results: dict[str, list[dict]] = {name: [] for name in arrangements}
        for round_ in range(args.rounds):
            order = list(arrangements) if round_ % 2 == 0 else list(reversed(arrangements))
            for name in order:
                rpc, env = arrangements[name]
                results[name].append(measure(args, rpc, env))
                last = results[name][-1]
                print(f"round {round_ + 1} {name}: prompt {last['prompt_tok_s']:.1f} tok/s, decode "
                      f"{last['gen_tok_s']:.1f} tok/s (planner: {last['expected_tok_s']:.1f})", file=sys.stderr)
    finally:
        for worker in workers:
            worker.stop()
    print(f"\nmodel {Path(args.model).name}, {args.threads} threads, {args.tokens} tokens, median of {args.rounds}\n")
    print("| arrangement | placement | prompt tok/s | decode tok/s | planner's expected decode tok/s | load s |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for name, runs in results.items():
        median = {key: statistics.median(run[key] for run in runs) for key in
                  ("prompt_tok_s", "gen_tok_s", "expected_tok_s", "load_s")}
        print(f"| {name} | {runs[0]['placement']} | {median['prompt_tok_s']:.1f} | {median['gen_tok_s']:.1f} | "
              f"{median['expected_tok_s']:.1f} | {median['load_s']:.1f} |")
    texts = {run["text"] for runs in results.values() for run in runs}
    print(f"\nsame text in every run (greedy): {'yes' if len(texts) == 1 else 'NO'}")
    for note in results[list(results)[-1]][0]["notes"]:
        print(f"\nplanner's note: {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
