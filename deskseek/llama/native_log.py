"""llama.cpp's own log, routed into deskseek's log file and a small in-memory tail.

llama.cpp writes to stderr by default, and llama-cpp-python's quiet mode (verbose off) hides that by redirecting
file descriptors 1 and 2 for the whole process, which would blank a Textual screen mid-frame. Instead we
install one `llama_log_set` callback: every line goes to the `deskseek.llama` logger (the log file), and
the recent lines stay in memory so a failed load can say *why* ("unknown model architecture ...") and
the placement tests can read llama.cpp's "buffer type overridden" lines.
"""

from __future__ import annotations

import collections
import ctypes
import logging
import os
import threading

log = logging.getLogger("deskseek.llama")

# ggml_log_level: NONE 0, DEBUG 1, INFO 2, WARN 3, ERROR 4, CONT 5 (continues the previous record).
# (llama-cpp-python's own mapping predates this order and files errors as debug.)
_LEVELS = {0: logging.INFO, 1: logging.DEBUG, 2: logging.INFO, 3: logging.WARNING, 4: logging.ERROR}
_lock = threading.Lock()
_tail: collections.deque[tuple[int, str]] = collections.deque(maxlen=4000)
_partial = ""
_last_level = logging.INFO
_appended = 0  # lines received so far; positions from mark() count in these
_callback = None  # the ctypes callback must outlive every call llama.cpp makes to it


def install() -> None:
    """Take over llama.cpp's log for the rest of the process (idempotent)."""
    global _callback
    if _callback is not None:
        return
    import llama_cpp

    @llama_cpp.llama_log_callback
    def _on_log(level: int, text: bytes, _user_data) -> None:
        _receive(level, text.decode("utf-8", errors="replace"))

    _callback = _on_log
    llama_cpp.llama_log_set(_callback, ctypes.c_void_p(0))
    # Every load logs a few thousand info lines (the whole metadata table); the file keeps warnings and
    # errors unless DESKSEEK_LOG_LEVEL asks for more. The in-memory tail always keeps everything.
    log.setLevel(os.environ.get("DESKSEEK_LOG_LEVEL", "WARNING").upper())


def _receive(level: int, text: str) -> None:
    """Join fragments into lines (llama.cpp logs pieces, and continuation records at level 5)."""
    global _partial, _last_level, _appended
    with _lock:
        if level != 5:
            _last_level = _LEVELS.get(level, logging.DEBUG)
        _partial += text
        *lines, _partial = _partial.split("\n")
        for line in lines:
            if line.strip():
                _tail.append((_last_level, line))
                _appended += 1
                log.log(_last_level, "%s", line)


def mark() -> int:
    """A position in the log, so a caller can later read only what came after it."""
    with _lock:
        return _appended


def _since(position: int) -> list[tuple[int, str]]:
    newer = min(_appended - position, len(_tail))
    return list(_tail)[len(_tail) - newer:] if newer > 0 else []


def lines_since(position: int = 0) -> list[str]:
    """Log lines recorded after `position` (from mark()), as far back as the in-memory tail reaches."""
    with _lock:
        return [line for _, line in _since(position)]


def first_error(position: int = 0) -> str | None:
    """The root cause since `position`: the first error (later ones are usually its echoes), else the first warning."""
    with _lock:
        recent = _since(position)
    for wanted in (logging.ERROR, logging.WARNING):
        for level, line in recent:
            if level >= wanted:
                return line.strip()
    return None
