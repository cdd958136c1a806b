"""Attach a file (Ctrl+D): a one-line path input that completes names as they are typed.

Enter checks the file at once, the way sending would (chat/attach.py: text, not a folder, fits the
context), so a refusal is said here, in one line under the input, and the path can be corrected; a
file that passes dismisses with its path, and the app puts a `/file PATH` line into the prompt.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.widgets import Input, Static

from deskseek.errors import DeskseekError


class PathSuggester(Suggester):
    """The first name in the typed folder that starts with what follows the last `/` (folders end in `/`);
    hidden names only when the typed part starts with a dot. `~` is expanded to find them, kept as typed."""

    def __init__(self, cwd: Path | None = None) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self.cwd = cwd

    async def get_suggestion(self, value: str) -> str | None:
        folder_text, _, start = value.rpartition("/")
        folder = Path(os.path.expanduser(folder_text + "/" if folder_text or value.startswith("/") else "."))
        if not folder.is_absolute():
            folder = (self.cwd or Path.cwd()) / folder
        try:
            names = sorted(entry.name + ("/" if entry.is_dir() else "") for entry in os.scandir(folder)
                           if entry.name.startswith(start)
                           and (start.startswith(".") or not entry.name.startswith(".")))
        except OSError:
            return None
        names = [name for name in names if name != start]
        return value + names[0][len(start):] if names else None


class PathInput(Input):
    """Tab takes the completion shown (as Right does at the end of the line)."""

    BINDINGS = [Binding("tab", "complete", "Complete", show=False)]

    def action_complete(self) -> None:
        if self._suggestion and len(self._suggestion) > len(self.value):
            self.value = self._suggestion
            self.cursor_position = len(self.value)


class AttachFileScreen(ModalScreen[str | None]):
    """Dismisses with a path that `check` accepted, or None (Esc). `check(path)` raises DeskseekError to refuse."""

    BINDINGS = [Binding("escape", "dismiss_none", "Cancel")]

    def __init__(self, check: Callable[[str], object], cwd: Path | None = None) -> None:
        super().__init__()
        self.check, self.cwd = check, cwd

    def compose(self) -> ComposeResult:
        with Vertical(id="attach"):
            yield Static("Attach a text file", classes="title")
            yield PathInput(placeholder="path, e.g. ~/notes.md or src/app.py", suggester=PathSuggester(self.cwd),
                            id="attach-path")
            yield Static("", id="attach-error", markup=False)
            yield Static("Tab completes · Enter attaches · Esc cancels", classes="hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        path = event.value.strip()
        if not path:
            return
        try:
            self.check(path)
        except DeskseekError as err:
            self.query_one("#attach-error", Static).update(str(err))
            return
        self.dismiss(path)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
