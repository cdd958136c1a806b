"""`deskseek chat` as a command, in real processes: what it refuses before the app ever starts.

(The app itself in a real terminal is tests/tui/test_chat_process.py's.)
"""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import time

from tests.conftest import REPO_ROOT

NO_TERMINAL = ("error: deskseek chat needs a terminal, and its {} not one; for pipes and scripts use "
               "`deskseek run`")


def chat(*args: str, **streams) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "deskseek.cli", "chat", *args], cwd=REPO_ROOT,
                          env=os.environ.copy(), timeout=60, **streams)
    return done, time.monotonic() - started


def test_chat_with_no_terminal_says_so_at_once_and_writes_nothing(home, tmp_path):
    """`chat </dev/null >out` waited forever for keys, drawing escape codes: now one line and exit 1."""
    out = tmp_path / "out"
    with out.open("wb") as stdout:
        done, took = chat(stdin=subprocess.DEVNULL, stdout=stdout, stderr=subprocess.PIPE)
    assert done.returncode == 1 and took < 30
    assert done.stderr.decode().splitlines() == [
        NO_TERMINAL.format("standard input, standard output and standard error are")]
    assert out.read_bytes() == b"" and not (home / "history.sqlite3").exists()


def test_chat_with_only_its_output_redirected_names_that_one(home, tmp_path):
    """A real terminal (a pseudo-terminal) for input and errors, a file for output."""
    leader, follower = pty.openpty()
    try:
        with (tmp_path / "out").open("wb") as stdout:
            done, _ = chat(stdin=follower, stdout=stdout, stderr=follower)
        os.close(follower)
        follower = None
        said = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # EIO: every copy of the terminal's other end is closed
                break
            if not chunk:
                break
            said += chunk
    finally:
        os.close(leader)
        if follower is not None:
            os.close(follower)
    assert done.returncode == 1
    assert said.decode().replace("\r\n", "\n").strip() == NO_TERMINAL.format("standard output is")


def test_resume_with_ephemeral_is_refused_with_the_reason(home):
    """`--resume 1 --ephemeral` said "no conversation with id 1" though `history list` showed it, and
    `--resume --ephemeral` opened an empty chat: the two do not go together, and it says why."""
    for args in (("--resume", "1", "--ephemeral"), ("--resume", "--ephemeral"), ("--ephemeral", "--resume")):
        done, _ = chat(*args, stdin=subprocess.DEVNULL, capture_output=True, text=True)
        assert done.returncode == 2 and done.stdout == ""  # two flags that do not go together: a usage error
        assert done.stderr.splitlines() == [
            "error: --ephemeral neither reads nor saves the chat history, so it cannot --resume a saved "
            "conversation; drop --ephemeral to continue it (it is saved as it goes on)"], args
