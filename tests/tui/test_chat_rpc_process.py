"""`deskseek chat --rpc` in a real terminal: a worker killed mid-reply ends that reply with a line, the app goes on."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import shutil
import struct
import subprocess
import termios
import time

import pytest

from tests.conftest import REPO_ROOT
from tests.engines.test_local import starter_path  # noqa: F401  (session fixture)
from tests.fixtures.rpc_workers import PLANS, DroppingWorker, start_workers
from tests.tui.test_chat_process import answer_after, chat_argv, conversation, ready, terminal  # noqa: F401

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


def unboxed(screen: str) -> str:
    """The screen's words in order, without the borders of panes and notices (a notice wraps inside its box)."""
    return " ".join(re.sub(r"[│▌▎▊▔▁▏]", " ", screen).split())


def test_a_worker_killed_mid_reply_ends_the_reply_on_screen_and_the_app_goes_on(terminal, starter_path, home):  # noqa: F811
    kept, victim = workers = start_workers(home, 2)
    try:
        term = terminal()
        term.start(chat_argv("--model", str(starter_path), "--temperature", "0", "--max-tokens", "3000",
                             "--rpc", f"{kept.endpoint},{victim.endpoint}"))
        term.wait_for("the model to load on the workers", ready(starter_path.name))
        prompt = "Write a long story about a dragon."
        term.send_text(prompt)
        term.send_key("Enter")
        term.wait_for("the reply to stream", lambda s: len(answer_after(s, prompt).split()) >= 8)
        victim.kill()
        gone = f"worker {victim.endpoint} went away"
        term.wait_for("the reply to end with the lost worker named", lambda s: gone in " ".join(s.split()))
        # the app still takes input: the next message is refused with why (a notice), and given back to the box
        term.send_text("Are you there?")
        term.send_key("Enter")
        term.wait_for("the next message to be refused with the reason",
                      lambda s: "went away. This model cannot go on" in unboxed(s))
        assert "Are you there?" not in [row.strip() for row in conversation(term.screen())]
        term.send_key("C-q")
        assert term.wait_exit() == 0, term.transcript()
    finally:
        for worker in workers:
            worker.stop()


def test_a_worker_lost_while_the_model_loads_ends_the_app_with_the_terminal_put_back(starter_path, home):  # noqa: F811
    """Nothing waits for a reply then, so the process ends (llama.cpp's thread cannot be handed an error): with its
    status and its line, written after the app's terminal modes are undone (the alternate screen left, the cursor
    shown), on a real pseudo-terminal whose every byte is read back."""
    dying = DroppingWorker(PLANS)  # tells its memory, then goes away when the weights start to arrive
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    process = subprocess.Popen([*chat_argv("--model", str(starter_path), "--rpc", dying.endpoint)],
                               stdin=follower, stdout=follower, stderr=follower, cwd=REPO_ROOT, start_new_session=True,
                               env={**os.environ, "TERM": "xterm-256color"})
    os.close(follower)
    written = b""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: every process holding the terminal has ended
                break
            if not chunk:
                break
            written += chunk
        elif process.poll() is not None:
            break
    os.close(leader)
    assert process.wait(10) == 4, written[-2000:]
    line = f"error: the connection to a worker ({dying.endpoint}) was lost".encode()
    assert b"\x1b[?1049h" in written and line in written  # the app had taken the screen, and the line came
    after_leaving = written.rsplit(b"\x1b[?1049l", 1)[1]
    assert after_leaving.startswith(b"\x1b[?25h") and line in after_leaving, written[-2000:]
