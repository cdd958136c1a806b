"""Copying and attaching in a real terminal (tmux), with a real model: Ctrl+D's path input, completed with Tab,
puts a `/file` line in the prompt and Enter sends the file's text with the question (the history keeps it);
Ctrl+K and selection mode's `y` send OSC 52, which tmux (set-clipboard on) takes into its paste buffer."""

from __future__ import annotations

import shutil

import pytest

from deskseek.chat.history import History
from tests.engines.test_local import starter_path  # noqa: F401  (session fixture)
from tests.tui.test_chat_process import (  # noqa: F401  (the terminal fixture)
    CONTEXT_USED,
    chat_argv,
    conversation,
    ready,
    status_bar,
    terminal,
)

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")

NOTES = "Shopping list:\n- sea salt\n- 바다 소금\n"


def test_ctrl_d_attaches_a_file_and_enter_sends_it_with_the_question(
    terminal, starter_path, home, tmp_path, monkeypatch,  # noqa: F811
):
    (tmp_path / "shopping-notes.md").write_text(NOTES, encoding="utf-8")
    monkeypatch.setenv("HOME", str(tmp_path))  # the tmux server's, so the pane's: `~/` is tmp_path there
    term = terminal()
    term.start(chat_argv("--model", str(starter_path), "--temperature", "0", "--max-tokens", "8"))
    term.wait_for("the model to load", ready(starter_path.name))

    term.send_key("C-d")
    term.wait_for("the path input", lambda s: "Attach a text file" in s)
    term.send_text("~/shop")
    term.wait_for("the completion", lambda s: "shopping-notes.md" in s)
    term.send_key("Tab")
    term.send_key("Enter")
    line = "/file ~/shopping-notes.md"
    term.wait_for("the /file line in the prompt", lambda s: "Attach a text file" not in s and line in s)
    term.send_text("What is on it?")
    term.send_key("Enter")
    term.wait_for("the reply to finish (context use in the status bar)",
                  lambda s: CONTEXT_USED.search(status_bar(s)) and "What is on it?" in "\n".join(conversation(s)))
    shown = "\n".join(conversation(term.settled()))
    assert "[attached ~/shopping-notes.md: markdown, 3 lines]" in shown  # the file, as one line that names it
    assert "Shopping list:" not in shown

    term.send_key("C-q")
    assert term.wait_exit() == 0, term.transcript()
    with History(home / "history.sqlite3") as history:
        (summary,) = history.conversations()
        user = history.conversation(summary.id).messages[0]
    assert line not in user.content
    assert user.content == f"File: ~/shopping-notes.md\n```markdown\n{NOTES}```\nWhat is on it?"


def test_ctrl_k_and_selection_copy_reach_the_terminals_clipboard_by_osc_52(
    terminal, starter_path, home, tmp_path,  # noqa: F811
):
    """tmux with set-clipboard on takes an application's OSC 52 into its paste buffer: what Ctrl+K and selection
    mode's `y` copied is read back from tmux itself, so the escape sequence really left the app."""
    grammar = tmp_path / "code.gbnf"
    grammar.write_text('root ::= "Here:\\n\\n```python\\nprint(6 * 7)\\n```\\n"\n')
    term = terminal()
    term.start(chat_argv("--model", str(starter_path), "--temperature", "0", "--max-tokens", "40",
                         "--grammar-file", str(grammar)))
    term.tmux("set-option", "-g", "set-clipboard", "on")
    term.wait_for("the model to load", ready(starter_path.name))
    term.send_text("Print 6 times 7.")
    term.send_key("Enter")
    term.wait_for("the reply to finish", lambda s: CONTEXT_USED.search(status_bar(s)))
    term.send_key("C-k")
    # The note in its toast (wrapped): "copied to the clipboard"; tmux passes OSC 52 on, so no caveat
    term.wait_for("the copy note", lambda s: "copied to the" in s and "if nothing was copied" not in s)
    assert term.tmux("show-buffer") == "print(6 * 7)\n"
    term.send_key("C-g")
    term.wait_for("selection mode", lambda s: "Selected 3/3: code block 1 of answer 1" in s)  # no thought here
    term.send_key("Up")
    term.wait_for("the answer selected", lambda s: "Selected 2/3: answer 1" in s)
    term.send_text("y")
    term.wait_for("the answer in tmux's buffer", lambda s: term.tmux("show-buffer").startswith("Here:"))
    assert term.tmux("show-buffer") == "Here:\n\n```python\nprint(6 * 7)\n```\n"
    term.send_key("Escape")
    term.send_key("C-q")
    assert term.wait_exit() == 0, term.transcript()
