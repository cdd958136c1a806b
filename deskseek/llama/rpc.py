"""llama.cpp's RPC backend: other machines' devices as devices of this one, and this machine's served to them.

A worker (`deskseek worker`) runs ggml's RPC server: it owns this machine's GPU (or CPU) and computes
whatever graph a client sends. A client (`--rpc HOST:PORT`) registers each worker as a device in ggml's
registry, and llama.cpp then places layers on it like on a local GPU. llama-cpp-python no longer wraps
any of this, so the functions are reached by name through the RPC backend's own `get_proc_address`
(which is how llama.cpp's own `--rpc` and `rpc-server` find them: the symbols live in libggml-rpc).

Two facts of this llama.cpp version (ggml-rpc.cpp, protocol 7) shape the code:
- The client has no error path: a refused connection or a send/recv that fails mid-reply reaches
  `GGML_ABORT` ("Remote RPC server crashed ..."), which calls ggml's abort callback and then `abort()`.
  So a worker is first greeted here, in Python, with the protocol's own HELLO (a clear one-line error
  when it is not there or busy), and `contain_lost_workers` installs an abort callback that, for RPC
  failures only, tells the engine and then parks the failing thread forever so `abort()` is never
  reached. The thread that was computing stays blocked too: that model is lost (and its memory held)
  until the process exits, but the process and the chat live on.
- A worker serves one client at a time (its accept loop is sequential): a second client waits in the
  listen queue. The greeting times out instead of hanging and says so.
"""

from __future__ import annotations

import ctypes
import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass

from deskseek.errors import NETWORK
from deskseek.llama.binding import function
from deskseek.llama.rpc_greeting import PROTOCOL_MAJOR, Greeting, RpcError, greet

log = logging.getLogger("deskseek.llama")

REBUILD = ("CMAKE_ARGS='-DGGML_RPC=ON -DLLAVA_BUILD=OFF' pip install --no-cache-dir --force-reinstall --no-deps "
           "llama-cpp-python (or `make setup`, which checks it)")


# --- the backend, through ctypes ----------------------------------------------------------------------------

_pointer = ctypes.c_void_p


def _registry():
    """The RPC backend's registry entry, or None in a build without it."""
    by_name = function("ggml_backend_reg_by_name", "ggml", [ctypes.c_char_p], _pointer)
    return by_name(b"RPC")


def available() -> bool:
    try:
        return bool(_registry())
    except (OSError, AttributeError, ImportError):
        return False


def require() -> None:
    if not available():
        raise RpcError(f"this llama-cpp-python was built without llama.cpp's RPC backend; rebuild it: {REBUILD}")


def _proc(name: str, restype, argtypes):
    address = function("ggml_backend_reg_get_proc_address", "ggml-base", [_pointer, ctypes.c_char_p], _pointer)(
        _registry(), name.encode())
    if not address:
        raise RpcError(f"llama.cpp's RPC backend has no {name} (deskseek is tested with protocol {PROTOCOL_MAJOR})")
    return ctypes.CFUNCTYPE(restype, *argtypes)(address)


_lock = threading.RLock()  # re-entered when llama.cpp fails inside connect(): its abort callback takes it too
_connected: dict[str, list[str]] = {}  # endpoint -> the names ggml gave its devices ("RPC0", ...)
_greetings: dict[str, Greeting] = {}


def connect(endpoints: list[str]) -> list[Greeting]:
    """Register each worker's devices in ggml's registry (once per process); greeted first, one line if not there."""
    require()
    greetings = [greet(endpoint) for endpoint in endpoints]  # all checked before any reaches llama.cpp
    contain_lost_workers()
    add_server = _proc("ggml_backend_rpc_add_server", _pointer, [ctypes.c_char_p])
    register = function("ggml_backend_register", "ggml", [_pointer], None)
    count = function("ggml_backend_reg_dev_count", "ggml-base", [_pointer], ctypes.c_size_t)
    get = function("ggml_backend_reg_dev_get", "ggml-base", [_pointer, ctypes.c_size_t], _pointer)
    name = function("ggml_backend_dev_name", "ggml-base", [_pointer], ctypes.c_char_p)
    with _lock:
        for greeting in greetings:
            endpoint = greeting.endpoint
            _greetings[endpoint] = greeting
            if endpoint in _connected:
                continue
            reg = add_server(endpoint.encode())
            if not reg:
                raise RpcError(f"worker {endpoint} offers no devices")
            register(reg)
            _connected[endpoint] = [name(get(reg, i)).decode() for i in range(count(reg))]
            log.info("RPC worker %s: devices %s, round trip %.2f ms", endpoint, _connected[endpoint],
                     greeting.rtt_s * 1000)
    return greetings


def endpoint_of(device_name: str) -> str | None:
    """The worker a registered device lives on ("RPC0" -> "10.0.0.2:50052"); None for a local device."""
    with _lock:
        for endpoint, names in _connected.items():
            if device_name in names:
                return endpoint
    return None


def greeting(endpoint: str) -> Greeting | None:
    with _lock:
        return _greetings.get(endpoint)


def in_use() -> bool:
    with _lock:
        return bool(_connected)


# --- a worker gone mid-reply ---------------------------------------------------------------------------------

_RPC_FAILURES = ("Remote RPC server crashed", "Failed to connect to", "RPC handshake failed")
_lost_endpoints: set[str] = set()  # workers whose connection failed: ggml's client for them is parked for good
_handlers: list[Callable[[str], bool]] = []
_last_words: list[Callable[[], None]] = []  # run before the process ends on a failure nobody could be told of
_abort_callback = None  # kept alive for the life of the process: ggml holds the pointer
lost: list[str] = []  # every RPC failure seen, in order (tests and the log read it)


def on_lost_worker(handler: Callable[[str], bool]) -> Callable[[], None]:
    """Call `handler(reason)` when a worker's connection fails; it returns True where it told someone (a reply in
    flight). Returns the function that unregisters it."""
    with _lock:
        _handlers.append(handler)

    def forget() -> None:
        with _lock:
            if handler in _handlers:
                _handlers.remove(handler)

    return forget


def before_fatal_exit(hook: Callable[[], None]) -> None:
    """Run `hook` (from whatever thread llama.cpp failed on) before a lost worker ends the process: a full-screen
    app puts the terminal back with it."""
    with _lock:
        _last_words.append(hook)


def contain_lost_workers() -> None:
    """Install ggml's abort callback (once): an RPC failure becomes a handler call and a parked thread, not abort().

    Any other fatal error keeps llama.cpp's behaviour (its message, then abort()).
    """
    global _abort_callback
    with _lock:
        if _abort_callback is not None:
            return
        kind = ctypes.CFUNCTYPE(None, ctypes.c_char_p)

        def on_abort(message: bytes) -> None:
            text = (message or b"").decode(errors="replace").strip()
            if not any(marker in text for marker in _RPC_FAILURES):
                log.critical("llama.cpp aborts: %s", text)
                _say(text)
                return  # ggml_abort() calls abort() next, as it would have without us
            reason = _describe(text)
            log.error("RPC worker lost: %s (llama.cpp: %s)", reason, text)
            with _lock:
                lost.append(reason)
                handlers = list(_handlers)
            told = False
            for handler in handlers:
                try:
                    told = bool(handler(reason)) or told
                except Exception:  # a handler's bug must not let the abort through
                    log.exception("lost-worker handler failed")
            if not told:
                # Nobody is waiting for a reply (a model loading, or being freed): the thread that asked is blocked
                # in llama.cpp for good and nothing can hand it an error. End the process with the line instead.
                for hook in list(_last_words):
                    try:
                        hook()
                    except Exception:
                        log.exception("a last-words hook failed")
                _say(f"error: {reason}")
                os._exit(NETWORK)
            _park()

        _abort_callback = kind(on_abort)
        function("ggml_set_abort_callback", "ggml-base", [kind], kind)(_abort_callback)


def _say(line: str) -> None:
    """Straight to file descriptor 2: sys.stderr may be a full-screen app's capture, gone with the process."""
    try:
        os.write(2, f"{line}\n".encode(errors="replace"))
    except OSError:
        pass


def _describe(text: str) -> str:
    """Which worker went away: llama.cpp's message does not say, so each is knocked on (a closed port answers at once)."""
    if "Failed to connect" in text:
        return f"cannot reach worker {text.rsplit('Failed to connect to', 1)[-1].strip()}"
    with _lock:
        workers = list(_connected)
    gone = [endpoint for endpoint in workers if endpoint not in _lost_endpoints and not _answers(endpoint)]
    with _lock:  # where it cannot be told which, none of them is asked anything again
        _lost_endpoints.update(gone or workers)
    if gone:
        return f"worker {' and '.join(gone)} went away"
    return f"the connection to a worker ({', '.join(workers)}) was lost"


def is_lost(device_name: str) -> bool:
    """A device of a worker that went away: asking it anything (even its free memory) would block for good."""
    endpoint = endpoint_of(device_name)
    with _lock:
        return endpoint is not None and endpoint in _lost_endpoints


def devices_for_next_model():
    """After a worker went away: the NULL-terminated device array for llama_model_params.devices that leaves its
    devices out (llama.cpp's default choice, which would include them, otherwise); None while all workers live."""
    with _lock:
        if not _lost_endpoints:
            return None
    count = function("ggml_backend_dev_count", "ggml", [], ctypes.c_size_t)
    get = function("ggml_backend_dev_get", "ggml", [ctypes.c_size_t], _pointer)
    name = function("ggml_backend_dev_name", "ggml-base", [_pointer], ctypes.c_char_p)
    kind = function("ggml_backend_dev_type", "ggml-base", [_pointer], ctypes.c_int)
    workers, gpus, igpus = [], [], []
    for index in range(count()):
        dev = get(index)
        label = name(dev).decode()
        if endpoint_of(label) is not None:
            if not is_lost(label):
                workers.append(dev)
        elif kind(dev) == 1:  # GGML_BACKEND_DEVICE_TYPE_GPU
            gpus.append(dev)
        elif kind(dev) == 2:  # IGPU: only where there is no discrete GPU, as llama.cpp chooses
            igpus.append(dev)
    chosen = workers + (gpus or igpus)  # workers first, as llama.cpp orders them (fewer transfers)
    return (_pointer * (len(chosen) + 1))(*chosen, None)


def _answers(endpoint: str) -> bool:
    """Whether a worker still listens. A dying one may still complete a connection from its listen queue while the
    kernel tears it down, so the knock also waits a moment: a live worker keeps it open (it serves us, or waits for
    a HELLO) and says nothing; a dead one resets or closes it."""
    host, _, port = endpoint.partition(":")
    try:
        with socket.create_connection((socket.gethostbyname(host), int(port)), timeout=1.0) as sock:
            sock.settimeout(0.5)
            return sock.recv(1) != b""
    except TimeoutError:
        return True
    except OSError:
        return False


def _park() -> None:
    """Never return to ggml_abort (which would abort() next); sleep without holding the GIL."""
    forever = threading.Event()
    while True:
        forever.wait(3600)


# --- serving this machine's devices --------------------------------------------------------------------------


@dataclass
class LocalDevice:
    pointer: int
    name: str
    description: str
    kind: str
    free_bytes: int
    total_bytes: int


def servable_devices() -> list[LocalDevice]:
    """What a worker serves, as llama.cpp's rpc-server picks by default: every GPU, else the CPU."""
    from deskseek.llama.devices import KINDS

    size_p = ctypes.POINTER(ctypes.c_size_t)
    count = function("ggml_backend_dev_count", "ggml", [], ctypes.c_size_t)
    get = function("ggml_backend_dev_get", "ggml", [ctypes.c_size_t], _pointer)
    name = function("ggml_backend_dev_name", "ggml-base", [_pointer], ctypes.c_char_p)
    description = function("ggml_backend_dev_description", "ggml-base", [_pointer], ctypes.c_char_p)
    kind = function("ggml_backend_dev_type", "ggml-base", [_pointer], ctypes.c_int)
    memory = function("ggml_backend_dev_memory", "ggml-base", [_pointer, size_p, size_p], None)
    found = []
    for index in range(count()):
        dev = get(index)
        free, total = ctypes.c_size_t(0), ctypes.c_size_t(0)
        memory(dev, ctypes.byref(free), ctypes.byref(total))
        found.append(LocalDevice(dev, name(dev).decode(), (description(dev) or b"").decode(errors="replace"),
                                 KINDS.get(kind(dev), "accel"), free.value, total.value))
    gpus = [d for d in found if d.kind in ("gpu", "igpu") and endpoint_of(d.name) is None]
    return gpus or [d for d in found if d.kind == "cpu"][:1]


def serve(endpoint: str, devices: list[LocalDevice], threads: int, cache_dir: str | None = None) -> None:
    """Run ggml's RPC server on `endpoint` (blocks for ever; returns only when it could not start)."""
    require()
    start = _proc("ggml_backend_rpc_start_server", None,
                  [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_size_t, ctypes.POINTER(_pointer)])
    array = (_pointer * len(devices))(*[d.pointer for d in devices])
    start(endpoint.encode(), cache_dir.encode() if cache_dir else None, threads, len(devices), array)
