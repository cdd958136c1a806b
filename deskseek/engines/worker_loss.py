"""A worker (`--rpc`) that goes away mid-reply: the reply ends with a clear line, and the chat goes on.

llama.cpp's RPC client cannot fail softly: a lost connection ends in `abort()`. llama/rpc.py turns that into a
call to the handler here (and parks the failing thread, so the process lives). This engine's thread stays
blocked inside llama_decode for good, waiting for an answer that will never come, so the model cannot be
used or freed; what can be done is to end the reply in flight with an Error and Done (its reader then goes
on as after any failed reply), refuse the next generate() with the reason, and let close() return at once.
"""

from __future__ import annotations

import logging

from deskseek.engines.events import Done, Error
from deskseek.errors import DeskseekError
from deskseek.llama import rpc

log = logging.getLogger("deskseek.engine")


class WorkerLost(DeskseekError):
    """A worker holding part of the model went away: the model cannot go on in this process."""


class WorkerWatch:
    """One engine's watch over its workers (a no-op for a model on this machine's devices alone)."""

    def __init__(self):
        self.lost: str | None = None  # the reason, once a worker went away
        self.current = None  # the Generation running on the engine's thread, while it runs
        self._forget = rpc.on_lost_worker(self._on_lost) if rpc.in_use() else None

    def _on_lost(self, reason: str) -> bool:
        """Called from llama.cpp's failing thread; True when a reply in flight was told (the failure is handled)."""
        self.lost = reason
        generation = self.current
        if generation is None:
            return False
        log.error("reply ended: %s", reason)
        generation._events.put(Error(f"{reason} mid-reply; the reply ends here. {self.advice()}"))
        generation._events.put(Done("error", True))
        return True

    @staticmethod
    def advice() -> str:
        return ("This model cannot go on: load a model again (it will not use that worker), or restart deskseek "
                "once the worker is back (the lost model's memory stays taken until then)")

    def check(self) -> None:
        if self.lost:
            raise WorkerLost(f"{self.lost}. {self.advice()}")

    def close(self) -> None:
        if self._forget is not None:
            self._forget()
            self._forget = None
