"""Messages that worker threads post to the app. Threads never touch widgets; they post one of these.

Text is batched by the reply worker (about 30 hand-overs a second) so a fast model does not flood the
message queue with one message per token.
"""

from __future__ import annotations

from textual.message import Message

from ..engine import Engine, Reply


class LoadProgress(Message):
    def __init__(self, fraction: float) -> None:
        super().__init__()
        self.fraction = fraction


class ModelReady(Message):
    def __init__(self, engine: Engine, name: str, placement: str) -> None:
        super().__init__()
        self.engine, self.name, self.placement = engine, name, placement


class ModelFailed(Message):
    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error


class ReplyChunk(Message):
    """Text generated since the last chunk; reasoning and answer apart."""

    def __init__(self, reasoning: str, answer: str, reasoning_tokens: int, notices: list[str]) -> None:
        super().__init__()
        self.reasoning, self.answer, self.notices = reasoning, answer, notices
        self.reasoning_tokens = reasoning_tokens  # so far in this reply


class ReplyFinished(Message):
    def __init__(self, reply: Reply) -> None:
        super().__init__()
        self.reply = reply
