"""`deskseek worker` and `--rpc`, with real worker processes on 127.0.0.1 standing in for other machines."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

from deskseek.cli import worker as worker_cli
from tests.fixtures.rpc_workers import GREETS, READY, DroppingWorker, Worker, free_port


def deskseek(*args: str, home, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "DESKSEEK_HOME": str(home), "OMP_WAIT_POLICY": "PASSIVE"}
    return subprocess.run([sys.executable, "-m", "deskseek.cli", *args], capture_output=True, text=True, env=env,
                          timeout=timeout)


def test_info_lists_both_workers_with_their_memory(two_workers, home):
    endpoints = ",".join(w.endpoint for w in two_workers)
    done = deskseek("info", "--json", "--rpc", endpoints, home=home)
    assert done.returncode == 0, done.stderr
    gpus = json.loads(done.stdout)["machine"]["gpus"]
    workers = [gpu for gpu in gpus if gpu["kind"] == "rpc"]
    assert [w.endpoint in gpu["name"] for w, gpu in zip(two_workers, workers)] == [True, True]
    assert all(gpu["free_bytes"] > 0 and gpu["total_bytes"] >= gpu["free_bytes"] for gpu in workers)
    assert all(gpu["rtt_s"] > 0 and gpu["link_gbs"] == pytest.approx(1 / 8) for gpu in workers)
    text = deskseek("info", "--rpc", endpoints, home=home)
    assert text.returncode == 0, text.stderr
    assert [line.split(":")[0] for line in text.stdout.splitlines() if line.startswith("worker ")] == \
        ["worker     RPC0@127.0.0.1", "worker     RPC1@127.0.0.1"]
    # each worker said a client came and went (its address, where the client stays long enough to read it: the
    # split run's test checks that)
    for worker in two_workers:
        worker.wait_for("client connected")
        worker.wait_for("client disconnected")


def test_the_worker_says_what_it_serves_and_stops_cleanly_on_ctrl_c(home):
    worker = Worker(home)
    try:
        worker.wait_for(READY)
        output = worker.output()
        assert f"deskseek worker on {worker.endpoint}" in output
        assert "CPU:" in output and "free of" in output
        assert "no authentication" not in output  # loopback: nobody else can reach it
    finally:
        worker.stop()
    assert worker.process.returncode == 0
    assert worker.lines[-1] == "worker stopped"


def test_a_port_in_use_is_one_line(home):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        done = deskseek("worker", "--port", str(port), home=home, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"error: port {port} on 127.0.0.1 is in use (another worker?); pick another with --port"]


def test_listening_beyond_loopback_warns_that_the_protocol_is_open():
    assert "no authentication and no encryption" in worker_cli.WARNING
    assert "ssh -L 50052:127.0.0.1:50052" in worker_cli.WARNING.format(where="0.0.0.0:50052", port=50052)
    assert worker_cli.warns("0.0.0.0") and worker_cli.warns("192.168.1.5") and not worker_cli.warns("127.0.0.1")


def test_an_unreachable_worker_is_one_line_naming_it(home):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens on it once closed
    done = deskseek("info", "--rpc", f"127.0.0.1:{port}", home=home, timeout=60)
    assert done.returncode == 4
    assert done.stderr.strip().splitlines() == [
        f"error: worker 127.0.0.1:{port} is not reachable: Connection refused (is `deskseek worker` running there?)"]


@pytest.mark.parametrize("given, message", [
    ("127.0.0.1:x", "the port must be a number"),
    ("[::1]:50052", "IPv4 only"),
    (",", "no worker given"),
])
def test_a_bad_rpc_flag_is_a_usage_error(home, given, message):
    done = deskseek("info", "--rpc", given, home=home, timeout=60)
    assert done.returncode == 2 and message in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_a_worker_lost_while_nothing_waits_for_a_reply_ends_the_command_with_one_line(home):
    """llama.cpp would abort() (status 134, a core dump); deskseek's abort callback says it and exits 4."""
    half = DroppingWorker(GREETS)
    done = deskseek("info", "--rpc", half.endpoint, home=home, timeout=60)
    assert done.returncode == 4, done.stderr
    assert done.stderr.strip().splitlines() == [f"error: the connection to a worker ({half.endpoint}) was lost"]


def test_a_cache_dir_that_cannot_be_made_is_one_line(home, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    done = deskseek("worker", "--port", str(free_port()), "--cache-dir", str(blocker / "cache"), home=home, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [f"error: cannot use --cache-dir {blocker / 'cache'}: Not a directory"]
