"""The prompt: multi-line, Enter sends, Ctrl+J inserts a newline, Up/Down recall earlier prompts."""

from __future__ import annotations

from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.widgets import TextArea


def _without(keys: set[str], bindings) -> list[Binding]:
    """TextArea's bindings minus `keys` (a binding can name several keys: the others stay)."""
    kept = []
    for binding in bindings:
        names = [key for key in binding.key.split(",") if key.strip() not in keys]
        if names:
            kept.append(Binding(",".join(names), binding.action, binding.description, show=binding.show,
                                key_display=binding.key_display, priority=binding.priority))
    return kept


class PromptArea(TextArea, inherit_bindings=False):
    """TextArea, except that ctrl+e, ctrl+y, ctrl+k and ctrl+d (end of line, redo, delete to the end of the
    line, delete right there) reach the app, as the footer says: edit last, copy answer, copy code, attach a
    file. End still ends the line, super+y still redoes, ctrl+shift+k deletes the line, Delete deletes."""

    BINDINGS = _without({"ctrl+e", "ctrl+y", "ctrl+k", "ctrl+d"}, TextArea.BINDINGS)

    class Submitted(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(self, **kwargs) -> None:
        super().__init__(soft_wrap=True, show_line_numbers=False, **kwargs)
        self.recalled: list[str] = []
        self.recall_index = 0

    def give_back(self, text: str) -> None:
        """The app could not take `text` now: it returns to the prompt, before whatever was typed since."""
        typed = self.text
        self.text = text + (" " + typed if typed.strip() else "")
        self.move_cursor(self.document.end)

    def remember(self, text: str) -> None:
        if text and (not self.recalled or self.recalled[-1] != text):
            self.recalled.append(text)
        self.recall_index = len(self.recalled)

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            text = self.text.strip()
            if text:
                self.remember(text)
                self.text = ""  # at once: keys typed after Enter belong to the next prompt
                self.post_message(self.Submitted(text))
            return
        if event.key == "ctrl+j":
            event.stop()
            event.prevent_default()
            self.insert("\n")
            return
        if event.key == "up" and self.cursor_location[0] == 0 and self.recalled:
            event.stop()
            event.prevent_default()
            self.recall_index = max(self.recall_index - 1, 0)
            self._show_recalled()
            return
        if event.key == "down" and self.cursor_location[0] == self.document.line_count - 1 and self.recalled:
            event.stop()
            event.prevent_default()
            self.recall_index = min(self.recall_index + 1, len(self.recalled))
            self._show_recalled()
            return
        await super()._on_key(event)

    def _show_recalled(self) -> None:
        self.text = self.recalled[self.recall_index] if self.recall_index < len(self.recalled) else ""
        self.move_cursor(self.document.end)
