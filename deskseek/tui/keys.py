"""Every key of the chat app in one place: the app's bindings and the keys its widgets take.

F1 (screens/help.py), the command palette and the README's keys table are all made from these rows, so
none of them can drift from what the keys do: tests/tui/test_keys.py fails when the README's table is not
the one `markdown()` writes, and `python -m deskseek.tui.keys --write README.md` puts it back. A binding's
`description` is its short name in the footer; its `tooltip` is the line F1 and the README show.
"""

from __future__ import annotations

import sys
from pathlib import Path

from textual.binding import Binding

NARROW = 70  # columns: under this the conversation panel stays hidden until Ctrl+B (app.tcss, -narrow)

APP_BINDINGS = [
    Binding("escape", "stop", "Stop", tooltip='stop the reply (what was written is kept, marked "stopped")'),
    Binding("ctrl+r", "regenerate", "Regenerate", tooltip="write the last reply again"),
    Binding("ctrl+y", "copy_answer", "Copy answer",
            tooltip="copy the last answer, without its thought (OSC 52 clipboard)"),
    Binding("ctrl+e", "edit_last", "Edit last",
            tooltip="take back the last prompt (and its reply) into the prompt, to edit and send again"),
    Binding("ctrl+n", "new_chat", "New chat", tooltip="new chat, with the default settings"),
    Binding("ctrl+o", "switch_model", "Model", tooltip="switch model (the conversation keeps its settings)"),
    Binding("ctrl+s", "settings", "Settings",
            tooltip="settings for this conversation, saved with it: temperature, top-p, max tokens, think budget, "
                    "the thought's writing systems, system prompt"),
    Binding("ctrl+f", "focus_search", "Search", show=False,
            tooltip="search every chat (prompts, answers, thoughts) in the conversation panel; "
                    "Enter opens the first hit, Down goes through them"),
    Binding("ctrl+b", "toggle_sidebar", "Panel",
            tooltip=f"show or hide the conversation panel (under {NARROW} columns it stays hidden until asked for)"),
    Binding("ctrl+t", "toggle_thoughts", "Thoughts", tooltip="show or hide thoughts (they are still stored)"),
    Binding("ctrl+l", "toggle_tex", "Raw TeX", show=False,
            tooltip="show formulas as the model wrote them (LaTeX) or as readable text"),
    Binding("ctrl+k", "copy_code", "Copy code",
            tooltip="copy the last code block of the answers, without its fences (in selection mode: "
                    "the selected message's)"),
    Binding("ctrl+g", "select_mode", "Select",
            tooltip="selection mode: move through prompts, thoughts, answers and code blocks, and copy one"),
    Binding("ctrl+d", "attach_file", "Attach",
            tooltip="attach a text file: a path input (Tab or Right completes) that adds a /file line to the prompt"),
    Binding("f1", "help", "Help", tooltip="this list of keys"),
    Binding("ctrl+q", "quit", "Quit", tooltip="quit", priority=True),
]

PANEL_BINDINGS = [  # the conversation panel's own (widgets/conversation_panel.py), on its highlighted row
    Binding("f2", "rename", "Rename", tooltip="in the conversation panel: rename the highlighted conversation"),
    Binding("delete", "delete", "Delete",
            tooltip="in the conversation panel: delete the highlighted conversation (asks first)"),
]

PROMPT_KEYS = [  # the prompt's own keys (widgets/prompt.py), shown before the app's
    ("Enter", "send (while a reply is being written the text stays in the prompt: Esc, then Enter)"),
    ("Ctrl+J", "new line in the prompt"),
    ("Up / Down", "earlier prompts"),
]
SELECTION_BINDINGS = [  # selection mode's keys (selection.py): they hold while its bar has the focus
    Binding("up,k", "move(-1)", "Previous", tooltip="selection mode: the previous item"),
    Binding("down,j", "move(1)", "Next", tooltip="selection mode: the next item"),
    Binding("home", "move(-1000000)", "First", show=False, tooltip="selection mode: the first item"),
    Binding("end", "move(1000000)", "Last", show=False, tooltip="selection mode: the last item"),
    Binding("y,enter", "copy", "Copy",
            tooltip="selection mode: copy the item (an answer without its thought, a code block without its fences)"),
    Binding("escape", "leave", "Leave", tooltip="selection mode: leave it, back to the prompt"),
]
OTHER_KEYS = [  # Textual's palette, the thought header's key (widgets/thinking.py), the prompt's /file line
    ("/file PATH", "a line of the prompt: the text file goes into the message as a fenced block headed by its "
                   "name (~ expands; refused when binary or larger than the context has room for)"),
    ("Ctrl+P", "command palette (every action above)"),
    ("click", "on a thought: expand or collapse it (Enter on its focused header does too)"),
]

_NAMES = {"escape": "Esc", "enter": "Enter", "up": "Up", "down": "Down", "end": "End"}
START, END = "<!-- keys: made by `python -m deskseek.tui.keys` -->", "<!-- end of keys -->"


def label(key: str) -> str:
    """A binding's key as people write it: "ctrl+r" is Ctrl+R, "escape" Esc, "f1" F1."""
    parts = key.split(",")[0].split("+")
    return "+".join(_NAMES.get(part, part.upper() if len(part) <= 3 else part.capitalize()) for part in parts)


def labels(key: str) -> str:
    """Every key of a binding: "up,k" is "Up / K"."""
    return " / ".join(label(name) for name in key.split(","))


def rows() -> list[tuple[str, str]]:
    """(key, what it does), in the order F1 and the README show them."""
    return (PROMPT_KEYS + [(label(b.key), b.tooltip) for b in APP_BINDINGS + PANEL_BINDINGS]
            + [(labels(b.key), b.tooltip) for b in SELECTION_BINDINGS] + OTHER_KEYS)


def markdown() -> str:
    lines = ["| key | does |", "| --- | --- |"] + [f"| {key} | {does} |" for key, does in rows()]
    return "\n".join([START, *lines, END])


def readme_table(readme: str) -> str | None:
    """The README's generated table, markers included; None when its markers are missing."""
    start, end = readme.find(START), readme.find(END)
    if start < 0 or end < start:
        return None
    return readme[start:end + len(END)]


def rewrite(readme: str) -> str:
    table = readme_table(readme)
    if table is None:
        raise ValueError(f"the README has no keys table between {START!r} and {END!r}")
    return readme.replace(table, markdown())


def main(argv: list[str]) -> int:
    """No argument: print the table. `--write FILE`: replace the table in FILE."""
    if argv[:1] == ["--write"] and len(argv) == 2:
        path = Path(argv[1])
        path.write_text(rewrite(path.read_text(encoding="utf-8")), encoding="utf-8")
        return 0
    print(markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
