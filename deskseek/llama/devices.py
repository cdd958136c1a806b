"""The devices ggml's backend registry offers, exactly as llama.cpp will see them when it loads a model."""

from __future__ import annotations

import ctypes
import logging
from dataclasses import dataclass

from deskseek.llama.binding import function

log = logging.getLogger("deskseek.llama")

KINDS = {0: "cpu", 1: "gpu", 2: "igpu", 3: "accel"}  # enum ggml_backend_dev_type


@dataclass
class Device:
    name: str
    description: str
    kind: str  # "gpu" | "igpu" | "cpu" | "accel" | "rpc" (another machine's, through llama.cpp's RPC backend)
    free_bytes: int
    total_bytes: int
    bandwidth_gbs: float = 0.0  # not ggml's to say: the placement layer looks it up by name
    link_gbs: float = 0.0  # an RPC device ("rpc"): the network's bandwidth to it, GB/s (assumed or given)
    rtt_s: float = 0.0  # and one round trip to its worker, measured when it was greeted


def devices() -> list[Device]:
    """Every device in ggml's registry with its free and total memory; [] if this build can't say."""
    pointer, size_p = ctypes.c_void_p, ctypes.POINTER(ctypes.c_size_t)
    try:
        count = function("ggml_backend_dev_count", "ggml", [], ctypes.c_size_t)
        get = function("ggml_backend_dev_get", "ggml", [ctypes.c_size_t], pointer)
        name = function("ggml_backend_dev_name", "ggml-base", [pointer], ctypes.c_char_p)
        description = function("ggml_backend_dev_description", "ggml-base", [pointer], ctypes.c_char_p)
        kind = function("ggml_backend_dev_type", "ggml-base", [pointer], ctypes.c_int)
        memory = function("ggml_backend_dev_memory", "ggml-base", [pointer, size_p, size_p], None)
    except (OSError, AttributeError, ImportError) as err:
        log.warning("cannot list llama.cpp's devices: %s", err)
        return []
    from deskseek.llama import rpc

    found = []
    for index in range(count()):
        dev = get(index)
        if rpc.is_lost(name(dev).decode(errors="replace")):
            continue  # a worker that went away: its client would wait for its answer for ever
        free, total = ctypes.c_size_t(0), ctypes.c_size_t(0)
        memory(dev, ctypes.byref(free), ctypes.byref(total))
        found.append(Device(
            name=(name(dev) or b"").decode(errors="replace"),
            description=(description(dev) or b"").decode(errors="replace"),
            kind=KINDS.get(kind(dev), "accel"),
            free_bytes=free.value, total_bytes=total.value,
        ))
    return found


def system_info() -> str:
    """llama.cpp's feature string (CPU extensions, backends) as it reports it."""
    try:
        import llama_cpp

        return llama_cpp.llama_print_system_info().decode(errors="replace").strip()
    except (OSError, AttributeError, ImportError):
        return ""
