"""The thinking pane: the model's reasoning, live while it thinks, one line once it answers.

While thinking it shows a spinner and the elapsed time over the streaming thought; when the answer
begins it collapses to "Thought for 12.4 s · 438 tokens", which a click or Enter expands again. Once the
reply's stats are in, a thought the script guard steered says how often ("· 3 steered": think_lang.py).
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.reactive import reactive
from textual.widgets import Static

from deskseek.tui.widgets.markdown_flow import MarkdownFlow

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


class ThoughtHeader(Static, can_focus=True):
    BINDINGS = [("enter", "toggle", "Expand/collapse thought")]

    def action_toggle(self) -> None:
        self.parent.toggle()

    def on_click(self) -> None:
        self.parent.toggle()


class ThinkingPane(Vertical):
    expanded: reactive[bool] = reactive(True)

    def __init__(self, clock, *, raw_tex: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.clock = clock
        self.started = clock()
        self.finished_at: float | None = None
        self.tokens = 0
        self.steered = 0  # steps where the thought guard banned the model's first choice
        self.text = ""
        self.body = MarkdownFlow(classes="thought-body", raw_tex=raw_tex)
        self.ticker = None

    def compose(self) -> ComposeResult:
        yield ThoughtHeader(self.label(), classes="thought-header")
        yield self.body

    def on_mount(self) -> None:
        if self.finished_at is None:
            self.ticker = self.set_interval(0.1, self.tick)

    def tick(self) -> None:
        """Ten times a second while thinking: repaint only. The header is one line high by CSS, and a layout
        pass here would re-arrange the whole screen (every Markdown block of a long reply) just for a spinner."""
        if self.finished_at is None:
            self.query_one(ThoughtHeader).update(self.label(), layout=False)

    def append(self, text: str, *, stored: bool = False) -> None:
        """Stream into the body, whose cost per token stays flat however long R1 thinks (see MarkdownFlow)."""
        self.text += text
        (self.body.show if stored else self.body.write)(text)

    def finish(self, tokens: int, *, collapse: bool = True, steered: int = 0) -> None:
        """The thought is over (the answer began, or the reply ended)."""
        if self.finished_at is None:
            self.finished_at = self.clock()
            if self.ticker is not None:  # may finish before it was ever mounted (a resumed reply)
                self.ticker.stop()
        self.tokens = tokens
        self.steered = steered
        self.expanded = not collapse
        self.query_one(ThoughtHeader).update(self.label())
        if not self.text:  # a model that might have thought (one on a server) and did not: no empty header
            self.display = False

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
        steered = f" · {self.steered} steered" if self.steered else ""
        return f"{arrow} Thought for {self.seconds:.1f} s{tokens}{steered}"

    def toggle(self) -> None:
        if self.finished_at is not None:
            self.expanded = not self.expanded
            self.query_one(ThoughtHeader).update(self.label())

    def visible_now(self) -> bool:
        """Shown on screen: not hidden by the app's toggle (Ctrl+T)."""
        return self.styles.display != "none" and self.region.height > 0

    def watch_expanded(self, expanded: bool) -> None:
        self.set_class(not expanded, "-collapsed")
