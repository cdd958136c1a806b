"""Reply text on its way from the worker that reads the engine to the UI thread that shows it."""

from __future__ import annotations

import threading

from deskseek.engines import events as ev


class Outbox:
    """Text from the reply worker waiting for the UI thread; at most one message announces it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reasoning: list[str] = []
        self.answer: list[str] = []
        self.notices: list[str] = []
        self.tokens = 0  # reasoning tokens so far in this reply
        self.announced = False

    def put(self, *, reasoning: str = "", answer: str = "", notice: str = "") -> None:
        with self.lock:
            if reasoning:
                self.reasoning.append(reasoning)
            if answer:
                self.answer.append(answer)
            if notice:
                self.notices.append(notice)

    def count(self, reasoning_tokens: int) -> None:
        """The engine's own count (its TokenCount events), never the text pieces: a token that is half of a
        Korean character brings no text, and is still a token."""
        with self.lock:
            self.tokens = reasoning_tokens

    def claim(self) -> bool:
        """True for the one caller that should post a message: none is waiting yet."""
        with self.lock:
            if self.announced:
                return False
            self.announced = True
            return True

    def take(self) -> tuple[str, str, int, list[str]]:
        with self.lock:
            taken = ("".join(self.reasoning), "".join(self.answer), self.tokens, self.notices)
            self.reasoning, self.answer, self.notices, self.announced = [], [], [], False
            return taken


def note_for(reply: ev.Reply) -> str:
    if reply.error:
        return f"error: {reply.error}"
    if reply.finish_reason == "cancelled":
        return "stopped"
    if not reply.thought_closed:
        return "The model never finished thinking, so there is no answer: raise the token limit or set a think budget."
    return ""
