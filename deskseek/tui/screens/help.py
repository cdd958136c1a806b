"""The help screen: every key, generated from the app's bindings so it can never drift from them."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

EXTRA_KEYS = [
    ("enter", "Send the prompt"),
    ("ctrl+j", "New line in the prompt"),
    ("up / down", "Earlier prompts"),
    ("ctrl+p", "Command palette"),
    ("click / enter on a thought", "Expand or collapse it"),
]


class HelpScreen(ModalScreen):
    BINDINGS = [Binding("escape,f1,q", "dismiss", "Close")]

    def __init__(self, bindings: list[Binding]) -> None:
        super().__init__()
        self.keys = EXTRA_KEYS + [(b.key, b.description) for b in bindings]

    def compose(self) -> ComposeResult:
        width = max(len(key) for key, _ in self.keys)
        lines = [f"{key:<{width}}  {what}" for key, what in self.keys]
        with Vertical(id="help"):
            yield Static("deskseek keys", classes="title")
            yield Static("\n".join(lines), markup=False)
            yield Static("Esc closes this screen.", classes="hint")
