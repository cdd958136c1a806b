"""One exchange in the conversation view: the user's prompt, and the assistant's thought and answer."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from deskseek.chat import attach
from deskseek.tui.widgets.markdown_flow import MarkdownFlow
from deskseek.tui.widgets.thinking import ThinkingPane


class UserTurn(Static):
    """A prompt as sent; an attached file shows as a line that names it (`text` keeps all of it)."""

    def __init__(self, text: str, *, turn=None) -> None:
        super().__init__(attach.shown(text), classes="user-turn", markup=False)
        self.text = text
        self.turn = turn  # the session's Turn it shows (set once the prompt is sent): removal goes by it


class AssistantTurn(Vertical):
    """Streams a reply: reasoning into a ThinkingPane, the answer as Markdown at a flat cost per token."""

    def __init__(self, clock, *, reasoning: bool, turn=None, raw_tex: bool = False) -> None:
        super().__init__(classes="assistant-turn")
        self.clock = clock
        self.turn = turn  # the session's Turn it shows
        self.answer = ""
        self.body = MarkdownFlow(classes="answer", raw_tex=raw_tex)
        # Kept, not queried: a query walks every block of a long answer, on every chunk.
        self.thinking: ThinkingPane | None = ThinkingPane(clock, raw_tex=raw_tex) if reasoning else None

    def compose(self) -> ComposeResult:
        if self.thinking is not None:
            yield self.thinking
        yield self.body
        yield Static("", classes="turn-note", markup=False)

    @property
    def flows(self) -> list[MarkdownFlow]:
        return [self.thinking.body, self.body] if self.thinking is not None else [self.body]

    @property
    def rendering(self) -> bool:
        return any(flow.rendering for flow in self.flows)

    def add(self, reasoning: str, answer: str, reasoning_tokens: int, *, stored: bool = False) -> None:
        """Hands the text to the flows and returns at once: they render it in their own time (a stored
        reply, complete already, at full speed)."""
        if reasoning and self.thinking is not None:
            self.thinking.append(reasoning, stored=stored)
        if answer:
            if self.thinking is not None and self.thinking.finished_at is None:
                self.thinking.finish(reasoning_tokens)  # the answer began: fold the thought away
            self.answer += answer
            (self.body.show if stored else self.body.write)(answer)

    def set_raw_tex(self, raw: bool) -> None:
        """Formulas as the model wrote them (TeX), or readable: the stored text is the same either way."""
        for flow in self.flows:
            flow.set_raw_tex(raw)

    def finish(self, note: str = "", *, reasoning_tokens: int = 0, steered: int = 0) -> None:
        for flow in self.flows:
            flow.close()
        if self.thinking is not None:
            self.thinking.finish(reasoning_tokens, collapse=bool(self.answer), steered=steered)
        if note:
            self.query_one(".turn-note", Static).update(note)
            self.add_class("-noted")
