"""The chat's code fences, and display math: a fence of info string MATH_INFO (math_markdown.py writes them)
is a formula, centred on its own lines, its boxed answer bold in its frame, with no code background.

Its lines come padded to one width, so centring them one by one keeps aligned rows and frames aligned; the
widget keeps that padding (Textual's fence strips the end of the code, and with it the last line's).
"""

from __future__ import annotations

from textual.content import Content, Span
from textual.widgets._markdown import MarkdownBlock, MarkdownFence

from deskseek.chat.texmath import BOX_CLOSE, BOX_OPEN
from deskseek.tui.math_markdown import MATH_INFO


def styled(text: str) -> Content:
    """Text with BOX_OPEN ... BOX_CLOSE marks as Content, the marked parts bold."""
    plain, spans, start = "", [], None
    for char in text:
        if char == BOX_OPEN:
            start = len(plain)
        elif char == BOX_CLOSE and start is not None:
            spans.append(Span(start, len(plain), "bold"))
            start = None
        elif char not in (BOX_OPEN, BOX_CLOSE):
            plain += char
    return Content(plain, spans=spans)


class Fence(MarkdownFence):
    DEFAULT_CSS = """
    Fence.-math {
        background: transparent;
        margin: 0 0 1 0;
        overflow: hidden hidden;
        & > Label {
            width: 1fr;
            padding: 0;
            text-align: center;
        }
    }
    """

    def __init__(self, markdown, token, code: str) -> None:
        self.math = token.info == MATH_INFO
        super().__init__(markdown, token, token.content.rstrip("\n") if self.math else code)
        self.set_class(self.math, "-math")

    @classmethod
    def highlight(cls, code: str, language: str, ansi: bool = False, dark: bool = False) -> Content:
        if language == MATH_INFO:
            return styled(code)
        return super().highlight(code, language, ansi=ansi, dark=dark)

    async def _update_from_block(self, block: MarkdownBlock) -> None:
        if isinstance(block, Fence) and block.math == self.math:
            await super()._update_from_block(block)
        else:  # a fence became a formula's block, or the other way: a new widget
            await MarkdownBlock._update_from_block(self, block)
