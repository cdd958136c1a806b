"""What every engine streams, and what it is asked with: the events of one reply, its settings, the whole reply.

A face (the chat app, `run`) and the chat session consume these and nothing engine-specific, so a local
llama.cpp engine and a remote server can stand behind the same screen.
"""

from __future__ import annotations

import queue
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ReasoningDelta:
    text: str


@dataclass(frozen=True)
class AnswerDelta:
    text: str


@dataclass(frozen=True)
class TokenCount:
    """The reply's tokens so far, sent after each token the model wrote. Counting the text deltas instead
    undercounts: a token holding half of a multi-byte character (Hangul, emoji) shows no text until the
    rest of it arrives, and the thought splitter may hold text back or join it."""

    generated: int
    reasoning: int  # of `generated`, those written inside the thought


@dataclass(frozen=True)
class Notice:
    """Something the user should know that is not text of the reply (e.g. old turns were dropped)."""

    message: str


@dataclass(frozen=True)
class Stats:
    prompt_tokens: int
    cached_tokens: int  # of prompt_tokens, how many were reused from the KV cache
    completion_tokens: int
    reasoning_tokens: int
    ttft_s: float  # request to first generated token
    prompt_tok_s: float
    gen_tok_s: float
    think_lang_steered: int = 0  # thought steps where the guard banned the model's first choice (think_lang.py)
    drafted: int = 0  # draft tokens checked by speculative decoding (speculative.py)
    accepted: int = 0  # of them, those the model wrote

    def drafts_taken(self) -> str:
        """The share of draft tokens the model wrote, for a status line ("" where nothing was drafted)."""
        return f"drafts {self.accepted / self.drafted:.0%} taken" if self.drafted else ""

    def as_dict(self) -> dict:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "reasoning_tokens": self.reasoning_tokens,
            "ttft_s": round(self.ttft_s, 4),
            "prompt_tok_s": round(self.prompt_tok_s, 2),
            "gen_tok_s": round(self.gen_tok_s, 2),
            "think_lang_steered": self.think_lang_steered,
            "speculative": {"drafted": self.drafted, "accepted": self.accepted},
        }


@dataclass(frozen=True)
class Done:
    finish_reason: str  # "stop" | "length" | "cancelled" | "error"
    thought_closed: bool  # False for a reasoning reply that never left its thought


@dataclass(frozen=True)
class Error:
    message: str


Event = ReasoningDelta | AnswerDelta | TokenCount | Notice | Stats | Done | Error


@dataclass
class Settings:
    temperature: float = 0.7
    top_p: float = 0.95
    top_k: int = 40
    min_p: float = 0.05
    repeat_penalty: float = 1.0  # llama.cpp's: over the last 64 generated tokens; 1.0 is off
    stop: tuple[str, ...] = ()  # the reply ends where it writes one of these, which is not shown
    seed: int | None = None
    max_tokens: int | None = None  # None: until the model stops or the context is full
    think_budget: int | None = None  # reasoning tokens before the thought is closed for it
    grammar: str | None = None  # GBNF, applied by llama.cpp's own grammar sampler
    ignore_eos: bool = False  # never sample an end-of-generation token (benchmarks of long replies)
    think_lang: str = "auto"  # "auto": the thought keeps to the scripts of the user's messages; "any": off
    # Speculative decoding (speculative.py): "auto" drafts where it pays, "off" never; "always" drafts whatever
    # there is, paying or not (tests and benchmarks: exactness on many drafts whatever the machine's speed).
    speculate: str = "auto"


@dataclass
class Reply:
    """Everything one generation produced, accumulated for callers that want the whole thing."""

    reasoning: str = ""
    content: str = ""
    finish_reason: str = ""
    thought_closed: bool = True
    stats: Stats | None = None
    notices: list[str] = field(default_factory=list)
    error: str | None = None

    def add(self, event: Event) -> None:
        if isinstance(event, ReasoningDelta):
            self.reasoning += event.text
        elif isinstance(event, AnswerDelta):
            self.content += event.text
        elif isinstance(event, Notice):
            self.notices.append(event.message)
        elif isinstance(event, Stats):
            self.stats = event
        elif isinstance(event, Done):
            self.finish_reason, self.thought_closed = event.finish_reason, event.thought_closed
        elif isinstance(event, Error):
            self.error = event.message


class EventStream:
    """What a reader of a reply in flight gets from any engine: the events one by one, ending with Done, and
    the whole Reply they add up to. The engine's own thread puts them in `_events`."""

    reply: Reply
    _events: queue.Queue

    def get(self) -> Event:
        """The next event, blocking. Safe to call again after a KeyboardInterrupt interrupted the wait."""
        event = self._events.get()
        self.reply.add(event)
        return event

    def __iter__(self) -> Iterator[Event]:
        while True:
            event = self.get()
            yield event
            if isinstance(event, Done):
                return

    def wait(self) -> Reply:
        """Consume the rest of the stream and return the whole reply."""
        for _ in self:
            pass
        return self.reply
