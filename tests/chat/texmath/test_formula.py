"""One formula's TeX as Unicode: a corpus of what DeepSeek-R1 and its distills write, and what is shown as written."""

from __future__ import annotations

import pytest

from deskseek.chat.texmath import formula
from deskseek.chat.texmath.layout import BOX_CLOSE, BOX_OPEN

B, E = BOX_OPEN, BOX_CLOSE

INLINE = [
    # fractions: the parts in parentheses only where the reading needs them
    (r"\frac{3}{8}", "3/8"),
    (r"\dfrac{1}{2} + \tfrac12", "1/2 + 1/2"),
    (r"\frac{a+b}{2c}", "(a + b)/(2c)"),
    (r"\frac{-b \pm \sqrt{b^2-4ac}}{2a}", "(-b ± √(b² - 4ac))/(2a)"),
    (r"\frac{n(n+1)(2n+1)}{6}", "n(n + 1)(2n + 1)/6"),
    (r"\frac{n!}{k!(n-k)!}", "n!/(k!(n - k)!)"),
    (r"\frac{1}{\frac{1}{2}}", "1/(1/2)"),
    (r"2\frac{1}{2}", "2 1/2"),  # a mixed number does not run together into 21/2
    (r"\frac{dy}{dx} = \frac{\partial f}{\partial x}", "dy/dx = ∂f/∂x"),  # differentials read as one thing
    (r"\frac{P(B|A)P(A)}{P(B)}", "P(B|A)P(A)/P(B)"),  # so does a function of its argument
    # spacing as TeX's: around relations, around an operator between operands, none after a command's name
    (r"x^2+y^2=1", "x² + y² = 1"),
    (r"x = \pm 3, (-1)^n, f(-x) = -f(x)", "x = ±3, (-1)ⁿ, f(-x) = -f(x)"),
    (r"\frac{1}{2}\times 4", "1/2 × 4"),
    (r"\lvert z \rvert = \sqrt{a^2+b^2}", "|z| = √(a² + b²)"),
    (r"\{x \mid x > 0\}", "{x ∣ x > 0}"),
    (r"\alpha \beta", "αβ"),
    # powers and indices
    (r"x^2 + y^2 = z^2", "x² + y² = z²"),
    (r"2^{10} = 1024", "2¹⁰ = 1024"),
    (r"a_{n+1} = 2a_n - 1", "aₙ₊₁ = 2aₙ - 1"),
    (r"x_{i,j}", "xᵢ,ⱼ"),
    (r"e^{i\pi} + 1 = 0", "e^(iπ) + 1 = 0"),  # no superscript π in Unicode: written out
    (r"x^{\frac{1}{2}}", "x^(1/2)"),
    (r"\angle ABC = 90^\circ", "∠ABC = 90°"),
    (r"f'(x) = 2x", "f′(x) = 2x"),
    # roots
    (r"\sqrt{2}", "√2"),
    (r"\sqrt{x+1}", "√(x + 1)"),
    (r"\sqrt[3]{27} = 3", "∛27 = 3"),
    (r"\sqrt[n]{a}", "ⁿ√a"),
    (r"\sqrt{2}x", "√2 x"),
    # sums, integrals, limits
    (r"\sum_{k=1}^{n} k^2", "∑ₖ₌₁ⁿ k²"),
    (r"\prod_{i=1}^{n} i = n!", "∏ᵢ₌₁ⁿ i = n!"),
    (r"\int_0^1 x\,dx = \frac{1}{2}", "∫₀¹ x dx = 1/2"),
    (r"\lim_{x \to 0} \frac{\sin x}{x} = 1", "lim_(x→0) (sin x)/x = 1"),
    # Greek, relations, operators
    (r"\alpha + \beta \leq \gamma", "α + β ≤ γ"),
    (r"a\leq b", "a ≤ b"),  # TeX spaces relations itself
    (r"3 \times 4 \cdot 5 \neq 6", "3 × 4 · 5 ≠ 6"),
    (r"x \in \mathbb{R}, x \notin \mathbb{Z}", "x ∈ ℝ, x ∉ ℤ"),
    (r"x \not\in A", "x ∉ A"),
    (r"p \implies q \iff r", "p ⟹ q ⟺ r"),
    (r"\sin^2 x + \cos^2 x = 1", "sin² x + cos² x = 1"),
    (r"\log_2 8 = 3", "log₂ 8 = 3"),
    (r"\gcd(12, 18) = 6", "gcd(12, 18) = 6"),
    (r"\operatorname{lcm}(4, 6) = 12", "lcm(4, 6) = 12"),
    (r"x \equiv 3 \pmod{7}", "x ≡ 3  (mod 7)"),
    (r"\binom{10}{3} = 120", "C(10, 3) = 120"),
    (r"\left( \frac{a}{b} \right)^2", "(a/b)²"),
    (r"\left\{ 1, 2 \right\}", "{1, 2}"),
    (r"|x - 3| < 2", "|x - 3| < 2"),
    (r"\lfloor 3.7 \rfloor = 3", "⌊3.7⌋ = 3"),
    (r"\infty", "∞"),
    (r"1, 2, \ldots, n", "1, 2, …, n"),
    (r"50\%", "50%"),
    # fonts, accents, text
    (r"\mathcal{L}", "ℒ"),
    (r"\hat{\theta}", "θ̂"),
    (r"\vec{v} \cdot \vec{w}", "v⃗ · w⃗"),
    (r"\overline{AB}", "A̅B̅"),
    (r"\mathbf{v} = \mathrm{d}x", "v = dx"),
    (r"\text{area} = \pi r^2", "area = πr²"),
    (r"x = 2 \text{ if } y > 0", "x = 2 if y > 0"),
    (r"\text{cost} = \$5", "cost = $5"),
    # the answer
    (r"\boxed{7}", f"{B}7{E}"),
    (r"\boxed{\frac{3}{8}}", f"{B}3/8{E}"),
    (r"x = \boxed{42}", f"x = {B}42{E}"),
]


@pytest.mark.parametrize(("tex", "shown"), INLINE)
def test_inline(tex, shown):
    assert formula.inline(tex) == shown


UNREADABLE = [
    r"\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}",  # a matrix inside a line of text
    r"\begin{cases} x & x \ge 0 \\ -x & x < 0 \end{cases}",
    r"a & b",  # columns with no environment
    r"a \\ b",
    r"\xrightarrow{f}",  # a command the converter does not know
    r"\ce{H2O}",
    r"\frac{1}{2",  # a brace left open
    r"x}",  # a brace never opened
    r"\frac{1}",  # an argument missing
    r"\text{\foo{x}}",
    r"\label{eq}",  # nothing to show
    "",
    "\\",
]


@pytest.mark.parametrize("tex", UNREADABLE)
def test_inline_that_cannot_be_read_is_refused(tex):
    with pytest.raises(formula.Unreadable):
        formula.inline(tex)


DISPLAY = [
    (r"\boxed{7}", ["┌───┐",
                    f"│ {B}7{E} │",
                    "└───┘"]),
    (r"x = \boxed{7}", ["    ┌───┐",
                        f"x = │ {B}7{E} │",
                        "    └───┘"]),
    (r"\text{Final answer: } \boxed{\frac{3}{8}}", ["              ┌─────┐",
                                                   f"Final answer: │ {B}3/8{E} │",
                                                   "              └─────┘"]),
    (r"\sum_{k=1}^{n} k = \frac{n(n+1)}{2}", ["∑ₖ₌₁ⁿ k = n(n + 1)/2"]),
    (r"""\begin{aligned}
x &= 1 + 2 \\
  &= 3
\end{aligned}""", ["x = 1 + 2",
                   "  = 3    "]),
    (r"a &= b + c \\ &= d", ["a = b + c",
                            "  = d    "]),  # rows without an environment around them
    (r"f(x) = \begin{cases} x & x \ge 0 \\ -x & x < 0 \end{cases}", ["f(x) = ⎰x   x ≥ 0",
                                                                      "       ⎱-x  x < 0"]),
    (r"A = \begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}", ["A = ⎛1  2⎞",
                                                           "    ⎝3  4⎠"]),
    (r"\begin{bmatrix} 1 & 0 & 0 \\ 0 & 1 & 0 \\ 0 & 0 & 1 \end{bmatrix}", ["⎡1  0  0⎤",
                                                                              "⎢0  1  0⎥",
                                                                              "⎣0  0  1⎦"]),
    (r"\det \begin{vmatrix} a & b \\ c & d \end{vmatrix} = ad - bc", ["det │a  b│ = ad - bc",
                                                                       "    │c  d│          "]),
]


@pytest.mark.parametrize(("tex", "lines"), DISPLAY)
def test_display(tex, lines):
    assert formula.display(tex) == lines


@pytest.mark.parametrize("tex", [
    r"\begin{array}{cc} 1 & 2 \\ 3 & 4 \end{array}",  # a column layout to honour: shown as written
    r"\begin{tikzcd} A \arrow[r] & B \end{tikzcd}",
    r"\begin{pmatrix} 1 & 2 \end{bmatrix}",
    r"\begin{aligned} x &= \begin{cases} 1 \end{cases} \end{aligned}",
    r"\foo",
])
def test_display_that_cannot_be_read_is_refused(tex):
    with pytest.raises(formula.Unreadable):
        formula.display(tex)


def test_lines_come_padded_to_one_width_so_centring_keeps_them_aligned():
    from deskseek.chat.texmath.layout import cells

    lines = formula.display(r"\begin{aligned} \text{한국어} &= 1 \\ x &= \hat{y} \end{aligned}")
    assert len({cells(line) for line in lines}) == 1
    assert lines == ["한국어 = 1", "     x = ŷ"]


def test_the_symbol_table_is_pylatexencs_with_ours_on_top():
    from deskseek.chat.texmath import symbols

    table = symbols.table()
    assert table["leq"] == "≤" and table["rightarrow"] == "→" and table["aleph"] == "ℵ"  # pylatexenc's
    assert table["implies"] == "⟹" and table["ne"] == "≠"  # ours
    assert "hspace" not in table and "ref" not in table  # commands with arguments are not symbols
