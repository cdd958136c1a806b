"""Who writes a streaming reply: this process, another one alive on this host, or nobody any more.

Several deskseeks may share one history (a chat, `deskseek history list`, a second chat). A reply row
carries its owner ("host:pid") and a heartbeat, so that opening the file never takes a live reply for
one whose process died.
"""

from __future__ import annotations

import os
import socket
import time

from deskseek.errors import DeskseekError

REMOTE_SILENCE_S = 120  # a reply owned on another host (a history on a shared folder) is dead after this long unheard


class ReplyGone(DeskseekError):
    """The row a streaming reply writes to was deleted (`deskseek history rm`) or taken over elsewhere."""


OWNER = f"{socket.gethostname()}:{os.getpid()}"


def owner_alive(owner: str | None, heartbeat_at: float | None) -> bool:
    """Whether the process that owns a streaming reply may still be writing it.

    On this host the process table says; a reply owned on another host (a history on a shared folder)
    is alive while it was heard from in the last REMOTE_SILENCE_S. Rows from before owners were kept
    have none: nobody is writing them any more.
    """
    if not owner:
        return False
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname():
        return heartbeat_at is not None and time.time() - heartbeat_at < REMOTE_SILENCE_S
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True  # it exists, as another user
    return True
