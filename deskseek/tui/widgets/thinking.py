"""The thinking pane: the model's reasoning, live while it thinks, one line once it answers.

While thinking it shows a spinner and the elapsed time over the streaming thought; when the answer
begins it collapses to "Thought for 12.4 s · 438 tokens", which a click or Enter expands again.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.reactive import reactive
from textual.widgets import Markdown, Static

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


class ThoughtHeader(Static, can_focus=True):
    BINDINGS = [("enter", "toggle", "Expand/collapse thought")]

    def action_toggle(self) -> None:
        self.parent.toggle()

    def on_click(self) -> None:
        self.parent.toggle()


class ThinkingPane(Vertical):
    expanded: reactive[bool] = reactive(True)

    def __init__(self, clock, **kwargs) -> None:
        super().__init__(**kwargs)
        self.clock = clock
        self.started = clock()
        self.finished_at: float | None = None
        self.tokens = 0
        self.text = ""
        self.stream = None
        self.ticker = None

    def compose(self) -> ComposeResult:
        yield ThoughtHeader(self.label(), classes="thought-header")
        yield Markdown("", classes="thought-body")

    def on_mount(self) -> None:
        if self.finished_at is None:
            self.ticker = self.set_interval(0.1, self.tick)

    def tick(self) -> None:
        if self.finished_at is None:
            self.query_one(ThoughtHeader).update(self.label())

    async def append(self, text: str) -> None:
        """Stream into the body: Textual's Markdown stream re-renders only the last block, so the cost of a
        token stays flat however long R1 thinks (a Static re-rendering the whole thought would not)."""
        self.text += text
        if self.stream is None:
            self.stream = Markdown.get_stream(self.query_one(".thought-body", Markdown))
        await self.stream.write(text)

    async def close_stream(self) -> None:
        if self.stream is not None:
            await self.stream.stop()
            self.stream = None

    def finish(self, tokens: int, *, collapse: bool = True) -> None:
        """The thought is over (the answer began, or the reply ended)."""
        if self.finished_at is None:
            self.finished_at = self.clock()
            if self.ticker is not None:  # may finish before it was ever mounted (a resumed reply)
                self.ticker.stop()
        self.tokens = tokens
        self.expanded = not collapse
        self.query_one(ThoughtHeader).update(self.label())

    @property
    def seconds(self) -> float:
        end = self.finished_at if self.finished_at is not None else self.clock()
        return max(end - self.started, 0.0)

    def label(self) -> str:
        if self.finished_at is None:
            frame = SPINNER[int(self.seconds * 10) % len(SPINNER)]  # from the clock: a fixed clock, a fixed frame
            return f"{frame} Thinking… {self.seconds:.1f} s"
        arrow = "▾" if self.expanded else "▸"
        tokens = f" · {self.tokens} tokens" if self.tokens else ""  # unknown for a reply cut off by a crash
        return f"{arrow} Thought for {self.seconds:.1f} s{tokens}"

    def toggle(self) -> None:
        if self.finished_at is not None:
            self.expanded = not self.expanded
            self.query_one(ThoughtHeader).update(self.label())

    def visible_now(self) -> bool:
        """Shown on screen: not hidden by the app's toggle (Ctrl+T)."""
        return self.styles.display != "none" and self.region.height > 0

    def watch_expanded(self, expanded: bool) -> None:
        self.set_class(not expanded, "-collapsed")
