"""A persistent ggml thread pool per llama context.

Without one, ggml's CPU backend creates and joins its worker threads for every graph it computes, i.e.
for every generated token. llama-server attaches a pool once per context; so do we. On two cores that
alone was the difference between 0.8x and parity with llama-server.
"""

from __future__ import annotations

import ctypes
import logging

from deskseek.llama.binding import function

log = logging.getLogger("deskseek.llama")

_PARAMS_BYTES = 4096  # ggml_threadpool_params is ~528 bytes today; only ggml reads it, so room to spare


class ThreadPool:
    """A ggml CPU thread pool attached to one llama context for its whole life."""

    def __init__(self, handle, free):
        self._handle, self._free = handle, free

    def free(self) -> None:
        if self._handle:
            self._free(self._handle)
            self._handle = None


def attach(ctx, n_threads: int) -> ThreadPool | None:
    """Give the context a persistent pool of `n_threads` workers; None (and a log line) if this build can't."""
    try:
        params_init = function("ggml_threadpool_params_init", "ggml-base", [ctypes.c_void_p, ctypes.c_int], None)
        new = function("ggml_threadpool_new", "ggml-cpu", [ctypes.c_void_p], ctypes.c_void_p)
        free = function("ggml_threadpool_free", "ggml-cpu", [ctypes.c_void_p], None)
        attach_fn = function("llama_attach_threadpool", "llama", [ctypes.c_void_p] * 3, None)
    except (OSError, AttributeError, ImportError) as err:
        log.warning("no persistent thread pool (%s); generation will be slower", err)
        return None
    params = ctypes.create_string_buffer(_PARAMS_BYTES)
    params_init(params, n_threads)
    handle = new(params)
    if not handle:
        log.warning("ggml could not create a thread pool of %d threads", n_threads)
        return None
    attach_fn(ctx, handle, handle)
    return ThreadPool(handle, free)


def share(ctx, pool: ThreadPool) -> ThreadPool:
    """Attach another context to `pool` (which stays the owner's to free, after this context is freed); contexts
    that compute in turn, on one thread, share their workers. Returns a handle whose free() frees nothing."""
    function("llama_attach_threadpool", "llama", [ctypes.c_void_p] * 3, None)(ctx, pool._handle, pool._handle)
    return ThreadPool(pool._handle, lambda _handle: None)


def detach(ctx) -> None:
    function("llama_detach_threadpool", "llama", [ctypes.c_void_p], None)(ctx)
