"""Messages that worker threads post to the app. Threads never touch widgets; they post one of these.

Generated text does not travel in messages: the reply worker gathers it in the app's outbox and posts a
ReplyChunk only when none is waiting, so a fast model never floods the queue ahead of key presses.
"""

from __future__ import annotations

from textual.message import Message

from deskseek.engines.events import Reply


class LoadProgress(Message):
    def __init__(self, name: str, fraction: float) -> None:
        super().__init__()
        self.name, self.fraction = name, fraction


class ModelReady(Message):
    """The session now answers with `name`; `info` is the ModelRequest it was loaded from."""

    def __init__(self, name: str, info) -> None:
        super().__init__()
        self.name, self.info = name, info


class ModelFailed(Message):
    def __init__(self, name: str, error: str) -> None:
        super().__init__()
        self.name, self.error = name, error


class ReplyChunk(Message):
    """New text is waiting in the app's outbox (posted only when no other ReplyChunk is waiting)."""


class ReplyFinished(Message):
    def __init__(self, reply: Reply) -> None:
        super().__init__()
        self.reply = reply
