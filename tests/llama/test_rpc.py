"""llama/rpc.py: reading --rpc, greeting a worker before llama.cpp does (which would abort on any failure)."""

from __future__ import annotations

import socket
import struct
import threading

import pytest

from deskseek.llama import rpc, rpc_greeting
from tests.fixtures.rpc_workers import Worker, require_rpc_build


def test_this_build_has_the_rpc_backend():
    """Not a skip: a build without RPC means the Makefile lost it, and this says how to rebuild."""
    require_rpc_build()
    assert rpc.available()


@pytest.mark.parametrize("text, endpoints", [
    ("10.0.0.2:50052", ["10.0.0.2:50052"]),
    ("a.local:1,b.local:2, a.local:1", ["a.local:1", "b.local:2"]),
    ("gpu-box", ["gpu-box:50052"]),
])
def test_endpoints_are_read_as_llama_cpp_reads_them(text, endpoints):
    assert rpc_greeting.parse_endpoints(text) == endpoints


@pytest.mark.parametrize("text, message", [
    ("host:0", "the port must be a number from 1 to 65535"),
    ("host:70000", "the port must be a number from 1 to 65535"),
    ("::1", "IPv4 only"),
    ("[::1]:5", "IPv4 only"),
    ("bad host:5", "is not HOST:PORT"),
    ("", "no worker given"),
])
def test_bad_endpoints_say_what_is_wrong(text, message):
    with pytest.raises(ValueError, match=message):
        rpc_greeting.parse_endpoints(text)


class FakeWorker:
    """A real TCP server on 127.0.0.1 that answers HELLO as told (or never): what a wrong or busy worker does."""

    def __init__(self, answer: bytes | None):
        self.answer = answer
        self.server = socket.create_server(("127.0.0.1", 0))
        self.endpoint = f"127.0.0.1:{self.server.getsockname()[1]}"
        self.received = b""
        self.pings = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        client, _ = self.server.accept()
        with client:
            self.received = client.recv(1 + 8 + 24)
            if self.answer is None:
                client.recv(1)  # says nothing until the client gives up
                return
            client.sendall(struct.pack("<Q", len(self.answer)) + self.answer)
            while client.recv(9) == struct.pack("<BQ", 15, 0):  # DEVICE_COUNT: the round-trip pings
                self.pings += 1
                client.sendall(struct.pack("<QI", 4, 1))


def test_the_greeting_is_llama_cpps_hello():
    fake = FakeWorker(bytes([7, 0, 0, 0]) + bytes(24))
    greeting = rpc_greeting.greet(fake.endpoint)
    assert greeting.version == "7.0.0" and greeting.rtt_s > 0
    assert fake.received == struct.pack("<BQ", 14, 24) + bytes(24)
    assert fake.pings == 5  # the round trip: the quickest of five of the protocol's smallest requests


def test_another_protocol_version_is_one_line():
    fake = FakeWorker(bytes([6, 1, 0, 0]) + bytes(24))
    with pytest.raises(rpc.RpcError, match=r"speaks RPC protocol 6\.1\.0, this build 7\.x"):
        rpc_greeting.greet(fake.endpoint)


def test_a_worker_that_never_answers_is_a_timeout_not_a_hang():
    fake = FakeWorker(None)
    with pytest.raises(rpc.RpcError, match="did not answer within 0.5 s .*one client at a time"):
        rpc_greeting.greet(fake.endpoint, timeout=0.5)


def test_nothing_listening_is_one_line_naming_the_worker():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(rpc.RpcError, match=f"worker 127.0.0.1:{port} is not reachable"):
        rpc_greeting.greet(f"127.0.0.1:{port}")


def test_a_real_worker_greets_and_a_dead_one_is_told_apart(home):
    require_rpc_build()
    worker = Worker(home)
    try:
        worker.wait_for("use it from the main machine")
        assert rpc_greeting.greet(worker.endpoint).version.startswith("7.")
        assert rpc._answers(worker.endpoint)
        worker.kill()
        assert not rpc._answers(worker.endpoint)
    finally:
        worker.stop()
