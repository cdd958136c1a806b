"""What the history stores: the schema, its migrations, the rows as Python objects, and the values in them."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

TITLE_CHARS = 60

ROLES = ("system", "user", "assistant")
STATES = ("complete", "streaming", "stopped", "interrupted", "error", "no-answer")

# The trigram tokenizer came with SQLite 3.34 (2020). An older SQLite gets an index by words, which search.py
# does not trust for text inside words: it scans the lines instead (slower, still exact), never failing to open.
SEARCH_TOKENIZER = "trigram" if sqlite3.sqlite_version_info >= (3, 34) else "unicode61"

# MIGRATIONS[n] takes a database from version n to n + 1; version 0 is an empty file. Never edit a shipped
# step: users have files written by it. Add a new one.
MIGRATIONS: list[tuple[str, ...]] = [
    (  # v1: conversations and their messages
        """CREATE TABLE conversations (
            id INTEGER PRIMARY KEY,
            title TEXT,
            model TEXT NOT NULL,
            settings TEXT NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""",
        "CREATE INDEX conversations_by_update ON conversations (updated_at)",
        """CREATE TABLE messages (
            id INTEGER PRIMARY KEY,
            conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
            content TEXT NOT NULL DEFAULT '',
            reasoning TEXT NOT NULL DEFAULT '',
            state TEXT NOT NULL DEFAULT 'complete'
                CHECK (state IN ('complete', 'streaming', 'stopped', 'interrupted', 'error', 'no-answer')),
            model TEXT,
            stats TEXT,
            finish_reason TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            UNIQUE (conversation_id, position)
        )""",
        "CREATE INDEX messages_streaming ON messages (state) WHERE state = 'streaming'",
    ),
    (  # v2: how long the model thought, for "Thought for 12.4 s"
        "ALTER TABLE messages ADD COLUMN reasoning_seconds REAL",
    ),
    (  # v3: who writes a streaming reply ("host:pid") and when it last did, so no other process takes it for dead
        "ALTER TABLE messages ADD COLUMN owner TEXT",
        "ALTER TABLE messages ADD COLUMN heartbeat_at REAL",
    ),
    (  # v4: the conversation's system prompt (its sampling settings are in `settings`, kept up to date since v4)
        "ALTER TABLE conversations ADD COLUMN system_prompt TEXT NOT NULL DEFAULT ''",
    ),
    (  # v5: the inference server a reply was written on (its URL; NULL: this machine), beside its model
        "ALTER TABLE conversations ADD COLUMN server TEXT",
        "ALTER TABLE messages ADD COLUMN server TEXT",
    ),
    (  # v6: full-text search (chat/search.py): each stored message's non-blank lines, a trigram index over them
        """CREATE TABLE message_lines (
            id INTEGER PRIMARY KEY,
            message_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
            field INTEGER NOT NULL,  -- 0: the content, 1: the thought (reasoning)
            line INTEGER NOT NULL,
            text TEXT NOT NULL,
            UNIQUE (message_id, field, line)
        )""",
        # each line indexed with two newlines after it (a line holds none), so that every one- or two-letter
        # word in it starts a trigram: search.py finds rare short words through the index's vocabulary
        "CREATE VIEW message_lines_padded AS SELECT id, text || char(10, 10) AS text FROM message_lines",
        "CREATE VIRTUAL TABLE message_search USING fts5(text, content='message_lines_padded', content_rowid='id', "
        f"tokenize='{SEARCH_TOKENIZER}')",
        "CREATE VIRTUAL TABLE message_search_terms USING fts5vocab(message_search, 'row')",
        "CREATE TRIGGER message_lines_removed AFTER DELETE ON message_lines BEGIN "
        "INSERT INTO message_search (message_search, rowid, text) VALUES ('delete', old.id, old.text || char(10, 10)); "
        "END",
        "CREATE TRIGGER message_lines_changed AFTER UPDATE OF text ON message_lines BEGIN "
        "INSERT INTO message_search (message_search, rowid, text) VALUES ('delete', old.id, old.text || char(10, 10)); "
        "INSERT INTO message_search (rowid, text) VALUES (new.id, new.text || char(10, 10)); END",
        # what is already stored: every line cut out by SQL as chat/search.py's lines() cuts them, in its order
        """INSERT INTO message_lines (message_id, field, line, text)
           WITH RECURSIVE cut (message_id, field, line, rest, text) AS (
               SELECT id, 0, -1, content || char(10), '' FROM messages
               UNION ALL SELECT id, 1, -1, reasoning || char(10), '' FROM messages
               UNION ALL SELECT message_id, field, line + 1, substr(rest, instr(rest, char(10)) + 1),
                                substr(rest, 1, instr(rest, char(10)) - 1)
                         FROM cut WHERE rest <> ''
           )
           SELECT message_id, field, line, text FROM cut WHERE line >= 0 AND trim(text, ' ' || char(9) || char(13)) <> ''
           ORDER BY message_id, field DESC, line""",
        "INSERT INTO message_search (message_search) VALUES ('rebuild')",  # new lines: search.index_message adds
    ),
]
SCHEMA_VERSION = len(MIGRATIONS)


@dataclass(frozen=True)
class ConversationSummary:
    id: int
    title: str | None
    model: str
    created_at: str
    updated_at: str
    message_count: int


@dataclass(frozen=True)
class Message:
    id: int
    conversation_id: int
    position: int
    role: str
    content: str
    reasoning: str
    state: str
    model: str | None
    stats: dict | None
    finish_reason: str | None
    reasoning_seconds: float | None
    created_at: str
    updated_at: str
    server: str | None = None  # the inference server's URL; None: written on this machine


@dataclass(frozen=True)
class Conversation:
    id: int
    title: str | None
    model: str
    settings: dict  # the Settings the conversation's replies are written with, as a dict (see Settings)
    created_at: str
    updated_at: str
    messages: list[Message] = field(default_factory=list)
    system_prompt: str = ""
    server: str | None = None  # where its first reply was asked for; None: this machine


MESSAGE_COLUMNS = (
    "id, conversation_id, position, role, content, reasoning, state, model, stats, finish_reason, "
    "reasoning_seconds, created_at, updated_at, server"
)


def message_from_row(row: tuple) -> Message:
    values = list(row)
    values[8] = json.loads(values[8]) if values[8] else None
    return Message(*values)


def check(value: str, allowed: tuple[str, ...], what: str) -> None:
    if value not in allowed:
        raise ValueError(f"{what} must be one of {', '.join(allowed)}, not {value!r}")


def now() -> str:
    """UTC ISO 8601 with microseconds: sorts as text, and two writes a millisecond apart still order."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def default_title(text: str) -> str | None:
    """The first non-blank line, cut to fit a list row; None when there is no text to name it by."""
    line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    if not line:
        return None
    return line if len(line) <= TITLE_CHARS else line[: TITLE_CHARS - 1].rstrip() + "…"


def given_title(title: str | None) -> str | None:
    """None (not "") marks a conversation still waiting to be named by its first user message."""
    return (" ".join(title.split()) or None) if title else None


def json_text(value: Any) -> str:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    return json.dumps(dict(value or {}), ensure_ascii=False, sort_keys=True)
