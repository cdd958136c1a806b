"""How a formula's parts are put together: in a line, the parentheses a fraction's parts need (`grouped`);
in two dimensions, on a display line, a framed answer, aligned rows, a matrix, side by side on a common line.

A `Block` is lines of equal width (in terminal cells) with one of them the baseline, the line text beside
it continues. `beside` sets blocks next to each other on their baselines, as TeX sets `x = \\boxed{7}`:

        ┌───┐
    x = │ 7 │
        └───┘

Widths count terminal cells: a CJK letter takes two, a combining accent none, and the boxed-text markers
(BOX_OPEN, BOX_CLOSE: the faces turn them into bold) none.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from deskseek.chat.texmath import BOX_CLOSE, BOX_OPEN, symbols

# The environments a display formula lays out, by how: rows aligned at `&`, centred rows, cases, matrices.
_ALIGNED = {"aligned", "align", "align*", "alignat", "alignat*", "alignedat", "split", "eqnarray", "eqnarray*"}
_CENTRED = {"gather", "gather*", "gathered", "equation", "equation*", "multline", "multline*"}
_CASES = {"cases": "{", "dcases": "{", "rcases": "}"}
_MATRICES = {"matrix": ("", ""), "smallmatrix": ("", ""), "pmatrix": ("(", ")"), "bmatrix": ("[", "]"),
             "Bmatrix": ("{", "}"), "vmatrix": ("|", "|"), "Vmatrix": ("‖", "‖")}
KNOWN = _ALIGNED | _CENTRED | set(_CASES) | set(_MATRICES)


def cells(text: str) -> int:
    width = 0
    for char in text:
        if char in (BOX_OPEN, BOX_CLOSE) or unicodedata.combining(char):
            continue
        width += 2 if unicodedata.east_asian_width(char) in "WF" else 1
    return width


def pad(text: str, width: int, align: str = "l") -> str:
    """`text` in `width` cells: aligned left, right or centred ("l", "r", "c")."""
    room = max(width - cells(text), 0)
    if align == "r":
        return " " * room + text
    if align == "c":
        return " " * (room // 2) + text + " " * (room - room // 2)
    return text + " " * room


@dataclass
class Block:
    lines: list[str]
    base: int = 0  # the line that text beside the block continues

    @property
    def width(self) -> int:
        return max((cells(line) for line in self.lines), default=0)

    def padded(self) -> list[str]:
        width = self.width
        return [pad(line, width) for line in self.lines]


def beside(blocks: list[Block]) -> Block:
    """Blocks left to right, their baselines on one line."""
    above = max((block.base for block in blocks), default=0)
    below = max((len(block.lines) - block.base - 1 for block in blocks), default=0)
    rows = [""] * (above + below + 1)
    for block in blocks:
        width, top = block.width, above - block.base
        lines = block.padded()
        for row in range(len(rows)):
            inside = 0 <= row - top < len(lines)
            rows[row] += lines[row - top] if inside else " " * width
    return Block(rows, above)


def framed(text: str) -> Block:
    """A one-line formula in a box, its text marked to stand out: the final answer, as `\\boxed` means."""
    rule = "─" * (cells(text) + 2)
    return Block([f"┌{rule}┐", f"│ {BOX_OPEN}{text}{BOX_CLOSE} │", f"└{rule}┘"], 1)


def table(rows: list[list[str]], aligns: str, gaps: list[str]) -> list[str]:
    """Cells in columns: `aligns` gives each column's alignment (the last one repeats), `gaps` what goes
    between column k and k+1 (the last one repeats)."""
    columns = max(len(row) for row in rows)
    widths = [max((cells(row[k]) for row in rows if k < len(row)), default=0) for k in range(columns)]
    lines = []
    for row in rows:
        parts = []
        for k in range(columns):
            if k:
                parts.append(gaps[min(k - 1, len(gaps) - 1)])
            parts.append(pad(row[k] if k < len(row) else "", widths[k], aligns[min(k, len(aligns) - 1)]))
        lines.append("".join(parts))
    return lines


# Tall delimiters, for a matrix or cases of more than one row: (top, middle, bottom, one row).
TALL = {
    "(": ("⎛", "⎜", "⎝", "("), ")": ("⎞", "⎟", "⎠", ")"),
    "[": ("⎡", "⎢", "⎣", "["), "]": ("⎤", "⎥", "⎦", "]"),
    "|": ("│", "│", "│", "|"), "‖": ("‖", "‖", "‖", "‖"),
}


def fence(lines: list[str], left: str, right: str) -> Block:
    """Lines between delimiters as tall as they are: ( ) [ ] | ‖, `{` (cases) or nothing."""
    height = len(lines)
    out = []
    for row, line in enumerate(lines):
        out.append(_delimiter(left, row, height) + line + _delimiter(right, row, height))
    return Block(out, (height - 1) // 2)


def _delimiter(kind: str, row: int, height: int) -> str:
    if not kind:
        return ""
    if kind in ("{", "}"):
        return _brace(kind, row, height)
    top, middle, bottom, single = TALL[kind]
    if height == 1:
        return single
    return top if row == 0 else bottom if row == height - 1 else middle


def _brace(kind: str, row: int, height: int) -> str:
    if height == 1:
        return kind
    if height == 2:
        return ("⎰", "⎱")[row] if kind == "{" else ("⎱", "⎰")[row]
    top, middle, bottom, extend = ("⎧", "⎨", "⎩", "⎪") if kind == "{" else ("⎫", "⎬", "⎭", "⎪")
    if row == 0:
        return top
    if row == height - 1:
        return bottom
    return middle if row == (height - 1) // 2 else extend


def environment(name: str, rows: list[list[str]]) -> Block:
    """An environment's rows of cells laid out as it means them: aligned, centred, cases or a matrix."""
    if name in _ALIGNED:
        return Block(table(rows, "rl", [" ", "\u2003\u2003"]))  # `x &= 5` pairs: right | left, then a quad
    if name in _CENTRED:
        return Block(table([[" ".join(row)] for row in rows], "c", [" "]), (len(rows) - 1) // 2)
    if name in _CASES:
        left, right = ("{", "") if _CASES[name] == "{" else ("", "}")
        return fence(table(rows, "l", ["  "]), left, right)
    left, right = _MATRICES[name]
    return fence(table(rows, "c", ["  "]), left, right)


# --- in a line: the parentheses a fraction's parts need ---

_SCRIPT_CHARS = "".join((set(symbols.SUPERSCRIPTS.values()) | set(symbols.SUBSCRIPTS.values()) | {"!"}) - {","})
_SCRIPTED = "[" + re.escape(_SCRIPT_CHARS) + "′]*"
# One thing to the reader: a number, a letter, ∞, a root of one, a differential (dx, ∂x, d²y), each with its
# scripts; or a function of a bracketed argument, f(x).
_ATOMIC = re.compile(r"(?:[0-9]+(?:[.,][0-9]+)?|[^\W\d_]|[∞∅]|√[^\W_]+|[d∂][²³]?[^\W\d_])" + _SCRIPTED)
_APPLIED = re.compile(r"[^\W\d_]+" + _SCRIPTED + r"(\(.*\))")
_LOW = set("+-−±∓/÷, ") | symbols.RELATIONS


def grouped(text: str, *, under: bool) -> str:
    """A fraction's part (or a root's radicand, `under`) in parentheses where the reading needs them:
    `a+b` over 2 is (a+b)/2; 2a under 1 is 1/(2a); a plain number, letter, dx or bracketed group needs none."""
    bare = "".join(char for char in text if not unicodedata.combining(char) and char not in (BOX_OPEN, BOX_CLOSE))
    applied = _APPLIED.fullmatch(bare)
    if _ATOMIC.fullmatch(bare) or _bracketed(bare) or (applied and _bracketed(applied.group(1))):
        return text
    if not under and not _low_operator(bare):
        return text
    return f"({text})"


def _bracketed(text: str) -> bool:
    pairs = {"(": ")", "[": "]", "{": "}", "|": "|", "⌊": "⌋", "⌈": "⌉", "⟨": "⟩"}
    if len(text) < 2 or pairs.get(text[0]) != text[-1]:
        return False
    depth = 0
    for position, char in enumerate(text):
        if char == text[0] and (char != "|" or position == 0):
            depth += 1
        elif char == text[-1]:
            depth -= 1
            if depth == 0 and position < len(text) - 1:
                return False
    return True


def _low_operator(text: str) -> bool:
    """Whether `text` has, outside brackets, an operator that binds looser than a fraction bar."""
    depth = 0
    for char in text:
        if char in "([{⌊⌈⟨":
            depth += 1
        elif char in ")]}⌋⌉⟩":
            depth -= 1
        elif depth == 0 and char in _LOW:
            return True
    return False
