"""Shared fixtures: every test gets its own data root, and nothing reaches the real Hub or the user's files."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from tests.fixtures.hub_server import HubServer

REPO_ROOT = Path(__file__).resolve().parent.parent


def test_cache() -> Path:
    """Where the suite keeps what it downloads once per machine (the starter wheel): outside tmp_path."""
    return Path(os.environ.get("DESKSEEK_TEST_CACHE", Path.home() / ".cache" / "deskseek-tests"))


@pytest.fixture(autouse=True, scope="session")
def amx_verdict(tmp_path_factory) -> None:
    """Decide once for the whole suite, as deskseek decides once per machine, and hand the verdict to every process.

    The probe runs for real here (in a child, a second or two) unless DESKSEEK_CPU_AMX is already set; its verdict
    goes into the environment, so the tests' own processes and their children load models the way a user's deskseek
    would on this machine, without probing again under each test's fresh data root.
    """
    if os.environ.get("DESKSEEK_CPU_AMX", "auto").strip().lower() in ("", "auto"):
        os.environ["DESKSEEK_HOME"] = str(tmp_path_factory.mktemp("amx-home"))
        from deskseek.llama import cpu

        verdict = cpu.decide()
        os.environ["DESKSEEK_CPU_AMX"] = "on" if verdict.used else "off"
        print(f"\nAMX: {'used' if verdict.used else 'not used'} ({verdict.reason})")


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch) -> Path:
    """An empty DESKSEEK_HOME per test, and a Hub client that knows no token and sends no telemetry."""
    root = tmp_path / "deskseek-home"
    monkeypatch.setenv("DESKSEEK_HOME", str(root))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setenv("HF_HUB_DOWNLOAD_TIMEOUT", "5")
    for name in ("HF_TOKEN", "HF_ENDPOINT", "HF_HUB_OFFLINE", "DESKSEEK_SERVER", "DESKSEEK_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    # Other apps' model folders (Ollama, LM Studio, the caches) are never looked in unless a test builds its
    # own and turns the search on (the `apps` fixture in tests/fixtures/app_stores.py).
    monkeypatch.setenv("DESKSEEK_OTHER_APPS", "off")
    for name in ("OLLAMA_MODELS", "LLAMA_CACHE", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        monkeypatch.delenv(name, raising=False)
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_DISABLE_IMPLICIT_TOKEN", True)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_TELEMETRY", True)
    return root


@pytest.fixture
def hub(monkeypatch):
    """A real HTTP server on 127.0.0.1 speaking the Hub protocol; HF_ENDPOINT points at it."""
    with HubServer() as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        yield server


def gguf_bytes(size: int, seed: int = 0, *, arch: str = "llama") -> bytes:
    """A real GGUF header (readable by deskseek.models.gguf) padded with random bytes to `size`."""

    header = _gguf_header(arch)
    assert size > len(header)
    return header + random.Random(seed).randbytes(size - len(header))


_HEADERS: dict[str, bytes] = {}


def _gguf_header(arch: str) -> bytes:
    if arch not in _HEADERS:
        import struct

        def string(text: str) -> bytes:
            data = text.encode()
            return struct.pack("<Q", len(data)) + data

        kv = string("general.architecture") + struct.pack("<I", 8) + string(arch)
        _HEADERS[arch] = b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + kv
    return _HEADERS[arch]


def write_registry(home: Path, text: str) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "models.toml").write_text(text, encoding="utf-8")


@pytest.fixture
def two_workers(home):
    """Two real `deskseek worker` processes on 127.0.0.1 standing in for two machines (tests/fixtures/rpc_workers.py)."""
    from tests.fixtures.rpc_workers import start_workers

    workers = start_workers(home, 2)
    yield workers
    for worker in workers:
        worker.stop()
