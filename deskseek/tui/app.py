"""`deskseek chat`: the Textual app. A thin face: the engine generates, history stores, this only shows.

Threads never touch widgets. Loading the model and generating a reply run in thread workers that post
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
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, ListItem, ListView, Static

from deskseek.chat.history import History
from deskseek.chat.reply_writer import final_state
from deskseek.engines import events as ev
from deskseek.engines.generation import Generation
from deskseek.engines.local import Engine
from deskseek.tui.catalog import ModelRequest
from deskseek.tui.messages import LoadProgress, ModelFailed, ModelReady, ReplyChunk, ReplyFinished
from deskseek.tui.outbox import Outbox, note_for
from deskseek.tui.quiet_gc import QuietCollector
from deskseek.tui.screens.help import HelpScreen
from deskseek.tui.widgets.conversation import ConversationView
from deskseek.tui.widgets.prompt import PromptArea
from deskseek.tui.widgets.status import StatusBar
from deskseek.tui.widgets.turn import AssistantTurn, UserTurn

FRAME_S = 1 / 30  # streamed text is handed to the turn at most this often, however fast the model


class DeskseekApp(App):
    CSS_PATH = Path(__file__).with_name("app.tcss")
    TITLE = "deskseek"
    BINDINGS = [
        Binding("escape", "stop", "Stop"),
        Binding("ctrl+r", "regenerate", "Regenerate"),
        Binding("ctrl+y", "copy_answer", "Copy answer"),
        Binding("ctrl+e", "edit_last", "Edit last"),
        Binding("ctrl+n", "new_chat", "New chat"),
        Binding("ctrl+o", "switch_model", "Model"),
        Binding("ctrl+s", "settings", "Settings"),
        Binding("ctrl+b", "toggle_sidebar", "Panel"),
        Binding("ctrl+t", "toggle_thoughts", "Thoughts"),
        Binding("f1", "help", "Help"),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    def __init__(self, request: ModelRequest | None, *, history: History, resume: int | None = None,
                 clock=time.monotonic, engine_factory=Engine, flags=None) -> None:
        super().__init__()
        self.request = request  # None: nothing installed yet, the first-run screen comes up
        self.flags = flags  # the command line's flags, for loading another model the same way
        self.engine_factory = engine_factory  # the real Engine; benchmarks and snapshots pass a scripted one
        self.history = history
        self.clock = clock
        self.engine: Engine | None = None
        self.messages: list[dict] = []  # what the model sees: roles and answers, no thoughts
        self.conversation_id = resume
        self.pending: str | None = None  # a prompt typed before the model was ready
        self.generation: Generation | None = None
        self.turn: AssistantTurn | None = None
        self.outbox = Outbox()
        self.shown_at, self.frame_pending = 0.0, False
        self.system = getattr(flags, "system", None) or ""  # this conversation's system prompt
        self.quiet_gc = QuietCollector()

    # -- layout --

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield ListView(id="sidebar")
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
        if self.conversation_id is not None:
            self.call_after_refresh(self.show_conversation, self.conversation_id)
        if self.request is None:
            from deskseek.tui import catalog
            from deskseek.tui.screens.first_run import FirstRunScreen

            self.push_screen(FirstRunScreen(catalog.available_rows()), self.use_model)
            return
        self.begin_loading()

    def begin_loading(self) -> None:
        status = self.query_one(StatusBar)
        status.model, status.backend = f"loading {self.request.name}…", self.request.backend
        status.placement = self.request.placement
        self.load_model()

    def use_model(self, name: str | None) -> None:
        """Load another model (picked, or just pulled), with the same flags the chat was started with."""
        if not name or (self.request is not None and name == self.request.name and self.engine is not None):
            return
        from deskseek.errors import DeskseekError
        from deskseek.tui import catalog

        try:
            request = catalog.request_for(self.flags, name)
        except DeskseekError as err:
            self.notify(str(err), severity="error", timeout=10)
            return
        if self.generation is not None:
            self.generation.cancel()
        old, self.engine, self.request = self.engine, None, request
        if old is not None:
            self.close_engine(old)
        self.begin_loading()

    @work(thread=True, group="close")
    def close_engine(self, engine) -> None:
        engine.close()  # waits for a reply in flight to stop: never on the UI thread

    def refresh_sidebar(self) -> None:
        sidebar = self.query_one("#sidebar", ListView)
        sidebar.clear()
        for summary in self.history.conversations():
            item = ListItem(Static(summary.title or "(untitled)", markup=False))
            item.conversation_id = summary.id
            sidebar.append(item)

    # -- the model --

    @work(thread=True, exclusive=True, group="load")
    def load_model(self) -> None:
        request = self.request
        try:
            engine = self.engine_factory(
                request.path, n_ctx=request.n_ctx, n_threads=request.n_threads, n_gpu_layers=request.gpu_layers,
                reasoning=request.reasoning, allow_system=request.allow_system, cpu_patterns=request.cpu_patterns,
                on_progress=lambda fraction: self.post_message(LoadProgress(fraction)),
            )
        except Exception as err:  # shown in the app, never as a traceback
            self.post_message(ModelFailed(str(err)))
            return
        self.post_message(ModelReady(engine, request.name, request.placement))

    def on_load_progress(self, message: LoadProgress) -> None:
        self.query_one(StatusBar).model = f"loading {self.request.name}… {message.fraction:.0%}"

    def on_model_ready(self, message: ModelReady) -> None:
        self.engine = message.engine
        status = self.query_one(StatusBar)
        status.model = message.name
        status.context = f"ctx {self.engine.n_ctx}"
        if self.pending:
            text, self.pending = self.pending, None
            self.start_reply(text)

    def on_model_failed(self, message: ModelFailed) -> None:
        self.query_one(StatusBar).model = "no model"
        self.query_one("#conversation").mount(Static(f"Could not load the model: {message.error}",
                                                     classes="error", markup=False))
        if self.flags is not None:  # started from the command line: offer the other installed models
            from deskseek.tui import catalog

            failed = self.request.name if self.request else ""
            others = [row for row in catalog.installed_rows() if row[0] != failed]
            if others:
                from deskseek.tui.screens.model_picker import ModelPicker

                self.push_screen(ModelPicker(others, failed), self.use_model)

    # -- a turn --

    @on(PromptArea.Submitted)
    def on_prompt(self, message: PromptArea.Submitted) -> None:
        if self.generation is not None:
            self.notify("A reply is still being written: Esc stops it.", severity="warning")
            return
        self.query_one("#conversation").mount(UserTurn(message.text))
        if self.engine is None:
            self.pending = message.text
            self.notify("The model is still loading; your prompt goes as soon as it is ready.")
            return
        self.start_reply(message.text)

    def start_reply(self, text: str, *, record_user: bool = True) -> None:
        if self.conversation_id is None:
            self.conversation_id = self.history.new_conversation(self.request.name, settings=vars(self.request.settings))
        if record_user:
            self.messages.append({"role": "user", "content": text})
            self.history.add_message(self.conversation_id, "user", text)
            self.refresh_sidebar()
        self.turn = AssistantTurn(self.clock, reasoning=self.engine.reasoning)
        conversation = self.query_one("#conversation")
        conversation.mount(self.turn)
        conversation.scroll_end(animate=False)
        system = [{"role": "system", "content": self.system}] if self.system.strip() else []
        self.generation = self.engine.generate(system + self.messages, self.request.settings)
        self.follow_reply(self.generation, self.history.start_reply(self.conversation_id, self.request.name))

    @work(thread=True, group="reply")
    def follow_reply(self, generation: Generation, writer) -> None:
        """Reads the engine's events on a thread, stores them as they come, and hands text to the UI.

        Text goes into an outbox; a ReplyChunk message is posted only when none is already waiting, and the
        UI takes everything gathered when it handles it. So the app's queue never holds more than one
        chunk (key presses are never stuck behind a backlog of text), a fast model's tokens are batched
        at whatever rate the screen keeps up with, and no text waits for the next token to be shown.
        """
        outbox = self.outbox = Outbox()
        thought_started, thought_seconds, saved_at = time.monotonic(), None, 0.0
        for event in generation:
            now = time.monotonic()
            if isinstance(event, ev.ReasoningDelta):
                outbox.put(reasoning=event.text, token=True)
                writer.add_reasoning(event.text)
                if now - saved_at >= 1.0:  # so an interrupted reply still knows how long it thought
                    writer.set_reasoning_seconds(now - thought_started)
                    saved_at = now
            elif isinstance(event, ev.AnswerDelta):
                if thought_seconds is None and outbox.tokens:
                    thought_seconds = now - thought_started
                    writer.set_reasoning_seconds(thought_seconds)
                outbox.put(answer=event.text)
                writer.add_answer(event.text)
            elif isinstance(event, ev.Notice):
                outbox.put(notice=event.message)
            else:
                continue
            if outbox.claim():
                self.post_message(ReplyChunk())
        reply = generation.reply
        if thought_seconds is None and outbox.tokens:
            writer.set_reasoning_seconds(time.monotonic() - thought_started)
        writer.finish(final_state(reply.finish_reason, reply.thought_closed), finish_reason=reply.finish_reason,
                      stats=reply.stats.as_dict() if reply.stats else None)
        self.post_message(ReplyFinished(reply))

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
        if self.turn is None:
            return
        self.turn.add(reasoning, answer, tokens)
        for notice in notices:
            self.notify(notice)

    async def on_reply_finished(self, message: ReplyFinished) -> None:
        await self._show_outbox()  # whatever text the last chunk message did not carry
        reply, turn = message.reply, self.turn
        self.generation = None
        if reply.content or not reply.reasoning:
            self.messages.append({"role": "assistant", "content": reply.content})
        if turn is not None:
            turn.finish(note_for(reply), reasoning_tokens=reply.stats.reasoning_tokens if reply.stats else 0)
        if reply.stats:
            status = self.query_one(StatusBar)
            used = reply.stats.prompt_tokens + reply.stats.completion_tokens
            status.context = f"ctx {used}/{self.engine.n_ctx}"
            status.speed = f"{reply.stats.gen_tok_s:.1f} tok/s · TTFT {reply.stats.ttft_s:.2f} s"

    # -- showing a stored conversation --

    def show_conversation(self, conversation_id: int) -> None:
        stored = self.history.conversation(conversation_id)
        conversation = self.query_one("#conversation")
        conversation.remove_children()
        self.messages = []
        self.conversation_id = conversation_id
        for message in stored.messages:
            if message.role == "user":
                conversation.mount(UserTurn(message.content))
                self.messages.append({"role": "user", "content": message.content})
            elif message.role == "assistant":
                turn = AssistantTurn(self.clock, reasoning=bool(message.reasoning))
                conversation.mount(turn)
                self.call_after_refresh(self._fill_stored, turn, message)
                if message.content:
                    self.messages.append({"role": "assistant", "content": message.content})

    def _fill_stored(self, turn: AssistantTurn, message) -> None:
        if message.reasoning:
            turn.thinking.started = self.clock() - (message.reasoning_seconds or 0)
        turn.add(message.reasoning, message.content, 0, stored=True)
        note = {"interrupted": "interrupted: Ctrl+R writes the reply again", "stopped": "stopped"}.get(message.state, "")
        tokens = (message.stats or {}).get("reasoning_tokens", 0)
        turn.finish(note, reasoning_tokens=tokens)

    @on(ListView.Selected, "#sidebar")
    def on_pick_conversation(self, event: ListView.Selected) -> None:
        if self.generation is None:
            self.show_conversation(event.item.conversation_id)

    # -- actions --

    def action_stop(self) -> None:
        if self.generation is not None:
            self.generation.cancel()

    async def action_regenerate(self) -> None:
        if self.generation is not None or self.engine is None or not self.messages:
            return
        if self.messages[-1]["role"] == "assistant":
            self.messages.pop()
        stored = self.history.conversation(self.conversation_id).messages if self.conversation_id else []
        if stored and stored[-1].role == "assistant":
            self.history.delete_message(stored[-1].id)
        turns = self.query_one("#conversation").query(AssistantTurn)
        if turns and self.turn is not None:
            await turns.last().remove()
        if self.messages and self.messages[-1]["role"] == "user":
            self.start_reply(self.messages[-1]["content"], record_user=False)

    def action_copy_answer(self) -> None:
        turns = self.query_one("#conversation").query(AssistantTurn)
        if turns and turns.last().answer:
            self.copy_to_clipboard(turns.last().answer)
            self.notify("Answer copied to the clipboard.")

    async def action_edit_last(self) -> None:
        if self.generation is not None or not self.messages:
            return
        users = [i for i, m in enumerate(self.messages) if m["role"] == "user"]
        if not users:
            return
        last_user = users[-1]
        prompt = self.query_one(PromptArea)
        prompt.text = self.messages[last_user]["content"]
        prompt.move_cursor(prompt.document.end)
        del self.messages[last_user:]
        if self.conversation_id is not None:
            for stored in self.history.conversation(self.conversation_id).messages[last_user:]:
                self.history.delete_message(stored.id)
        conversation = self.query_one("#conversation")
        turns = list(conversation.query("UserTurn, AssistantTurn"))
        for widget in turns[last_user:]:
            await widget.remove()
        prompt.focus()

    def action_switch_model(self) -> None:
        from deskseek.tui import catalog
        from deskseek.tui.screens.model_picker import ModelPicker

        current = self.request.name if self.request else ""
        self.push_screen(ModelPicker(catalog.installed_rows(), current), self.use_model)

    def action_settings(self) -> None:
        from deskseek.tui.screens.settings import SettingsScreen

        if self.request is None:
            return

        def apply(result) -> None:
            if result is not None:
                self.request.settings, self.system = result
                self.notify("Settings saved for this conversation.")

        self.push_screen(SettingsScreen(self.request.settings, self.system,
                                        allow_system=self.request.allow_system), apply)

    def action_new_chat(self) -> None:
        if self.generation is not None:
            return
        self.query_one("#conversation").remove_children()
        self.messages, self.conversation_id, self.turn = [], None, None
        self.query_one(PromptArea).focus()

    def action_toggle_sidebar(self) -> None:
        self.query_one("#sidebar").toggle_class("-hidden")

    def action_toggle_thoughts(self) -> None:
        self.toggle_class("-hide-thoughts")

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.BINDINGS))

    def get_system_commands(self, screen):
        yield from super().get_system_commands(screen)
        for binding in self.BINDINGS:
            if binding.action not in ("quit", "help"):
                yield SystemCommand(binding.description, f"{binding.description} ({binding.key})",
                                    getattr(self, f"action_{binding.action}"))

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, (events.Key, events.MouseDown, events.MouseScrollDown, events.MouseScrollUp)):
            self.quiet_gc.touch()
        await super().on_event(event)

    def _gc_tick(self) -> None:
        self.quiet_gc.tick(busy=self.generation is not None or (self.turn is not None and self.turn.rendering))

    async def on_unmount(self) -> None:
        """Stop a reply in flight and let its worker store the last words before the history closes."""
        self.quiet_gc.stop()
        if self.generation is not None:
            self.generation.cancel()
        followers = [worker for worker in self.workers if worker.group == "reply"]
        if followers:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.workers.wait_for_complete(followers), timeout=10)
        if self.engine is not None:
            self.engine.close()
