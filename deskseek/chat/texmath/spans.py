"""Finding the formulas in streamed Markdown: `MathSpans.feed(text)` gives back the text so far as pieces,
`Text` and `Math`, holding back only what is still undecided (an open `$` or `\\[`, a trailing backslash).

Which text is a formula (the rules KaTeX-rendering chats use, with a bound on how long a formula waits):
- `\\(...\\)` and `$...$` are inline math, `\\[...\\]` and `$$...$$` display math; none spans a blank line.
- `$...$` stays on one line and is at most INLINE_CHARS long; the opening `$` is followed by a non-space, the
  closing one preceded by a non-space and not followed by a digit, and the first `$` after the opening one
  decides. So `$5 and $10` stays a price: the second `$` follows a space. Its text also may not read as
  prose: two words in a row outside braces (`$5 for each`) mean a price, said as soon as they come; nor
  hold a backtick (`$5; see `$HOME``: a code span starts there).
- Never inside code: fenced code blocks, and code spans (from a run of backticks to the next run of the
  same length, or the end of the paragraph). `\\$` is a dollar sign, as Markdown has it. (A block indented
  four spaces is not told apart from a list item's continued text, which is indented too: models fence
  their code.)
- A formula that never closes (within its bound) is text, and its opener just characters.

Streaming: every decision depends only on the text up to the point where it is made, and text waits only
while a decision is open, so feeding a reply in any pieces gives the pieces the whole text gives. The wait
is bounded (a blank line ends it, and INLINE_CHARS, INLINE_TEX_CHARS or DISPLAY_CHARS), an open formula is
scanned on from where the last look stopped, and each formula is converted once: the cost per token does
not grow with the reply.
"""

from __future__ import annotations

import re
from typing import NamedTuple

INLINE_CHARS = 300  # a `$...$` longer than this is not a formula (and a `$` waits at most this long)
INLINE_TEX_CHARS = 1000  # \(...\)
DISPLAY_CHARS = 4000  # \[...\] and $$...$$: a big aligned derivation or matrix
_HEAD = 200  # how much of a line is kept to look at: a fence's marker, a list item's or quote's prefix

_SPECIAL = re.compile(r"[$\\`\n]")
_CODE_SPECIAL = re.compile(r"`+|\n")
_FENCE = re.compile(r"( *)(`{3,}|~{3,})")
_MARKER = re.compile(r" *(?:`+|~+)?")  # what a fence's opening line starts with
_PROSE = re.compile(r"(?<![\\A-Za-z])[A-Za-z]{2,} [A-Za-z]{2}")
_INNER = re.compile(r"\{[^{}]*\}")
_PUNCTUATION = set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
# Inside a formula: a command or escaped character (skipped whole), `$$`, `$`, a blank line, a line end, a backtick.
_IN_MATH = re.compile(r"\\[\s\S]?|\$\$?|\n[ \t]*\n|\n|`")


class Text(NamedTuple):  # (NamedTuples: a dataclass costs the chat's start a few ms to build)
    text: str


class Math(NamedTuple):
    written: str  # as the model wrote it, delimiters included
    tex: str  # between the delimiters
    display: bool
    before: str  # the line before the opening delimiter (its first _HEAD characters): its indent and markers


class MathSpans:
    def __init__(self) -> None:
        self.buffer = ""  # received, not yet decided
        self.head = ""  # the current line's first characters
        self.line_seen = False  # the current line's start was looked at (for a fence)
        self.fence: tuple[int, str] | None = None  # (indent, marker) of an open code fence
        self.code = 0  # backticks of an open code span
        self.resume: tuple[str, int] | None = None  # (opener, offset): where to go on scanning a formula still open

    @property
    def held(self) -> int:
        """Characters received but not given back yet (a formula that may still close)."""
        return len(self.buffer)

    def feed(self, text: str) -> list[Text | Math]:
        self.buffer += text
        return self._advance(final=False)

    def close(self) -> list[Text | Math]:
        """The end of the text: whatever waited is decided (an unclosed formula is text)."""
        return self._advance(final=True)

    def _advance(self, *, final: bool) -> list[Text | Math]:
        out: list[Text | Math] = []
        buffer, at = self.buffer, 0
        while at < len(buffer):
            step = self._step(buffer, at, final, out)
            if step is None:
                break  # undecided: wait for more text
            at = step
        self.buffer = buffer[at:]
        return out

    def _step(self, buffer: str, at: int, final: bool, out: list) -> int | None:
        """Decides what starts at `at`, puts it in `out`; the position after it, or None to wait."""
        if self.fence is not None:
            newline = buffer.find("\n", at)
            end = len(buffer) if newline < 0 else newline + 1
            return self._text(out, buffer[at:end], at)
        if not self.line_seen:
            return self._line_start(buffer, at, final, out)
        if self.code:
            found = _CODE_SPECIAL.search(buffer, at)
            if found is None:
                return self._text(out, buffer[at:], at)
            if found.group() != "\n":
                if found.end() == len(buffer) and not final:
                    return self._text(out, buffer[at:found.start()], at) if found.start() > at else None
                if len(found.group()) == self.code:
                    self.code = 0
            return self._text(out, buffer[at:found.end()], at)
        found = _SPECIAL.search(buffer, at)
        if found is None:
            return self._text(out, buffer[at:], at)
        if found.start() > at:
            return self._text(out, buffer[at:found.start()], at)
        char = buffer[at]
        if char == "\n":
            return self._text(out, "\n", at)
        if char == "`":
            run = re.compile(r"`+").match(buffer, at)
            if run.end() == len(buffer) and not final:
                return None
            self.code = len(run.group())
            return self._text(out, run.group(), at)
        if at + 1 == len(buffer) and not final:
            return None  # `$` may be `$$`, `\` may be `\(`
        following = buffer[at + 1] if at + 1 < len(buffer) else ""
        if char == "\\" and following not in ("(", "["):
            escaped = 2 if following in _PUNCTUATION else 1  # `\$` is a dollar sign, `\\` a backslash
            return self._text(out, buffer[at:at + escaped], at)
        opener = "$$" if buffer.startswith("$$", at) else buffer[at:at + 2] if char == "\\" else "$"
        end = self._formula_end(buffer, at, opener, final)
        if end is None:
            return None
        if end < 0:
            return self._text(out, opener, at)
        written = buffer[at:end]
        closer = 1 if opener == "$" else 2
        out.append(Math(written, written[len(opener):-closer], opener in ("$$", "\\["), self.head))
        self._track(written)
        self.line_seen = True  # the line goes on after the formula: no fence can open there
        return end

    def _formula_end(self, buffer: str, at: int, opener: str, final: bool) -> int | None:
        """Where the formula opened at `at` ends (after its closer); -1: it is no formula; None: not known yet.

        A formula still open waits at the buffer's start; the next look resumes where this one stopped (at
        its last token that more text could change), so each character is scanned about once."""
        resume = self.resume[1] if self.resume is not None and at == 0 and self.resume[0] == opener else 0
        end, stopped = self._scan(buffer, at, opener, final, at + max(resume, len(opener)))
        self.resume = (opener, stopped - at) if end is None else None  # the buffer will start at the opener
        return end

    def _scan(self, buffer: str, at: int, opener: str, final: bool, scan_from: int) -> tuple[int | None, int]:
        start = at + len(opener)
        inline_dollar = opener == "$"
        if inline_dollar and (start == len(buffer) or buffer[start].isspace()):
            return -1, 0
        closer = {"$": "$", "$$": "$$", "\\(": "\\)", "\\[": "\\]"}[opener]
        limit = {"$": INLINE_CHARS, "\\(": INLINE_TEX_CHARS}.get(opener, DISPLAY_CHARS)
        stopped = None  # the last token, where more text could change it
        for found in _IN_MATH.finditer(buffer, scan_from):
            if found.start() - start > limit:
                return -1, 0
            token = found.group()
            # More text could change the last token ("\n" may become a blank line, "$" "$$", a backslash a
            # closer): the next look starts there; else at the end of what was scanned.
            stopped = found.start() if token in ("\n", "$", "\\") else None
            if (token.startswith("\n") and len(token) > 1) or (inline_dollar and token in ("\n", "`")):
                return -1, 0  # a blank line; for `$`, also a line end or a backtick (`$5, see `$HOME``)
            if token == "\\" and not final:
                return None, stopped  # a backslash at the end: `\)` or `\]` may be coming
            if inline_dollar and token.startswith("$"):
                return self._dollar_closes(buffer, start, found.start(), final), stopped
            if token == opener and opener in ("\\(", "\\["):
                return -1, 0  # opened again before it closed: the first one never did
            if token == closer:
                return (found.end() if found.start() > start else -1), 0
        if inline_dollar and self._prose(buffer[start:]):
            return -1, 0
        if len(buffer) - start > limit or final:
            return -1, 0
        return None, len(buffer) if stopped is None else stopped

    def _dollar_closes(self, buffer: str, start: int, dollar: int, final: bool) -> int | None:
        content = buffer[start:dollar]
        if not content or content[-1].isspace() or self._prose(content):
            return -1
        if dollar + 1 == len(buffer) and not final:
            return None  # a digit after it would make it a price
        if dollar + 1 < len(buffer) and buffer[dollar + 1].isdigit():
            return -1
        return dollar + 1

    @staticmethod
    def _prose(content: str) -> bool:
        """Two words in a row outside braces: a price's sentence, not a formula (`\\text{for each}` is one)."""
        while (inner := _INNER.sub("", content)) != content:
            content = inner
        return bool(_PROSE.search(content.split("{", 1)[0]))

    def _line_start(self, buffer: str, at: int, final: bool, out: list) -> int | None:
        """At a line's start: a code fence opens here, or the line is looked at as text."""
        newline = buffer.find("\n", at)
        line = buffer[at:] if newline < 0 else buffer[at:newline]
        marker = _MARKER.match(line)
        if marker.end() == len(line) and newline < 0 and not final:
            return None  # only spaces and the start of a marker so far
        opened = _FENCE.match(line)
        if opened and opened.group(2)[0] == "`":
            if newline < 0 and not final:
                return None  # "```x```" on one line is a code span, not a fence: the line's end tells
            if "`" in line[opened.end():]:
                opened = None
        self.line_seen = True
        if opened:
            end = self._text(out, buffer[at:(len(buffer) if newline < 0 else newline + 1)], at)
            self.fence = (len(opened.group(1)), opened.group(2))  # after its own line, which does not close it
            self.code = 0
            return end
        return at

    def _text(self, out: list, text: str, at: int) -> int:
        """`text`, found at `at`, is text: the position after it."""
        if out and isinstance(out[-1], Text):
            out[-1] = Text(out[-1].text + text)
        else:
            out.append(Text(text))
        self._track(text)
        return at + len(text)

    def _track(self, text: str) -> None:
        """Keeps the line state: the head of the current line, fences closing, paragraphs ending."""
        while text:
            newline = text.find("\n")
            if newline < 0:
                if len(self.head) < _HEAD:
                    self.head += text[:_HEAD - len(self.head)]
                return
            if len(self.head) < _HEAD:
                self.head += text[:min(newline, _HEAD - len(self.head))]
            self._line_done(self.head)
            self.head, self.line_seen = "", False
            text = text[newline + 1:]

    def _line_done(self, line: str) -> None:
        if self.fence is not None:
            indent, marker = self.fence
            stripped = line.lstrip(" ")
            if (len(line) - len(stripped) <= indent + 3 and stripped.rstrip().startswith(marker)
                    and set(stripped.rstrip()) == {marker[0]}):
                self.fence = None
        elif not line.strip():
            self.code = 0  # a paragraph ends: an unclosed code span was only a backtick


class SpanRenderer:
    """A face's streaming converter: raw text in, the face's text out, formulas rendered as they close.

    The faces (the chat's Markdown, `run`'s terminal) differ only in how a piece looks: `_after_block`
    (text, told whether a display block just ended its line), `_display` and `_inline` (a formula).
    """

    spans: MathSpans

    def feed(self, text: str) -> str:
        return self._render(self.spans.feed(text))

    def close(self) -> str:
        return self._render(self.spans.close())

    def _render(self, pieces: list[Text | Math]) -> str:
        out = []
        for piece in pieces:
            if isinstance(piece, Text):
                out.append(self._after_block(piece.text))
            elif piece.display:
                out.append(self._display(piece))
            else:
                out.append(self._after_block("") + self._inline(piece))
        return "".join(out)

    def _after_block(self, text: str) -> str:
        raise NotImplementedError

    def _display(self, piece: Math) -> str:
        raise NotImplementedError

    def _inline(self, piece: Math) -> str:
        raise NotImplementedError
