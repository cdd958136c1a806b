"""`deskseek worker`: lend this machine's GPU (or CPU) to a deskseek elsewhere, over llama.cpp's RPC protocol.

The server is ggml's own (llama/rpc.py), run in this process. Its accept loop never returns, so it runs on
a daemon thread and the main thread waits for Ctrl+C or SIGTERM, then ends the process at once: there is
nothing of ours to save, and the C loop has no way to be asked to stop. Its lines on standard output
("Accepted client connection", "Client connection closed") are read through a pipe and printed as ours,
with the client's address where the system can tell it.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import sys
import threading

from deskseek.cli import flags
from deskseek.errors import DeskseekError
from deskseek.units import human_bytes

WARNING = ("warning: the RPC protocol has no authentication and no encryption: anyone who can reach {where} can run "
           "computations on this machine and read what it holds. Use it on a trusted network only, or bind "
           "127.0.0.1 and reach it through an SSH tunnel (ssh -L {port}:127.0.0.1:{port} this-machine).")


class PortInUse(DeskseekError):
    """Another program (often another worker) listens on the port."""


def cmd_worker(args) -> int:
    from deskseek.llama import cores, native_log, rpc

    stop = threading.Event()  # from here on Ctrl+C and SIGTERM stop the worker: "worker stopped", status 0
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    native_log.install()
    rpc.require()
    host, port = _address(args.host), args.port
    _check_port(host, port)  # the C server would only say "Failed to create server socket"
    if args.cache_dir:
        try:
            os.makedirs(args.cache_dir, exist_ok=True)  # as llama.cpp's rpc-server does before it serves
        except OSError as err:
            raise DeskseekError(f"cannot use --cache-dir {args.cache_dir}: {err.strerror or err}") from None
    devices = rpc.servable_devices()
    if not devices:
        raise DeskseekError("llama.cpp offers no device to serve")
    threads = args.threads or cores.default_threads()
    endpoint = f"{host}:{port}"
    print(f"deskseek worker on {endpoint} (RPC protocol {rpc.PROTOCOL_MAJOR}), serving:")
    for device in devices:
        print(f"  {device.name}: {device.description} ({human_bytes(device.free_bytes)} free "
              f"of {human_bytes(device.total_bytes)})")
    if any(device.kind == "cpu" for device in devices):
        print(f"  with {threads} threads")
    if warns(host):
        print(WARNING.format(where=endpoint, port=port), file=sys.stderr)
    print(f"use it from the main machine with: deskseek run --rpc {_reachable(host)}:{port} ...", flush=True)
    _Relay(port)
    failed = threading.Event()

    def serve() -> None:
        rpc.serve(endpoint, devices, threads, args.cache_dir)
        failed.set()  # it returns only when it could not start

    threading.Thread(target=serve, name="deskseek-rpc-server", daemon=True).start()
    while not stop.is_set() and not failed.is_set():
        stop.wait(0.2)
    if failed.is_set():
        reason = native_log.first_error() or "see the lines above"
        raise DeskseekError(f"the RPC server on {endpoint} could not start: {reason}")
    print("worker stopped", flush=True)
    sys.stdout.flush()
    os._exit(0)  # the server thread is inside a C accept() that nothing can interrupt


def warns(host: str) -> bool:
    """Anything but loopback can be reached from other machines, and the protocol lets anyone in."""
    return not host.startswith("127.")


def _address(host: str) -> str:
    """ggml's server listens on an IPv4 address given as digits (inet_addr): a name is resolved here first."""
    try:
        return socket.gethostbyname(host)
    except (socket.gaierror, UnicodeError):
        raise DeskseekError(f"cannot listen on {host!r}: not an IPv4 address or a known host name "
                            "(llama.cpp's RPC server speaks IPv4 only)") from None


def _check_port(host: str, port: int) -> None:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as ggml's server does
            probe.bind((host, port))
    except OSError as err:
        if err.errno == errno.EADDRINUSE:
            raise PortInUse(f"port {port} on {host} is in use (another worker?); pick another with --port") from None
        if err.errno in (errno.EADDRNOTAVAIL, errno.EACCES) or isinstance(err, socket.gaierror):
            raise DeskseekError(f"cannot listen on {host}:{port}: {err.strerror or err}") from None
        raise


def _reachable(host: str) -> str:
    return "THIS-MACHINE" if host == "0.0.0.0" else host


class _Relay:
    """ggml's server prints to the C stdout: take file descriptor 1 through a pipe and say it in our words."""

    def __init__(self, port: int):
        self.port = port
        self.out = os.fdopen(os.dup(1), "w", buffering=1)
        read, write = os.pipe()
        sys.stdout.flush()
        os.dup2(write, 1)
        os.close(write)
        sys.stdout = self.out  # Python's own prints go straight to the terminal
        self.thread = threading.Thread(target=self._pump, args=(read,), name="deskseek-rpc-log", daemon=True)
        self.thread.start()

    def _pump(self, fd: int) -> None:
        with os.fdopen(fd, "r", errors="replace") as lines:
            for line in lines:
                said = self._translate(line.strip())
                if said:
                    print(said, file=self.out, flush=True)

    def _translate(self, line: str) -> str | None:
        if line.startswith("Accepted client connection"):
            peers = clients(self.port)
            return f"client connected: {', '.join(peers)}" if peers else "client connected"
        if line.startswith("Client connection closed"):
            return "client disconnected"
        if not line or line.startswith(("Starting RPC server", "endpoint", "local cache", "Devices:", "transport")):
            return None  # the banner: said above in our words
        if line.startswith(("CPU:", "CUDA", "Metal", "MTL", "Vulkan")) and "MiB" in line:
            return None
        return line


def clients(port: int) -> list[str]:
    """The peers of established connections to `port` (IPv4, as the server listens), from /proc (Linux); [] elsewhere."""
    try:
        with open("/proc/net/tcp", encoding="ascii") as handle:
            rows = handle.read().splitlines()[1:]
    except OSError:
        return []
    peers = []
    for row in rows:
        local, remote, state = row.split()[1:4]
        if state == "01" and int(local.rsplit(":", 1)[1], 16) == port:  # 01: ESTABLISHED
            raw, peer_port = remote.split(":")
            peers.append(f"{socket.inet_ntop(socket.AF_INET, bytes.fromhex(raw)[::-1])}:{int(peer_port, 16)}")
    return peers


def add_commands(commands) -> None:
    from deskseek.llama.rpc_greeting import DEFAULT_PORT

    p = commands.add_parser("worker", help="lend this machine's GPU/CPU to a deskseek elsewhere (llama.cpp RPC)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1; anything else is reachable without a password)")
    p.add_argument("--port", type=flags.whole(1, 65535), default=DEFAULT_PORT, help=f"TCP port (default {DEFAULT_PORT})")
    p.add_argument("-t", "--threads", type=flags.whole(1, flags.MAX_THREADS), metavar="N",
                   help="CPU threads when serving the CPU (default: the physical cores)")
    p.add_argument("--cache-dir", metavar="DIR",
                   help="keep tensors clients send in DIR, so the next load of the same model skips the network")
    p.set_defaults(func=cmd_worker)

