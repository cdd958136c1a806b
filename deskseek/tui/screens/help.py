"""The help screen (F1): every key, from the rows the README's keys table is made of (tui/keys.py).

The box takes its width from the screen (most of it, up to a comfortable reading width), never from its
contents: a box sized by its contents while they are sized by the box comes out 0 x 0, an empty frame.
The table wraps its right column at narrow widths and the box scrolls when the screen is short.
"""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from deskseek.tui import keys


def key_table(rows: list[tuple[str, str]]) -> Table:
    table = Table(box=None, show_header=False, pad_edge=False, padding=(0, 2, 0, 0), expand=False)
    table.add_column("key", style="bold", no_wrap=True)
    table.add_column("does", overflow="fold")
    for key, does in rows:
        table.add_row(key, does)
    return table


class HelpScreen(ModalScreen):
    BINDINGS = [Binding("escape,f1,q", "dismiss", "Close")]

    def __init__(self) -> None:
        super().__init__()
        self.rows = keys.rows()

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static("deskseek keys", classes="title")
            yield Static(key_table(self.rows), id="help-keys")
            yield Static("Esc closes this screen.", classes="hint")
