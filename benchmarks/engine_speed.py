"""Generation speed: deskseek's engine beside raw llama.cpp on the same model, threads and lengths, in one run.

    .venv/bin/python benchmarks/engine_speed.py [--model PATH] [--threads 2] [--tokens 256 4000]

Contenders, each generating exactly N tokens (end-of-generation banned) from the same prompt with the same
sampling (temperature 0.6, top-p 0.95, top-k 40, min-p 0.05, fixed seed):
- deskseek: `Engine.generate`, measured from its own Stats (first token to last);
- llama-cpp-python: `Llama.create_completion(stream=True)`, EOS banned through `logit_bias` (which
  llama-cpp-python applies as a Python logits processor, as a user of that API would get);
- llama-server: built from the llama.cpp that llama-cpp-python vendors, streaming `/completion` with
  `ignore_eos`, measured by the client from first token to last (server-reported rate beside it);
- llama-bench: `tg` at the shortest length, pure decode with no sampling: the ceiling.
Ratios are against llama-server. "first/last 10%" show whether the per-token cost stays flat.
The tools are found on PATH, in $LLAMA_CPP_BIN, or built once into ~/.cache/deskseek-bench (--build).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SAMPLING = {"temperature": 0.6, "top_p": 0.95, "top_k": 40, "min_p": 0.05, "seed": 1234}
PROMPT = "Write a long story about a lighthouse keeper who learns to talk to the sea."
CACHE = Path(os.environ.get("DESKSEEK_BENCH_CACHE", Path.home() / ".cache" / "deskseek-bench"))


# --- llama.cpp's own tools ------------------------------------------------------------------------------


def find_tool(name: str, build: bool) -> Path | None:
    for folder in filter(None, [os.environ.get("LLAMA_CPP_BIN"), *os.environ.get("PATH", "").split(os.pathsep)]):
        if (Path(folder) / name).is_file():
            return Path(folder) / name
    for candidate in CACHE.glob(f"*/vendor/llama.cpp/build/bin/{name}"):
        return candidate
    if build:
        return build_tools() / name
    return None


def build_tools() -> Path:
    """Build llama-bench and llama-server from the sdist of the installed llama-cpp-python (its vendored llama.cpp)."""
    import llama_cpp

    version = llama_cpp.__version__
    source = CACHE / f"llama_cpp_python-{version}" / "vendor" / "llama.cpp"
    if not source.is_dir():
        CACHE.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary=:all:",
                            f"llama-cpp-python=={version}", "-d", tmp], check=True)
            archive = next(Path(tmp).glob("*.tar.gz"))
            subprocess.run(["tar", "xzf", str(archive), "-C", str(CACHE)], check=True)
    build = source / "build"
    subprocess.run(["cmake", "-B", str(build), "-S", str(source), "-DCMAKE_BUILD_TYPE=Release", "-DLLAMA_CURL=OFF",
                    "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_EXAMPLES=OFF"], check=True)
    subprocess.run(["cmake", "--build", str(build), "-j", str(os.cpu_count() or 2),
                    "--target", "llama-bench", "llama-server"], check=True)
    return build / "bin"


# --- contenders -----------------------------------------------------------------------------------------


def rates(stamps: list[float]) -> tuple[float, float, float]:
    """Overall, first-10% and last-10% tokens per second from per-token arrival times."""
    def rate(part: list[float]) -> float:
        return (len(part) - 1) / (part[-1] - part[0]) if len(part) > 1 and part[-1] > part[0] else 0.0

    tenth = max(len(stamps) // 10, 2)
    return rate(stamps), rate(stamps[:tenth]), rate(stamps[-tenth:])


def run_deskseek(model: Path, prompt: str, tokens: int, threads: int, ctx: int) -> dict:
    from deskseek.engines.events import AnswerDelta, Settings
    from deskseek.engines.local import Engine

    with Engine(model, n_ctx=ctx, n_threads=threads, reasoning=False) as engine:
        settings = Settings(max_tokens=tokens, ignore_eos=True, **SAMPLING)
        generation = engine.generate([{"role": "user", "content": prompt}], settings)
        stamps = [time.perf_counter() for event in generation if isinstance(event, AnswerDelta)]
        stats = generation.reply.stats
    overall, first, last = rates(stamps)
    return {"tokens": stats.completion_tokens, "tok_s": stats.gen_tok_s, "first": first, "last": last}


def run_llama_cpp_python(model: Path, raw_prompt: str, tokens: int, threads: int, ctx: int) -> dict:
    import llama_cpp

    from deskseek.llama import cpu

    cpu.prepare()  # the same AMX decision deskseek's engine makes, so both run the same kernels
    llm = llama_cpp.Llama(str(model), n_ctx=ctx, n_threads=threads, n_threads_batch=threads, verbose=False)
    eog = [t for t in range(llm.n_vocab()) if llama_cpp.llama_vocab_is_eog(llm._model.vocab, t)]
    stamps = []
    for _ in llm.create_completion(raw_prompt, max_tokens=tokens, stream=True, logit_bias={t: -1e9 for t in eog},
                                   repeat_penalty=1.0, **SAMPLING):
        stamps.append(time.perf_counter())
    llm.close()
    overall, first, last = rates(stamps)
    return {"tokens": len(stamps), "tok_s": overall, "first": first, "last": last}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LlamaServer:
    """llama-server on a free loopback port for the whole benchmark; one streaming request per run."""

    def __init__(self, binary: Path, model: Path, threads: int, ctx: int):
        self.port = free_port()
        self.process = subprocess.Popen(
            [str(binary), "-m", str(model), "-t", str(threads), "-tb", str(threads), "-c", str(ctx), "-np", "1",
             "--host", "127.0.0.1", "--port", str(self.port), "--no-webui"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2) as reply:
                    if reply.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("llama-server did not come up")

    def run(self, raw_prompt: str, tokens: int) -> dict:
        body = json.dumps({"prompt": raw_prompt, "n_predict": tokens, "ignore_eos": True, "stream": True,
                           "cache_prompt": False, "repeat_penalty": 1.0, **SAMPLING}).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/completion", data=body,
                                         headers={"Content-Type": "application/json"})
        stamps, server_rate = [], 0.0
        with urllib.request.urlopen(request, timeout=3600) as reply:
            for line in reply:
                if not line.startswith(b"data: "):
                    continue
                chunk = json.loads(line[6:])
                if chunk.get("content"):
                    stamps.append(time.perf_counter())
                if chunk.get("stop"):
                    server_rate = chunk.get("timings", {}).get("predicted_per_second", 0.0)
        overall, first, last = rates(stamps)
        return {"tokens": len(stamps), "tok_s": overall, "first": first, "last": last, "server_tok_s": server_rate}

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def median_run(results: list[dict]) -> dict:
    return sorted(results, key=lambda result: result["tok_s"])[len(results) // 2]


def run_llama_bench(bench: Path, model: Path, tokens: int, threads: int) -> dict:
    out = subprocess.run([str(bench), "-m", str(model), "-t", str(threads), "-p", "0", "-n", str(tokens),
                          "-r", "3", "-o", "json"], capture_output=True, text=True, check=True).stdout
    result = json.loads(out)[0]
    return {"tokens": tokens, "tok_s": result["avg_ts"], "first": 0.0, "last": 0.0}


# --- main -----------------------------------------------------------------------------------------------


def in_fresh_process(name: str, model: Path, tokens: int, threads: int, ctx: int) -> dict:
    """Each in-process contender runs in a new interpreter: llama.cpp's CPU threads (an OpenMP team
    per computing thread) outlive a run and would slow whichever contender runs next in the same process."""
    out = subprocess.run(
        [sys.executable, __file__, "--one", name, "--model", str(model), "--tokens", str(tokens),
         "--threads", str(threads), "--ctx", str(ctx)],
        capture_output=True, text=True, check=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def one(args) -> int:
    from deskseek.engines.local import Engine
    from deskseek.llama import native_log

    native_log.install()
    if args.one == "deskseek":
        result = run_deskseek(args.model, PROMPT, args.tokens[0], args.threads, args.ctx)
    else:
        with Engine(args.model, n_ctx=512, n_threads=args.threads, reasoning=False) as engine:
            raw_prompt = engine.render([{"role": "user", "content": PROMPT}]).prompt
        result = run_llama_cpp_python(args.model, raw_prompt, args.tokens[0], args.threads, args.ctx)
    print(json.dumps(result))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tokens", type=int, nargs="+", default=[256, 4000])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--build", action="store_true", help="build llama-bench/llama-server if not found")
    parser.add_argument("--one", choices=["deskseek", "llama-cpp-python"], help=argparse.SUPPRESS)
    parser.add_argument("--ctx", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        return one(args)

    from deskseek.engines.local import Engine
    from deskseek.llama import native_log
    from tests.fixtures.gguf_writers import default_cache_dir, starter_gguf

    native_log.install()
    model = args.model or starter_gguf(default_cache_dir())
    ctx = max(args.tokens) + 512
    with Engine(model, n_ctx=512, n_threads=args.threads, reasoning=False) as engine:
        raw_prompt = engine.render([{"role": "user", "content": PROMPT}]).prompt

    server_binary = find_tool("llama-server", args.build)
    bench = find_tool("llama-bench", args.build)
    server = LlamaServer(server_binary, model, args.threads, ctx) if server_binary else None
    contenders = {
        "deskseek": lambda tokens: in_fresh_process("deskseek", model, tokens, args.threads, ctx),
        "llama-cpp-python": lambda tokens: in_fresh_process("llama-cpp-python", model, tokens, args.threads, ctx),
    }
    if server:
        contenders["llama-server"] = lambda tokens: server.run(raw_prompt, tokens)
    # Rounds alternate the contenders so that noise from a shared machine spreads over all of them;
    # each figure is the median over rounds.
    runs: dict[tuple[str, int], list[dict]] = {}
    try:
        for round_index in range(args.rounds):
            names = list(contenders)
            names = names[round_index % len(names):] + names[: round_index % len(names)]
            for tokens in args.tokens:
                for name in names:
                    runs.setdefault((name, tokens), []).append(contenders[name](tokens))
    finally:
        if server:
            server.close()
    rows = [(name, tokens, median_run(results)) for (name, tokens), results in runs.items()]
    if bench:
        rows.append(("llama-bench tg", min(args.tokens), run_llama_bench(bench, model, min(args.tokens), args.threads)))

    reference = {tokens: result["tok_s"] for name, tokens, result in rows if name == "llama-server"}
    print(f"\nmodel {model.name}, {args.threads} threads, {os.cpu_count()} cores, ctx {ctx}, "
          f"median of {args.rounds} alternating rounds")
    print(f"{'engine':<18}{'tokens':>7}{'tok/s':>9}{'first 10%':>11}{'last 10%':>10}{'vs server':>11}")
    for name, tokens, result in sorted(rows, key=lambda row: (row[1], row[0])):
        ratio = result["tok_s"] / reference[tokens] if reference.get(tokens) else float("nan")
        extra = f"   (server-reported {result['server_tok_s']:.1f})" if "server_tok_s" in result else ""
        print(f"{name:<18}{result['tokens']:>7}{result['tok_s']:>9.1f}{result['first']:>11.1f}{result['last']:>10.1f}"
              f"{ratio:>10.2f}x{extra}")
    if not server_binary:
        print("llama-server not found: run with --build, or put it on PATH / $LLAMA_CPP_BIN")
    return 0


if __name__ == "__main__":
    sys.exit(main())
