"""`deskseek chat --rpc` in a real terminal: a worker killed mid-reply ends that reply with a line, the app goes on."""

from __future__ import annotations

import re
import shutil

import pytest

from tests.engines.test_local import starter_path  # noqa: F401  (session fixture)
from tests.fixtures.rpc_workers import start_workers
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
