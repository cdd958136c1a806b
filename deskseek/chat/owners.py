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


class Conflict(DeskseekError):
    """Another deskseek changed the conversation since this one read it, or is still writing its last reply."""


def _started(pid: int | str) -> str:
    """When the process started (ticks since boot, and the boot's id), where /proc says: a pid the system
    gives again to a new process after ours died must not pass for ours. "" where it cannot be known."""
    try:
        boot = open("/proc/sys/kernel/random/boot_id", encoding="ascii").read().strip()[:8]
        stat = open(f"/proc/{pid}/stat", encoding="ascii", errors="replace").read()
        return f"{boot}.{stat.rpartition(')')[2].split()[19]}"
    except (OSError, IndexError):
        return ""


OWNER = f"{socket.gethostname()}:{os.getpid()}:{_started('self')}"


def owner_alive(owner: str | None, heartbeat_at: float | None) -> bool:
    """Whether the process that owns a streaming reply may still be writing it.

    On this host the process table says (the same pid, started at the same moment); a reply owned on
    another host (a history on a shared folder) is alive while it was heard from in the last
    REMOTE_SILENCE_S. Rows from before owners were kept have none: nobody is writing them any more.
    """
    if not owner:
        return False
    host, pid, started = (owner.split(":") + ["", ""])[:3]
    if host != socket.gethostname() or os.name == "nt":  # (on Windows, os.kill(pid, 0) would send Ctrl+C)
        return heartbeat_at is not None and time.time() - heartbeat_at < REMOTE_SILENCE_S
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        pass  # it exists, as another user
    return not started or started == _started(pid)
