"""Markdown that grows without getting slower: a column of Markdown segments, only the last one live.

One Textual Markdown widget per reply makes every token dearer as the reply grows: each new block lays out
all the blocks before it again, and each append walks the whole source (at 20,000 tokens a layout took
over 100 ms, and key presses waited behind it). Here the text is cut into segments of about
SEGMENT_CHARS, at points where a cut cannot change how the text renders. Finished segments never change,
so Textual keeps their layout cached and an append costs the same at token 20,000 as at token 20.

Where a cut is safe (`Cutter`): at the start of a line that follows a blank line, outside a code fence or a
raw HTML block, when that line begins with a letter. Such a line can only open a new paragraph: it cannot
continue a list item (that would be indented), a block quote (">"), a table ("|"), or a fence. A paragraph
has no top margin, so the gap above it is the previous block's bottom margin either way. What a cut does
change: a link reference definition (`[id]: url`) only serves its own segment. LLMs write inline links.

Formulas (`\\(\\frac{3}{8}\\)`, `\\[\\boxed{7}\\]`) are made readable before the text reaches the cutter
(../math_markdown.py): the cutter and the segments see Markdown in which each formula is Unicode text, or a
fence that widgets/math_fence.py centres. A formula waits there until it is complete; `source` keeps the
model's own text, and `set_raw_tex` shows the formulas as it wrote them instead.
"""

from __future__ import annotations

import asyncio
import re
import time

from textual.containers import Vertical
from textual.widgets import Markdown

from deskseek.tui.math_markdown import MathMarkdown
from deskseek.tui.widgets.math_fence import Fence

SEGMENT_CHARS = 2000
# Rendering streamed text (parse, mount, lay out) takes at most this share of the UI thread's time, and
# one append at most this many characters (about 30 ms of work on a slow core): a key press never waits
# long behind text. Faster than that (over 1,000 tokens a second on two slow cores) the text falls behind
# and catches up, the keys staying quick. A stored reply from the history (`show`) is rendered at full
# speed, a segment per append: it is there at once when a conversation opens.
TEXT_SHARE = 0.5
MAX_APPEND = 1200

_FENCE = re.compile(r"^( *)(`{3,}|~{3,})")
# CommonMark's HTML blocks 1-5 may hold blank lines; they end at their own end marker, not at a blank line.
_RAW_HTML = [
    (re.compile(r"^ {0,3}<(pre|script|style|textarea)(\s|>|$)", re.I), re.compile(r"</(pre|script|style|textarea)>", re.I)),
    (re.compile(r"^ {0,3}<!--"), re.compile(r"-->")),
    (re.compile(r"^ {0,3}<\?"), re.compile(r"\?>")),
    (re.compile(r"^ {0,3}<![A-Za-z]"), re.compile(r">")),
    (re.compile(r"^ {0,3}<!\[CDATA\["), re.compile(r"\]\]>")),
]


class Cutter:
    """Follows streamed Markdown line by line and says where a new segment may begin."""

    def __init__(self, limit: int = SEGMENT_CHARS) -> None:
        self.limit = limit
        self.size = 0  # characters in the current segment
        self.line = ""  # the line being received, up to its newline
        self.after_blank = False  # the last complete line was blank
        self.fence: tuple[int, str] | None = None  # (indent, marker) of an open code fence
        self.raw_end: re.Pattern | None = None  # the end marker of an open raw HTML block

    def feed(self, text: str) -> list[str]:
        """Splits `text` into pieces: the first continues the current segment, each other one starts a new one."""
        pieces: list[str] = []
        start = 0
        position = 0
        while position < len(text):
            if self.line == "" and self._cut_here(text[position]):
                pieces.append(text[start:position])
                start, self.size = position, 0
            newline = text.find("\n", position)
            end = len(text) if newline < 0 else newline + 1
            self.line += text[position:end]
            self.size += end - position
            if newline >= 0:
                self._line_done(self.line[:-1])
                self.line = ""
            position = end
        pieces.append(text[start:])
        return pieces

    def _cut_here(self, first: str) -> bool:
        return (self.size >= self.limit and self.after_blank and self.fence is None and self.raw_end is None
                and first.isalpha())

    def _line_done(self, line: str) -> None:
        self.after_blank = not line.strip()
        if self.fence is not None:
            indent, marker = self.fence
            stripped = line.lstrip(" ")
            if (len(line) - len(stripped) <= indent + 3 and stripped.rstrip().startswith(marker)
                    and set(stripped.rstrip()) == {marker[0]}):
                self.fence = None
            return
        if self.raw_end is not None:
            if self.raw_end.search(line):
                self.raw_end = None
            return
        if opened := _FENCE.match(line):
            self.fence = (len(opened.group(1)), opened.group(2))
            return
        for start, end in _RAW_HTML:
            if opened := start.match(line):
                if not end.search(line, opened.end()):
                    self.raw_end = end
                return


def segments(text: str, limit: int = SEGMENT_CHARS) -> list[str]:
    """A whole text cut as streaming it in any pieces would cut it (non-empty pieces only)."""
    return [piece for piece in Cutter(limit).feed(text) if piece]


class Segment(Markdown):
    """One piece of the flow. Once settled (no more text will come) its height depends on the width alone.

    Textual asks a height-auto container for its content height with its parent's height in the question,
    and the flow's height grows with every block, so without the cache below every settled segment would
    lay out all of its blocks again on every layout pass: the cost this module exists to remove.

    A settled segment far from the viewport also drops its blocks (`cull`) and builds them again from its
    source when it comes near (`uncull`). Textual walks every displayed widget on every layout pass, and
    Python's full garbage collection walks every object (a block is about a hundred): a conversation that
    kept all its blocks would pause both for longer the longer it got (250 ms collections at 20,000 tokens).
    The cached height keeps the scroll geometry exact while the blocks are gone.
    """

    BLOCKS = {**Markdown.BLOCKS, "fence": Fence, "code_block": Fence}  # Fence: code, and display math

    def __init__(self) -> None:
        super().__init__()
        self.settled = False
        self.has_blocks = True
        self._want_blocks = True
        self._reconciling = False
        self._rebuilding = False
        self._height_for: tuple[int, int] | None = None  # (width, height)
        self.place: tuple[int, int] | None = None  # (top, height) in the conversation, kept by ConversationView

    @property
    def culled(self) -> bool:
        return not self.has_blocks

    def get_content_height(self, container, viewport, width: int) -> int:
        if not self.settled:
            return super().get_content_height(container, viewport, width)
        cached = self._height_for
        if cached is not None and cached[0] == width:
            return cached[1]
        if self.has_blocks and not self._rebuilding:
            self._height_for = (width, super().get_content_height(container, viewport, width))
            return self._height_for[1]
        # A new width and no blocks to measure (culled, or being rebuilt): a proportional guess for this
        # pass, and the blocks back, to be measured on the next.
        self.uncull()
        if cached is None:
            return 1
        return max(cached[1] * cached[0] // max(width, 1), 1)

    def cull(self) -> None:
        """Only with a height measured at the present width: the blocks must be there to measure a new one."""
        if self.settled and self._height_for is not None and self._height_for[0] == self.size.width:
            self._want(False)

    def uncull(self) -> None:
        self._want(True)

    def _want(self, blocks: bool) -> None:
        self._want_blocks = blocks
        if blocks != self.has_blocks and not self._reconciling:
            self._reconciling = True
            self.call_later(self._reconcile)

    async def _reconcile(self) -> None:
        """One change at a time, so a quick scroll away and back cannot leave blocks in a culled segment.
        While blocks come or go the cached height stands in for them, so nothing on screen jumps."""
        try:
            while self.has_blocks != self._want_blocks and self.is_attached:
                if self._want_blocks:
                    self._rebuilding = True
                    try:
                        await self.update(self.source)
                    finally:
                        self._rebuilding = False
                    self.has_blocks = True
                else:
                    self.has_blocks = False
                    await self.remove_children()
                    # Textual's caches of this widget's children would keep the dropped blocks alive.
                    self.displayed_children  # noqa: B018 (reading it refreshes the cached list)
                    self._clear_arrangement_cache()
        finally:
            self._reconciling = False


class MarkdownFlow(Vertical):
    """Streams Markdown into the last of a column of Segments, starting a new one at each safe cut.

    `write` returns at once: the text waits in a list, and the flow's own worker appends everything that
    came meanwhile in one go. Whoever hands over text (the app's message handler) must never wait for
    Markdown parsing and mounting: while a handler waits, the app's queue waits, key presses included.
    """

    DEFAULT_CSS = """
    MarkdownFlow {
        height: auto;
    }
    """

    def __init__(self, *, limit: int = SEGMENT_CHARS, classes: str | None = None, raw_tex: bool = False) -> None:
        super().__init__(classes=classes)
        self.limit = limit
        self.raw_tex = raw_tex
        self.cutter = Cutter(limit)
        self.math = MathMarkdown(raw_tex=raw_tex)
        self.source = ""  # the model's text, as it wrote it
        self.taken = 0  # characters of it the worker took from `pending`
        self.live: Segment | None = None
        self.pending: list[str] = []
        self.closed = False
        self.paced = True
        self.restart = False  # the worker starts over from the whole source (the formulas' mode changed)
        self._wake = asyncio.Event()
        self._worker = None

    def on_mount(self) -> None:
        self._worker = self.run_worker(self._run(), group="markdown-flow")

    def set_raw_tex(self, raw: bool) -> None:
        """Show the formulas as the model wrote them (TeX), or readable: the flow is rendered again."""
        if raw == self.raw_tex:
            return
        self.raw_tex, self.restart = raw, True
        self.pending = [self.source] if self.source else []
        if self._worker is not None and self._worker.is_finished:  # a finished reply: at full speed
            self.paced = False
            self._worker = self.run_worker(self._run(), group="markdown-flow")
        self._wake.set()

    def write(self, text: str) -> None:
        if text:
            self.source += text
            self.pending.append(text)
            self._wake.set()

    def show(self, text: str) -> None:
        """Text that is complete already (a stored reply): rendered at full speed, and the flow closed."""
        self.paced = False
        self.write(text)
        self.close()

    def close(self) -> None:
        """No more text: the last segment settles once what is pending has been appended."""
        self.closed = True
        self._wake.set()

    @property
    def rendering(self) -> bool:
        """Text written is still on its way into the Markdown widgets, or more may come."""
        return self._worker is None or not self._worker.is_finished

    async def wait(self) -> None:
        """Until everything written is in the Markdown widgets and the flow is closed."""
        if self._worker is not None:
            await self._worker.wait()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self.restart:
                await self._start_over()
            started = time.monotonic()
            text = "".join(self.pending)
            self.pending.clear()
            if self.paced and len(text) > MAX_APPEND:
                text, rest = text[:MAX_APPEND], text[MAX_APPEND:]
                self.pending.append(rest)
                self._wake.set()
            self.taken += len(text)
            await self._append(self.math.feed(text) if text else "")
            if self.closed and not self.pending and not self.restart:
                await self._append(self.math.close())  # a formula never closed: shown as written
                self._settle_live()
                return
            if text and self.paced:
                await self.wait_for_refresh()  # the layout and paint of this text count in its cost
                await asyncio.sleep((time.monotonic() - started) * (1 / TEXT_SHARE - 1))

    async def _append(self, markdown: str) -> None:
        for index, piece in enumerate(self.cutter.feed(markdown) if markdown else []):
            if index:
                self._settle_live()
            if piece:
                if self.live is None:
                    self.live = Segment()
                    await self.mount(self.live)
                await self.live.append(piece)  # text written meanwhile waits and goes in the next append

    async def _start_over(self) -> None:
        self.restart = False
        self.live = None
        self.taken = 0
        self.cutter = Cutter(self.limit)
        self.math = MathMarkdown(raw_tex=self.raw_tex)
        await self.remove_children()

    def _settle_live(self) -> None:
        if self.live is not None:
            self.live.settled = True
            self.live = None

    def segments(self) -> list[Segment]:
        return [child for child in self.children if isinstance(child, Segment)]

    @property
    def rendered_chars(self) -> int:
        """How much of the source the Markdown widgets hold (the rest waits for the worker's next append, or
        for a formula to close)."""
        return self.taken - self.math.held
