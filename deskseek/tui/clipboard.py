"""What the chat copies and how: code blocks found in the model's own Markdown, sent to the clipboard by OSC 52.

A terminal app has one way to reach the clipboard that works over ssh: the OSC 52 escape sequence, which
Textual's `App.copy_to_clipboard` writes (and keeps in `app.clipboard`). The terminal may ignore it, and
nothing comes back to say so, so the note after a copy says where it went, and where this environment
suggests it may not arrive (`caveat`) it says why and what to do instead.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field

from markdown_it import MarkdownIt

_PARSER = MarkdownIt("commonmark")


@dataclass(frozen=True)
class CodeBlock:
    language: str  # the fence's first word ("" when none)
    code: str  # what is between the fences, as the model wrote it (no fences, no list indentation)
    line: int = field(default=0, compare=False)  # where its opening fence is in the Markdown, from 0

    @property
    def label(self) -> str:
        lines = self.code.count("\n") + (not self.code.endswith("\n"))
        return f"{self.language or 'code'}, {lines} line{'s' * (lines != 1)}"


def code_blocks(markdown: str) -> list[CodeBlock]:
    """Every fenced block of `markdown`, in order (CommonMark's reading: nested in lists and quotes too)."""
    return list(_parsed(markdown))


@functools.lru_cache(maxsize=256)
def _parsed(markdown: str) -> tuple[CodeBlock, ...]:
    """Each key in selection mode reads every answer again: a finished one is parsed once."""
    return tuple(CodeBlock(token.info.split()[0] if token.info.strip() else "", token.content, token.map[0])
                 for token in _PARSER.parse(markdown) if token.type == "fence")


def caveat(env: Mapping[str, str] | None = None) -> str:
    """Why OSC 52 may not reach the clipboard here, and what to do instead; "" where nothing suggests so."""
    env = os.environ if env is None else env
    if env.get("TERM") == "linux":
        return "the Linux console has no clipboard: run deskseek in a terminal emulator to copy"
    if env.get("TMUX") and _tmux_clipboard() not in ("on",):
        return ("tmux passes it on only with `set -g set-clipboard on` (in ~/.tmux.conf), "
                "or hold Shift and drag to select")
    if env.get("STY"):
        return "GNU screen does not pass it on: hold Shift and drag to select"
    if env.get("TERM_PROGRAM") == "Apple_Terminal":
        return "macOS Terminal ignores it: use iTerm2, kitty or WezTerm, or hold Fn (⌥ in some setups) and drag"
    if env.get("VTE_VERSION") and not env.get("TERM_PROGRAM"):
        return "GNOME Terminal and other VTE terminals ignore it: hold Shift and drag to select"
    return ""


@functools.cache
def _tmux_clipboard() -> str:
    """tmux's set-clipboard option ("on", "external", "off"); "" when it cannot be asked."""
    if shutil.which("tmux") is None:
        return ""
    try:
        done = subprocess.run(["tmux", "show-options", "-gv", "set-clipboard"], capture_output=True, text=True,
                              timeout=2)
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def copy(app, text: str, what: str) -> None:
    """Send `text` to the clipboard and say so: `what` names it ("The answer", "Code block (python, 3 lines)")."""
    app.copy_to_clipboard(text)
    why = caveat()
    if why:
        app.notify(f"{what} sent to the terminal's clipboard (OSC 52); if nothing was copied, your terminal "
                   f"does not support it: {why}.", timeout=10, markup=False)
    else:
        app.notify(f"{what} copied to the clipboard (OSC 52).", markup=False)
