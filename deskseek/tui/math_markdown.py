"""A reply's Markdown with its formulas made readable, before the Markdown parser sees it (which would eat
TeX's backslashes: `\\[\\boxed{7}\\]` showed as `[\\boxed{7}]`). Pure text, no widgets: MarkdownFlow feeds it.

- Inline math becomes its Unicode text, every ASCII punctuation mark backslash-escaped so Markdown shows it
  as it is (`a*b` is not emphasis, `|x|` not a table cell); `\\boxed{...}` becomes bold.
- Display math becomes a fenced block of info string MATH_INFO, which widgets/math_fence.py centres, its
  boxed parts bold. The block takes the indent and quote markers of the line the formula was on, so a
  formula inside a list item stays in it; text after the formula on the same line goes on below it.
- A formula formula.py cannot read, and every formula in raw mode (the chat's key for it), is shown as
  the model wrote it: inline, escaped so that Markdown leaves its backslashes alone; display math in a
  `latex` code block, line for line.
"""

from __future__ import annotations

import re

from deskseek.chat.texmath import BOX_CLOSE, BOX_OPEN
from deskseek.chat.texmath.spans import Math, MathSpans, SpanRenderer

MATH_INFO = "deskseek-math"
_PUNCTUATION = re.compile(r"([!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~])")
_CONTAINER = re.compile(r"[ \t]*(?:>[ \t]?)*")  # a line's indent and block-quote markers
_LIST_ITEM = re.compile(r"(?:[-*+]|\d{1,9}[.)])(?:[ \t]+|$)")


def _converter():
    """formula.py, imported on the first formula, so that starting the chat app does not wait for it."""
    from deskseek.chat.texmath import formula

    return formula


def escaped(text: str) -> str:
    """Text that Markdown shows exactly as it is."""
    return _PUNCTUATION.sub(r"\\\1", text)


def as_written(written: str) -> str:
    """An inline formula as the model wrote it, escaped (its line breaks are spaces, as in the paragraph)."""
    return escaped(written)


def _bold(text: str) -> str:
    """Unicode text from formula.py as Markdown: escaped, its boxed parts in bold."""
    out = []
    for part in re.split(f"({BOX_OPEN}|{BOX_CLOSE})", text):
        out.append("**" if part in (BOX_OPEN, BOX_CLOSE) else escaped(part))
    return "".join(out)


def container(before: str) -> tuple[str, bool]:
    """From the text before a display formula on its line: the prefix its block's lines take (indent,
    quote markers, a list item's marker as spaces), and whether the line holds nothing else (the block
    can start right there)."""
    quote = _CONTAINER.match(before).group()
    rest = before[len(quote):]
    item = _LIST_ITEM.match(rest)
    if item:
        return quote + " " * item.end(), not rest[item.end():].strip()
    return quote, not rest.strip()


class MathMarkdown(SpanRenderer):
    """Streams raw Markdown in, readable Markdown out: `feed(text)` gives what is decided, `close()` the rest."""

    def __init__(self, *, raw_tex: bool = False) -> None:
        self.raw_tex = raw_tex
        self.spans = MathSpans()
        self.resume: str | None = None  # after a display block: the prefix the line after it takes

    @property
    def held(self) -> int:
        """Characters fed that wait for a formula to close."""
        return self.spans.held

    def _after_block(self, text: str) -> str:
        """The text that follows a display block: its line end was the block's own; more text on the same
        line goes on below the block, in the same list item or quote."""
        if self.resume is None:
            return text
        rest = text.lstrip(" \t")
        if not rest and text:
            return ""
        prefix, self.resume = self.resume, None
        return rest[1:] if rest.startswith("\n") else prefix + rest

    def _inline(self, piece: Math) -> str:
        formula = _converter()
        if self.raw_tex:
            return as_written(piece.written)
        try:
            return _bold(formula.inline(piece.tex))
        except formula.Unreadable:
            return as_written(piece.written)

    def _display(self, piece: Math) -> str:
        formula = _converter()
        prefix, line_start = container(piece.before)
        info = MATH_INFO
        try:
            if self.raw_tex:
                raise formula.Unreadable("raw TeX asked for")
            lines = formula.display(piece.tex)
        except formula.Unreadable:
            info, lines = "latex", _unindented(piece.written, prefix)
        lead = self._after_block("")
        if not line_start and not lead:
            lead = "\n" + prefix  # the paragraph's line ends here; the block starts on the next
        longest = max((len(run) for line in lines for run in re.findall("`+", line)), default=0)
        marker = "`" * max(3, longest + 1)
        block = [marker + info, *lines, marker]
        self.resume = prefix
        return lead + ("\n" + prefix).join(block) + "\n"


def _unindented(written: str, prefix: str) -> list[str]:
    """A formula's lines without the indent or quote markers of the block around it (its block adds them)."""
    lines = written.split("\n")
    return lines[:1] + [line[len(prefix):] if line.startswith(prefix) else line.lstrip(" \t>")
                        for line in lines[1:]]
