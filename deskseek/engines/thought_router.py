"""Where a server's text goes: into the thought or the answer, whichever way the server sends it.

A server either splits the thought out itself (llama-server's and SGLang's `reasoning_content`, vLLM's
`reasoning`, Ollama's `thinking`: then its content is the answer), or leaves it inline in the content as
`<think>` tags, the way the model wrote it (llama-cpp-python's server, llama-server with
`--reasoning-format none`, Ollama without `think`). Inline text goes through the local engine's own
ReasoningSplitter; a model that thinks gets `starts_in_thought`, because a template that ends the prompt
with `<think>` (R1's newer ones, QwQ) leaves the stream with no opening tag, and an opening tag that does
come is dropped there as noise. Which of the two a server does is learnt from the first thought field seen.

Stop texts (`--stop`) are matched before any of this, on each field's own text, as the local engine matches
them before its splitter: nothing of a stop text is ever shown.
"""

from __future__ import annotations

from collections.abc import Iterable

from deskseek.engines.stops import StopMatcher
from deskseek.engines.thinking import ReasoningSplitter

Deltas = list[tuple[str, str]]  # ("reasoning" | "answer", text)


class ThoughtRouter:
    def __init__(self, *, thinks: bool, stops: Iterable[str] = (), server_splits: bool = False):
        self.thinks = thinks
        self.server_splits = server_splits  # the thought comes in its own field; content is the answer
        self._thought_stops, self._text_stops = StopMatcher(stops), StopMatcher(stops)
        self._splitter: ReasoningSplitter | None = None
        self._field_thought = False  # a thought came in its own field
        self._answered = False  # answer text came after it
        self._started = {"reasoning": False, "answer": False}  # leading whitespace of each section is dropped

    @property
    def stopped(self) -> bool:
        return self._thought_stops.stopped or self._text_stops.stopped

    @property
    def in_thought(self) -> bool:
        if self._splitter is not None and not self.server_splits:
            return self._splitter.in_thought
        return self._field_thought and not self._answered

    @property
    def thought_closed(self) -> bool:
        """False for a reply that thought and never got to its answer."""
        if self._splitter is not None and not self.server_splits:
            return self._splitter.thought_closed or not self._splitter.saw_thought
        return not self._field_thought or self._answered

    def feed(self, reasoning: str, content: str) -> Deltas:
        out: Deltas = []
        if reasoning and not self.stopped:
            self.server_splits = self._field_thought = True
            self._emit(out, "reasoning", self._thought_stops.feed(reasoning))
        if content and not self.stopped:
            self._content(out, self._text_stops.feed(content))
        return out

    def finish(self) -> Deltas:
        """The stream ended: text held back as a possible stop or tag was text after all."""
        out: Deltas = []
        self._emit(out, "reasoning", self._thought_stops.flush())
        self._content(out, self._text_stops.flush())
        if self._splitter is not None and not self.server_splits:
            out += [(delta.kind, delta.text) for delta in self._splitter.finish()]
        return out

    def _content(self, out: Deltas, text: str) -> None:
        if not text:
            return
        if self.server_splits:
            if self._field_thought:
                self._answered = True
            self._emit(out, "answer", text)
            return
        if self._splitter is None:
            self._splitter = ReasoningSplitter(starts_in_thought=self.thinks)
        out += [(delta.kind, delta.text) for delta in self._splitter.feed(text)]

    def _emit(self, out: Deltas, kind: str, text: str) -> None:
        if not self._started[kind]:
            text = text.lstrip()
            self._started[kind] = bool(text)
        if text:
            out.append((kind, text))
