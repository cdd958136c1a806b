"""The chat's Markdown with readable formulas: what the Markdown parser is handed, streamed in any pieces."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from deskseek.tui.math_markdown import MATH_INFO, MathMarkdown, container, escaped
from tests.chat.texmath.test_spans import R1_ANSWER


def rendered(text: str, *cuts: int, raw_tex: bool = False) -> str:
    math, out, start = MathMarkdown(raw_tex=raw_tex), "", 0
    for cut in [*cuts, len(text)]:
        out += math.feed(text[start:cut])
        start = cut
    return out + math.close()


def test_inline_math_is_escaped_unicode_and_the_answer_bold():
    assert rendered(r"So \(\frac{3}{8}\) and $a*b = c_1$, so $\boxed{-7}$.") == (
        r"So 3\/8 and a \* b \= c₁, so **\-7**.")


def test_markdown_would_have_eaten_the_backslashes_a_formula_shown_as_written_keeps():
    assert rendered(r"Unreadable \(\xrightarrow{f}\) here.") == r"Unreadable \\\(\\xrightarrow\{f\}\\\) here."
    assert rendered(r"Raw \(\frac{1}{2}\) here.", raw_tex=True) == r"Raw \\\(\\frac\{1\}\{2\}\\\) here."


def test_display_math_is_a_block_of_its_own():
    assert rendered("The result:\n\\[\n\\boxed{7}\n\\]\n\nDone.\n") == (
        f"The result:\n```{MATH_INFO}\n┌───┐\n│ \ue0007\ue001 │\n└───┘\n```\n\nDone.\n")


def test_text_after_display_math_on_its_line_goes_on_below_it():
    assert rendered("Then \\[x = 1\\] so on.") == f"Then \n```{MATH_INFO}\nx = 1\n```\nso on."


def test_display_math_in_a_list_item_stays_in_it():
    text = "1. Sum:\n   \\[\n   \\sum_{k=1}^{n} k\n   \\]\n2. Next\n"
    assert rendered(text) == f"1. Sum:\n   ```{MATH_INFO}\n   ∑ₖ₌₁ⁿ k\n   ```\n2. Next\n"
    assert rendered("- item \\[x\\] after") == f"- item \n  ```{MATH_INFO}\n  x\n  ```\n  after"
    assert rendered("> quoted \\[x\\]\n") == f"> quoted \n> ```{MATH_INFO}\n> x\n> ```\n"


def test_display_math_that_cannot_be_read_is_a_latex_block_as_written():
    text = "\\[\n\\begin{array}{cc}\n1 & 2\n\\end{array}\n\\]\n"
    assert rendered(text) == "```latex\n\\[\n\\begin{array}{cc}\n1 & 2\n\\end{array}\n\\]\n```\n"
    assert rendered("\\[\\boxed{7}\\]\n", raw_tex=True) == "```latex\n\\[\\boxed{7}\\]\n```\n"


def test_code_and_prices_pass_through_untouched():
    text = "It costs $5 and $10.\n\n```python\nx = '$a$'  # \\(b\\)\n```\n\nAnd `$HOME` too.\n"
    assert rendered(text) == text


def test_the_container_of_a_line():
    assert container("   ") == ("   ", True)
    assert container("1. ") == ("   ", True)
    assert container("  - text ") == ("    ", False)
    assert container("> > ") == ("> > ", True)
    assert container("plain ") == ("", False)


def test_escaped_shows_exactly_what_it_was():
    from markdown_it import MarkdownIt

    text = r"a*b_c [x](y) `z` <t> \\ # | ~ $ & !"
    html = MarkdownIt("gfm-like").render(escaped(text))
    assert html.strip() == "<p>a*b_c [x](y) `z` &lt;t&gt; \\\\ # | ~ $ &amp; !</p>"


def test_every_cut_renders_what_the_whole_text_renders():
    whole = rendered(R1_ANSWER)
    for cut in range(len(R1_ANSWER) + 1):
        assert rendered(R1_ANSWER, cut) == whole, cut
    assert rendered(R1_ANSWER, *range(1, len(R1_ANSWER))) == whole


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=len(R1_ANSWER) - 1), max_size=40), st.booleans())
def test_any_pieces_render_what_the_whole_text_renders(cuts, raw_tex):
    assert rendered(R1_ANSWER, *sorted(set(cuts)), raw_tex=raw_tex) == rendered(R1_ANSWER, raw_tex=raw_tex)
