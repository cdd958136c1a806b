"""First run: no model installed yet. Pick one from the registry and it is pulled right here.

The pull is the same code as `deskseek pull` (resumable, verified), on a thread that posts its progress;
the only network deskseek chat ever uses, and only because the user asked for it. Esc stops it, keeping
what came (picking a model again resumes it).

That thread is a daemon of its own, not a Textual worker: the app waits for its workers as it quits, and
a pull heeds a stop only between chunks, which on a slow mirror are seconds apart. Ctrl+Q blanked the
terminal and then hung until the next chunk came. Now quitting ends the process at once; the bytes
already written stay in the partial file, which `deskseek pull` checks again before resuming.
"""

from __future__ import annotations

import threading

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, OptionList, ProgressBar, Static
from textual.widgets.option_list import Option


class FirstRunScreen(Screen[str]):
    """Dismisses with the installed model's name once its pull has completed."""

    BINDINGS = [Binding("escape", "stop_pull", "Stop the download")]

    class Pulled(Message):
        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

    class Failed(Message):
        def __init__(self, error: str, stop: threading.Event) -> None:
            super().__init__()
            self.error, self.stop = error, stop

    class Advanced(Message):
        def __init__(self, done: int, total: int, stop: threading.Event) -> None:
            super().__init__()
            self.done, self.total, self.stop = done, total, stop

    def __init__(self, rows: list[tuple[str, str]]) -> None:
        super().__init__()
        self.rows = rows  # (alias, description line with size and fit)
        self.stop: threading.Event | None = None  # the pull under way's stop flag; None: none is
        self.thread: threading.Thread | None = None

    @property
    def pulling(self) -> bool:
        return self.stop is not None

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

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        return self.pulling if action == "stop_pull" else True  # Esc shows in the footer while a pull runs

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if self.pulling:
            return
        self.stop = stop = threading.Event()
        self.query_one(ProgressBar).display = True
        self.query_one("#pull-status", Static).update(f"pulling {event.option.id}… (Esc stops it)")
        self.refresh_bindings()
        previous = self.thread  # a stopped pull may still be between two chunks: this one starts after it
        self.thread = threading.Thread(target=self._pull, args=(event.option.id, stop, previous),
                                       name="first-run pull", daemon=True)
        self.thread.start()

    def action_stop_pull(self) -> None:
        if self.stop is not None:
            self.stop.set()
            self.stop = None
            self.refresh_bindings()
            self.query_one("#pull-status", Static).update(
                "download stopped; what came is kept: choose a model to go on (the same one resumes)")

    def on_unmount(self) -> None:
        if self.stop is not None:  # the app is quitting: the thread ends at its next chunk, or with the process
            self.stop.set()

    def _pull(self, alias: str, stop: threading.Event, previous: threading.Thread | None) -> None:
        """On the pull's own thread: posts Advanced, then Pulled or Failed (or nothing, once stopped)."""
        from huggingface_hub import constants

        from deskseek.errors import Cancelled, DeskseekError
        from deskseek.models import download, pull

        if previous is not None:
            previous.join()  # it holds the model's lock until it has stopped
        constants.HF_HUB_OFFLINE = False  # the user asked for this download; chat is offline otherwise

        def on_event(event) -> None:
            if isinstance(event, download.Progress):
                self._post(self.Advanced(event.done, event.total, stop))

        try:
            item, _ = pull.pull(alias, on_event=on_event, should_stop=stop.is_set)
        except Cancelled:
            return
        except DeskseekError as err:
            self._post(self.Failed(str(err), stop))
        except Exception as err:  # shown, never a traceback
            self._post(self.Failed(f"{type(err).__name__}: {err}", stop))
        else:
            self._post(self.Pulled(item.name))

    def _post(self, message: Message) -> None:
        try:
            self.post_message(message)
        except RuntimeError:  # the app has quit and its loop is closed: nobody is left to tell
            pass

    def on_first_run_screen_advanced(self, message: Advanced) -> None:
        if message.stop is self.stop:
            self.query_one(ProgressBar).update(total=message.total, progress=message.done)

    def on_first_run_screen_pulled(self, message: Pulled) -> None:
        self.stop = None
        self.dismiss(message.name)

    def on_first_run_screen_failed(self, message: Failed) -> None:
        if message.stop is self.stop:
            self.stop = None
            self.refresh_bindings()
            self.query_one("#pull-status", Static).update(f"error: {message.error}")
