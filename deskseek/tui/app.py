"""`deskseek chat`: the Textual app. A thin face over a ChatSession: the session keeps the turns, the model
and the history; this shows them and turns keys into the session's verbs.

Threads never touch widgets. Loading a model and following a reply run in thread workers that post
messages (messages.py); the handlers here, on the UI thread, update widgets. A prompt typed while the
model still loads waits and is sent when it is ready.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

from textual import events, on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer

from deskseek.chat.history import History
from deskseek.chat.live_reply import LiveReply
from deskseek.chat.session import ChatSession
from deskseek.engines import events as ev
from deskseek.engines.local import Engine
from deskseek.errors import DeskseekError
from deskseek.tui import keys
from deskseek.tui.attaching import Attaching
from deskseek.tui.catalog import ModelRequest, pinned_settings
from deskseek.tui.messages import ReplyChunk, ReplyFinished
from deskseek.tui.model_loading import ModelLoading
from deskseek.tui.outbox import Outbox, note_for
from deskseek.tui.panel_actions import PanelActions
from deskseek.tui.quiet_gc import QuietCollector
from deskseek.tui.screens.help import HelpScreen
from deskseek.tui.selection import Selection
from deskseek.tui.widgets.conversation import ConversationView
from deskseek.tui.widgets.conversation_panel import ConversationPanel
from deskseek.tui.widgets.prompt import PromptArea
from deskseek.tui.widgets.status import StatusBar
from deskseek.tui.widgets.turn import AssistantTurn, UserTurn

CHAT_ACTIONS = ({binding.action for binding in keys.APP_BINDINGS} - {"quit", "help"}) | {"command_palette"}
FRAME_S = 1 / 30  # streamed text is handed to the turn at most this often, however fast the model


class DeskseekApp(ModelLoading, PanelActions, Selection, Attaching, App):
    CSS_PATH = Path(__file__).with_name("app.tcss")
    TITLE = "deskseek"
    BINDINGS = keys.APP_BINDINGS
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (keys.NARROW, "-roomy")]  # app.tcss hides the panel when narrow

    def __init__(self, request: ModelRequest | None, *, history: History, resume: int | None = None,
                 clock=time.monotonic, engine_factory=Engine, flags=None) -> None:
        super().__init__()
        self.request = request  # the model shown; None: nothing installed yet, the first-run screen comes up
        self.first_request = request  # planned by the CLI before the app started: loaded as it is
        self.flags = flags  # the command line's flags, for loading another model the same way
        self.engine_factory = engine_factory  # the real Engine; benchmarks and snapshots pass a scripted one
        self.history = history
        self.clock = clock
        self.session = ChatSession(history, settings=request.settings if request else None,
                                   system=getattr(flags, "system", None) or "", pinned=pinned_settings(flags, request))
        self.resume = resume
        self.pending: str | None = None  # a prompt typed before the model was ready
        self.loading = False  # a model is being loaded
        self.live: LiveReply | None = None  # the reply being shown, until its last words are on screen
        self.turn: AssistantTurn | None = None
        self.outbox = Outbox()
        self.shown_at, self.frame_pending = 0.0, False
        self.quiet_gc = QuietCollector()
        self.raw_tex = bool(getattr(flags, "raw_tex", False))  # formulas as written (Ctrl+L), not as Unicode

    # -- layout --

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield ConversationPanel(id="sidebar")
            with Vertical(id="main"):
                yield ConversationView(id="conversation")
                yield PromptArea(id="prompt")
                yield StatusBar(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(PromptArea).focus()
        self.refresh_sidebar()
        self.set_timer(2.0, self.quiet_gc.start)  # it collects once: not in the way of the first keys
        self.set_interval(1.0, self._gc_tick)
        if self.resume is not None:
            self.call_after_refresh(self.show_conversation, self.resume)
        if self.request is None:
            from deskseek.models import store
            from deskseek.tui import catalog
            from deskseek.tui.screens.first_run import FirstRunScreen

            if store.installed() or catalog.on_server(self.flags):  # several, none chosen: the user's to say
                from deskseek.tui.screens.model_picker import ModelPicker

                self.push_screen(ModelPicker(catalog.picker_rows(self.flags), "", title="Choose a model"),
                                 self.use_model)
                return
            offline = getattr(self.flags, "hub_offline", None) or True  # the user's HF_HUB_OFFLINE, else ask the Hub
            self.push_screen(FirstRunScreen(catalog.first_run_offers(), check_hub=offline), self.use_model)
            return
        self.use_model(self.request.name)

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        """Off the chat's screen (a dialog, the first-run screen) the chat's own keys and the palette wait:
        Esc there is the screen's (close the dialog, stop the download). Tab and the like still work."""
        if action in CHAT_ACTIONS:
            return self.screen is self.screen_stack[0]
        return True

    # -- a turn --

    @on(PromptArea.Submitted)
    def on_prompt(self, message: PromptArea.Submitted) -> None:
        prompt = self.query_one(PromptArea)
        if self.live is not None or self.pending is not None:  # kept in the prompt, to send afterwards
            waiting = "A reply is still being written: Esc stops it" if self.live else "A prompt already waits"
            self.notify(f"{waiting}; Enter sends this afterwards.", severity="warning")
            prompt.give_back(message.text)
            return
        if not self.expand_files(message):  # its /file lines: the files go in, or the prompt comes back
            return
        if self.session.engine is None:
            if not self.loading:
                self.notify("No model is loaded: Ctrl+O picks one.", severity="warning")
                prompt.give_back(message.text)
                return
            self.pending = message.text
            self.query_one("#conversation").mount(UserTurn(message.text))
            self.notify("The model is still loading; your prompt goes as soon as it is ready.")
            return
        self.start_reply(message.text)

    def start_reply(self, text: str, *, shown: UserTurn | None = None) -> None:
        """Send `text`; its UserTurn is mounted once the session took it (`shown`: already on screen)."""
        try:
            live = self.session.send(text)
        except DeskseekError as err:
            self.notify(str(err), severity="error", timeout=10)
            if shown is not None:
                shown.remove()
            self.query_one(PromptArea).give_back(text)
            return
        widget = shown or UserTurn(text)
        widget.turn = self.session.turns[-2]
        if shown is None:
            self.query_one("#conversation").mount(widget)
        self.refresh_sidebar()
        self.follow(live)

    def follow(self, live: LiveReply) -> None:
        self.live = live
        self.turn = AssistantTurn(self.clock, reasoning=self.session.engine.reasoning, turn=live.turn,
                                  raw_tex=self.raw_tex)
        conversation = self.query_one("#conversation")
        conversation.mount(self.turn)
        conversation.scroll_end(animate=False)
        self.follow_reply(live)

    @work(thread=True, group="reply")
    def follow_reply(self, live: LiveReply) -> None:
        """Reads the reply's events on a thread (the session stores each first) and hands text to the UI.

        Text goes into an outbox; a ReplyChunk message is posted only when none is already waiting, and the
        UI takes everything gathered when it handles it. So the app's queue never holds more than one
        chunk (key presses are never stuck behind a backlog of text), a fast model's tokens are batched
        at whatever rate the screen keeps up with, and no text waits for the next token to be shown.
        """
        outbox = self.outbox = Outbox()
        for event in live:
            if isinstance(event, ev.TokenCount):
                outbox.count(event.reasoning)
                continue
            if isinstance(event, ev.ReasoningDelta):
                outbox.put(reasoning=event.text)
            elif isinstance(event, ev.AnswerDelta):
                outbox.put(answer=event.text)
            elif isinstance(event, ev.Notice):
                outbox.put(notice=event.message)
            else:
                continue
            if outbox.claim():
                self.post_message(ReplyChunk())
        self.post_message(ReplyFinished(live.reply))

    async def on_reply_chunk(self, message: ReplyChunk) -> None:
        """Show new text at most once a frame; between frames the loop is free for keys and painting."""
        wait = self.shown_at + FRAME_S - time.monotonic()
        if wait <= 0:
            await self._show_outbox()
        elif not self.frame_pending:
            self.frame_pending = True
            self.set_timer(wait, self._show_frame)

    async def _show_frame(self) -> None:
        self.frame_pending = False
        await self._show_outbox()

    async def _show_outbox(self) -> None:
        self.shown_at = time.monotonic()
        reasoning, answer, tokens, notices = self.outbox.take()
        for notice in notices:
            self.notify(notice, timeout=8)
        if self.turn is not None:
            self.turn.add(reasoning, answer, tokens)

    async def on_reply_finished(self, message: ReplyFinished) -> None:
        await self._show_outbox()  # whatever text the last chunk message did not carry
        reply, turn = message.reply, self.turn
        self.live = None
        if turn is not None:
            stats = reply.stats
            turn.finish(note_for(reply), reasoning_tokens=stats.reasoning_tokens if stats else 0,
                        steered=stats.think_lang_steered if stats else 0)
        engine = self.session.engine  # None when this reply was stopped for a model switch
        if reply.stats and engine is not None:
            status = self.query_one(StatusBar)
            used = reply.stats.prompt_tokens + reply.stats.completion_tokens
            status.context = f"ctx {used}/{engine.n_ctx}" if engine.n_ctx else f"ctx {used}"
            drafts = reply.stats.drafts_taken()
            status.speed = (f"{reply.stats.gen_tok_s:.1f} tok/s · TTFT {reply.stats.ttft_s:.2f} s"
                            + (f" · {drafts}" if drafts else ""))
        self.refresh_sidebar()

    # -- showing a stored conversation --

    def show_conversation(self, conversation_id: int, *, at: int | None = None) -> None:
        """`at`: a message to scroll to (a search hit), once the turns have their heights."""
        try:
            turns = self.session.resume(conversation_id)
        except DeskseekError as err:
            self.notify(str(err), severity="error", timeout=10)
            return
        conversation = self.query_one("#conversation")
        conversation.remove_children()
        for stored in turns:
            if stored.role == "user":
                conversation.mount(UserTurn(stored.content, turn=stored))
            else:
                widget = AssistantTurn(self.clock, reasoning=bool(stored.reasoning), turn=stored, raw_tex=self.raw_tex)
                conversation.mount(widget)
                self.call_after_refresh(self._fill_stored, widget)
        if at is not None:
            conversation.reveal(at)

    def _fill_stored(self, widget: AssistantTurn) -> None:
        stored = widget.turn
        if stored.reasoning:
            widget.thinking.started = self.clock() - (stored.reasoning_seconds or 0)
        widget.add(stored.reasoning, stored.content, 0, stored=True)
        note = {"interrupted": "interrupted: Ctrl+R writes the reply again", "stopped": "stopped",
                "error": "error: generation failed part-way",
                "no-answer": "The model never finished thinking, so there is no answer.",
                "streaming": "still being written by another deskseek"}.get(stored.state, "")
        stats = stored.stats or {}
        widget.finish(note, reasoning_tokens=stats.get("reasoning_tokens", 0),
                      steered=stats.get("think_lang_steered", 0))

    async def _remove_turns(self, removed) -> None:
        for widget in list(self.query_one("#conversation").query("UserTurn, AssistantTurn")):
            if any(widget.turn is turn for turn in removed):
                await widget.remove()

    # -- actions --

    def action_stop(self) -> None:
        self.session.stop()

    async def action_regenerate(self) -> None:
        if self._refused("write the reply again"):
            return
        try:
            removed, live = self.session.regenerate()
        except DeskseekError as err:
            self.notify(str(err), severity="error", timeout=10)
            return
        await self._remove_turns(removed)
        self.follow(live)

    def _refused(self, doing: str) -> bool:
        """Say why a key does nothing now, rather than nothing."""
        if self.live is not None:
            self.notify(f"A reply is still being written: Esc stops it, then {doing}.", severity="warning")
        elif self.pending is not None or self.session.engine is None:
            self.notify(f"The model is not ready yet to {doing}.", severity="warning")
        else:
            return False
        return True

    async def action_edit_last(self) -> None:
        if self.live is not None or self.pending is not None:
            self._refused("edit the last prompt")
            return
        try:
            text, removed = self.session.edit_last()
        except DeskseekError as err:
            self.notify(str(err), severity="warning")
            return
        await self._remove_turns(removed)
        prompt = self.query_one(PromptArea)
        prompt.text = text
        prompt.move_cursor(prompt.document.end)
        prompt.focus()

    def action_switch_model(self) -> None:
        from deskseek.tui import catalog
        from deskseek.tui.screens.model_picker import ModelPicker

        self.push_screen(ModelPicker(catalog.picker_rows(self.flags), self.session.model or ""), self.use_model)

    def action_settings(self) -> None:
        from deskseek.tui.screens.settings import SettingsScreen

        if self.request is None:
            return

        def apply(result) -> None:
            if result is None:
                return
            try:
                self.session.configure(*result)
            except DeskseekError as err:
                self.notify(f"{err}; the settings apply, and deskseek saves them with the next prompt",
                            severity="error", timeout=10)
                return
            self.notify("Settings saved for this conversation.")

        self.push_screen(SettingsScreen(self.session.settings, self.session.system,
                                        allow_system=self.request.allow_system), apply)

    def action_new_chat(self) -> None:
        if self.live is not None or self.pending is not None:
            self._refused("start a new chat")
            return
        self.session.new_chat()
        self.query_one("#conversation").remove_children()
        self.turn = None
        self.query_one(PromptArea).focus()

    def action_toggle_sidebar(self) -> None:
        """A narrow screen shows the panel only when asked (-shown), a wide one unless asked not to (-hidden)."""
        sidebar = self.query_one("#sidebar")
        sidebar.toggle_class("-shown" if sidebar.screen.has_class("-narrow") else "-hidden")

    def action_toggle_thoughts(self) -> None:
        self.toggle_class("-hide-thoughts")

    def action_toggle_tex(self) -> None:
        self.raw_tex = not self.raw_tex
        for turn in self.query_one("#conversation").query(AssistantTurn):
            turn.set_raw_tex(self.raw_tex)
        self.notify("Formulas as the model wrote them (TeX)." if self.raw_tex else "Formulas as readable text.")

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def get_system_commands(self, screen):
        yield from super().get_system_commands(screen)  # Textual's own: quit, theme, keys, screenshot
        for binding in self.BINDINGS:
            if binding.action != "quit":
                yield SystemCommand(binding.description, f"{binding.tooltip} ({keys.label(binding.key)})",
                                    getattr(self, f"action_{binding.action}"))

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, (events.Key, events.MouseDown, events.MouseScrollDown, events.MouseScrollUp)):
            self.quiet_gc.touch()
        await super().on_event(event)

    def _gc_tick(self) -> None:
        self.quiet_gc.tick(busy=self.live is not None or (self.turn is not None and self.turn.rendering))

    async def on_unmount(self) -> None:
        """Stop a reply in flight (its worker stores the last words) and a load under way, then the model."""
        self.quiet_gc.stop()
        self.session.stop()
        followers = [worker for worker in self.workers if worker.group == "reply"]
        if followers:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.workers.wait_for_complete(followers), timeout=10)
        await asyncio.to_thread(self.session.close)  # a load stops at its next progress report
