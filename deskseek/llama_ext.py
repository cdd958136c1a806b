"""llama.cpp functions that llama-cpp-python does not bind (yet), reached through ctypes in this one place.

Kept small and defensive: every entry point degrades to "not available" rather than failing a load, so
a llama-cpp-python built differently (dynamic CPU backends, another platform) still runs, only slower.

A persistent thread pool: without one, ggml's CPU backend creates and joins its worker threads for every
graph it computes, i.e. for every generated token. llama-server attaches a pool once per context; so do
we. On two cores that alone was the difference between 0.8x and parity with llama-server.
"""

from __future__ import annotations

import ctypes
import logging

log = logging.getLogger("deskseek.llama_ext")

_PARAMS_BYTES = 4096  # ggml_threadpool_params is ~528 bytes today; only ggml reads it, so room to spare


def _library(name: str):
    import llama_cpp.llama_cpp as bindings
    from llama_cpp._ctypes_extensions import load_shared_library

    return load_shared_library(name, bindings._base_path)


class ThreadPool:
    """A ggml CPU thread pool attached to one llama context for its whole life."""

    def __init__(self, handle, ggml_cpu):
        self._handle, self._ggml_cpu = handle, ggml_cpu

    def free(self) -> None:
        if self._handle:
            self._ggml_cpu.ggml_threadpool_free(self._handle)
            self._handle = None


def attach_threadpool(ctx, n_threads: int) -> ThreadPool | None:
    """Give the context a persistent pool of `n_threads` workers; None (and a log line) if this build can't."""
    try:
        import llama_cpp.llama_cpp as bindings

        ggml_base, ggml_cpu = _library("ggml-base"), _library("ggml-cpu")
        ggml_base.ggml_threadpool_params_init.argtypes = [ctypes.c_void_p, ctypes.c_int]
        ggml_base.ggml_threadpool_params_init.restype = None
        ggml_cpu.ggml_threadpool_new.argtypes = [ctypes.c_void_p]
        ggml_cpu.ggml_threadpool_new.restype = ctypes.c_void_p
        ggml_cpu.ggml_threadpool_free.argtypes = [ctypes.c_void_p]
        ggml_cpu.ggml_threadpool_free.restype = None
        attach = bindings._lib.llama_attach_threadpool
        attach.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
        attach.restype = None
    except (OSError, AttributeError, ImportError) as err:
        log.warning("no persistent thread pool (%s); generation will be slower", err)
        return None
    params = ctypes.create_string_buffer(_PARAMS_BYTES)
    ggml_base.ggml_threadpool_params_init(params, n_threads)
    handle = ggml_cpu.ggml_threadpool_new(params)
    if not handle:
        log.warning("ggml could not create a thread pool of %d threads", n_threads)
        return None
    attach(ctx, handle, handle)
    return ThreadPool(handle, ggml_cpu)


def detach_threadpool(ctx) -> None:
    import llama_cpp.llama_cpp as bindings

    detach = bindings._lib.llama_detach_threadpool
    detach.argtypes, detach.restype = [ctypes.c_void_p], None
    detach(ctx)


# --- devices --------------------------------------------------------------------------------------------


class DeviceInfo:
    """One ggml backend device as llama.cpp will see it when it loads a model."""

    KINDS = {0: "cpu", 1: "gpu", 2: "igpu", 3: "accel"}

    def __init__(self, name: str, description: str, kind: str, free_bytes: int, total_bytes: int):
        self.name, self.description, self.kind = name, description, kind
        self.free_bytes, self.total_bytes = free_bytes, total_bytes


def devices() -> list[DeviceInfo]:
    """Every device in ggml's registry with its free and total memory; [] if this build can't say."""
    try:
        base = _library("ggml-base")
        ggml = _library("ggml")
        ggml.ggml_backend_dev_count.restype = ctypes.c_size_t
        ggml.ggml_backend_dev_get.argtypes, ggml.ggml_backend_dev_get.restype = [ctypes.c_size_t], ctypes.c_void_p
        for fn in ("ggml_backend_dev_name", "ggml_backend_dev_description"):
            getattr(base, fn).argtypes, getattr(base, fn).restype = [ctypes.c_void_p], ctypes.c_char_p
        base.ggml_backend_dev_type.argtypes, base.ggml_backend_dev_type.restype = [ctypes.c_void_p], ctypes.c_int
        base.ggml_backend_dev_memory.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_size_t),
                                                 ctypes.POINTER(ctypes.c_size_t)]
        base.ggml_backend_dev_memory.restype = None
    except (OSError, AttributeError, ImportError) as err:
        log.warning("cannot list llama.cpp's devices: %s", err)
        return []
    found = []
    for index in range(ggml.ggml_backend_dev_count()):
        dev = ggml.ggml_backend_dev_get(index)
        free, total = ctypes.c_size_t(0), ctypes.c_size_t(0)
        base.ggml_backend_dev_memory(dev, ctypes.byref(free), ctypes.byref(total))
        found.append(DeviceInfo(
            name=(base.ggml_backend_dev_name(dev) or b"").decode(errors="replace"),
            description=(base.ggml_backend_dev_description(dev) or b"").decode(errors="replace"),
            kind=DeviceInfo.KINDS.get(base.ggml_backend_dev_type(dev), "accel"),
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


# --- tensor buffer-type overrides -----------------------------------------------------------------------


class _Override(ctypes.Structure):
    """struct llama_model_tensor_buft_override { const char *pattern; ggml_backend_buffer_type_t buft; }"""

    _fields_ = [("pattern", ctypes.c_char_p), ("buft", ctypes.c_void_p)]


class CpuOverrides:
    """Tensor-name patterns whose weights must live in a CPU buffer (system RAM), in the form llama.cpp reads.

    llama-cpp-python 0.3.x binds `llama_model_params.tensor_buft_overrides` as an unused void pointer and
    `Llama()` ignores unknown keyword arguments, so we build the NULL-terminated array ourselves. The
    object owns the array and its strings: keep it alive until the model has loaded.
    """

    def __init__(self, patterns: list[str]):
        base = _library("ggml-base")
        base.ggml_backend_cpu_buffer_type.restype = ctypes.c_void_p
        cpu = base.ggml_backend_cpu_buffer_type()
        if not cpu:
            raise OSError("ggml has no CPU buffer type")
        self.patterns = [pattern.encode() for pattern in patterns]
        self.array = (_Override * (len(patterns) + 1))()
        for slot, pattern in zip(self.array, self.patterns):
            slot.pattern, slot.buft = pattern, cpu
        self.array[len(patterns)].pattern, self.array[len(patterns)].buft = None, None

    def apply(self, params) -> None:
        """Point llama_model_params at the array; mmap off, as llama.cpp advises with overrides."""
        import llama_cpp

        params.tensor_buft_overrides = ctypes.cast(self.array, ctypes.c_void_p)
        params.load_mode = llama_cpp.LLAMA_LOAD_MODE_NONE  # read into buffers: no mmap
