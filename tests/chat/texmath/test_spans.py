"""Finding formulas in streamed Markdown: prices stay prices, code stays code, and streaming in any pieces finds
exactly what the whole text gives, holding back no more than a formula's bound."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deskseek.chat.texmath.spans import DISPLAY_CHARS, INLINE_CHARS, Math, MathSpans, Text

R1_ANSWER = r"""To find the probability, note there are \(2^3 = 8\) outcomes and $3$ of them have two heads, so
\[
P = \frac{3}{8}.
\]

The ticket costs $5 and the snack $10, so $15 in all (prices, not math). A range: $5-$10.
A pair of prices: $5, $6. Escaped: \$20 and \\(not math\\).

In code, nothing changes: `echo $HOME` and `\(x\)`, and

```bash
price=$5 total=$((price * 2))  # \[not math\]
```

~~~
$x$ in a tilde fence
~~~

1. Step one: $x^2 + y^2 = 1$
2. Step two:
   $$
   \sum_{k=1}^{n} k = \frac{n(n+1)}{2}
   $$

Unclosed \( here, and a lone $ sign. Then $a$ and $b$, and \(\alpha \leq \beta\).

**Final Answer**
\[
\boxed{\dfrac{3}{8}}
\]
"""


def pieces(text: str, *cuts: int) -> list:
    """The pieces of `text` streamed in parts cut at `cuts`, adjacent Text merged."""
    spans, out, start = MathSpans(), [], 0
    for cut in [*cuts, len(text)]:
        out += spans.feed(text[start:cut])
        start = cut
    out += spans.close()
    merged: list = []
    for piece in out:
        if isinstance(piece, Text) and merged and isinstance(merged[-1], Text):
            merged[-1] = Text(merged[-1].text + piece.text)
        elif not (isinstance(piece, Text) and not piece.text):
            merged.append(piece)
    return merged


def formulas(text: str) -> list[tuple[str, bool]]:
    return [(piece.written, piece.display) for piece in pieces(text) if isinstance(piece, Math)]


def test_the_formulas_of_an_r1_answer_and_nothing_else():
    assert formulas(R1_ANSWER) == [
        (r"\(2^3 = 8\)", False),
        ("$3$", False),
        ("\\[\nP = \\frac{3}{8}.\n\\]", True),
        ("$x^2 + y^2 = 1$", False),
        ("$$\n   \\sum_{k=1}^{n} k = \\frac{n(n+1)}{2}\n   $$", True),
        ("$a$", False),
        ("$b$", False),
        (r"\(\alpha \leq \beta\)", False),
        ("\\[\n\\boxed{\\dfrac{3}{8}}\n\\]", True),
    ]


def test_the_text_around_them_is_kept_whole():
    out = pieces(R1_ANSWER)
    assert "".join(piece.text if isinstance(piece, Text) else piece.written for piece in out) == R1_ANSWER


@pytest.mark.parametrize("text", [
    "It costs $5 and $10.",  # the second $ follows a space
    "$5-$10",  # a digit after the second $
    "I paid $5 for each apple and $3 for each pear.",  # words in a row: prose
    "$5 and more",
    "$ x$",  # a space after the opening $
    "$x $",  # a space before the closing one
    "cost: $5\nand $6 later",  # never across a line
    "$10; see `$HOME`",  # a backtick inside
    "\\$5 and \\$6$",  # escaped dollars
    "`$x$`",
    "``a ` $x$ ``",  # a code span of two backticks holds a single one
    "```\n$x$\n```",
    "~~~\n\\[x\\]\n~~~",
    "\\(x",  # never closed
    "\\[\n\nx\\]",  # a blank line inside
    "$$$$",  # empty
    "\\(\\)",
])
def test_what_is_not_a_formula(text):
    assert formulas(text) == [], text


@pytest.mark.parametrize(("text", "found"), [
    ("$x$", ["$x$"]),
    ("$3 \\times 4 = 12$ apples", ["$3 \\times 4 = 12$"]),
    ("$\\text{for each} x$", ["$\\text{for each} x$"]),  # words inside braces are TeX's
    ("the $n$-th term", ["$n$"]),
    ("$5 and $x$ apples", ["$x$"]),  # the first $ fails at the second, which then opens
    ("a \\(x\ny\\) b", ["\\(x\ny\\)"]),  # \( may span lines, not paragraphs
    ("``` not a fence``` $a$", ["$a$"]),
    ("$$x$$ inline", ["$$x$$"]),
    ("\\\\(x\\)", []),  # an escaped backslash, then a parenthesis
])
def test_what_is(text, found):
    assert [written for written, _ in formulas(text)] == found


def test_every_cut_gives_what_the_whole_text_gives():
    whole = pieces(R1_ANSWER)
    for cut in range(len(R1_ANSWER) + 1):
        assert pieces(R1_ANSWER, cut) == whole, cut


def test_one_character_at_a_time_gives_what_the_whole_text_gives():
    assert pieces(R1_ANSWER, *range(1, len(R1_ANSWER))) == pieces(R1_ANSWER)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=len(R1_ANSWER) - 1), max_size=60))
def test_any_pieces_give_what_the_whole_text_gives(cuts):
    assert pieces(R1_ANSWER, *sorted(set(cuts))) == pieces(R1_ANSWER)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="$\\()[]`{}~ x5a\n>-", max_size=80), st.lists(st.integers(1, 79), max_size=8))
def test_any_text_cut_anywhere_gives_what_the_whole_text_gives(text, cuts):
    cuts = sorted({cut for cut in cuts if cut < len(text)})
    assert pieces(text, *cuts) == pieces(text)
    out = pieces(text)
    assert "".join(p.text if isinstance(p, Text) else p.written for p in out) == text  # nothing lost


@pytest.mark.parametrize(("opener", "bound"), [("$5", INLINE_CHARS), ("\\[", DISPLAY_CHARS), ("\\(", 1000)])
def test_an_unclosed_formula_waits_a_bounded_while(opener, bound):
    """Text after an opening delimiter waits only while it may still be a formula: at most its bound."""
    spans = MathSpans()
    given_back = len("".join(p.text for p in spans.feed("Before. ")))
    most = 0
    for _ in range(3 * bound):
        spans.feed(opener if _ == 0 else "x")
        most = max(most, spans.held)
    assert most <= bound + len(opener) + 1 and spans.held < 10 and given_back == len("Before. ")


def test_a_price_is_given_back_as_soon_as_words_follow_it():
    spans = MathSpans()
    spans.feed("It costs $5 for")
    assert spans.held > 0  # "$5 for" might still be $5 for x$
    out = spans.feed(" each")
    assert spans.held == 0 and "".join(p.text for p in out).endswith("$5 for each")


def test_the_line_before_a_formula_is_told():
    [before] = [p.before for p in pieces("text\n   - item \\[x\\]") if isinstance(p, Math)]
    assert before == "   - item "
