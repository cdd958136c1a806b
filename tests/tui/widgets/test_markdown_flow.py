"""MarkdownFlow: where text is cut into segments, and that the cuts never change what is on screen."""

from __future__ import annotations

import html
import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from textual.app import App
from textual.widgets import Markdown

from deskseek.tui.widgets.markdown_flow import Cutter, MarkdownFlow, segments

DOCUMENT = """\
## 1. Reading the file

Stream it line by line: `for line in f` reads in buffered chunks. 한국어 문장도 줄바꿈이 맞아야 합니다.

- time it on a real log
- merge per-file results

  a second paragraph inside the last item

1. split first
2. regex only where needed

```python
def summarize(path):

    counts = Counter()
Leading letters inside a fence never start a segment.

    return counts
```

After the fence comes a plain paragraph, which is a safe place to cut.

> A quote
>
> over two paragraphs

| level | count |
| ----- | ----: |
| ERROR | 12    |

<!--
a comment

Letters after a blank line, still inside the comment.
-->

Then the last paragraph 🎉 with an emoji and **bold** words.
"""


def cuts(text: str, limit: int) -> list[str]:
    return Cutter(limit).feed(text)


def test_pieces_join_back_to_the_text():
    pieces = cuts(DOCUMENT, 1)
    assert "".join(pieces) == DOCUMENT and len(pieces) > 3


def test_cuts_only_before_a_letter_after_a_blank_line():
    for piece in segments(DOCUMENT, 1)[1:]:
        assert piece[0].isalpha()
    starts = [piece.split("\n", 1)[0] for piece in segments(DOCUMENT, 1)[1:]]
    assert starts == [
        "Stream it line by line: `for line in f` reads in buffered chunks. 한국어 문장도 줄바꿈이 맞아야 합니다.",
        "After the fence comes a plain paragraph, which is a safe place to cut.",
        "Then the last paragraph 🎉 with an emoji and **bold** words.",
    ]  # not inside the list item, the fence, the quote, the table or the HTML comment


def test_no_cut_before_the_limit():
    assert segments(DOCUMENT, len(DOCUMENT) + 1) == [DOCUMENT]
    limited = segments(DOCUMENT, 400)
    assert all(len(piece) >= 400 for piece in limited[:-1])


def test_tilde_fences_and_longer_closing_fences():
    text = "~~~~\nx\n\nletters\n~~~\n\nstill inside\n~~~~~\n\nOutside now\n"
    assert segments(text, 1)[1:] == ["Outside now\n"]


def test_an_indented_fence_inside_a_list_item():
    text = "- item\n\n  ```\n  code\n\n  ```\n\nAfter\n"
    assert segments(text, 1)[1:] == ["After\n"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=200), st.integers(1, 300))
def test_streaming_cuts_where_the_whole_text_cuts(sizes, limit):
    """However the model's tokens split the text, the segments are the same."""
    whole = cuts(DOCUMENT, limit)
    cutter, streamed, position = Cutter(limit), [""], 0
    for size in sizes + [len(DOCUMENT)]:
        chunk = DOCUMENT[position:position + size]
        position += size
        pieces = cutter.feed(chunk)
        streamed[-1] += pieces[0]
        streamed.extend(pieces[1:])
        if position >= len(DOCUMENT):
            break
    assert [piece for piece in streamed if piece] == [piece for piece in whole if piece]


class OneMarkdown(App):
    TITLE = "markdown"

    def compose(self):
        yield Markdown(DOCUMENT)


class Flowing(App):
    TITLE = "markdown"

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def compose(self):
        yield MarkdownFlow(limit=self.limit)


async def screen_of(app: App, feed=None) -> tuple[str, int]:
    """The whole screen as SVG (text, colours, places), and how many Markdown widgets drew it."""
    async with app.run_test(size=(90, 70)) as pilot:
        if feed is not None:
            flow = app.query_one(MarkdownFlow)
            feed(flow)
            flow.close()
            await flow.wait()
        await pilot.pause(0.3)
        svg = re.sub(r"terminal-\d+", "terminal", app.export_screenshot())  # ids hash the whole screen
        return svg, len(app.query(Markdown))


@pytest.mark.parametrize("limit", [1, 150])
async def test_segments_render_exactly_like_one_markdown_widget(limit):
    expected, _ = await screen_of(OneMarkdown())
    rng = random.Random(limit)

    def in_tokens(flow: MarkdownFlow) -> None:
        position = 0
        while position < len(DOCUMENT):
            size = rng.randint(1, 12)
            flow.write(DOCUMENT[position:position + size])
            position += size

    rendered, widgets = await screen_of(Flowing(limit), in_tokens)
    assert widgets > 1
    assert rendered == expected


async def test_settled_segments_keep_their_height_and_the_live_one_grows():
    app = Flowing(150)
    async with app.run_test(size=(90, 70)) as pilot:
        flow = app.query_one(MarkdownFlow)
        flow.write(DOCUMENT)
        await pilot.pause(0.3)
        assert flow.live is not None and not flow.live.settled  # the last segment waits for more text
        assert all(segment.settled for segment in flow.segments()[:-1])
        flow.close()
        await flow.wait()
        assert all(segment.settled for segment in flow.segments()) and flow.rendered_chars == len(DOCUMENT)
        assert not flow.rendering


async def test_a_stored_reply_renders_whole_like_one_markdown_widget():
    """History: the text is complete, shown at full speed (not paced), and looks the same."""
    expected, _ = await screen_of(OneMarkdown())
    shown: list[MarkdownFlow] = []

    def stored(flow: MarkdownFlow) -> None:
        flow.show(DOCUMENT)
        shown.append(flow)

    rendered, widgets = await screen_of(Flowing(150), stored)
    assert rendered == expected and widgets > 1
    assert shown[0].closed and not shown[0].paced  # (the screen above proves every character is there)


# --- formulas: made readable before the Markdown parser, streamed like the rest ---------------------------

MATH_DOCUMENT = r"""There are \(2^3 = 8\) outcomes and $\binom{3}{2} = 3$ with two heads, at $5 and $10 a try.

1. The probability:
   \[
   P = \frac{3}{8} \approx 0.375
   \]
2. In code it stays `$x$`:

```python
price = "$5"  # \(not math\)
```

Unreadable \(\begin{pmatrix}1\end{pmatrix}\) stays as written.

**Final Answer**
\[
\boxed{\dfrac{3}{8}}
\]
"""


def streamed(document: str, seed: int):
    rng = random.Random(seed)

    def in_tokens(flow: MarkdownFlow) -> None:
        position = 0
        while position < len(document):
            size = rng.randint(1, 12)
            flow.write(document[position:position + size])
            position += size

    return in_tokens


def text_of(svg: str) -> str:
    """The characters on the screen (an SVG's text; the syntax highlighter's pieces of a line lose their spaces)."""
    return html.unescape(re.sub(r"<[^>]+>", "", svg)).replace("\xa0", " ")


@pytest.mark.parametrize("seed", [1, 2])
async def test_formulas_streamed_in_any_tokens_render_like_the_whole_reply(seed):
    """Each formula is rendered once complete: however the tokens cut it, the screen is the whole text's."""
    whole, _ = await screen_of(Flowing(150), lambda flow: flow.show(MATH_DOCUMENT))
    rendered, widgets = await screen_of(Flowing(150), streamed(MATH_DOCUMENT, seed))
    assert rendered == whole and widgets > 1
    shown = text_of(whole)
    assert "2³ = 8" in shown and "C(3, 2) = 3" in shown and "at $5 and $10 a try" in shown
    assert "P = 3/8 ≈ 0.375" in shown and "│ 3/8 │" in shown and "┌─────┐" in shown
    assert "$x$" in shown and '"$5"' in shown and r"\(not math\)" in shown
    assert r"\(\begin{pmatrix}1\end{pmatrix}\)" in shown and r"\frac" not in shown


async def test_display_math_is_centred():
    app = Flowing(2000)
    async with app.run_test(size=(90, 20)) as pilot:
        flow = app.query_one(MarkdownFlow)
        flow.show("Before.\n\\[\nx = \\boxed{7}\n\\]\nAfter.\n")
        await flow.wait()
        await pilot.pause(0.2)
        # Where the line starts: an SVG screenshot places each run of text at x = 12.2 px a column.
        starts = [float(x) / 12.2 for x, text in re.findall(r'<text[^>]*? x="([\d.]+)"[^>]*>([^<]*)</text>',
                                                              app.export_screenshot())
                  if html.unescape(text).replace("\xa0", " ").startswith("x = │")]
        assert len(starts) == 1 and abs(starts[0] + len("x = │ 7 │") / 2 - 45) <= 2  # the middle of 90 columns


async def test_raw_tex_shows_the_formulas_as_written_and_back():
    app = Flowing(150)
    async with app.run_test(size=(90, 70)) as pilot:
        flow = app.query_one(MarkdownFlow)
        flow.show(MATH_DOCUMENT)
        await flow.wait()
        await pilot.pause(0.2)
        readable = text_of(app.export_screenshot())
        flow.set_raw_tex(True)
        await flow.wait()
        await pilot.pause(0.2)
        raw = text_of(app.export_screenshot())
        assert r"\(2^3 = 8\)" in raw and r"\boxed{\dfrac{3}{8}}" in raw and "2³" not in raw
        assert "at $5 and $10" in raw and flow.source == MATH_DOCUMENT
        flow.set_raw_tex(False)
        await flow.wait()
        await pilot.pause(0.2)
        assert text_of(app.export_screenshot()) == readable


async def test_an_open_formula_waits_and_counts_as_not_yet_rendered():
    app = Flowing(150)
    async with app.run_test(size=(90, 20)) as pilot:
        flow = app.query_one(MarkdownFlow)
        flow.write("So \\[ x = \\frac{1}")
        await pilot.pause(0.3)
        assert flow.rendered_chars == len("So ") and r"\frac" not in text_of(app.export_screenshot())
        flow.write("{2} \\] done.")
        flow.close()
        await flow.wait()
        assert flow.rendered_chars == len(flow.source)
        assert "x = 1/2" in text_of(app.export_screenshot())
