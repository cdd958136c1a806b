"""`deskseek run --server` as a process: it connects to the named server and nothing else, finds the server
by URL, by DESKSEEK_SERVER or by name (models.toml), sends the key it was given, and says each failure in
one line with its exit status."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from deskseek.errors import NETWORK, NOT_FOUND, USAGE
from tests.conftest import REPO_ROOT, write_registry
from tests.fixtures.inference_servers import Faults, InferenceServer

# Every connect and name lookup is recorded; only the allowed host and port may be reached.
GUARDED_TO = """
import os, sys
marker, host, port = os.environ["NETWORK_MARKER"], os.environ["ALLOWED_HOST"], int(os.environ["ALLOWED_PORT"])
def guard(event, args):
    if event == "socket.connect":
        address = args[1]
        allowed = isinstance(address, tuple) and address[0] == host and address[1] == port
    elif event == "socket.getaddrinfo":
        allowed = args[0] == host and args[1] == port
    elif event in ("socket.gethostbyname", "socket.gethostbyaddr"):
        allowed = False
    else:
        return
    where = args[1] if event == "socket.connect" else args
    with open(marker, "a") as log:
        log.write(f"{'allowed' if allowed else 'REFUSED'} {event} {where!r}\\n")
    if not allowed:
        raise PermissionError(f"connection to somewhere not named: {event} {args!r}")
sys.addaudithook(guard)
from deskseek.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.fixture
def run_guarded(tmp_path):
    marker = tmp_path / "connections.txt"

    def launch(server: InferenceServer, *argv: str, env: dict | None = None) -> subprocess.CompletedProcess:
        full = {**os.environ, "NETWORK_MARKER": str(marker), "ALLOWED_HOST": "127.0.0.1",
                "ALLOWED_PORT": str(server.port), **(env or {})}
        return subprocess.run([sys.executable, "-c", GUARDED_TO, "run", *argv], cwd=REPO_ROOT, env=full,
                              capture_output=True, text=True, timeout=120)

    launch.marker = marker
    return launch


def test_run_on_a_server_connects_to_it_and_nothing_else(run_guarded):
    with InferenceServer("llama-server") as server:
        done = run_guarded(server, "--server", server.url, "--json", "What is 6 times 7?")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert (result["model"], result["server"]) == ("DeepSeek-R1-Distill-Qwen-7B", server.url)
    assert (result["reasoning"], result["content"]) == ("Let me think: 6*7=42.", "The answer is 42.")
    attempts = run_guarded.marker.read_text().splitlines()
    assert attempts and all(line.startswith("allowed ") for line in attempts), attempts
    connects = [line for line in attempts if "socket.connect" in line]
    # One connection per request: Ollama's model list (404 here), OpenAI's, /props, the reply.
    assert [r["path"] for r in server.requests] == ["/api/tags", "/v1/models", "/props", "/v1/chat/completions"]
    assert len(connects) == len(server.requests)


def test_the_guard_refuses_another_host(run_guarded):
    with InferenceServer("ollama") as server, InferenceServer("ollama") as other:
        done = run_guarded(server, "--server", other.url, "hi")
    assert done.returncode == NETWORK and f"REFUSED socket.getaddrinfo ('127.0.0.1', {other.port}" in (
        run_guarded.marker.read_text())
    assert other.requests == []


def test_a_named_server_by_its_model_prefix_with_its_key_from_the_variable_it_names(run_guarded, home):
    with InferenceServer("ollama", faults=Faults(api_key="from-env"), models=["deepseek-r1:7b", "qwen3:8b"]) as server:
        write_registry(home, f'[servers.homelab]\nurl = "{server.url}"\napi_key_env = "HOMELAB_KEY"\n')
        done = run_guarded(server, "--model", "homelab:deepseek-r1:7b", "--json", "6*7?",
                           env={"HOMELAB_KEY": "from-env", "DESKSEEK_API_KEY": "not-this-one"})
        unset = run_guarded(server, "--model", "homelab:qwen3:8b", "hi")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["content"] == "The answer is 42."
    assert unset.returncode == USAGE
    assert unset.stderr == ("error: server homelab takes its key from $HOMELAB_KEY (api_key_env in models.toml), "
                            "which is not set\n")


def test_deskseek_server_and_api_key_from_the_environment(run_guarded):
    with InferenceServer("vllm", faults=Faults(api_key="k")) as server:
        done = run_guarded(server, "--hide-thinking", "6*7?",
                           env={"DESKSEEK_SERVER": server.url + "/v1", "DESKSEEK_API_KEY": "k"})
        bearer = {r["headers"].get("Authorization") for r in server.requests}
    assert done.returncode == 0, done.stderr
    assert done.stdout == "The answer is 42.\n" and bearer == {"Bearer k"}


@pytest.mark.parametrize(("faults", "argv", "status", "line"), [
    (Faults(api_key="k"), [], NETWORK, "refused the request (401: Invalid API Key); give its key with --api-key"),
    (Faults(), ["-m", "nope"], NOT_FOUND, "has no model 'nope'; it has DeepSeek-R1-Distill-Qwen-7B"),
    (Faults(chat_status=500), [], 1, "answered 500 Internal Server Error: simulated failure"),
])
def test_each_failure_is_one_line(run_guarded, faults, argv, status, line):
    with InferenceServer("llama-server", faults=faults) as server:
        done = run_guarded(server, "--server", server.url, *argv, "hi")
    assert done.returncode == status
    assert done.stderr.startswith("error: ") and line in done.stderr and done.stderr.count("\n") == 1


def test_a_stream_cut_mid_reply_prints_what_came_and_says_so(run_guarded):
    with InferenceServer("llama-server", faults=Faults(cut_after=5)) as server:
        done = run_guarded(server, "--server", server.url, "6*7?")
    assert done.returncode == 1
    assert done.stdout.startswith("Thinking…\nLet me think:")
    assert done.stderr.endswith("closed the stream mid-reply (it may have crashed or been restarted); the reply "
                                "so far is kept\n")


def test_a_bad_url_is_a_usage_error_before_any_connection(run_guarded):
    with InferenceServer("llama-server") as server:
        done = run_guarded(server, "--server", "http://me:secret@127.0.0.1:1", "hi")
    assert done.returncode == USAGE and "carries credentials" in done.stderr
    assert not run_guarded.marker.exists()
