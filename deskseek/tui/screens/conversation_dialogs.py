"""The conversation panel's two small dialogs: a new title (F2), and "really delete?" (Delete).

Delete asks first because it cannot be undone: the chat and every message in it leave the history file.
Cancel has the focus, so an Enter pressed out of habit keeps the chat.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static


class RenameDialog(ModalScreen[str | None]):
    """Dismisses with the new title, or None when cancelled (Esc) or left empty."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str) -> None:
        super().__init__()
        self.old_title = title

    def compose(self) -> ComposeResult:
        with Vertical(id="rename", classes="panel-dialog"):
            yield Static("Rename this conversation", classes="title")
            yield Input(self.old_title, id="rename-title", select_on_focus=True)
            yield Static("Enter saves · Esc cancels", classes="hint")

    @on(Input.Submitted, "#rename-title")
    def _save(self, event: Input.Submitted) -> None:
        title = event.value.strip()
        self.dismiss(title if title and title != self.old_title else None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmDelete(ModalScreen[bool]):
    """Dismisses with True only for the Delete button (or `y`)."""

    BINDINGS = [Binding("escape,n", "cancel", "Cancel"), Binding("y", "delete", "Delete")]

    def __init__(self, title: str) -> None:
        super().__init__()
        self.chat_title = title

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-delete", classes="panel-dialog"):
            yield Static(f"Delete “{self.chat_title}” and all its messages? This cannot be undone.",
                         classes="title", markup=False)
            with Horizontal(classes="buttons"):
                yield Button("Delete", variant="error", id="delete")
                yield Button("Cancel", id="cancel")
            yield Static("y deletes · n or Esc keeps it", classes="hint")

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "delete")

    def action_delete(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)
