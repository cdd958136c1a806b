"""What the history stores: the schema, its migrations, and the rows as Python objects."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

ROLES = ("system", "user", "assistant")
STATES = ("complete", "streaming", "stopped", "interrupted", "error", "no-answer")

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


@dataclass(frozen=True)
class Conversation:
    id: int
    title: str | None
    model: str
    settings: dict
    created_at: str
    updated_at: str
    messages: list[Message] = field(default_factory=list)


MESSAGE_COLUMNS = (
    "id, conversation_id, position, role, content, reasoning, state, model, stats, finish_reason, "
    "reasoning_seconds, created_at, updated_at"
)


def message_from_row(row: tuple) -> Message:
    values = list(row)
    values[8] = json.loads(values[8]) if values[8] else None
    return Message(*values)


def check(value: str, allowed: tuple[str, ...], what: str) -> None:
    if value not in allowed:
        raise ValueError(f"{what} must be one of {', '.join(allowed)}, not {value!r}")
