"""AMX on and off: prompt and decode speed of each CPU buffer arrangement, and what the AMX decision costs.

Each arrangement runs in a fresh interpreter (the decision is process-wide), on the starter model re-quantized
to each type llama.cpp has AMX kernels for:

- "plain CPU buffers": no extra buffer types at all (llama.cpp's `use_extra_bufts = false`, `--no-repack`);
- "CPU_REPACK only": what deskseek loads with where AMX is unsafe (AMX taken out, repacking kept);
- "AMX + CPU_REPACK": llama.cpp's default on an AMX CPU, which is also what raw llama.cpp runs. Where its
  kernels crash, the row says so.

Then the decision's cost: the probe (first start on a machine) and `prepare()` with the verdict cached (every
start after), against a start that never asks.

    .venv/bin/python benchmarks/amx.py [--tokens 128] [--prompt-tokens 400] [--rounds 3]
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ARRANGEMENTS = {"plain CPU buffers": "none", "CPU_REPACK only": "repack", "AMX + CPU_REPACK": "amx"}
QUANTS = {"Q4_0": 2, "Q4_1": 3, "Q8_0": 7, "Q4_K_M": 15}

CHILD = """
import json, sys, os
from deskseek.llama import cpu
mode, path, tokens, prompt_tokens = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
array, _ = cpu._extra_bufts()
if mode != "amx":
    cpu.exclude_amx()
if mode == "none":
    array[0] = None  # the list is NULL-terminated: emptied
os.environ["DESKSEEK_CPU_AMX"] = "on"  # the arrangement above stands; the engine's decision must not change it
from deskseek.engines.events import Settings
from deskseek.engines.local import Engine
from deskseek.llama import native_log
mark = native_log.mark()
with Engine(path, n_ctx=prompt_tokens + tokens + 64, n_threads=2, reasoning=False) as engine:
    buffers = sorted({l.split(":", 1)[1].split(" model buffer")[0].strip()
                      for l in native_log.lines_since(mark) if "model buffer size" in l})
    prompt = " ".join(["the quick brown fox jumps over the lazy dog"] * (prompt_tokens // 10))
    reply = engine.generate([{"role": "user", "content": prompt}],
                            Settings(temperature=0, max_tokens=tokens, ignore_eos=True)).wait()
json.dump({"pp": reply.stats.prompt_tok_s, "tg": reply.stats.gen_tok_s, "buffers": buffers}, sys.stdout)
"""


def requantize(source: Path, out: Path, ftype: int) -> Path:
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype, params.nthread, params.allow_requantize = ftype, 2, True
    if llama_cpp.llama_model_quantize(str(source).encode(), str(out).encode(), ctypes.byref(params)) != 0:
        raise SystemExit(f"could not quantize to ftype {ftype}")
    return out


def measure(mode: str, model: Path, tokens: int, prompt_tokens: int) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, mode, str(model), str(tokens), str(prompt_tokens)],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)  # fmt: skip
    if done.returncode < 0:
        import signal

        return {"crash": signal.Signals(-done.returncode).name}
    if done.returncode != 0:
        return {"crash": done.stderr.strip().splitlines()[-1][:80]}
    return json.loads(done.stdout)


def timed_in_child(code: str, rounds: int) -> float:
    """Median of what `code` prints (seconds it measured itself) over fresh interpreters."""
    times = []
    for _ in range(rounds):
        done = subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, capture_output=True, text=True)
        times.append(float(done.stdout.strip().splitlines()[-1]))
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--prompt-tokens", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    from deskseek.llama import cpu, native_log
    from tests.fixtures.gguf_writers import default_cache_dir, starter_gguf

    native_log.install()  # the quantizer's log goes to deskseek's log, not over the table

    print(f"CPU: {cpu.cpu_name()}; llama.cpp sees: {' '.join(cpu.features())}")
    print(f"extra buffer types offered: {', '.join(cpu.extra_buffer_types()) or 'none'}\n")
    starter = starter_gguf(default_cache_dir())
    with tempfile.TemporaryDirectory() as tmp:
        models = {q: starter if q == "Q4_1" else requantize(starter, Path(tmp) / f"{q}.gguf", f)
                  for q, f in QUANTS.items()}
        print("| model | arrangement | weights in | prompt tok/s | decode tok/s | vs CPU_REPACK only |")
        print("| --- | --- | --- | ---: | ---: | ---: |")
        for quant, model in models.items():
            runs = {name: [measure(mode, model, args.tokens, args.prompt_tokens) for _ in range(args.rounds)]
                    for name, mode in ARRANGEMENTS.items()}
            base = runs["CPU_REPACK only"]
            base_pp = statistics.median(r["pp"] for r in base)
            base_tg = statistics.median(r["tg"] for r in base)
            for name, results in runs.items():
                crashed = [r["crash"] for r in results if "crash" in r]
                if crashed:
                    print(f"| SmolLM2-135M {quant} | {name} | | crashes ({crashed[0]}) | | |")
                    continue
                pp = statistics.median(r["pp"] for r in results)
                tg = statistics.median(r["tg"] for r in results)
                print(f"| SmolLM2-135M {quant} | {name} | {', '.join(results[0]['buffers'])} | {pp:.0f} | {tg:.1f} "
                      f"| {pp / base_pp:.2f}x / {tg / base_tg:.2f}x |")

    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "DESKSEEK_HOME": home}
        env.pop("DESKSEEK_CPU_AMX", None)
        os.environ.update(env)
        started = time.perf_counter()
        verdict = cpu.probe()
        probe_s = time.perf_counter() - started
        cpu._write_cache(cpu._cache_key(), verdict)
        decision = timed_in_child(
            "import time, llama_cpp; llama_cpp.llama_backend_init(); from deskseek.llama import cpu; "
            "t = time.perf_counter(); cpu.prepare(); print(time.perf_counter() - t)", args.rounds * 3)
        load = timed_in_child(
            "import time, sys; from deskseek.llama import cpu; cpu.prepare(); from deskseek.engines.local import Engine; "
            f"t = time.perf_counter(); Engine({str(starter)!r}, n_ctx=512, n_threads=2).close(); "
            "print(time.perf_counter() - t)", args.rounds)
    print(f"\nverdict here: AMX {'used' if verdict.used else 'not used'} ({verdict.reason})")
    print("| start | ms | vs loading the 98 MB starter |")
    print("| --- | ---: | ---: |")
    print(f"| prepare() with the verdict cached (every start) | {decision * 1000:.1f} | {decision / load:.3f}x |")
    print(f"| loading the starter (Engine, verdict cached) | {load * 1000:.0f} | 1.00x |")
    print(f"| the probe (first start on a machine only, in a child) | {probe_s * 1000:.0f} | {probe_s / load:.1f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
