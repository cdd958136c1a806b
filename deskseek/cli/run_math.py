"""`deskseek run` on a terminal: formulas as readable Unicode text, everything else as it streams.

Only on a terminal: into a pipe or a file, `run` prints the model's text byte for byte (a script that
reads it wants the TeX), and `--raw-tex` keeps the TeX on a terminal too. Inline math goes in its line,
`\\boxed{...}` bold; display math on its own lines, centred in the terminal's width, an answer in a frame. A
formula the converter cannot read prints as the model wrote it.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable

from deskseek.chat.texmath import BOX_CLOSE, BOX_OPEN, formula
from deskseek.chat.texmath.layout import cells
from deskseek.chat.texmath.spans import Math, MathSpans, SpanRenderer

BOLD = "\x1b[1m"


def _columns() -> int:
    return shutil.get_terminal_size().columns


class TerminalMath(SpanRenderer):
    """Streams raw text in, terminal text out. `unbold()` ends bold and puts back the section's style
    (the thought is dim, and the code that ends bold ends dim too)."""

    def __init__(self, *, unbold: Callable[[], str], columns: Callable[[], int] = _columns) -> None:
        self.spans = MathSpans()
        self.unbold = unbold
        self.columns = columns
        self.after_block = False  # a display formula was printed: its line end stands for the one after it

    def _after_block(self, text: str) -> str:
        if not self.after_block:
            return text
        rest = text.lstrip(" \t")
        if not rest and text:
            return ""
        self.after_block = False
        return rest[1:] if rest.startswith("\n") else rest

    def _styled(self, text: str) -> str:
        return text.replace(BOX_OPEN, BOLD).replace(BOX_CLOSE, self.unbold())

    def _inline(self, piece: Math) -> str:
        try:
            return self._styled(formula.inline(piece.tex))
        except formula.Unreadable:
            return piece.written

    def _display(self, piece: Math) -> str:
        self.after_block = False  # a block just before: its line end serves this one too
        try:
            lines = formula.display(piece.tex)
        except formula.Unreadable:
            return piece.written
        # Text before it on the line: that line ends. Only an indent: back to the margin, to centre.
        lead = "\n" if piece.before.strip() else "\r" if piece.before else ""
        width = max((cells(line) for line in lines), default=0)
        margin = " " * max((self.columns() - width) // 2, 0)
        self.after_block = True
        return lead + "".join(margin + self._styled(line).rstrip() + "\n" for line in lines)
