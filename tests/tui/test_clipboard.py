"""Where OSC 52 may not arrive, the copy note says why: from the environment a terminal leaves behind, and
tmux's own set-clipboard option asked of a real tmux server. Code blocks come out as CommonMark reads them."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid

import pytest

from deskseek.tui import clipboard
from deskseek.tui.clipboard import CodeBlock, caveat, code_blocks


def test_code_blocks_are_the_fences_contents_in_order_wherever_they_are():
    markdown = ("Text with `inline` code.\n\n```python title\nx = 1\n```\n\n> quoted:\n> ~~~\n> y\n> ~~~\n\n"
                "    indented, not fenced\n\n1. item\n\n   ````\n   ```nested```\n   ````\n")
    assert code_blocks(markdown) == [CodeBlock("python", "x = 1\n"), CodeBlock("", "y\n"),
                                     CodeBlock("", "```nested```\n")]
    assert [block.label for block in code_blocks(markdown)] == ["python, 1 line", "code, 1 line", "code, 1 line"]
    assert code_blocks("```\nnever closed\nstill code") == [CodeBlock("", "never closed\nstill code")]  # mid-reply
    assert CodeBlock("sh", "a\nb").label == "sh, 2 lines" and code_blocks("no code") == []


def test_a_plain_terminal_gets_no_caveat_and_the_ones_that_drop_osc_52_say_so():
    assert caveat({"TERM": "xterm-256color"}) == ""
    assert caveat({"TERM": "xterm-kitty", "TERM_PROGRAM": "WezTerm", "VTE_VERSION": "7600"}) == ""
    assert "Linux console" in caveat({"TERM": "linux"})
    assert "GNU screen" in caveat({"TERM": "screen", "STY": "123.pts-0"})
    assert "macOS Terminal" in caveat({"TERM": "xterm-256color", "TERM_PROGRAM": "Apple_Terminal"})
    assert "VTE" in caveat({"TERM": "xterm-256color", "VTE_VERSION": "7600"})


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
@pytest.mark.parametrize("setting", ["external", "on"])
def test_inside_tmux_the_caveat_follows_its_set_clipboard_option(setting, monkeypatch):
    socket = f"deskseek-clip-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE")}
    subprocess.run(["tmux", "-L", socket, "-f", "/dev/null", "new-session", "-d", "-s", "main", "sleep 60", ";",
                    "set-option", "-g", "set-clipboard", setting], env=env, check=True, timeout=20)
    try:
        path = subprocess.run(["tmux", "-L", socket, "display-message", "-p", "#{socket_path}"], env=env,
                              capture_output=True, text=True, check=True, timeout=20).stdout.strip()
        monkeypatch.setenv("TMUX", f"{path},1,0")  # as tmux sets it inside a pane: the server that is asked
        clipboard._tmux_clipboard.cache_clear()
        note = caveat({"TERM": "tmux-256color", "TMUX": os.environ["TMUX"]})
        assert (note == "") == (setting == "on")
        assert setting == "on" or "set -g set-clipboard on" in note
    finally:
        clipboard._tmux_clipboard.cache_clear()
        subprocess.run(["tmux", "-L", socket, "kill-server"], env=env, timeout=20)
