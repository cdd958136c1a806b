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


def _function(name: str, library: str, argtypes: list, restype):
    """A C function from the ggml/llama libraries *already loaded* by llama-cpp-python.

    Looked up through libllama's own handle first: the dynamic linker then searches the libraries it
    depends on. Opening `libggml-base.so` by path instead can load a second copy of ggml (wheels ship
    `libggml-base.so` and the `libggml-base.so.0` libllama links against as separate files), whose
    pointers and globals differ: llama.cpp would not recognise its own CPU buffer type, and a thread
    pool or device list would come from a different ggml than the one computing. Where the handle does
    not reach dependencies (Windows), the named library is loaded, which there reuses the loaded module.
    """
    import llama_cpp.llama_cpp as bindings
    from llama_cpp._ctypes_extensions import load_shared_library

    try:
        function = getattr(bindings._lib, name)
    except AttributeError:
        function = getattr(load_shared_library(library, bindings._base_path), name)
    function.argtypes, function.restype = argtypes, restype
    return function


class ThreadPool:
    """A ggml CPU thread pool attached to one llama context for its whole life."""

    def __init__(self, handle, free):
        self._handle, self._free = handle, free

    def free(self) -> None:
        if self._handle:
            self._free(self._handle)
            self._handle = None


def attach_threadpool(ctx, n_threads: int) -> ThreadPool | None:
    """Give the context a persistent pool of `n_threads` workers; None (and a log line) if this build can't."""
    try:
        params_init = _function("ggml_threadpool_params_init", "ggml-base", [ctypes.c_void_p, ctypes.c_int], None)
        new = _function("ggml_threadpool_new", "ggml-cpu", [ctypes.c_void_p], ctypes.c_void_p)
        free = _function("ggml_threadpool_free", "ggml-cpu", [ctypes.c_void_p], None)
        attach = _function("llama_attach_threadpool", "llama", [ctypes.c_void_p] * 3, None)
    except (OSError, AttributeError, ImportError) as err:
        log.warning("no persistent thread pool (%s); generation will be slower", err)
        return None
    params = ctypes.create_string_buffer(_PARAMS_BYTES)
    params_init(params, n_threads)
    handle = new(params)
    if not handle:
        log.warning("ggml could not create a thread pool of %d threads", n_threads)
        return None
    attach(ctx, handle, handle)
    return ThreadPool(handle, free)


def detach_threadpool(ctx) -> None:
    _function("llama_detach_threadpool", "llama", [ctypes.c_void_p], None)(ctx)


# --- devices --------------------------------------------------------------------------------------------


class DeviceInfo:
    """One ggml backend device as llama.cpp will see it when it loads a model."""

    KINDS = {0: "cpu", 1: "gpu", 2: "igpu", 3: "accel"}

    def __init__(self, name: str, description: str, kind: str, free_bytes: int, total_bytes: int):
        self.name, self.description, self.kind = name, description, kind
        self.free_bytes, self.total_bytes = free_bytes, total_bytes


def devices() -> list[DeviceInfo]:
    """Every device in ggml's registry with its free and total memory; [] if this build can't say."""
    pointer, size_p = ctypes.c_void_p, ctypes.POINTER(ctypes.c_size_t)
    try:
        count = _function("ggml_backend_dev_count", "ggml", [], ctypes.c_size_t)
        get = _function("ggml_backend_dev_get", "ggml", [ctypes.c_size_t], pointer)
        name = _function("ggml_backend_dev_name", "ggml-base", [pointer], ctypes.c_char_p)
        description = _function("ggml_backend_dev_description", "ggml-base", [pointer], ctypes.c_char_p)
        kind = _function("ggml_backend_dev_type", "ggml-base", [pointer], ctypes.c_int)
        memory = _function("ggml_backend_dev_memory", "ggml-base", [pointer, size_p, size_p], None)
    except (OSError, AttributeError, ImportError) as err:
        log.warning("cannot list llama.cpp's devices: %s", err)
        return []
    found = []
    for index in range(count()):
        dev = get(index)
        free, total = ctypes.c_size_t(0), ctypes.c_size_t(0)
        memory(dev, ctypes.byref(free), ctypes.byref(total))
        found.append(DeviceInfo(
            name=(name(dev) or b"").decode(errors="replace"),
            description=(description(dev) or b"").decode(errors="replace"),
            kind=DeviceInfo.KINDS.get(kind(dev), "accel"),
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
        cpu = _function("ggml_backend_cpu_buffer_type", "ggml-base", [], ctypes.c_void_p)()
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
