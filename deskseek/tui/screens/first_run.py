"""First run: no model installed yet. Pick one from the registry and it is pulled right here.

The pull is the same code as `deskseek pull` (resumable, verified), run in a thread worker that posts
its progress; the only network deskseek chat ever uses, and only because the user asked for it.
"""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, OptionList, ProgressBar, Static
from textual.widgets.option_list import Option
from textual.worker import get_current_worker


class FirstRunScreen(Screen[str]):
    """Dismisses with the installed model's name once its pull has completed."""

    class Pulled(Message):
        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

    class Failed(Message):
        def __init__(self, error: str) -> None:
            super().__init__()
            self.error = error

    class Advanced(Message):
        def __init__(self, done: int, total: int) -> None:
            super().__init__()
            self.done, self.total = done, total

    def __init__(self, rows: list[tuple[str, str]]) -> None:
        super().__init__()
        self.rows = rows  # (alias, description line with size and fit)
        self.pulling = False

    def compose(self) -> ComposeResult:
        with Vertical(id="first-run"):
            yield Static("Welcome to deskseek", classes="title")
            yield Static("No model is installed yet. Choose one to download; it runs entirely on this machine.",
                         classes="hint")
            yield OptionList(*[Option(line, id=alias) for alias, line in self.rows])
            yield ProgressBar(id="pull-progress", show_eta=True)
            yield Static("", id="pull-status", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(ProgressBar).display = False

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if self.pulling:
            return
        self.pulling = True
        self.query_one(ProgressBar).display = True
        self.query_one("#pull-status", Static).update(f"pulling {event.option.id}…")
        self.pull(event.option.id)

    @work(thread=True, exclusive=True)
    def pull(self, alias: str) -> None:
        from huggingface_hub import constants

        from deskseek.errors import Cancelled, DeskseekError
        from deskseek.models import download, pull

        constants.HF_HUB_OFFLINE = False  # the user asked for this download; chat is offline otherwise

        def on_event(event) -> None:
            if isinstance(event, download.Progress):
                self.post_message(self.Advanced(event.done, event.total))

        worker = get_current_worker()  # cancelled when the app quits: the pull stops at its next chunk
        try:
            item, _ = pull.pull(alias, on_event=on_event, should_stop=lambda: worker.is_cancelled)
        except Cancelled:
            return
        except DeskseekError as err:
            self.post_message(self.Failed(str(err)))
            return
        except Exception as err:  # shown, never a traceback
            self.post_message(self.Failed(f"{type(err).__name__}: {err}"))
            return
        self.post_message(self.Pulled(item.name))

    def on_first_run_screen_advanced(self, message: Advanced) -> None:
        self.query_one(ProgressBar).update(total=message.total, progress=message.done)

    def on_first_run_screen_pulled(self, message: Pulled) -> None:
        self.dismiss(message.name)

    def on_first_run_screen_failed(self, message: Failed) -> None:
        self.pulling = False
        self.query_one("#pull-status", Static).update(f"error: {message.error}")
