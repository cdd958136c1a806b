"""Standard output, watched: so a failed write to it is told apart from any other OSError.

`deskseek list | head -1` closes the pipe under us (EPIPE), `run > /dev/full` has no room (ENOSPC): both
surface as an OSError from whatever line printed, and the CLI must answer the first with silence and the
second with one line, not treat either as a bug. Off a terminal, sys.stdout is rebuilt over a raw writer
that remembers the error it met, so the CLI knows for certain that the failure was standard output's
(an OSError of the same errno from a socket or a child's pipe is still a bug, and still says so).
A terminal is left as Python made it (on Windows its console writer is not a plain file descriptor).
"""

from __future__ import annotations

import io
import os
import sys


class _Fd1(io.RawIOBase):
    """File descriptor 1 as a raw stream that keeps the first error a write met."""

    def __init__(self, fd: int):
        super().__init__()
        self.fd = fd
        self.failure: OSError | None = None

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self.fd

    def isatty(self) -> bool:
        return False

    def write(self, data) -> int:
        try:
            return os.write(self.fd, data)
        except OSError as err:
            self.failure = self.failure or err
            raise


_watched: _Fd1 | None = None
_original = None


def watch() -> None:
    """Route sys.stdout through a watched writer, unless it is a terminal (or gone, or not a real file)."""
    global _watched, _original
    stream = sys.stdout
    try:
        if stream is None or stream.isatty():
            return
        fd = stream.fileno()
    except (OSError, ValueError, AttributeError):
        return  # a stand-in (a test's capture): nothing to watch
    stream.flush()
    _watched, _original = _Fd1(fd), stream
    sys.stdout = io.TextIOWrapper(io.BufferedWriter(_watched), encoding=stream.encoding, errors=stream.errors,
                                  line_buffering=stream.line_buffering)


def unwatch() -> None:
    """Hand back the stdout Python made (main() may be called again in the same process, as tests do)."""
    global _watched, _original
    if _original is None:
        return
    try:
        sys.stdout.flush()
    except (OSError, ValueError):
        pass  # already reported, and its descriptor now points at the null device
    sys.stdout, _watched, _original = _original, None, None


def failure(err: BaseException) -> OSError | None:
    """`err` if it (or the first error before it) was a write to standard output failing; else None."""
    if _watched is not None and _watched.failure is not None and isinstance(err, OSError):
        return _watched.failure
    return None


def discard() -> None:
    """Point file descriptor 1 at the null device, so the unwritten rest goes nowhere instead of failing
    again, with a traceback, when Python flushes stdout at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass
