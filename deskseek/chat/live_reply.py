"""A reply in flight, stored as it streams: each event reaches the history before it reaches the face.

Saving never stops the reply. A full disk or a locked file is said once, as a Notice, while the text
stays in memory and every later write tries again; a row deleted by another process (`history rm`) is
said once and the reply goes on, on screen only.
"""

from __future__ import annotations

import collections
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator

from deskseek.chat.owners import ReplyGone
from deskseek.chat.reply_writer import ReplyWriter, final_state
from deskseek.engines.events import AnswerDelta, Done, Event, Notice, ReasoningDelta
from deskseek.errors import DeskseekError

log = logging.getLogger("deskseek.chat")


class LiveReply:
    """Iterate it (or call get()) for the engine's events, ending with Done; cancel() stops the reply."""

    def __init__(self, generation, writer: ReplyWriter | None, turn, notices: list[Notice],
                 on_lost: Callable[[], None]):
        self.generation, self.writer, self.turn = generation, writer, turn
        self.reply = generation.reply
        self.done = threading.Event()
        self._pending: collections.deque[Event] = collections.deque(notices)
        self._on_lost = on_lost
        self._failing = False  # a save failed and has not succeeded since
        self._thought_started = time.monotonic()
        self._thought_seconds: float | None = None
        self._thought_saved_at = 0.0
        self._thought_tokens = 0

    @property
    def message_id(self) -> int | None:
        return self.turn.id

    def cancel(self) -> None:
        self.generation.cancel()

    def get(self) -> Event:
        """The next event, once stored. Safe to call again after a KeyboardInterrupt interrupted the wait."""
        if self._pending:
            return self._pending.popleft()
        event = self.generation.get()
        notices = self._store(event)
        ordered = [*notices, event] if isinstance(event, Done) else [event, *notices]
        self._pending.extend(ordered[1:])
        return ordered[0]

    def __iter__(self) -> Iterator[Event]:
        while True:
            event = self.get()
            yield event
            if isinstance(event, Done) and not self._pending:
                return

    def wait(self):
        for _ in self:
            pass
        return self.reply

    # --- storing --------------------------------------------------------------------------------------

    def _store(self, event: Event) -> list[Notice]:
        writer, now = self.writer, time.monotonic()
        if isinstance(event, ReasoningDelta):
            self._thought_tokens += 1
            notices = self._save(lambda: writer.add_reasoning(event.text))
            if now - self._thought_saved_at >= 1.0:  # an interrupted reply still knows how long it thought
                self._thought_saved_at = now
                notices += self._save(lambda: writer.set_reasoning_seconds(now - self._thought_started))
            return notices
        if isinstance(event, AnswerDelta):
            notices = []
            if self._thought_seconds is None and self._thought_tokens:
                self._thought_seconds = now - self._thought_started
                notices += self._save(lambda: writer.set_reasoning_seconds(self._thought_seconds))
            return notices + self._save(lambda: writer.add_answer(event.text))
        if isinstance(event, Done):
            return self._finish(event, now)
        return []

    def _finish(self, done: Done, now: float) -> list[Notice]:
        reply, writer, turn = self.reply, self.writer, self.turn
        if self._thought_seconds is None and self._thought_tokens:
            self._thought_seconds = now - self._thought_started
        state = final_state(done.finish_reason, done.thought_closed)
        stats = reply.stats.as_dict() if reply.stats else None
        turn.content, turn.reasoning, turn.state, turn.stats = reply.content, reply.reasoning, state, stats
        turn.reasoning_seconds = self._thought_seconds

        def finish() -> None:
            if self._thought_seconds is not None:
                writer.reasoning_seconds = self._thought_seconds
            writer.finish(state, finish_reason=done.finish_reason, stats=stats)

        notices = self._save(finish)
        if self._failing and writer is not None:
            notices.append(Notice("this reply could not be saved yet; deskseek tries again with the next one "
                                  "and when it closes"))
        self.done.set()
        return notices

    def _save(self, write: Callable[[], object]) -> list[Notice]:
        if self.writer is None:
            return []
        try:
            write()
        except ReplyGone as err:
            self.writer = None
            self._on_lost()
            return [Notice(str(err))]
        except (DeskseekError, sqlite3.Error) as err:  # disk full, locked: the text is kept, the next write tries again
            log.warning("reply %s not saved: %s", self.turn.id, err)
            if self._failing:
                return []
            self._failing = True
            return [Notice(f"{err}; the reply stays on screen and deskseek keeps trying")]
        if self._failing:
            self._failing = False
            return [Notice("the chat history is being saved again")]
        return []
