"""Split a reasoning model's streamed output into its thought and its answer.

DeepSeek-R1 writes its chain of thought between ``<think>`` and ``</think>``
and its answer after that. We want to show the two differently while tokens
are still arriving, so the split has to happen on the stream: a chunk may end
in the middle of a tag (``</th`` + ``ink>``), and the thought can run to many
thousands of tokens, so each chunk must cost time in its own length only.

The rules, and why:

* With ``starts_in_thought=True`` the prompt already ended with ``<think>\\n``
  (the engine forces it, because R1 sometimes skips thinking otherwise), so
  the stream begins inside the thought and everything up to the first
  ``</think>`` is reasoning.
* With ``starts_in_thought=False`` the model decides for itself (Qwen3-style
  templates). If it opens with ``<think>`` it is thinking; if anything else
  comes first it is answering, and it has no thought at all.
* Inside the thought, another ``<think>`` is noise and is dropped. After the
  first ``</think>`` the thought is over, so any tag the answer contains is
  literal text the user should see.
* R1 puts newlines after ``<think>`` and ``</think>``; leading whitespace of
  each section is stripped so the UI needs no special cases.
* Trailing whitespace of the reasoning is *kept*. Stripping it would mean
  holding back whitespace until we know whether ``</think>`` follows, and a
  run of whitespace has no length limit, while we promise to hold back at
  most ``len("</think>") - 1`` characters. A display that wants it gone can
  ``rstrip()`` the finished reasoning.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["Delta", "ReasoningSplitter", "split_reasoning"]

OPEN_TAG = "<think>"
CLOSE_TAG = "</think>"

Kind = Literal["reasoning", "answer"]

# What we are waiting to learn about the stream.
_PRELUDE = "prelude"  # no thought yet; the first non-whitespace decides
_THOUGHT = "thought"  # inside the thought
_ANSWER = "answer"  # the rest of the stream is answer


@dataclass(frozen=True, slots=True)
class Delta:
    """A piece of newly available text, labelled with the section it belongs to."""

    kind: Kind
    text: str


def _could_become_tag(tail: str) -> bool:
    """True if more input could turn ``tail`` into a tag we act on.

    Such a tail must be held back: showing ``</th`` as reasoning and then
    learning it was the end of the thought cannot be taken back.
    """
    return CLOSE_TAG.startswith(tail) or OPEN_TAG.startswith(tail)


class ReasoningSplitter:
    """Streaming splitter; feed it chunks as they arrive, then call finish().

    It keeps no copy of the output: only the possible partial tag at the end
    of the last chunk (never more than 7 characters) is carried over, which
    is what makes each feed() linear in its chunk.
    """

    def __init__(self, *, starts_in_thought: bool) -> None:
        self._state = _THOUGHT if starts_in_thought else _PRELUDE
        self._saw_thought = starts_in_thought
        self._thought_closed = False
        # Leading whitespace is stripped until a section shows real text.
        self._reasoning_started = False
        self._answer_started = False
        self._held = ""
        self._finished = False
        self._out: list[tuple[Kind, list[str]]] = []

    @property
    def in_thought(self) -> bool:
        return self._state == _THOUGHT

    @property
    def thought_closed(self) -> bool:
        """The thought ended with ``</think>``, not by the stream running out."""
        return self._thought_closed

    @property
    def saw_thought(self) -> bool:
        return self._saw_thought

    def feed(self, text: str) -> list[Delta]:
        """Return the deltas that are certain now; a possible partial tag waits."""
        if self._finished:
            raise RuntimeError("feed() after finish(): the stream has ended")
        data = self._held + text
        self._held = ""
        if self._state == _PRELUDE:
            data = self._feed_prelude(data)
        if self._state == _THOUGHT:
            data = self._feed_thought(data)
        if self._state == _ANSWER:
            self._emit("answer", data)
        return self._take()

    def finish(self) -> list[Delta]:
        """End of stream: what was held back as a possible tag was only text."""
        if not self._finished:
            self._finished = True
            if self._state == _THOUGHT:
                self._emit("reasoning", self._held)
            else:
                # In the prelude the held text is an unfinished "<think",
                # which is not a thought opening, so the stream was an answer.
                self._emit("answer", self._held)
            self._held = ""
        return self._take()

    def _feed_prelude(self, data: str) -> str:
        """Decide whether the stream opens a thought; return the undecided rest.

        Leading whitespace is dropped rather than held: it would be stripped
        from whichever section turns out to come first.
        """
        data = data.lstrip()
        if not data:
            return ""
        if data.startswith(OPEN_TAG):
            self._state = _THOUGHT
            self._saw_thought = True
            return data[len(OPEN_TAG):]
        if OPEN_TAG.startswith(data):
            self._held = data
            return ""
        self._state = _ANSWER
        return data

    def _feed_thought(self, data: str) -> str:
        """Emit reasoning up to ``</think>``; return what follows it, if any."""
        start = pos = 0  # reasoning not yet emitted starts at ``start``
        while True:
            lt = data.find("<", pos)
            if lt == -1:
                self._emit("reasoning", data[start:])
                return ""
            if data.startswith(CLOSE_TAG, lt):
                self._emit("reasoning", data[start:lt])
                self._state = _ANSWER
                self._thought_closed = True
                return data[lt + len(CLOSE_TAG):]
            if data.startswith(OPEN_TAG, lt):
                self._emit("reasoning", data[start:lt])
                start = pos = lt + len(OPEN_TAG)
            elif len(data) - lt < len(CLOSE_TAG) and _could_become_tag(data[lt:]):
                # Only a short tail can be a partial tag; checking the length
                # first keeps a chunk full of "<" from being sliced repeatedly.
                self._emit("reasoning", data[start:lt])
                self._held = data[lt:]
                return ""
            else:
                pos = lt + 1  # a "<" that starts no tag is plain text

    def _emit(self, kind: Kind, text: str) -> None:
        """Queue text, stripping a section's leading whitespace.

        Runs of one kind are collected as parts and joined once in _take(),
        so merging many pieces of one chunk stays linear.
        """
        if kind == "reasoning" and not self._reasoning_started:
            text = text.lstrip()
            self._reasoning_started = bool(text)
        elif kind == "answer" and not self._answer_started:
            text = text.lstrip()
            self._answer_started = bool(text)
        if not text:
            return
        if self._out and self._out[-1][0] == kind:
            self._out[-1][1].append(text)
        else:
            self._out.append((kind, [text]))

    def _take(self) -> list[Delta]:
        out, self._out = self._out, []
        return [Delta(kind, "".join(parts)) for kind, parts in out]


def split_reasoning(text: str, *, starts_in_thought: bool) -> tuple[str, str, bool]:
    """Whole-text convenience: (reasoning, answer, thought_closed).

    It runs the streaming splitter rather than a separate parser so the two
    can never disagree.
    """
    splitter = ReasoningSplitter(starts_in_thought=starts_in_thought)
    deltas = splitter.feed(text) + splitter.finish()
    reasoning = "".join(d.text for d in deltas if d.kind == "reasoning")
    answer = "".join(d.text for d in deltas if d.kind == "answer")
    return reasoning, answer, splitter.thought_closed
