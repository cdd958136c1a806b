"""How the history's SQLite failures read to a user: one line each, saying what to do."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from deskseek.errors import Busy, DeskseekError, DiskFull, NotFound


def no_conversation(conversation_id: int) -> NotFound:
    return NotFound(f"no conversation with id {conversation_id} (`deskseek history list` shows them)")


def user_facing(err: sqlite3.OperationalError, path: Path | None) -> Exception:
    """A full disk or a stuck lock is the user's to fix, so it gets a readable line; anything else is a bug."""
    text = str(err)
    if "full" in text:
        return DiskFull(f"the disk is full: the chat history at {path} could not be saved")
    if "disk I/O error" in text:
        return DiskFull(f"the chat history at {path} could not be written ({text}; is the disk full?)")
    if "locked" in text or "busy" in text:
        return Busy(f"the chat history at {path} is locked by another program; try again")
    if "readonly" in text:
        return DeskseekError(f"the chat history at {path} is read-only: {text}")
    return DeskseekError(f"the chat history at {path} could not be used: {text}")


