"""Garbage collection that does not make key presses wait.

Streaming Markdown makes garbage fast: Textual re-parses the last block on each append and throws the
parsed widgets away, and a widget is about a hundred objects in reference cycles. Before Python 3.14
a full collection walks every object in the process, so in a long reply the collector paused the UI
for 100-250 ms every half second (measured at 20,000 tokens on a slow core), and a key pressed then
waited for it.

So objects that survived a full collection are frozen right after it (`gc.freeze`: later collections
skip them), and each full collection walks only what came since the last one. The price is that a
frozen object that becomes garbage later (a Markdown block dropped when its segment is culled, a
removed conversation) waits for the next reclaim: when the app has been idle for IDLE_S (no reply
streaming, no key pressed), everything is thawed and collected in one go, at a moment nobody is waiting.

Python 3.14's collector is incremental, and all of this is left to it there.
"""

from __future__ import annotations

import gc
import sys
import time

IDLE_S = 2.0

NEEDED = sys.version_info < (3, 14)


class QuietCollector:
    def __init__(self, clock=time.monotonic) -> None:
        self.clock = clock
        self.active = False
        self.stopped = False  # for good: a start scheduled before the app closed must not happen after
        self.last_activity = clock()
        self.freezes = 0  # full collections whose survivors were frozen since the last reclaim
        self.reclaims = 0

    def start(self) -> None:
        """Freezes what exists now (the imported modules, the app) and from then on each full collection's
        survivors."""
        if not NEEDED or self.active or self.stopped:
            return
        gc.collect()
        gc.freeze()
        gc.callbacks.append(self._after_collection)
        self.active = True

    def stop(self) -> None:
        """Leaves the process as it found it (tests run many apps in one process)."""
        self.stopped = True
        if self.active:
            gc.callbacks.remove(self._after_collection)
            gc.unfreeze()
            self.active = False

    def touch(self) -> None:
        """Something happened that a pause would have delayed: a key, a streamed token."""
        self.last_activity = self.clock()

    def tick(self, busy: bool) -> bool:
        """Called every second or so; `busy` while a reply streams or renders. Returns whether it reclaimed."""
        if busy:
            self.touch()
            return False
        if not self.active or not self.freezes or self.clock() - self.last_activity < IDLE_S:
            return False
        self.reclaim()
        return True

    def reclaim(self) -> None:
        gc.unfreeze()
        gc.collect()
        gc.freeze()
        self.freezes = 0
        self.reclaims += 1

    def _after_collection(self, phase: str, info: dict) -> None:
        # (gc.get_freeze_count() would say how much is frozen, but it counts by walking them all)
        if phase == "stop" and info["generation"] == 2:
            gc.freeze()
            self.freezes += 1
