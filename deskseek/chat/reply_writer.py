"""One assistant reply as the history keeps it while it streams."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from deskseek.chat.records import STATES, check

if TYPE_CHECKING:
    from deskseek.chat.history import History


class ReplyWriter:
    """One assistant reply as it streams: text gathers in memory and reaches the row every `flush_every_s`.

    Writing per token would cost a transaction per token; writing only at the end would lose a whole reply
    to a crash. A timed flush bounds the loss to one interval for the price of about one write a second.
    State changes (the thought's length, the end) are written at once: they are rare and matter most.
    """

    def __init__(self, history: History, conversation_id: int, message_id: int, flush_every_s: float, clock):
        self.history = history
        self.conversation_id = conversation_id
        self.message_id = message_id
        self.flush_every_s = flush_every_s
        self.clock = clock
        self.state = "streaming"
        self.reasoning_seconds: float | None = None
        self._answer: list[str] = []  # chunks, joined only when written: a long reply stays linear
        self._thought: list[str] = []
        self._last_write = clock()
        self._finish_reason: str | None = None
        self._stats: Mapping | None = None

    @property
    def content(self) -> str:
        return "".join(self._answer)

    @property
    def reasoning(self) -> str:
        return "".join(self._thought)

    def add_reasoning(self, text: str) -> bool:
        """Returns whether this call wrote the row (the caller can tell what a crash now would keep)."""
        self._open_or_raise()
        self._thought.append(text)
        return self._flush_if_due()

    def add_answer(self, text: str) -> bool:
        """Returns whether this call wrote the row."""
        self._open_or_raise()
        self._answer.append(text)
        return self._flush_if_due()

    def set_reasoning_seconds(self, seconds: float) -> None:
        self._open_or_raise()
        self.reasoning_seconds = seconds
        self.flush()

    def flush(self) -> None:
        """Write the row now. Timed from the attempt: on a full disk the next try is an interval later."""
        self._last_write = self.clock()
        self.history._save_reply(self, finish_reason=self._finish_reason, stats=self._stats)
        if self.finished:
            self.history._live.discard(self)

    def finish(self, state: str, finish_reason: str | None = None, stats: Mapping | None = None) -> None:
        """The final write. Should it fail (disk full), the reply stays pending: History.save_pending() and
        close() write it later, with this state."""
        self._open_or_raise()
        check(state, tuple(s for s in STATES if s != "streaming"), "final state")
        self.state, self._finish_reason, self._stats = state, finish_reason, stats
        self.flush()

    @property
    def finished(self) -> bool:
        return self.state != "streaming"

    def _flush_if_due(self) -> bool:
        if self.clock() - self._last_write < self.flush_every_s:
            return False
        self.flush()
        return True

    def _open_or_raise(self) -> None:
        if self.finished:
            raise RuntimeError(f"reply {self.message_id} is already {self.state}")


def final_state(finish_reason: str, thought_closed: bool) -> str:
    """How a finished reply is stored: what stopped it, or a thought that never reached an answer."""
    if finish_reason == "cancelled":
        return "stopped"
    if finish_reason == "error":
        return "error"
    if not thought_closed:
        return "no-answer"
    return "complete"
