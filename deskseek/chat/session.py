"""One conversation: its turns by message id, the model that answers, and the history written as replies stream.

The chat app and `run`'s line chat both drive a ChatSession; it knows nothing of screens. Every flow a user
tries (send, stop, write again, edit the last prompt, switch model mid-reply, a new chat, resume) is a
method here, tested without Textual. Turns are addressed by their row in the history, never by position:
a reply that only thought, or one still streaming, is a turn like any other.

Settings (sampling, limits, the system prompt) belong to a conversation: stored with it and written again
whenever they change, restored when it is resumed, kept across a model switch once chosen, and back to the
defaults (the model's recommended values and the command line's flags) for a new chat.

It also owns the order that keeps a machine from holding two models: cancel the reply, let it end, close
the model, and only then plan and load the next; a load overtaken by a newer request stops at its next
progress report and is closed, never used.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from deskseek.chat.history import History
from deskseek.chat.live_reply import LiveReply
from deskseek.engines.events import Notice, Settings
from deskseek.errors import DeskseekError, NotFound

log = logging.getLogger("deskseek.chat")

# (model name, keep_going) -> (engine, what the face wants to know of it, e.g. its placement). Runs on the
# caller's thread; `keep_going()` turns False when a newer request or close() overtakes it.
Loader = Callable[[str, Callable[[], bool]], tuple[Any, Any]]


@dataclass
class Turn:
    id: int | None  # its row in the history; None when it could not be saved
    role: str  # "user" | "assistant"
    content: str
    reasoning: str = ""
    state: str = "complete"
    reasoning_seconds: float | None = None
    stats: dict | None = None


def settings_from(stored: Mapping, defaults: Settings) -> Settings:
    """A stored conversation's settings over today's defaults: a field added since keeps its default, one
    that is gone is dropped."""
    known = {field.name for field in dataclasses.fields(Settings)}
    values = {name: value for name, value in stored.items() if name in known}
    if isinstance(values.get("stop"), list):  # JSON has no tuples: stop texts come back as a list
        values["stop"] = tuple(values["stop"])
    return dataclasses.replace(defaults, **values)


class ChatSession:
    def __init__(self, history: History, *, settings: Settings | None = None, system: str = "",
                 pinned: Mapping | None = None):
        """`settings` and `system` are a new chat's; `pinned`: Settings fields (and "system") the command line
        set, which win over a resumed conversation's own."""
        self.history = history
        self.defaults, self.default_system = settings or Settings(), system
        self.pinned = dict(pinned or {})
        self.settings, self.system = self.defaults, system
        self.chosen = False  # chosen in this conversation (Ctrl+S) or stored with it: a model switch keeps them
        self._saved: tuple[dict, str] | None = None  # (settings, system prompt) as the history holds them
        self.turns: list[Turn] = []
        self.conversation_id: int | None = None
        self.engine = None
        self.model: str | None = None
        self.model_info: Any = None
        self.live: LiveReply | None = None
        self._lock = threading.RLock()
        self._load_lock = threading.Lock()
        self._ticket = 0
        self._closed = False
        self._lost = False  # the conversation was deleted elsewhere mid-reply: the next prompt says so

    # --- the model ----------------------------------------------------------------------------------------

    def attach(self, engine, model: str, info: Any = None) -> None:
        """Use a model loaded elsewhere (`run` loads before it knows whether it will chat)."""
        with self._lock:
            self.engine, self.model, self.model_info = engine, model, info

    def load(self, model: str, loader: Loader) -> bool:
        """Switch to `model`: stop the reply, close the old model, then load. False when overtaken or closed.

        Blocks for as long as the load takes: call it from a worker thread. Raises what the loader raises
        (LoadError: one line), except a load stopped because it was overtaken.
        """
        with self._lock:
            self._ticket += 1
            ticket, live = self._ticket, self.live
        if live is not None:
            live.cancel()

        def keep_going() -> bool:
            return ticket == self._ticket and not self._closed

        with self._load_lock:  # one load at a time; an overtaken one ends at its next progress report
            if not keep_going():
                return False
            with self._lock:
                old, self.engine = self.engine, None
            if old is not None:
                old.close()  # waits for the cancelled reply to leave the model
            try:
                engine, info = loader(model, keep_going)
            except DeskseekError:
                if not keep_going():
                    return False
                raise
            with self._lock:
                if not keep_going():
                    engine.close()
                    return False
                self.engine, self.model, self.model_info = engine, model, info
        return True

    def close(self) -> None:
        """Stop everything: a reply in flight, a load under way (at its next progress report), the model."""
        with self._lock:
            self._closed = True
            self._ticket += 1
            live, engine, self.engine = self.live, self.engine, None
        if live is not None:
            live.cancel()
        if engine is not None:
            engine.close()

    # --- the conversation ---------------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self.live is not None and not self.live.done.is_set()

    def new_chat(self) -> None:
        """An empty conversation, with the default settings: the last one's were for the last one."""
        with self._lock:
            self._idle("start a new chat")
            self.turns, self.conversation_id, self._lost = [], None, False
            self.settings, self.system, self.chosen, self._saved = self.defaults, self.default_system, False, None

    def resume(self, conversation_id: int) -> list[Turn]:
        """Its turns, and the settings it was written with (the command line's pinned ones over them)."""
        with self._lock:
            self._idle("open another conversation")
            stored = self.history.conversation(conversation_id)
            self.conversation_id = stored.id
            self._saved = (stored.settings, stored.system_prompt)
            pinned = {name: value for name, value in self.pinned.items() if name != "system"}
            self.settings = settings_from({**stored.settings, **pinned}, self.defaults)
            self.system = self.pinned.get("system", stored.system_prompt)
            self.chosen = True
            self.turns = [Turn(m.id, m.role, m.content, m.reasoning, m.state, m.reasoning_seconds, m.stats)
                          for m in stored.messages if m.role in ("user", "assistant")]
            return list(self.turns)

    def configure(self, settings: Settings, system: str) -> None:
        """This conversation's settings from now on (Ctrl+S), saved with it at once when it is stored.
        Raises DeskseekError when the history cannot take them; they apply all the same."""
        with self._lock:
            self.settings, self.system, self.chosen = settings, system, True
            if self.conversation_id is not None:
                self._save_settings()

    def use_model_defaults(self, settings: Settings) -> None:
        """A model was loaded: its recommended settings are a new chat's now, and this one's unless chosen."""
        with self._lock:
            self.defaults = settings
            if not self.chosen:
                self.settings = settings

    def model_messages(self) -> list[dict]:
        """What the model reads: the system prompt, the prompts and the answers. A reply that only thought
        goes back empty (its thought stays out of the context), so user and assistant still alternate, as
        many templates insist."""
        return self._messages(self.turns)

    def _messages(self, turns: list[Turn]) -> list[dict]:
        messages = [{"role": "system", "content": self.system}] if self.system.strip() else []
        return messages + [{"role": turn.role, "content": turn.content} for turn in turns]

    def send(self, text: str) -> LiveReply:
        """Store the prompt and start the reply; iterate the result (on any one thread) for its events.

        Raises DeskseekError (nothing stored, nothing started) while a reply streams, without a model, or
        when another deskseek changed this conversation since it was read."""
        with self._lock:
            self._idle("send another prompt")
            self._ready()
            self._check_tail()
            notices: list[str] = []
            self.turns.append(Turn(None, "user", text))
            self._store_prompt(self.turns[-1], notices)
            return self._start(notices)

    def regenerate(self) -> tuple[list[Turn], LiveReply]:
        """Write the last reply again: it goes (returned, for the face to remove) and a new one streams."""
        with self._lock:
            self._idle("write the reply again")
            self._ready()
            self._check_tail()
            last = self.turns[-1] if self.turns and self.turns[-1].role == "assistant" else None
            prompts = self.turns[:-1] if last is not None else self.turns
            if not prompts or prompts[-1].role != "user":
                raise DeskseekError("there is no prompt to answer again")
            notices: list[str] = []
            if prompts[-1].id is None:  # its conversation was deleted elsewhere: the prompt is stored anew
                self._store_prompt(prompts[-1], notices)
            live = self._start(notices, replacing=last)  # generating before anything is deleted
            return ([last] if last is not None else []), live

    def edit_last(self) -> tuple[str, list[Turn]]:
        """Take back the last prompt and everything after it; returns its text and the turns removed."""
        with self._lock:
            self._idle("edit the last prompt")
            index = next((i for i in range(len(self.turns) - 1, -1, -1) if self.turns[i].role == "user"), None)
            if index is None:
                raise DeskseekError("there is no prompt to edit yet")
            self._check_tail()
            gone = self.turns[index:]
            self._delete(gone)
            del self.turns[index:]
            return gone[0].content, gone

    def stop(self) -> None:
        live = self.live
        if live is not None:
            live.cancel()

    # --- inside -------------------------------------------------------------------------------------------

    def _idle(self, doing: str) -> None:
        if self.busy:
            raise DeskseekError(f"a reply is still being written: stop it (Esc) to {doing}")

    def _ready(self) -> None:
        if self.engine is None:
            raise DeskseekError("no model is loaded yet")

    def _check_tail(self) -> None:
        """Refuse to add to, or take from, a conversation another deskseek has changed since we read it."""
        if self.conversation_id is not None:
            stored = [turn.id for turn in self.turns if turn.id is not None]
            self.history.check_tail(self.conversation_id, stored[-1] if stored else None)

    def _store_prompt(self, prompt: Turn, notices: list[str]) -> None:
        """Give `prompt` its row: in a new conversation if this one was deleted elsewhere. A history that
        cannot be written (full disk, locked) is said, and the chat goes on unsaved."""
        try:
            if self.conversation_id is not None:
                try:
                    prompt.id = self.history.add_message(self.conversation_id, "user", prompt.content)
                    return
                except NotFound:  # `deskseek history rm` from another terminal
                    self._conversation_lost()
            if self._lost:
                notices.append("this conversation was deleted elsewhere; it goes on as a new one")
                self._lost = False
            self.conversation_id = self.history.new_conversation(self.model, settings=self.settings,
                                                                 system_prompt=self.system, server=self.engine.server)
            self._saved = self._current()
            prompt.id = self.history.add_message(self.conversation_id, "user", prompt.content)
        except DeskseekError as err:
            notices.append(f"{err}; this conversation is shown but not saved")

    def _start(self, notices: list[str], replacing: Turn | None = None) -> LiveReply:
        """Generate from the turns (less `replacing`), then swap `replacing` out, then give the reply its row."""
        try:
            self.history.save_pending()  # a reply that finished on a full disk: perhaps there is room now
        except DeskseekError as err:
            log.info("still cannot save an earlier reply: %s", err)
        if self.conversation_id is not None and self._current() != self._saved:
            try:  # changed since they were stored (another model's defaults): the history says what wrote this
                self._save_settings()
            except DeskseekError as err:
                notices.append(f"{err}; this conversation's settings are not saved")
        kept = [turn for turn in self.turns if turn is not replacing]
        generation = self.engine.generate(self._messages(kept), self.settings)
        if replacing is not None:
            self._delete([replacing])
            self.turns = kept
        writer = None
        if self.conversation_id is not None:
            try:
                writer = self.history.start_reply(self.conversation_id, self.model, server=self.engine.server)
            except DeskseekError as err:
                notices.append(f"{err}; the reply is shown but not saved")
        turn = Turn(writer.message_id if writer else None, "assistant", "", state="streaming")
        self.turns.append(turn)
        self.live = LiveReply(generation, writer, turn, [Notice(text) for text in notices],
                              on_lost=self._conversation_lost)
        return self.live

    def _current(self) -> tuple[dict, str]:
        return dataclasses.asdict(self.settings), self.system

    def _save_settings(self) -> None:
        try:
            self.history.set_settings(self.conversation_id, *self._current())
        except NotFound:  # deleted elsewhere: the next prompt starts it again, with these settings
            self._conversation_lost()
            return
        self._saved = self._current()

    def _delete(self, turns: list[Turn]) -> None:
        ids = [turn.id for turn in turns if turn.id is not None]
        try:
            self.history.delete_messages(ids)
        except NotFound:  # deleted elsewhere already: nothing left to take back
            log.info("messages %s were already gone from the history", ids)

    def _conversation_lost(self) -> None:
        """The conversation was deleted elsewhere: its turns stay (on screen, in the model's context), without
        rows; the next prompt starts a new conversation."""
        with self._lock:
            self.conversation_id, self._lost = None, True
            for turn in self.turns:
                turn.id = None
