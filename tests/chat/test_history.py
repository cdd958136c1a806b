"""The chat history: nothing lost to a crash, private to the user, upgraded in place, safe across threads."""

from __future__ import annotations

import hashlib
import json
import os
import queue
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from deskseek import paths
from deskseek.chat import history as history_module
from deskseek.chat.history import SCHEMA_VERSION, History, default_title
from deskseek.chat.owners import ReplyGone
from deskseek.errors import DeskseekError, NotFound
from tests.conftest import REPO_ROOT


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def db_path(tmp_path) -> Path:
    return tmp_path / "chats" / "history.sqlite3"


@pytest.fixture
def ticking(monkeypatch):
    """Row timestamps one second apart, so "newest first" never rests on two writes landing in one tick."""
    stamps = iter(range(10_000))
    monkeypatch.setattr(history_module, "now", lambda: f"2025-01-01T00:00:00+00:00#{next(stamps):05d}")


def raw(path: Path) -> sqlite3.Connection:
    """The file as any SQLite client sees it: what is on disk, not what a writer holds in memory."""
    return sqlite3.connect(path)


# --- the file ---------------------------------------------------------------------------------------------


def test_default_path_is_the_data_root(home):
    with History() as h:
        h.new_conversation("r1")
    assert paths.history_db() == home / "history.sqlite3" and paths.history_db().is_file()


def test_new_file_is_private_wal_and_current(db_path):
    old = os.umask(0)  # the most permissive umask: the 0600 must come from us, not from the environment
    try:
        h = History(db_path)
        cid = h.new_conversation("r1")
        h.add_message(cid, "user", "hi")
        files = {p.name: p.stat().st_mode & 0o777 for p in db_path.parent.iterdir()}
        assert files == {"history.sqlite3": 0o600, "history.sqlite3-wal": 0o600, "history.sqlite3-shm": 0o600}
        assert db_path.parent.stat().st_mode & 0o777 == 0o700
        assert h._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert h._db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        assert h._db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        h.close()
    finally:
        os.umask(old)
    assert raw(db_path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION >= 5


def test_an_existing_file_is_made_private(db_path):
    History(db_path).close()
    db_path.chmod(0o644)
    History(db_path).close()
    assert db_path.stat().st_mode & 0o777 == 0o600


def test_ephemeral_writes_no_file(tmp_path, home, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = sorted(tmp_path.rglob("*"))
    with History(ephemeral=True, flush_every_s=0) as h:
        assert h.path is None
        cid = h.new_conversation("r1", {"temperature": 0.6})
        h.add_message(cid, "user", "hello")
        reply = h.start_reply(cid, "r1")
        reply.add_answer("hi there")
        reply.finish("complete", "stop")
        assert h.conversation(cid).messages[-1].content == "hi there"
        assert h.conversations()[0].message_count == 2
    assert sorted(tmp_path.rglob("*")) == before and not home.exists()


def test_ephemeral_histories_share_nothing():
    with History(ephemeral=True) as a, History(ephemeral=True) as b:
        a.new_conversation("r1")
        assert b.conversations() == []


def test_a_file_that_is_not_a_database_is_one_clear_line(db_path):
    db_path.parent.mkdir(parents=True)
    db_path.write_bytes(b"this is not SQLite" * 100)
    with pytest.raises(DeskseekError) as caught:
        History(db_path)
    assert "not a deskseek chat history" in str(caught.value) and "\n" not in str(caught.value)


# --- migrations -------------------------------------------------------------------------------------------

# Schema v1 as it shipped, spelled out here rather than imported: the test must keep describing old files
# even if someone (wrongly) edits the module's first migration.
V1_SCHEMA = """
CREATE TABLE conversations (
    id INTEGER PRIMARY KEY, title TEXT, model TEXT NOT NULL, settings TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL
);
CREATE INDEX conversations_by_update ON conversations (updated_at);
CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
    content TEXT NOT NULL DEFAULT '', reasoning TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL DEFAULT 'complete'
        CHECK (state IN ('complete', 'streaming', 'stopped', 'interrupted', 'error', 'no-answer')),
    model TEXT, stats TEXT, finish_reason TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
    UNIQUE (conversation_id, position)
);
CREATE INDEX messages_streaming ON messages (state) WHERE state = 'streaming';
INSERT INTO conversations VALUES (1, 'Old chat', 'r1:Q4', '{"temperature": 0.6}', '2024-01-01T00:00:00+00:00',
                                  '2024-01-01T00:01:00+00:00');
INSERT INTO messages VALUES (1, 1, 0, 'user', 'What is 2+2?', '', 'complete', NULL, NULL, NULL,
                             '2024-01-01T00:00:00+00:00', '2024-01-01T00:00:00+00:00');
INSERT INTO messages VALUES (2, 1, 1, 'assistant', '4', 'Two plus two...', 'complete', 'r1:Q4',
                             '{"completion_tokens": 9}', 'stop', '2024-01-01T00:01:00+00:00',
                             '2024-01-01T00:01:00+00:00');
INSERT INTO messages VALUES (3, 1, 2, 'assistant', 'half a', '', 'streaming', 'r1:Q4', NULL, NULL,
                             '2024-01-01T00:02:00+00:00', '2024-01-01T00:02:00+00:00');
PRAGMA user_version = 1;
"""


def write_v1(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    db = raw(path)
    db.executescript(V1_SCHEMA)
    db.close()


def columns(path: Path, table: str) -> list[str]:
    return [row[1] for row in raw(path).execute(f"PRAGMA table_info({table})")]


def test_v1_file_is_upgraded_with_its_data_intact(db_path):
    write_v1(db_path)
    assert "reasoning_seconds" not in columns(db_path, "messages")
    with History(db_path) as h:
        assert h.recovered == 1  # the v1 reply left streaming is recovered after the upgrade
        conversation = h.conversation(1)
        assert (conversation.title, conversation.model, conversation.settings) == ("Old chat", "r1:Q4", {"temperature": 0.6})
        assert conversation.system_prompt == ""
        first, second, third = conversation.messages
        assert (first.role, first.content, first.state) == ("user", "What is 2+2?", "complete")
        assert (second.content, second.reasoning, second.stats, second.finish_reason) == (
            "4", "Two plus two...", {"completion_tokens": 9}, "stop")
        assert second.reasoning_seconds is None and second.created_at == "2024-01-01T00:01:00+00:00"
        assert (third.content, third.state) == ("half a", "interrupted")
        reply = h.start_reply(1, "r1:Q4")
        reply.set_reasoning_seconds(3.5)
        reply.finish("complete")
        assert h.conversation(1).messages[-1].reasoning_seconds == 3.5
    assert raw(db_path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert {"reasoning_seconds", "owner", "heartbeat_at"} <= set(columns(db_path, "messages"))
    assert "system_prompt" in columns(db_path, "conversations")


def write_v4(path: Path) -> None:
    """A file as deskseek's schema v4 wrote it: its own four steps, a chat with a finished reply."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = raw(path)
    for step in history_module.MIGRATIONS[:4]:
        for statement in step:
            db.execute(statement)
    db.executescript("""
        INSERT INTO conversations (id, title, model, settings, created_at, updated_at, system_prompt)
            VALUES (1, 'Local chat', 'r1:Q4', '{"temperature": 0.6}', '2026-01-01T00:00:00+00:00',
                    '2026-01-01T00:01:00+00:00', 'Be brief.');
        INSERT INTO messages (id, conversation_id, position, role, content, created_at, updated_at)
            VALUES (1, 1, 0, 'user', '2+2?', '2026-01-01T00:00:00+00:00', '2026-01-01T00:00:00+00:00');
        INSERT INTO messages (id, conversation_id, position, role, content, reasoning, model, finish_reason,
                              reasoning_seconds, created_at, updated_at)
            VALUES (2, 1, 1, 'assistant', '4', 'Two and two.', 'r1:Q4', 'stop', 1.5, '2026-01-01T00:01:00+00:00',
                    '2026-01-01T00:01:00+00:00');
        PRAGMA user_version = 4;
    """)
    db.close()


def test_v4_file_gains_the_server_of_each_reply(db_path):
    write_v4(db_path)
    assert "server" not in columns(db_path, "messages")
    with History(db_path) as h:
        old = h.conversation(1)
        assert (old.model, old.server, old.system_prompt) == ("r1:Q4", None, "Be brief.")
        assert [(m.content, m.server, m.reasoning_seconds) for m in old.messages] == [("2+2?", None, None),
                                                                                     ("4", None, 1.5)]
        h.add_message(1, "user", "and 3+3?")
        reply = h.start_reply(1, "deepseek-r1:70b", server="http://10.0.0.5:11434")
        reply.add_answer("6")
        reply.finish("complete")
        remote = h.new_conversation("deepseek-r1:70b", server="http://10.0.0.5:11434")
        exported = json.loads(h.export(1, "json"))
        markdown = h.export(1, "md")
        assert h.conversation(remote).server == "http://10.0.0.5:11434"
    assert raw(db_path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION >= 5
    assert exported["server"] is None and [m["server"] for m in exported["messages"]] == [
        None, None, None, "http://10.0.0.5:11434"]
    assert "## Assistant (deepseek-r1:70b on http://10.0.0.5:11434)\n\n6" in markdown


def test_an_empty_file_gets_the_whole_schema(db_path):
    db_path.parent.mkdir(parents=True)
    db_path.touch(mode=0o600)
    with History(db_path) as h:
        assert h.conversations() == []
    assert raw(db_path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_failed_upgrade_leaves_the_file_as_it_was(db_path, monkeypatch):
    write_v1(db_path)
    broken = [*history_module.MIGRATIONS, ("CREATE TABLE extra (a)", "INSERT INTO nowhere VALUES (1)")]
    monkeypatch.setattr(history_module, "MIGRATIONS", broken)
    monkeypatch.setattr(history_module, "SCHEMA_VERSION", len(broken))
    with pytest.raises(DeskseekError) as caught:
        History(db_path)
    assert f"from schema v1 to v{len(broken)}" in str(caught.value) and "left as it was" in str(caught.value)
    db = raw(db_path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == 1
    assert "reasoning_seconds" not in columns(db_path, "messages")  # every earlier step rolled back with the last
    assert db.execute("SELECT name FROM sqlite_master WHERE name = 'extra'").fetchall() == []
    assert db.execute("SELECT state FROM messages WHERE id = 3").fetchone() == ("streaming",)


def test_a_newer_file_is_refused_untouched(db_path):
    db_path.parent.mkdir(parents=True)
    db = raw(db_path)
    db.executescript("CREATE TABLE future (x); INSERT INTO future VALUES ('keep me'); PRAGMA user_version = 7;")
    db.close()
    before = hashlib.sha256(db_path.read_bytes()).hexdigest()
    with pytest.raises(DeskseekError) as caught:
        History(db_path)
    message = str(caught.value)
    assert "newer deskseek" in message and "v7" in message and f"v{SCHEMA_VERSION}" in message and "\n" not in message
    assert hashlib.sha256(db_path.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in db_path.parent.iterdir()) == ["history.sqlite3"]  # no -wal, no -shm


# --- conversations and messages ---------------------------------------------------------------------------


def test_conversation_round_trip(db_path):
    with History(db_path) as h:
        settings = {"temperature": 0.6, "top_p": 0.95, "max_tokens": 2048, "think_budget": 512,
                    "system_prompt": "Be brief."}
        cid = h.new_conversation("r1:Q4", settings)
        h.add_message(cid, "system", "Be brief.")
        h.add_message(cid, "user", "Why is the sky blue?")
        h.add_message(cid, "assistant", "Rayleigh scattering.", reasoning="Short wavelengths...", model="r1:Q4")
        h.add_message(cid, "user", "And sunsets?")
    with History(db_path) as h:
        c = h.conversation(cid)
        assert (c.id, c.title, c.model, c.settings) == (cid, "Why is the sky blue?", "r1:Q4", settings)
        assert [(m.position, m.role, m.content) for m in c.messages] == [
            (0, "system", "Be brief."), (1, "user", "Why is the sky blue?"),
            (2, "assistant", "Rayleigh scattering."), (3, "user", "And sunsets?")]
        assistant = c.messages[2]
        assert (assistant.reasoning, assistant.model, assistant.state) == ("Short wavelengths...", "r1:Q4", "complete")
        assert all(m.conversation_id == cid for m in c.messages)
        assert c.created_at <= c.updated_at


def test_dataclass_settings_are_stored_as_json(db_path):
    from dataclasses import dataclass

    @dataclass
    class Settings:
        temperature: float = 0.6
        seed: int | None = None

    with History(db_path) as h:
        assert h.conversation(h.new_conversation("r1", Settings())).settings == {"temperature": 0.6, "seed": None}


def test_the_system_prompt_is_stored_changed_and_exported_whole(db_path):
    """`history show/export` had no system prompt; a pasted one is many lines, and every line is kept."""
    system = "You are terse.\nAnswer in one word.\n\n- never apologise"
    with History(db_path) as h:
        cid = h.new_conversation("r1", {"temperature": 0.6}, system_prompt="first")
        h.add_message(cid, "user", "hi")
        h.set_settings(cid, {"temperature": 0.1, "max_tokens": 9}, system)
        c = h.conversation(cid)
        assert (c.settings, c.system_prompt) == ({"temperature": 0.1, "max_tokens": 9}, system)
        markdown, data = h.export(cid, "md"), json.loads(h.export(cid, "json"))
        with pytest.raises(NotFound):
            h.set_settings(cid + 1, {}, "")
    assert f"## System\n\n{system}\n\n## You\n\nhi" in markdown
    assert list(data)[3] == "settings" and data["settings"] == {"temperature": 0.1, "max_tokens": 9,
                                                                "system_prompt": system}


def test_list_is_newest_first_with_counts(db_path, ticking):
    with History(db_path) as h:
        assert h.conversations() == [] and h.last_conversation_id() is None
        first = h.new_conversation("a")
        second = h.new_conversation("b", title="Second")
        h.add_message(second, "user", "x")
        assert [c.id for c in h.conversations()] == [second, first]
        h.add_message(first, "user", "y")
        h.add_message(first, "assistant", "z")
        summaries = h.conversations()
        assert [(c.id, c.model, c.message_count) for c in summaries] == [(first, "a", 2), (second, "b", 1)]
        assert h.last_conversation_id() == first
        h.rename(second, "Renamed")
        assert h.last_conversation_id() == second


@pytest.mark.parametrize(("text", "title"), [
    ("Why is the sky blue?", "Why is the sky blue?"),
    ("\n\n   First real line   \nsecond line", "First real line"),
    ("x" * 60, "x" * 60),
    ("y" * 61, "y" * 59 + "…"),
    ("   \n  ", None),
])
def test_default_title(text, title):
    assert default_title(text) == title
    if title:
        assert len(title) <= 60


def test_title_comes_from_the_first_user_message_unless_given(db_path):
    with History(db_path) as h:
        untitled = h.new_conversation("r1")
        h.add_message(untitled, "system", "You are helpful.")
        assert h.conversation(untitled).title is None
        h.add_message(untitled, "user", "   ")  # nothing to name it by yet
        h.add_message(untitled, "user", "Plan a trip to Lisbon\nfor three days")
        h.add_message(untitled, "user", "Actually, Porto")
        assert h.conversation(untitled).title == "Plan a trip to Lisbon"
        titled = h.new_conversation("r1", title="  My   title ")
        h.add_message(titled, "user", "something else")
        assert h.conversation(titled).title == "My title"


def test_rename_delete_and_cascade(db_path):
    with History(db_path) as h:
        keep = h.new_conversation("r1")
        h.add_message(keep, "user", "keep me")
        gone = h.new_conversation("r1")
        h.add_message(gone, "user", "bye")
        h.add_message(gone, "assistant", "bye!")
        h.rename(gone, "New\nname")
        assert h.conversation(gone).title == "New name"
        with pytest.raises(DeskseekError, match="cannot be empty"):
            h.rename(gone, "  ")
        h.delete(gone)
        assert [c.id for c in h.conversations()] == [keep]
    counts = raw(db_path).execute("SELECT conversation_id, COUNT(*) FROM messages GROUP BY conversation_id").fetchall()
    assert counts == [(keep, 1)]  # ON DELETE CASCADE took the messages with it


def test_delete_message_for_regenerate(db_path):
    with History(db_path) as h:
        cid = h.new_conversation("r1")
        h.add_message(cid, "user", "Tell me a joke")
        bad = h.add_message(cid, "assistant", "a bad joke")
        h.delete_messages([bad])
        assert [m.content for m in h.conversation(cid).messages] == ["Tell me a joke"]
        reply = h.start_reply(cid, "r1")
        reply.finish("complete")
        assert [m.position for m in h.conversation(cid).messages] == [0, 1]
        with pytest.raises(NotFound, match="no message with id 999"):
            h.delete_messages([reply.message_id, 999])
        assert len(h.conversation(cid).messages) == 2  # nothing deleted when one id is unknown


def test_unknown_ids_are_one_clear_line(db_path):
    with History(db_path) as h:
        calls = [
            lambda: h.conversation(42), lambda: h.rename(42, "x"), lambda: h.delete(42),
            lambda: h.add_message(42, "user", "x"), lambda: h.start_reply(42, "r1"), lambda: h.export(42, "md"),
        ]
        for call in calls:
            with pytest.raises(NotFound) as caught:
                call()
            assert str(caught.value) == "no conversation with id 42 (`deskseek history list` shows them)"
        assert h.conversations() == []


def test_bad_role_state_and_format_are_refused(db_path):
    with History(db_path) as h:
        cid = h.new_conversation("r1")
        with pytest.raises(ValueError, match="role"):
            h.add_message(cid, "tool", "x")
        with pytest.raises(ValueError, match="state"):
            h.add_message(cid, "assistant", "x", state="done")
        with pytest.raises(DeskseekError, match="unknown export format 'pdf'"):
            h.export(cid, "pdf")


# --- streaming replies ------------------------------------------------------------------------------------


def on_disk(h: History, cid: int):
    """The reply as committed to the database (the History reads the file, never the writer's buffer)."""
    return h.conversation(cid).messages[-1]


def test_reply_is_written_at_most_every_flush_interval_and_at_each_state_change(db_path):
    clock = FakeClock()
    with History(db_path, clock=clock) as h:
        cid = h.new_conversation("r1")
        h.add_message(cid, "user", "2+2?")
        reply = h.start_reply(cid, "r1")
        assert reply.flush_every_s == 1.0
        row = on_disk(h, cid)
        assert (row.id, row.role, row.state, row.content, row.model) == (reply.message_id, "assistant", "streaming", "", "r1")

        clock.now = 0.5
        assert reply.add_reasoning("Two ") is False
        assert on_disk(h, cid).reasoning == ""  # buffered
        clock.now = 1.0
        assert reply.add_reasoning("and two.") is True
        assert on_disk(h, cid).reasoning == "Two and two."
        clock.now = 1.2
        reply.set_reasoning_seconds(1.2)  # a state change: written at once
        assert on_disk(h, cid).reasoning_seconds == 1.2
        clock.now = 1.3
        assert reply.add_answer("4") is False
        clock.now = 2.1
        assert reply.add_answer(".") is False  # 0.9 s since the last write
        assert on_disk(h, cid).content == ""
        clock.now = 2.2
        assert reply.add_answer("") is True
        assert (on_disk(h, cid).content, reply.content, reply.reasoning) == ("4.", "4.", "Two and two.")

        clock.now = 2.3
        assert reply.add_answer(" Done") is False
        stats = {"prompt_tokens": 5, "completion_tokens": 9, "reasoning_tokens": 4, "ttft_s": 0.1, "gen_tok_s": 30.0}
        reply.finish("complete", finish_reason="stop", stats=stats)
        row = on_disk(h, cid)
        assert (row.content, row.reasoning, row.state, row.finish_reason, row.stats, row.reasoning_seconds) == (
            "4. Done", "Two and two.", "complete", "stop", stats, 1.2)
        assert reply.finished
        with pytest.raises(RuntimeError, match="already complete"):
            reply.add_answer("more")


@pytest.mark.parametrize("state", ["stopped", "error", "no-answer", "interrupted"])
def test_reply_end_states(db_path, state):
    with History(db_path) as h:
        cid = h.new_conversation("r1")
        reply = h.start_reply(cid, "r1")
        reply.add_reasoning("still thinking")
        reply.finish(state, finish_reason="cancelled" if state == "stopped" else None)
        row = on_disk(h, cid)
        assert (row.state, row.reasoning) == (state, "still thinking")


def test_finish_refuses_streaming_or_unknown_states(db_path):
    with History(db_path) as h:
        reply = h.start_reply(h.new_conversation("r1"), "r1")
        for state in ("streaming", "done"):
            with pytest.raises(ValueError, match="final state"):
                reply.finish(state)


def test_flush_interval_can_be_set_per_reply(db_path):
    clock = FakeClock()
    with History(db_path, clock=clock) as h:
        cid = h.new_conversation("r1")
        reply = h.start_reply(cid, "r1", flush_every_s=0)
        assert reply.add_answer("a") is True and on_disk(h, cid).content == "a"


def dead_pid() -> int:
    """The pid of a process that has exited (and was reaped): what a crashed deskseek leaves in its rows."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_pid_given_again_to_another_process_does_not_keep_a_dead_reply_alive(db_path):
    """In a container deskseek often runs as the same pid each time: the owner's start time tells them apart."""
    from deskseek.chat import owners

    with History(db_path) as h:
        cid = h.new_conversation("r1")
        reply = h.start_reply(cid, "r1")
        host, pid, started = owners.OWNER.split(":")
        h._db.execute("UPDATE messages SET owner = ? WHERE id = ?", (f"{host}:{pid}:{started}0", reply.message_id))
        h._live.clear()
    with History(db_path) as again:
        assert again.recovered == 1 and on_disk(again, cid).state == "interrupted"


def test_streaming_rows_whose_owner_is_gone_become_interrupted_on_next_open(db_path):
    h = History(db_path)
    cid = h.new_conversation("r1")
    reply = h.start_reply(cid, "r1")
    reply.add_answer("half an ans")
    reply.flush()
    h._db.execute("UPDATE messages SET owner = ? WHERE id = ?", (f"{socket.gethostname()}:{dead_pid()}",
                                                                 reply.message_id))
    h._db.close()  # dies without finishing the reply
    with History(db_path) as again:
        assert again.recovered == 1
        row = on_disk(again, cid)
        assert (row.state, row.content) == ("interrupted", "half an ans")
        assert again.recover() == 0


def test_close_saves_a_reply_still_streaming_as_interrupted(db_path):
    with History(db_path) as h:  # flushes every second: these words are only in memory at close
        cid = h.new_conversation("r1")
        reply = h.start_reply(cid, "r1")
        reply.add_reasoning("hmm")
        reply.add_answer("the start of")
        finished = h.start_reply(cid, "r1")
        finished.finish("stopped")
    with History(db_path) as h:
        assert h.recovered == 0
        cut, stopped = h.conversation(cid).messages
        assert (cut.state, cut.reasoning, cut.content, stopped.state) == ("interrupted", "hmm", "the start of", "stopped")


def test_another_deskseek_opening_the_file_mid_reply_leaves_it_alone(db_path):
    """`history list` or a second chat opens the file while a reply streams: the reply is alive, not interrupted."""
    with History(db_path, flush_every_s=0) as live:
        cid = live.new_conversation("r1")
        reply = live.start_reply(cid, "r1")
        with History(db_path) as other:
            assert other.recovered == 0
            assert on_disk(other, cid).state == "streaming"
            with pytest.raises(DeskseekError, match="still being written by another deskseek"):
                other._live.clear()  # as a second process: it owns no reply
                other.delete_messages([reply.message_id])
        reply.add_answer("still here")
        reply.finish("complete")
        assert (on_disk(live, cid).state, on_disk(live, cid).content) == ("complete", "still here")


def test_a_reply_whose_row_was_deleted_elsewhere_says_so_and_writes_nowhere(db_path):
    with History(db_path, flush_every_s=0) as live:
        cid = live.new_conversation("r1")
        reply = live.start_reply(cid, "r1")
        with History(db_path) as other:
            other.delete(cid)  # `deskseek history rm` while the chat streams
        with pytest.raises(ReplyGone, match="deleted or changed by another deskseek"):
            reply.add_answer("words")
        assert live.conversations() == []  # nothing written anywhere


def test_one_thread_streams_while_another_reads(db_path):
    with History(db_path, flush_every_s=0) as h:
        cid = h.new_conversation("r1")
        h.add_message(cid, "user", "count")
        errors: list[BaseException] = []
        done = threading.Event()
        seen: dict[str, list[int]] = {"first": [], "second": []}  # reply lengths each reader saw, in order

        def write() -> None:
            try:
                reply = h.start_reply(cid, "r1")
                for i in range(400):
                    (reply.add_reasoning if i < 100 else reply.add_answer)(f"{i} ")
                reply.finish("complete", "stop")
            except BaseException as err:  # noqa: BLE001 (reported below)
                errors.append(err)
            finally:
                done.set()

        def read(lengths: list[int]) -> None:
            try:
                while not done.is_set():
                    assert h.conversations()[0].id == cid
                    messages = h.conversation(cid).messages
                    if len(messages) == 2:
                        lengths.append(len(messages[1].content))
                    h.export(cid, "json")
            except BaseException as err:  # noqa: BLE001
                errors.append(err)

        threads = [threading.Thread(target=write)] + [threading.Thread(target=read, args=(v,)) for v in seen.values()]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert errors == []
        assert all(lengths == sorted(lengths) for lengths in seen.values())  # the reply only ever grew
        final = on_disk(h, cid)
        assert final.content == "".join(f"{i} " for i in range(100, 400)) and final.state == "complete"


# --- kill -9 ----------------------------------------------------------------------------------------------

CHILD = """
import sys, time
from deskseek.chat.history import History

h = History(sys.argv[1], flush_every_s=0.2)
cid = h.new_conversation("r1")
h.add_message(cid, "user", "write forever")
reply = h.start_reply(cid, "r1")
for i in range(50):
    reply.add_reasoning(f"r{i} ")
reply.set_reasoning_seconds(1.5)
print("thought", len(reply.reasoning), flush=True)
i = 0
while True:
    if reply.add_answer(f"w{i} "):
        print("flushed", len(reply.content), flush=True)
    i += 1
    time.sleep(0.001)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_kill_9_mid_reply_loses_at_most_the_last_interval(db_path):
    process = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(db_path)], cwd=REPO_ROOT, env=os.environ.copy(),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    try:
        assert lines.get(timeout=30).split() == ["thought", str(len("".join(f"r{i} " for i in range(50))))]
        flushed = [int(lines.get(timeout=30).split()[1]) for _ in range(4)]  # four timed writes, then die
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == -signal.SIGKILL, process.stderr.read()
    while not lines.empty():  # a write that landed between our read and the kill counts too
        line = lines.get()
        if line.startswith("flushed"):
            flushed.append(int(line.split()[1]))

    with History(db_path) as h:
        assert h.recovered == 1
        [summary] = h.conversations()
        row = h.conversation(summary.id).messages[-1]
    assert row.state == "interrupted" and row.reasoning_seconds == 1.5
    assert row.reasoning == "".join(f"r{i} " for i in range(50))
    words = row.content.split()
    assert row.content == "".join(f"w{i} " for i in range(len(words)))  # an exact prefix of what was written
    assert len(row.content) >= flushed[-1]  # everything up to the last write it reported is there
    assert flushed == sorted(flushed) and flushed[0] > 0
