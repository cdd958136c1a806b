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
