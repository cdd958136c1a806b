"""Switch model: the installed models with size, quantization and how they fit this machine."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option


class ModelPicker(ModalScreen[str | None]):
    """Dismisses with the chosen model's name, or None."""

    BINDINGS = [Binding("escape", "dismiss_none", "Cancel")]

    def __init__(self, rows: list[tuple[str, str]], current: str, title: str = "Switch model") -> None:
        super().__init__()
        self.rows, self.current, self.title_text = rows, current, title  # (name, description line)

    def compose(self) -> ComposeResult:
        with Vertical(id="picker"):
            yield Static(self.title_text, classes="title")
            yield OptionList(*[Option(Content(f"{'● ' if name == self.current else '  '}{line}"), id=name)  # no markup
                               for name, line in self.rows])
            yield Static("Enter loads it · Esc " + ("keeps the current one" if self.current else
                                                    "chooses later, with Ctrl+O"), classes="hint")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
