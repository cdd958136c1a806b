"""Settings for this conversation: sampling, limits, the thought's scripts and the system prompt, defaulting from
models.toml.

The system prompt is a TextArea, not an Input: an Input keeps only the first line of a paste (a 7.9 KB
prompt became 21 tokens, silently), and a system prompt is often pasted, and often several lines.
"""

from __future__ import annotations

from dataclasses import replace

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Static, TextArea

from deskseek.engines.events import Settings

FIELDS = [  # (attribute, label, type, allowed range)
    ("temperature", "Temperature", float, (0.0, 2.0)),
    ("top_p", "Top-p", float, (0.0, 1.0)),
    ("max_tokens", "Max tokens (empty: no limit)", int, (1, 1_000_000)),
    ("think_budget", "Think budget (empty: none)", int, (1, 1_000_000)),
]
LEFT_TO_SERVER = ("temperature", "top_p")  # None on a server: its own default (engines/remote_target.settings)


class SettingsScreen(ModalScreen[tuple[Settings, str] | None]):
    """Dismisses with (settings, system prompt), or None when cancelled."""

    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "save", "Save", priority=True)]

    def __init__(self, settings: Settings, system: str, *, allow_system: bool) -> None:
        super().__init__()
        self.settings, self.system, self.allow_system = settings, system, allow_system

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="settings", can_focus=False):  # the first field has the focus
            yield Static("Settings for this conversation", classes="title")
            for pair in (FIELDS[:2], FIELDS[2:]):  # two a row: the whole dialog fits 30 rows
                with Horizontal(classes="pair"):
                    for name, label, _, _ in pair:
                        value = getattr(self.settings, name)
                        with Vertical(classes="field"):
                            yield Label(label)
                            yield Input("" if value is None else str(value), id=f"set-{name}",
                                        placeholder="the default" if value is None and name in LEFT_TO_SERVER else "")
            # One row (compact): the dialog fits 30 rows. Checked is --think-lang auto (think_lang.py).
            yield Checkbox("Keep the thought in the writing systems of my messages", self.settings.think_lang == "auto",
                           id="set-think_lang", compact=True)
            note = "" if self.allow_system else " (this model takes none: it is folded into your first message)"
            yield Static(f"System prompt{note}", markup=False)
            yield TextArea(self.system, id="set-system", soft_wrap=True, show_line_numbers=False)
            yield Static("", id="settings-error", markup=False)
            with Horizontal(classes="buttons"):
                yield Button("Save", variant="primary", id="save")
                yield Button("Cancel", id="cancel")
            yield Static("Ctrl+S saves · Esc cancels", classes="hint")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "cancel":
            self.dismiss(None)
            return
        self.save()

    def on_input_submitted(self) -> None:
        self.save()

    def action_save(self) -> None:
        self.save()

    def save(self) -> None:
        changes = {}
        for name, label, kind, (low, high) in FIELDS:
            text = self.query_one(f"#set-{name}", Input).value.strip()
            # empty: no limit; for a value left to the server (None), its default again
            if not text and (name in ("max_tokens", "think_budget")
                             or (name in LEFT_TO_SERVER and getattr(self.settings, name) is None)):
                changes[name] = None
                continue
            try:
                value = kind(text)
            except ValueError:
                self.query_one("#settings-error", Static).update(f"{label}: {text!r} is not a number")
                return
            if not low <= value <= high:
                self.query_one("#settings-error", Static).update(f"{label}: must be between {low} and {high}")
                return
            changes[name] = value
        changes["think_lang"] = "auto" if self.query_one("#set-think_lang", Checkbox).value else "any"
        self.dismiss((replace(self.settings, **changes), self.query_one("#set-system", TextArea).text))

    def action_cancel(self) -> None:
        self.dismiss(None)
