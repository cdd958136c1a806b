"""`deskseek run --rpc`: one model split over two real workers, as it runs alone, and a worker lost mid-reply."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time

from deskseek.models import gguf
from deskseek.placement.planner import ModelFacts
from tests.engines.test_local import starter_path  # noqa: F401  (session fixture)

PROMPT = "Name three colors."
LONG_PROMPT = "Summarise: " + " ".join(f"Line {i}: the keeper logged the weather and the ships." for i in range(25))  # one batch (< 512)


def run_env(home) -> dict:
    return {**os.environ, "DESKSEEK_HOME": str(home), "OMP_WAIT_POLICY": "PASSIVE", "DESKSEEK_LOG_LEVEL": "info"}


def run(home, model, *extra: str, prompt: str = PROMPT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "deskseek.cli", "run", "-m", str(model), "--temp", "0", "-n", "40", "-t", "1",
         *extra, prompt], capture_output=True, text=True, env=run_env(home), timeout=600)


def test_a_model_split_over_two_workers_writes_exactly_what_it_writes_alone(two_workers, home, starter_path):  # noqa: F811
    alone = run(home, starter_path)
    assert alone.returncode == 0, alone.stderr
    split = run(home, starter_path, "--rpc", ",".join(w.endpoint for w in two_workers))
    assert split.returncode == 0, split.stderr
    assert split.stdout == alone.stdout and alone.stdout.strip()
    # llama.cpp put weights on both workers (its load log, kept in deskseek's log file at DESKSEEK_LOG_LEVEL=info)
    log = (home / "logs" / "deskseek.log").read_text(encoding="utf-8")
    for worker in two_workers:
        assert f"[{worker.endpoint}] model buffer size" in log
        worker.wait_for("client connected: 127.0.0.1:")  # the worker names the client that used it
    # the workers compute asynchronously: the prompt's time is its compute's, not the time to send it
    stats = json.loads(run(home, starter_path, "--json", "--rpc", ",".join(w.endpoint for w in two_workers),
                           prompt=LONG_PROMPT).stdout)["stats"]
    prompt_s = stats["prompt_tokens"] / stats["prompt_tok_s"]  # a fresh process: nothing cached
    assert prompt_s > 0.8 * stats["ttft_s"], stats  # unsynchronized, the second worker's share went uncounted


def test_killing_a_worker_mid_reply_ends_the_run_with_one_clear_line(two_workers, home, starter_path):  # noqa: F811
    kept, victim = two_workers
    process = subprocess.Popen(
        [sys.executable, "-m", "deskseek.cli", "run", "-m", str(starter_path), "--temp", "0", "-n", "3000",
         "-t", "1", "--rpc", f"{kept.endpoint},{victim.endpoint}",
         "Write a long story about a dragon."],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=run_env(home))
    printed: list[str] = []
    reader = threading.Thread(target=lambda: printed.extend(iter(lambda: process.stdout.read(1), "")), daemon=True)
    reader.start()
    deadline = time.monotonic() + 300
    while len("".join(printed)) < 40 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    victim.kill()
    try:
        process.wait(120)
    finally:
        if process.poll() is None:
            process.kill()
    reader.join(5)
    errors = process.stderr.read().strip().splitlines()
    assert process.returncode == 1
    assert errors[-1].startswith(f"error: worker {victim.endpoint} went away mid-reply; the reply ends here.")
    assert len("".join(printed)) >= 40  # what came before stays on the screen


def test_an_moe_with_its_experts_kept_here_and_the_rest_on_the_workers_writes_what_it_writes_alone(
        two_workers, home, tmp_path):
    """R1's layout (tiny, random weights): `--cpu-moe` keeps the routed experts in this machine's RAM while the
    dense weights go to the workers; llama.cpp reads the override per tensor, so the split is by tensor."""
    from tests.fixtures.tiny_moe import tiny_deepseek2

    model = tiny_deepseek2(tmp_path / "tiny-r1-moe.gguf")
    alone = run(home, model)
    assert alone.returncode == 0, alone.stderr
    split = run(home, model, "--cpu-moe", "--rpc", ",".join(w.endpoint for w in two_workers))
    assert split.returncode == 0, split.stderr
    assert split.stdout == alone.stdout and alone.stdout.strip()
    split_log = (home / "logs" / "deskseek.log").read_text(encoding="utf-8").rsplit("placement for", 1)[1]
    assert all(f"[{worker.endpoint}] model buffer size" in split_log for worker in two_workers)
    here = re.search(r"load_tensors: +CPU model buffer size = +([\d.]+) MiB", split_log)
    experts = ModelFacts.of(gguf.read(model)).routed_expert_bytes
    assert experts > 0 and float(here.group(1)) * 2**20 >= experts * 0.95  # the experts are in this machine's RAM
