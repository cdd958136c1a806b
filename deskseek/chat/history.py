"""Every chat, kept in one SQLite file under the data root, so that no word of it is ever lost.

A reply is written while it streams: the row exists from its first token and is rewritten at least every
`flush_every_s`, so a `kill -9` (or a power cut, up to what the OS had flushed) loses at most that last
interval. A reply that was still streaming when its process died is found on the next open and marked
`interrupted` rather than left looking alive.

WAL with `synchronous=NORMAL` makes each of those small writes cheap (no fsync per commit) while a killed
process still loses nothing it committed. The schema's version lives in `PRAGMA user_version`; opening an
older file upgrades it in one transaction, and a file from a newer deskseek is refused untouched.

One connection guarded by one lock: the TUI streams from a worker thread while its UI thread reads.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from deskseek import paths
from deskseek.chat.export import FORMATS, to_json, to_markdown
from deskseek.chat.history_errors import no_conversation, user_facing
from deskseek.chat.owners import OWNER, Conflict, ReplyGone, owner_alive
from deskseek.chat.records import (
    MESSAGE_COLUMNS,
    MIGRATIONS,
    ROLES,
    SCHEMA_VERSION,
    STATES,
    Conversation,
    ConversationSummary,
    check,
    default_title,
    given_title,
    json_text,
    message_from_row,
    now,
)
from deskseek.chat.reply_writer import ReplyWriter
from deskseek.chat.search import SearchHit, index_message, index_stored
from deskseek.chat.search import search as find_lines
from deskseek.errors import DeskseekError, NotFound

log = logging.getLogger("deskseek.history")

class History:
    """The chat history: a file under the data root, or (ephemeral) memory that vanishes on close."""

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        ephemeral: bool = False,
        flush_every_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.path = None if ephemeral else Path(path) if path is not None else paths.history_db()
        self.flush_every_s = flush_every_s
        self.clock = clock
        self._lock = threading.Lock()
        self._live: set[ReplyWriter] = set()  # replies still streaming, for close() to save
        self._db = self._connect()
        try:
            self._migrate()
            self.recovered = self.recover()
        except BaseException:
            self._db.close()
            raise

    # --- opening ----------------------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        if self.path is None:
            db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        else:
            db = self._open_file()
        db.execute("PRAGMA foreign_keys = ON")
        return db

    def _open_file(self) -> sqlite3.Connection:
        paths.ensure(self.path.parent)
        if not self.path.exists():  # created private before SQLite opens it; its -wal and -shm copy the mode
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=10)
        try:
            version = self._read_version(db)  # before the pragmas below write to the file
            if version > SCHEMA_VERSION:
                raise DeskseekError(
                    f"the chat history at {self.path} was written by a newer deskseek (schema v{version}, "
                    f"this one knows up to v{SCHEMA_VERSION}); upgrade deskseek to open it"
                )
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
        except BaseException:
            db.close()
            raise
        self._make_private()
        return db

    def _read_version(self, db: sqlite3.Connection) -> int:
        try:
            return db.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.DatabaseError as err:
            raise DeskseekError(f"{self.path} is not a deskseek chat history ({err})") from None

    def _make_private(self) -> None:
        """The file holds the user's chats: nobody else on the machine may read it, whatever the umask."""
        for suffix in ("", "-wal", "-shm"):
            try:
                os.chmod(f"{self.path}{suffix}", 0o600)
            except FileNotFoundError:
                pass

    def _migrate(self) -> None:
        with self._write() as db:  # re-read under the write lock: another process may have just upgraded
            version = self._read_version(db)
            if version == SCHEMA_VERSION:
                return
            try:
                for step in MIGRATIONS[version:]:
                    for statement in step:
                        db.execute(statement)
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            except sqlite3.DatabaseError as err:
                raise DeskseekError(
                    f"could not upgrade the chat history at {self.path or 'memory'} from schema v{version} "
                    f"to v{SCHEMA_VERSION} ({err}); it was left as it was"
                ) from None

    def recover(self) -> int:
        """Replies whose process died mid-stream would look alive forever; say what happened to them.

        Only those whose owner is gone: another deskseek streaming into the same file right now (a second
        chat, `deskseek history list`) must find its reply as it left it.
        """
        with self._write() as db:
            rows = db.execute("SELECT id, owner, heartbeat_at FROM messages WHERE state = 'streaming'").fetchall()
            dead = [(now(), message_id) for message_id, owner, beat in rows if not owner_alive(owner, beat)]
            db.executemany("UPDATE messages SET state = 'interrupted', updated_at = ? WHERE id = ?", dead)
            index_stored(db, [message_id for _, message_id in dead])
        return len(dead)

    def close(self) -> None:
        """A reply still streaming at close keeps its buffered text, marked interrupted: it did not finish."""
        try:
            for writer in list(self._live):
                try:
                    writer.flush() if writer.finished else writer.finish("interrupted")
                except DeskseekError as err:  # its row is gone, or the disk is still full: nothing more to do
                    log.warning("reply %s could not be saved at close: %s", writer.message_id, err)
        finally:
            with self._lock:
                self._db.close()

    def save_pending(self) -> None:
        """Write replies that finished while their row could not be written (a full disk); raises if it still fails."""
        for writer in [writer for writer in self._live if writer.finished]:
            writer.flush()

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- transactions -----------------------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """IMMEDIATE takes the write lock up front, so a second process waits here instead of failing mid-way."""
        with self._transaction("BEGIN IMMEDIATE") as db:
            yield db

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """One snapshot, so a conversation and its messages never come from two different moments."""
        with self._transaction("BEGIN") as db:
            yield db

    @contextmanager
    def _transaction(self, begin: str) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._db.execute(begin)
                try:
                    yield self._db
                    self._db.execute("COMMIT")
                except BaseException:  # a failed COMMIT (disk full) too: the next transaction starts clean
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
                    raise
            except sqlite3.OperationalError as err:
                raise user_facing(err, self.path) from None

    # --- conversations ----------------------------------------------------------------------------------

    def new_conversation(self, model: str, settings: Mapping | None = None, title: str | None = None, *,
                         system_prompt: str = "", server: str | None = None) -> int:
        stamp = now()
        with self._write() as db:
            return db.execute(
                "INSERT INTO conversations (title, model, settings, system_prompt, created_at, updated_at, server) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (given_title(title), model, json_text(settings), system_prompt, stamp, stamp, server),
            ).lastrowid

    def set_settings(self, conversation_id: int, settings: Mapping, system_prompt: str) -> None:
        """What the conversation's replies are written with from now on (Ctrl+S, `--system`, another model's
        defaults): stored with it, so that resuming it writes the same way."""
        with self._write() as db:
            self._touch(db, conversation_id, "settings = ?, system_prompt = ?", (json_text(settings), system_prompt))

    def conversations(self) -> list[ConversationSummary]:
        with self._read() as db:
            rows = db.execute(
                """SELECT c.id, c.title, c.model, c.created_at, c.updated_at, COUNT(m.id)
                   FROM conversations c LEFT JOIN messages m ON m.conversation_id = c.id
                   GROUP BY c.id ORDER BY c.updated_at DESC, c.id DESC"""
            ).fetchall()
        return [ConversationSummary(*row) for row in rows]

    def last_conversation_id(self) -> int | None:
        with self._read() as db:
            row = db.execute("SELECT id FROM conversations ORDER BY updated_at DESC, id DESC LIMIT 1").fetchone()
        return row[0] if row else None

    def conversation(self, conversation_id: int) -> Conversation:
        with self._read() as db:
            row = db.execute(
                "SELECT id, title, model, settings, created_at, updated_at, system_prompt, server FROM conversations "
                "WHERE id = ?",
                (conversation_id,),
            ).fetchone()
            if row is None:
                raise no_conversation(conversation_id)
            messages = db.execute(
                f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? ORDER BY position",
                (conversation_id,),
            ).fetchall()
        cid, title, model, settings, created_at, updated_at, system_prompt, server = row
        return Conversation(cid, title, model, json.loads(settings), created_at, updated_at,
                            [message_from_row(m) for m in messages], system_prompt, server)

    def rename(self, conversation_id: int, title: str) -> None:
        title = given_title(title)
        if title is None:
            raise DeskseekError("a title cannot be empty")
        with self._write() as db:
            self._touch(db, conversation_id, "title = ?", (title,))

    def delete(self, conversation_id: int, *, spare_live: bool = False) -> None:
        """`spare_live` (the chat's panel): refuse while a reply in it is being written, here or by another live
        deskseek. Without it (`history rm`) the writer finds its row gone and says so (ReplyGone)."""
        with self._write() as db:
            mine = {writer.message_id for writer in self._live}
            for message_id, owner, beat in db.execute("SELECT id, owner, heartbeat_at FROM messages WHERE "
                                                      "conversation_id = ? AND state = 'streaming'", (conversation_id,)):
                if spare_live and (message_id in mine or owner_alive(owner, beat)):
                    raise DeskseekError(f"a reply in conversation {conversation_id} is still being written; "
                                        "stop it first, then delete")
            if db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,)).rowcount == 0:
                raise no_conversation(conversation_id)

    def _touch(self, db: sqlite3.Connection, conversation_id: int, assignments: str = "", values: tuple = ()):
        """Every change to a conversation moves it to the top of the list."""
        sets = f"{assignments}, updated_at = ?" if assignments else "updated_at = ?"
        cursor = db.execute(f"UPDATE conversations SET {sets} WHERE id = ?", (*values, now(), conversation_id))
        if cursor.rowcount == 0:
            raise no_conversation(conversation_id)

    # --- messages ---------------------------------------------------------------------------------------

    def add_message(
        self, conversation_id: int, role: str, content: str, *,
        reasoning: str = "", state: str = "complete", model: str | None = None,
    ) -> int:
        check(role, ROLES, "role")
        check(state, STATES, "state")
        with self._write() as db:
            self._touch(db, conversation_id)
            if role == "user":
                db.execute(
                    "UPDATE conversations SET title = ? WHERE id = ? AND title IS NULL",
                    (default_title(content), conversation_id),
                )
            return self._insert(db, conversation_id, role, content, reasoning, state, model)

    def _insert(self, db, conversation_id, role, content, reasoning, state, model) -> int:
        stamp = now()
        message_id = db.execute(
            """INSERT INTO messages (conversation_id, position, role, content, reasoning, state, model,
                                     created_at, updated_at)
               VALUES (?, (SELECT COALESCE(MAX(position), -1) + 1 FROM messages WHERE conversation_id = ?),
                       ?, ?, ?, ?, ?, ?, ?)""",
            (conversation_id, conversation_id, role, content, reasoning, state, model, stamp, stamp),
        ).lastrowid
        if state != "streaming":  # indexed in the transaction that stores it (a streaming reply: when it ends)
            index_message(db, message_id, content, reasoning)
        return message_id

    def check_tail(self, conversation_id: int, last_id: int | None) -> None:
        """Raise Conflict unless the conversation still ends with `last_id` and no other live deskseek is
        writing its last reply: a session adds to (or takes from) only the conversation it read."""
        with self._read() as db:
            row = db.execute("SELECT id, state, owner, heartbeat_at FROM messages WHERE conversation_id = ? "
                             "ORDER BY position DESC LIMIT 1", (conversation_id,)).fetchone()
        if (row[0] if row else None) != last_id:
            raise Conflict("this conversation was changed by another deskseek; open it again from the panel "
                           "(Ctrl+B) to see where it stands")
        mine = {writer.message_id for writer in self._live}
        if row and row[1] == "streaming" and row[0] not in mine and owner_alive(row[2], row[3]):
            raise Conflict(f"a reply in this conversation is still being written by another deskseek ({row[2]}); "
                           "wait for it, or stop it there")

    def delete_messages(self, message_ids: list[int]) -> None:
        """Regenerate drops the last reply, edit-last the last prompt and what followed: by id, never by position.

        A reply another live process is still writing is refused: deleting it would send that process's
        text nowhere (or, with the id reused, under someone else's row).
        """
        if not message_ids:
            return
        with self._write() as db:
            marks = ",".join("?" * len(message_ids))
            rows = db.execute(f"SELECT id, conversation_id, state, owner, heartbeat_at FROM messages "
                              f"WHERE id IN ({marks})", message_ids).fetchall()
            missing = sorted(set(message_ids) - {row[0] for row in rows})
            if missing:
                raise NotFound(f"no message with id {missing[0]} in the chat history")
            mine = {writer.message_id for writer in self._live}
            for message_id, _, state, owner, beat in rows:
                if state == "streaming" and message_id not in mine and owner_alive(owner, beat):
                    raise DeskseekError(f"that reply is still being written by another deskseek ({owner}); "
                                        "stop it there first")
            db.execute(f"DELETE FROM messages WHERE id IN ({marks})", message_ids)
            self._live -= {writer for writer in self._live if writer.message_id in message_ids}
            for conversation_id in {row[1] for row in rows}:
                self._touch(db, conversation_id)

    def start_reply(
        self, conversation_id: int, model: str, *, server: str | None = None,
        flush_every_s: float | None = None, clock: Callable[[], float] | None = None,
    ) -> ReplyWriter:
        """The row exists before the first token arrives, so even a reply killed at once leaves a trace.
        `server`: the inference server's URL when the model runs on one."""
        with self._write() as db:
            self._touch(db, conversation_id)
            message_id = self._insert(db, conversation_id, "assistant", "", "", "streaming", model)
            db.execute("UPDATE messages SET owner = ?, heartbeat_at = ?, server = ? WHERE id = ?",
                       (OWNER, time.time(), server, message_id))
        writer = ReplyWriter(
            self, conversation_id, message_id,
            self.flush_every_s if flush_every_s is None else flush_every_s, clock or self.clock,
        )
        self._live.add(writer)
        return writer

    def _save_reply(self, writer: ReplyWriter, *, finish_reason=None, stats=None) -> None:
        """Only into its own row: one deleted, or taken over by another process, raises ReplyGone."""
        with self._write() as db:
            saved = db.execute(
                """UPDATE messages SET content = ?, reasoning = ?, reasoning_seconds = ?, state = ?,
                                       finish_reason = COALESCE(?, finish_reason), stats = COALESCE(?, stats),
                                       updated_at = ?, heartbeat_at = ?
                   WHERE id = ? AND owner = ?""",
                (writer.content, writer.reasoning, writer.reasoning_seconds, writer.state, finish_reason,
                 None if stats is None else json_text(stats), now(), time.time(), writer.message_id, OWNER),
            ).rowcount
            if not saved:
                self._live.discard(writer)
                raise ReplyGone("this conversation was deleted or changed by another deskseek; "
                                "the reply on screen is no longer saved")
            if writer.finished:  # its final form: into the index (search.py scans it until now)
                index_message(db, writer.message_id, writer.content, writer.reasoning)
            self._touch(db, writer.conversation_id)

    def search(self, query: str, limit: int = 20) -> list[SearchHit]:
        """Lines holding every word of `query`, in prompts, answers and thoughts, newest first (search.py)."""
        with self._read() as db:
            return find_lines(db, query, limit)

    # --- export -----------------------------------------------------------------------------------------

    def export(self, conversation_id: int, fmt: str) -> str:
        if fmt not in FORMATS:
            raise DeskseekError(f"unknown export format {fmt!r}; choose one of: {', '.join(FORMATS)}")
        conversation = self.conversation(conversation_id)
        return to_json(conversation) if fmt == "json" else to_markdown(conversation)
