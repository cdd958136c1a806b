"""Two flows in a real terminal (tmux) with real processes: a model switch mid-reply answered by the new model,
and a second deskseek reading the history while the first streams into it.

The terminal helpers are test_chat_process.py's.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time

import pytest

from deskseek.chat.history import History
from deskseek.models import imports
from tests.conftest import REPO_ROOT
from tests.engines.test_local import starter_path  # noqa: F401  (session fixture)
from tests.fixtures import gguf_writers
from tests.tui.test_chat_process import (  # noqa: F401  (the terminal fixture)
    CONTEXT_USED,
    _peek_reply,
    answer_after,
    chat_argv,
    conversation,
    ready,
    status_bar,
    terminal,
)

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


def test_switching_model_mid_reply_in_a_real_terminal(terminal, starter_path, home, tmp_path):  # noqa: F811
    imports.import_model(starter_path, "smol")
    imports.import_model(gguf_writers.tiny_llama(tmp_path / "tiny.gguf"), "tiny")
    prompt, second = "Tell me a very long story about a lighthouse.", "Hello again"
    term = terminal()
    term.start(chat_argv("--model", "smol", "--temperature", "0", "--max-tokens", "800"))
    term.wait_for("smol to load", ready("smol"))
    term.send_text(prompt)
    term.send_key("Enter")
    term.wait_for("the answer to stream", lambda s: len(answer_after(s, prompt)) > 40)
    term.send_key("C-o")
    term.wait_for("the model picker", lambda s: "Switch model" in s)
    term.send_key("Down")
    term.send_key("Enter")
    term.wait_for("tiny to load", ready("tiny"))
    assert "stopped" in " ".join(conversation(term.screen())), term.last_screen
    term.send_text(second)
    term.send_key("Enter")
    term.wait_for("the new model's reply", lambda s: CONTEXT_USED.search(status_bar(s)) and answer_after(s, second))
    term.send_key("C-q")
    assert term.wait_exit() == 0, term.transcript()
    with History(home / "history.sqlite3") as history:
        (summary,) = history.conversations()
        messages = history.conversation(summary.id).messages
    assert [(m.role, m.state, m.model) for m in messages] == [
        ("user", "complete", None), ("assistant", "stopped", "smol"),
        ("user", "complete", None), ("assistant", "complete", "tiny")]


def test_a_second_process_reading_the_history_leaves_a_streaming_reply_alive(
        terminal, starter_path, home):  # noqa: F811
    prompt = "Count slowly from one to fifty in words."
    db_path = home / "history.sqlite3"
    term = terminal()
    term.start(chat_argv("--model", str(starter_path), "--temperature", "0", "--max-tokens", "150"))
    term.wait_for("the model to load", ready(starter_path.name))
    term.send_text(prompt)
    term.send_key("Enter")
    term.wait_for("the reply to stream", lambda s: len(answer_after(s, prompt)) > 10)
    assert (_peek_reply(db_path) or ("",))[0] == "streaming"
    listed = subprocess.run([sys.executable, "-m", "deskseek.cli", "history", "list"], capture_output=True,
                            text=True, timeout=60, cwd=REPO_ROOT)  # fmt: skip
    assert listed.returncode == 0 and prompt[:20] in listed.stdout, listed.stderr
    assert (_peek_reply(db_path) or ("",))[0] == "streaming"  # not taken for dead by the second process
    term.wait_for("the reply to finish", lambda s: CONTEXT_USED.search(status_bar(s)))
    deadline = time.monotonic() + 10  # the row is written as the reply ends: wait for it, not a fixed while
    while (_peek_reply(db_path) or ("",))[0] != "complete" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _peek_reply(db_path)[0] == "complete"
    term.send_key("C-q")
    assert term.wait_exit() == 0, term.transcript()


SYSTEM_PASTE = "\n".join(["You are a careful assistant for a hardware shop.", "",
                          *[f"  {n}. Rule number {n}: at most {n + 2} sentences." for n in range(1, 30)],
                          "", "End of rules."])


def test_a_system_prompt_pasted_in_a_real_terminal_is_kept_whole_and_saved(terminal, starter_path, home):  # noqa: F811
    """The terminal's own bracketed paste (tmux sends its lines ended by CR, as it does for a user's paste):
    every line reaches the model and the history, and `history show` prints them."""
    term = terminal()
    term.start(chat_argv("--model", str(starter_path), "--temperature", "0", "--max-tokens", "8"))
    term.wait_for("the model to load", ready(starter_path.name))
    term.send_key("C-s")
    term.wait_for("the settings", lambda s: "Settings for this conversation" in s)
    term.settled()  # the dialog has focused its first field: Tabs sent sooner would be undone by that
    for _ in range(5):  # temperature, top-p, max tokens, think budget, the thought's scripts, then the system prompt
        term.send_key("Tab")
    term.settled()
    term.tmux("set-buffer", "-b", "system", SYSTEM_PASTE)
    term.tmux("paste-buffer", "-p", "-b", "system", "-t", "main")
    term.wait_for("the end of the paste", lambda s: "End of rules." in s)
    term.send_key("C-s")
    term.wait_for("the settings to close", lambda s: "Settings for this conversation" not in s)
    term.send_text("Hello")
    term.send_key("Enter")
    term.wait_for("the reply", lambda s: CONTEXT_USED.search(status_bar(s)))
    term.send_key("C-q")
    assert term.wait_exit() == 0, term.transcript()
    with History(home / "history.sqlite3") as history:
        (summary,) = history.conversations()
        assert history.conversation(summary.id).system_prompt == SYSTEM_PASTE
    shown = subprocess.run([sys.executable, "-m", "deskseek.cli", "history", "show", str(summary.id)],
                           capture_output=True, text=True, timeout=60, cwd=REPO_ROOT)
    assert shown.returncode == 0 and f"## System\n\n{SYSTEM_PASTE.strip()}\n\n## You\n\nHello" in shown.stdout
