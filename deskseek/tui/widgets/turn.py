"""One exchange in the conversation view: the user's prompt, and the assistant's thought and answer."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Markdown, Static

from .thinking import ThinkingPane


class UserTurn(Static):
    def __init__(self, text: str) -> None:
        super().__init__(text, classes="user-turn", markup=False)
        self.text = text


class AssistantTurn(Vertical):
    """Streams a reply: reasoning into a ThinkingPane, the answer as Markdown at a flat cost per token."""

    def __init__(self, clock, *, reasoning: bool) -> None:
        super().__init__(classes="assistant-turn")
        self.clock = clock
        self.answer = ""
        self.stream = None
        # Kept, not queried: a query walks every block of a long answer, on every chunk.
        self.thinking: ThinkingPane | None = ThinkingPane(clock) if reasoning else None

    def compose(self) -> ComposeResult:
        if self.thinking is not None:
            yield self.thinking
        yield Markdown("", classes="answer")
        yield Static("", classes="turn-note", markup=False)

    async def add(self, reasoning: str, answer: str, reasoning_tokens: int) -> None:
        if reasoning and self.thinking is not None:
            await self.thinking.append(reasoning)
        if answer:
            if self.thinking is not None and self.thinking.finished_at is None:
                self.thinking.finish(reasoning_tokens)  # the answer began: fold the thought away
            if self.stream is None:
                self.stream = Markdown.get_stream(self.query_one(".answer", Markdown))
            self.answer += answer
            await self.stream.write(answer)

    async def finish(self, note: str = "", *, reasoning_tokens: int = 0) -> None:
        if self.stream is not None:
            await self.stream.stop()
        if self.thinking is not None:
            await self.thinking.close_stream()
            self.thinking.finish(reasoning_tokens, collapse=bool(self.answer))
        if note:
            self.query_one(".turn-note", Static).update(note)
            self.add_class("-noted")
