"""ChatSession flow by flow, on the real llama.cpp and a real history file, without Textual.

Each test is a flow a user tried and that broke before the session existed: switching model mid-reply, a
load overtaken by another pick, edit-last after replies that only thought, writing a resumed reply again,
`deskseek history rm` from another terminal while a reply streams.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import pytest

from deskseek.chat.history import History
from deskseek.chat.session import ChatSession
from deskseek.engines.events import AnswerDelta, Done, Notice, Settings
from deskseek.engines.local import Engine
from deskseek.errors import DeskseekError
from tests.conftest import REPO_ROOT
from tests.engines.test_local import r1_paths, starter_path  # noqa: F401  (session fixtures)
from tests.fixtures import chat_templates, gguf_writers

LONG = Settings(temperature=0, max_tokens=400, ignore_eos=True)
SHORT = Settings(temperature=0, max_tokens=6)


@pytest.fixture(scope="module")
def tiny_r1(tmp_path_factory):
    """A random-weight model with R1's template: its replies start in the thought and, cut at a few tokens,
    never leave it (thought-only replies, "no-answer")."""
    folder = tmp_path_factory.mktemp("tiny-r1")
    return gguf_writers.tiny_llama(folder / "tiny-r1.gguf", chat_template=chat_templates.R1_TEMPLATE_NEW)


def loader_for(paths: dict, made: list | None = None, *, on_progress=None):
    """A session loader over real models: name -> path; records every engine it made."""

    def load(name, keep_going):
        def progress(fraction):
            if on_progress is not None:
                on_progress(name, fraction)
            return keep_going()

        engine = Engine(paths[name], n_ctx=1024, n_threads=2, on_progress=progress)
        if made is not None:
            made.append(engine)
        return engine, {"name": name}

    return load


def session_on(path, history, settings=SHORT, name="model") -> ChatSession:
    session = ChatSession(history, settings=settings)
    assert session.load(name, loader_for({name: path}))
    return session


def test_a_turn_is_stored_as_it_streams_and_addressed_by_id(starter_path, tmp_path):  # noqa: F811
    with History(tmp_path / "h.sqlite3") as history:
        session = session_on(starter_path, history)
        live = session.send("Hello")
        events = list(live)
        assert isinstance(events[-1], Done) and any(isinstance(e, AnswerDelta) for e in events)
        stored = history.conversation(session.conversation_id).messages
        assert [(m.id, m.role, m.state) for m in stored] == [(t.id, t.role, t.state) for t in session.turns]
        assert stored[-1].content == live.reply.content == session.turns[-1].content != ""
        session.close()


def test_edit_last_after_replies_that_only_thought_removes_only_the_last_exchange(tiny_r1, tmp_path):
    with History(tmp_path / "h.sqlite3") as history:
        session = session_on(tiny_r1, history, settings=Settings(temperature=0, max_tokens=3, ignore_eos=True))
        for prompt in ("first", "second", "third"):
            session.send(prompt).wait()
            assert session.turns[-1].state == "no-answer" and session.turns[-1].content == ""
        text, removed = session.edit_last()
        assert text == "third" and [t.role for t in removed] == ["user", "assistant"]
        stored = history.conversation(session.conversation_id).messages
        assert [(m.role, m.content or m.state) for m in stored] == [
            ("user", "first"), ("assistant", "no-answer"), ("user", "second"), ("assistant", "no-answer")]
        # The replies that only thought go back empty: their thoughts stay out, the roles still alternate.
        assert [(m["role"], m["content"]) for m in session.model_messages()] == [
            ("user", "first"), ("assistant", ""), ("user", "second"), ("assistant", "")]
        session.close()


def test_writing_a_resumed_reply_again_replaces_its_row(starter_path, tmp_path):  # noqa: F811
    db = tmp_path / "h.sqlite3"
    with History(db) as history:
        first = session_on(starter_path, history)
        first.send("Name a colour.").wait()
        conversation, old_reply = first.conversation_id, first.turns[-1].id
        old_written = history.conversation(conversation).messages[-1].created_at
        first.close()
    with History(db) as history:
        session = session_on(starter_path, history)
        assert [t.role for t in session.resume(conversation)] == ["user", "assistant"]
        removed, live = session.regenerate()
        live.wait()
        assert [t.id for t in removed] == [old_reply]
        stored = history.conversation(conversation).messages
        assert [m.role for m in stored] == ["user", "assistant"] and stored[-1].created_at != old_written
        session.close()


def test_switching_model_mid_reply_stops_it_frees_the_old_model_and_answers_with_the_new(
        starter_path, tiny_r1, tmp_path):  # noqa: F811
    made: list[Engine] = []
    load = loader_for({"smol": starter_path, "tiny": tiny_r1}, made)
    with History(tmp_path / "h.sqlite3") as history:
        session = ChatSession(history, settings=LONG)
        assert session.load("smol", load)
        live = session.send("Tell me a long story.")
        seen = []
        follower = threading.Thread(target=lambda: seen.extend(live))
        follower.start()
        while not any(isinstance(e, AnswerDelta) for e in seen):
            time.sleep(0.01)
        assert session.load("tiny", load)  # from another thread, as the app's worker does
        follower.join(30)
        assert isinstance(seen[-1], Done) and seen[-1].finish_reason == "cancelled"
        assert made[0]._model is None and session.engine is made[1]  # the old model was freed first
        assert history.conversation(session.conversation_id).messages[-1].state == "stopped"
        session.settings = SHORT
        session.send("Hello").wait()
        assert session.turns[-1].state in ("complete", "no-answer")
        session.close()
        assert made[1]._model is None


def test_a_load_overtaken_by_a_newer_pick_is_closed_and_never_used(starter_path, tiny_r1, tmp_path):  # noqa: F811
    started, release = threading.Event(), threading.Event()

    def hold_the_first(name, _fraction):
        if name == "smol":
            started.set()
            release.wait(30)

    made: list[Engine] = []
    load = loader_for({"smol": starter_path, "tiny": tiny_r1}, made, on_progress=hold_the_first)
    with History(tmp_path / "h.sqlite3") as history:
        session = ChatSession(history)
        results = {}
        first = threading.Thread(target=lambda: results.update(smol=session.load("smol", load)))
        first.start()
        assert started.wait(30)  # llama.cpp is loading smol
        second = threading.Thread(target=lambda: results.update(tiny=session.load("tiny", load)))
        second.start()
        time.sleep(0.2)
        release.set()
        first.join(30)
        second.join(30)
        assert results == {"smol": False, "tiny": True}
        assert session.model == "tiny" and len(made) == 1  # smol stopped mid-load: no engine was made of it
        session.close()


def test_history_rm_from_another_terminal_mid_reply_loses_nothing_on_screen(starter_path, tmp_path, home):  # noqa: F811
    with History() as history:  # the data root's file, as `deskseek history rm` sees it
        session = session_on(starter_path, history, settings=LONG)
        live = session.send("Tell me a long story.")
        events = []
        for event in live:
            events.append(event)
            if isinstance(event, AnswerDelta) and sum(isinstance(e, AnswerDelta) for e in events) == 20:
                done = subprocess.run([sys.executable, "-m", "deskseek.cli", "history", "rm",
                                       str(session.conversation_id)], capture_output=True, text=True, cwd=REPO_ROOT)
                assert done.returncode == 0, done.stderr
            if len(events) > 60:
                session.stop()
        notices = [e.message for e in events if isinstance(e, Notice)]
        assert notices == ["this conversation was deleted or changed by another deskseek; the reply on screen is "
                           "no longer saved"]
        assert len(live.reply.content) > 0 and isinstance(events[-1], Done)
        session.settings = SHORT
        next_reply = session.send("And then?")
        assert next_reply.get() == Notice("this conversation was deleted elsewhere; it goes on as a new one")
        next_reply.wait()
        [conversation] = history.conversations()
        assert [m.content for m in history.conversation(conversation.id).messages][:1] == ["And then?"]
        session.close()


def test_a_reply_cannot_start_while_one_streams_nor_without_a_model(starter_path, tmp_path):  # noqa: F811
    with History(tmp_path / "h.sqlite3") as history:
        session = ChatSession(history)
        with pytest.raises(DeskseekError, match="no model is loaded yet"):
            session.send("hi")
        assert session.load("smol", loader_for({"smol": starter_path}))
        session.settings = LONG
        live = session.send("Tell me a long story.")
        with pytest.raises(DeskseekError, match="still being written"):
            session.send("another")
        with pytest.raises(DeskseekError, match="still being written"):
            session.edit_last()
        session.stop()
        live.wait()
        assert [t.role for t in session.turns] == ["user", "assistant"]
        session.close()


def test_a_looping_template_is_stopped_by_cancel_and_by_its_deadline(starter_path, tmp_path):  # noqa: F811
    looping = gguf_writers.with_metadata(starter_path, tmp_path / "loop.gguf", chat_template=LOOPING_TEMPLATE)
    with History(tmp_path / "h.sqlite3") as history:
        session = session_on(looping, history)
        live = session.send("hi")
        threading.Timer(0.5, session.stop).start()
        started = time.monotonic()
        events = list(live)
        assert time.monotonic() - started < 5
        assert isinstance(events[-1], Done) and events[-1].finish_reason == "cancelled"
        session.close()


LOOPING_TEMPLATE = "{% for i in range(100000) %}{% for j in range(100000) %}{{ '' }}{% endfor %}{% endfor %}"


DISK_FULL_CHILD = r"""
import json, os, resource, signal, sys
from deskseek.chat.history import History
from deskseek.chat.session import ChatSession
from deskseek.engines.events import AnswerDelta, Done, Notice, Settings
from deskseek.engines.local import Engine

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG, as on a full disk
db, model = sys.argv[1], sys.argv[2]
history = History(db, flush_every_s=0)
session = ChatSession(history, settings=Settings(temperature=0, max_tokens=120, ignore_eos=True))
session.attach(Engine(model, n_ctx=1024, n_threads=2), "smol")
answers, notices = 0, []
soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
for event in session.send("Tell me a long story."):
    if isinstance(event, AnswerDelta):
        answers += 1
        if answers == 10:  # the disk fills up
            sizes = [os.path.getsize(db + suffix) for suffix in ("", "-wal") if os.path.exists(db + suffix)]
            resource.setrlimit(resource.RLIMIT_FSIZE, (max(sizes), hard))
        if answers == 60:  # room again
            resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    if isinstance(event, Notice):
        notices.append(event.message)
reply = session.live.reply
stored = history.conversation(session.conversation_id).messages[-1]
print(json.dumps({"notices": notices, "content": reply.content, "stored": stored.content, "state": stored.state}))
"""


def test_a_full_disk_mid_reply_is_said_once_and_the_reply_saved_when_there_is_room(starter_path, tmp_path):  # noqa: F811
    """A real process whose file-size limit is hit mid-reply (RLIMIT_FSIZE: EFBIG on every write, as a full disk)."""
    done = subprocess.run([sys.executable, "-c", DISK_FULL_CHILD, str(tmp_path / "h.sqlite3"), str(starter_path)],
                          capture_output=True, text=True, timeout=120, cwd=REPO_ROOT)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    [full, again] = result["notices"]
    assert "could not be" in full and "the reply stays on screen and deskseek keeps trying" in full
    assert again == "the chat history is being saved again"
    assert result["stored"] == result["content"] != "" and result["state"] == "complete"  # nothing lost


def test_after_history_rm_mid_reply_the_turns_keep_their_text_and_regenerate_saves_anew(
        starter_path, tmp_path):  # noqa: F811
    """The same turn objects go on (on screen, in the context); writing again stores the prompt in a new conversation."""
    db = tmp_path / "h.sqlite3"
    with History(db) as history:
        session = session_on(starter_path, history, settings=Settings(temperature=0, max_tokens=40))
        live = session.send("Tell me about rivers.")
        first = live.get()
        with History(db) as other:
            other.delete(session.conversation_id)
        [first, *rest] = [first, *live]
        assert any(isinstance(e, Notice) and "deleted or changed" in e.message for e in rest)
        assert session.turns[-1] is live.turn and live.turn.content == live.reply.content != ""
        assert session.model_messages()[-1]["content"] == live.reply.content  # still in the model's context
        removed, again = session.regenerate()
        assert removed == [live.turn]
        notices = [e.message for e in again if isinstance(e, Notice)]
        assert notices == ["this conversation was deleted elsewhere; it goes on as a new one"]
        [conversation] = history.conversations()
        stored = history.conversation(conversation.id).messages
        assert [(m.role, m.content) for m in stored] == [("user", "Tell me about rivers."),
                                                         ("assistant", again.reply.content)]
        session.close()


def test_a_conversation_changed_by_another_deskseek_is_not_written_into(starter_path, tmp_path):  # noqa: F811
    """Two chats on one conversation: the second refuses to add a prompt under a reply the first still writes,
    and the first refuses to write again once the second has added to it."""
    db = tmp_path / "h.sqlite3"
    with History(db) as mine, History(db) as theirs:
        a = session_on(starter_path, mine, settings=LONG)
        live = a.send("Tell me about rivers.")
        live.get()
        b = session_on(starter_path, theirs, name="other")
        b.resume(a.conversation_id)
        with pytest.raises(DeskseekError, match="still being written by another deskseek"):
            b.send("B says hi")
        a.stop()
        live.wait()
        b.resume(a.conversation_id)
        b.send("B says hi").wait()
        with pytest.raises(DeskseekError, match="changed by another deskseek"):
            a.regenerate()
        with pytest.raises(DeskseekError, match="changed by another deskseek"):
            a.edit_last()
        stored = mine.conversation(a.conversation_id).messages
        assert [m.role for m in stored] == ["user", "assistant", "user", "assistant"]
        assert stored[1].content == live.reply.content  # A's reply kept its place under A's prompt
        a.close()
        b.close()


def test_an_answer_quoting_the_think_tag_goes_back_to_the_model_whole(r1_paths, tmp_path):  # noqa: F811
    """Through the model, the history file and a resumed session into the next prompt: not cut at `</think>`."""
    answer = "Use re.sub(r'<think>.*?</think>', '', s)."
    forced = Settings(temperature=0, max_tokens=60, grammar=f'root ::= "Let me see." "</think>" "\\n\\n" {json.dumps(answer)}')
    with History(tmp_path / "h.sqlite3") as history:
        session = session_on(r1_paths["new"], history, settings=forced)
        reply = session.send("How do I drop the thoughts?").wait()
        assert reply.reasoning == "Let me see." and reply.content == answer
        conversation = session.conversation_id
        session.close()
        resumed = ChatSession(history)
        resumed.resume(conversation)
        assert resumed.turns[-1].content == answer and resumed.turns[-1].reasoning == "Let me see."
        with Engine(r1_paths["new"], n_ctx=512, n_threads=2) as engine:
            prompt = engine.render([*resumed.model_messages(), {"role": "user", "content": "Thanks"}]).prompt
    assert f"<｜Assistant｜>{answer}<｜end▁of▁sentence｜><｜User｜>Thanks" in prompt
    assert "Let me see." not in prompt  # the thought stays out
