"""The conversation panel: every saved chat, newest first, with a search field over all of them.

Empty, the field leaves the list as the chats' titles (a chat is named by its first prompt until renamed);
typed into, it turns the list into search hits (chat/search.py): each the chat's title and the matching
line, the match in reverse video. Choosing a row asks the app to open that chat (`Open`), at the matching
message for a hit. F2 renames the highlighted chat and Delete deletes it after a confirmation; the panel
does both itself on the history, and tells the app of a deletion (`Deleted`), which starts a new chat when
the open one went. A chat whose reply is being written is never deleted under it: not here (the app's own
reply) and not by the history (another deskseek's), which refuses with a note.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Input, ListItem, ListView, Static

from deskseek.chat.search import SearchHit
from deskseek.errors import DeskseekError
from deskseek.tui import keys

SEARCH_LIMIT = 50
TYPING_PAUSE_S = 0.15  # the list follows the field this long after the last key
LEAD_CHARS = 12  # a hit's line is shown from this many characters before its match


class PanelRow(ListItem):
    """One row: a chat (message_id None) or a search hit in it."""

    def __init__(self, body: Text, conversation_id: int, title: str | None, message_id: int | None = None) -> None:
        super().__init__(Static(body, markup=False))
        self.conversation_id, self.title, self.message_id = conversation_id, title, message_id


def hit_text(hit: SearchHit) -> Text:
    """The chat's title (bold), then the matching line from a little before its match, the match reversed."""
    start = max(0, hit.spans[0][0] - LEAD_CHARS) if hit.spans else 0
    line = Text(("…" if start else "") + hit.snippet[start:])
    shift = (1 if start else 0) - start
    for begin, end in hit.spans:
        if end + shift > 0:
            line.stylize("reverse", max(0, begin + shift), end + shift)
    role = "" if hit.role in ("user", "assistant") else f" ({hit.role})"
    return Text.assemble((hit.title or "(untitled)", "bold"), (role, "italic"), "\n", line)


class ConversationPanel(Vertical):
    BINDINGS = keys.PANEL_BINDINGS

    @dataclass
    class Open(Message):
        """Show this conversation; at `message_id` when a search hit was chosen."""

        conversation_id: int
        message_id: int | None = None

    @dataclass
    class Deleted(Message):
        conversation_id: int

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._typing: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Input(placeholder=f"Search ({keys.label('ctrl+f')})", id="panel-search")
        yield ListView(id="panel-list")

    @property
    def query_text(self) -> str:
        return self.query_one("#panel-search", Input).value

    def focus_search(self) -> None:
        """Show the panel if it is hidden (Ctrl+B's classes, see app.tcss) and put the cursor in the field."""
        self.remove_class("-hidden")
        if self.screen.has_class("-narrow"):
            self.add_class("-shown")
        self.query_one("#panel-search", Input).focus()

    def refresh_list(self, *, top: bool = False) -> None:
        """The chats, or the hits of what the field holds. Queued on the panel, so that refills one after
        another (a word typed fast) replace the rows in turn; the highlight stays on its row, or on the
        first with `top`."""
        self.call_later(self._refill, top)

    async def _refill(self, top: bool) -> None:
        rows = self.query_one("#panel-list", ListView)
        index = None if top else rows.index
        history = self.app.history
        new: list[ListItem] = []
        if self.query_text.strip():
            try:
                hits = history.search(self.query_text, SEARCH_LIMIT)
            except DeskseekError as err:
                self.notify(str(err), severity="error")
                hits = []
            new = [PanelRow(hit_text(hit), hit.conversation_id, hit.title, hit.message_id) for hit in hits]
            if not hits:
                new.append(ListItem(Static("nothing found", classes="panel-note"), disabled=True))
        else:
            new = [PanelRow(Text(c.title or "(untitled)"), c.id, c.title) for c in history.conversations()]
        await rows.clear()
        await rows.extend(new)
        if new:
            rows.index = min(index or 0, len(new) - 1)

    @on(Input.Changed, "#panel-search")
    def _search(self) -> None:
        """Once typing pauses: a rare one- or two-letter term reads every stored line (see chat/search.py),
        which the first letters of a word would otherwise pay at each key."""
        if self._typing is not None:
            self._typing.stop()
        self._typing = self.set_timer(TYPING_PAUSE_S, lambda: self.refresh_list(top=True))

    def on_key(self, event) -> None:
        """Down from the search field goes into the hits (Enter there opens the first one at once)."""
        rows = self.query_one("#panel-list", ListView)
        if event.key == "down" and self.query_one("#panel-search", Input).has_focus and rows.children:
            event.stop()
            rows.focus()

    @on(Input.Submitted, "#panel-search")
    def _open_first(self) -> None:
        rows = self.query_one("#panel-list", ListView)
        if rows.children and isinstance(rows.children[0], PanelRow):
            self._open(rows.children[0])

    @on(ListView.Selected, "#panel-list")
    def _chosen(self, event: ListView.Selected) -> None:
        if isinstance(event.item, PanelRow):
            self._open(event.item)

    def _open(self, row: PanelRow) -> None:
        self.post_message(self.Open(row.conversation_id, row.message_id))

    def _highlighted(self) -> PanelRow | None:
        row = self.query_one("#panel-list", ListView).highlighted_child
        return row if isinstance(row, PanelRow) else None

    def action_rename(self) -> None:
        from deskseek.tui.screens.conversation_dialogs import RenameDialog

        row = self._highlighted()
        if row is None:
            return

        def rename(title: str | None) -> None:
            if title is None:
                return
            try:
                self.app.history.rename(row.conversation_id, title)
            except DeskseekError as err:
                self.notify(str(err), severity="error")
                return
            self.refresh_list()

        self.app.push_screen(RenameDialog(row.title or ""), rename)

    def action_delete(self) -> None:
        from deskseek.tui.screens.conversation_dialogs import ConfirmDelete

        row = self._highlighted()
        if row is None:
            return
        app = self.app
        if row.conversation_id == app.session.conversation_id and (app.live is not None or app.pending is not None):
            self.notify("A reply is being written in this conversation: Esc stops it, then delete it.",
                        severity="warning")
            return

        def delete(sure: bool | None) -> None:
            if not sure:
                return
            try:
                app.history.delete(row.conversation_id, spare_live=True)
            except DeskseekError as err:
                self.notify(str(err), severity="error", timeout=10)
                return
            self.refresh_list()
            self.post_message(self.Deleted(row.conversation_id))

        app.push_screen(ConfirmDelete(row.title or "(untitled)"), delete)
