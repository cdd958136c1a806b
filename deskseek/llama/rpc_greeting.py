"""Greeting an RPC worker before llama.cpp does: the protocol's HELLO over a plain socket, with a timeout.

llama.cpp's RPC client aborts the whole process when a worker cannot be reached (llama/rpc.py says why), so
every worker is first greeted here in Python: a clear one-line error when it is not there, busy with another
client, or speaking another protocol version; and its round trip, measured, for the planner's estimate.
"""

from __future__ import annotations

import re
import socket
import struct
import time
from dataclasses import dataclass

from deskseek.errors import NETWORK, DeskseekError

PROTOCOL_MAJOR = 7  # RPC_PROTO_MAJOR_VERSION of the vendored llama.cpp (ggml-rpc.h)
_HELLO = 14  # RPC_CMD_HELLO, fixed across versions
_DEVICE_COUNT = 15  # RPC_CMD_DEVICE_COUNT in protocol 7
_CAPS = 24  # RPC_CONN_CAPS_SIZE (transport.h)
DEFAULT_PORT = 50052  # llama.cpp's rpc-server default


class RpcError(DeskseekError):
    """A worker cannot be used: not reachable, busy, another protocol, or this build has no RPC backend."""

    exit_code = NETWORK


@dataclass(frozen=True)
class Greeting:
    endpoint: str
    version: str  # the worker's protocol version, "7.0.0"
    rtt_s: float  # one request's round trip to the worker, measured (llama/rpc.py _round_trip)


def parse_endpoints(text: str) -> list[str]:
    """`host:port[,host:port...]` -> endpoints; a bare host gets llama.cpp's default port.

    llama.cpp's client splits an endpoint at its first colon and connects over IPv4 only (gethostbyname),
    so an IPv6 address is refused here rather than misread there.
    """
    found = []
    for part in (item.strip() for item in text.split(",")):
        if not part:
            continue
        if part.startswith("[") or part.count(":") > 1:
            raise ValueError(f"{part!r}: llama.cpp's RPC client reaches workers over IPv4 only; give an IPv4 address "
                             "or a host name")
        host, _, port = part.partition(":")
        port = port or str(DEFAULT_PORT)
        if not host or not re.fullmatch(r"[A-Za-z0-9_.-]+", host):
            raise ValueError(f"{part!r} is not HOST:PORT")
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{part!r}: the port must be a number from 1 to 65535")
        found.append(f"{host}:{int(port)}")
    if not found:
        raise ValueError("no worker given (HOST:PORT[,HOST:PORT...])")
    return list(dict.fromkeys(found))


def greet(endpoint: str, timeout: float = 5.0) -> Greeting:
    """Say HELLO the way llama.cpp's client does and read the answer, with a timeout; RpcError naming it.

    llama.cpp's own connect aborts the process on any failure, so nothing reaches it unchecked.
    """
    host, _, port = endpoint.partition(":")
    try:
        address = socket.gethostbyname(host)  # as llama.cpp resolves it: IPv4
        with socket.create_connection((address, int(port)), timeout=timeout) as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as llama.cpp's client
            sock.settimeout(timeout)
            sock.sendall(struct.pack("<BQ", _HELLO, _CAPS) + bytes(_CAPS))
            size = struct.unpack("<Q", _read(sock, 8))[0]
            answer = _read(sock, size)
            rtt = _round_trip(sock) if size >= 3 and answer[0] == PROTOCOL_MAJOR else 0.0
    except TimeoutError:
        raise RpcError(f"worker {endpoint} did not answer within {timeout:g} s (a worker serves one client at "
                       "a time: is another deskseek using it?)") from None
    except socket.gaierror:
        raise RpcError(f"worker {endpoint}: no such host {host!r}") from None
    except OSError as err:
        reason = err.strerror or str(err) or type(err).__name__
        raise RpcError(f"worker {endpoint} is not reachable: {reason} (is `deskseek worker` running there?)") from None
    if size < 3 or answer[0] != PROTOCOL_MAJOR:
        got = ".".join(str(b) for b in answer[:3]) or "nothing"
        raise RpcError(f"worker {endpoint} speaks RPC protocol {got}, this build {PROTOCOL_MAJOR}.x: "
                       "install the same deskseek and llama-cpp-python on both machines")
    return Greeting(endpoint, ".".join(str(b) for b in answer[:3]), rtt)


def _round_trip(sock: socket.socket, tries: int = 5) -> float:
    """The quickest of a few of the protocol's smallest requests (DEVICE_COUNT): a round trip as llama.cpp's client
    waits for one, the worker's own turnaround included; the quickest, as a busy host delays some of them."""
    best = float("inf")
    for _ in range(tries):
        started = time.perf_counter()
        sock.sendall(struct.pack("<BQ", _DEVICE_COUNT, 0))
        _read(sock, struct.unpack("<Q", _read(sock, 8))[0])
        best = min(best, time.perf_counter() - started)
    return best


def _read(sock: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise ConnectionResetError(0, "the connection was closed during the greeting")
        data += chunk
    return data
