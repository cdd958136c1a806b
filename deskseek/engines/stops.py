"""Stop texts on a stream (`--stop`): end the reply where it writes one, and never show any of it.

Text arrives a token's worth at a time, so a stop text can span pieces ("</ans" then "wer>"). The end of
what has arrived that could still grow into a stop text is held back (never more than the longest stop
text less one character) and let go once the next piece shows it was only text, or when the reply ends
without a stop. Held-back text is not shown early, so nothing of a stop text ever reaches the screen,
the history or the think splitter, which sees the stream after this.
"""

from __future__ import annotations

from collections.abc import Iterable


class StopMatcher:
    def __init__(self, stops: Iterable[str]):
        self.stops = tuple(stop for stop in stops if stop)
        self.stopped = False
        self._held = ""

    def feed(self, text: str) -> str:
        """The text that is certain now. On a stop text, `stopped` is set and it and all after it are dropped."""
        if not self.stops or self.stopped:
            return "" if self.stopped else text
        data = self._held + text
        found = [index for index in (data.find(stop) for stop in self.stops) if index >= 0]
        if found:
            self.stopped, self._held = True, ""
            return data[: min(found)]
        keep = self._could_start_a_stop(data)
        self._held = data[len(data) - keep:] if keep else ""
        return data[: len(data) - keep]

    def flush(self) -> str:
        """The reply ended without a stop: what was held back was text after all."""
        held, self._held = self._held, ""
        return held

    def _could_start_a_stop(self, data: str) -> int:
        """The length of the longest end of `data` that is the beginning of a stop text."""
        longest = 0
        for stop in self.stops:
            for length in range(min(len(stop) - 1, len(data)), longest, -1):
                if data.endswith(stop[:length]):
                    longest = length
                    break
        return longest
