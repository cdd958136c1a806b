"""The tables formula.py reads: TeX symbols, superscripts and subscripts, letter fonts, accents, delimiters.

Symbols come from pylatexenc's LaTeX-to-text table (about 840 macros that stand for one fixed text: `\\leq` ≤,
`\\alpha` α, `\\rightarrow` →), loaded on the first formula so that starting deskseek costs nothing (building
it takes ~40 ms). Its converter itself is not used: it writes `x^2` for x², `√(2)`, `-b ±√(b^2-4ac)/2a`
(the fraction's grouping lost) and drops `\\binom`'s and `\\dfrac`'s meaning; formula.py does the structure.
Our own entries below cover what its table lacks (`\\implies`, `\\iff`, `\\gcd`) or says otherwise.
"""

from __future__ import annotations

import unicodedata
from functools import cache

# Named operators: their name, and a space before a letter that follows (`\sin x` is "sin x", not "sinx").
OPERATORS = {name: name for name in (
    "sin cos tan cot sec csc arcsin arccos arctan sinh cosh tanh coth log ln lg exp max min sup inf lim "
    "gcd lcm det dim ker deg arg hom Pr mod"
).split()}
OPERATORS.update({"liminf": "lim inf", "limsup": "lim sup", "operatorname": ""})

OURS = {  # what pylatexenc's table lacks or says otherwise
    "implies": "⟹", "impliedby": "⟸", "iff": "⟺", "ne": "≠", "gets": "←", "land": "∧", "lor": "∨",
    "colon": ":", "triangle": "△", "Box": "□", "ncong": "≇", "checkmark": "✓", "Re": "ℜ", "Im": "ℑ",
    "degree": "°", "lt": "<", "gt": ">", "lbrack": "[", "rbrack": "]", "imath": "ı", "jmath": "ȷ",
    "cdotp": "·", "ddag": "‡", "S": "§", "P": "¶", "pounds": "£", "euro": "€", "copyright": "©",
    "infin": "∞", "dots": "…", "dotsb": "⋯", "dotsm": "⋯", "dotsi": "⋯", "dotso": "…", "bullet": "•",
    "lvert": "|", "rvert": "|", "lVert": "‖", "rVert": "‖", "vert": "|", "Vert": "‖", "|": "‖", "mid": "∣",
    "{": "{", "}": "}", "%": "%", "$": "$", "&": "&", "#": "#", "_": "_",
    ",": " ", ":": " ", ";": " ", ">": " ", " ": " ", "!": "", "enspace": " ", "thinspace": " ",
    "quad": "\u2003", "qquad": "\u2003\u2003", "prime": "′", "circ": "∘",
}
# Spacing and size commands: nothing to show. (Their argument, where they take one, is dropped too: IGNORED_ARG.)
IGNORED = set("displaystyle textstyle scriptstyle scriptscriptstyle limits nolimits nonumber notag "
              "left right middle big Big bigg Bigg bigl bigr Bigl Bigr biggl biggr Biggl Biggr "
              "relax allowbreak strut".split())
IGNORED_ARG = set("label hspace vspace phantom hphantom vphantom color".split())

# How TeX spaces them: around relations ("a\leq b" reads "a ≤ b"), around a binary operator between two
# operands ("a-b" is "a - b", "-5" stays), a big operator as a name ("∫ x dx"). Brackets by name where the
# character alone does not tell (`\lvert` opens, `\rvert` closes).
RELATIONS = set("=<>≤≥≠≈≡∼≃≅≇∝∈∉∋⊂⊃⊆⊇⊊⊋→←↔⇒⇐⇔⟶⟵⟷⟹⟸⟺↦⟼≪≫≺≻⪯⪰⊥∥∦⩽⩾≲≳∣∤≍≐≔")
BINARY = set("+-−±∓×÷·⋅∗*∘∙∪∩∧∨⊕⊗⊖⊙∖⋆")
BIG = set("∑∏∐∫∬∭∮⋃⋂⋀⋁⨁⨂")
KINDS = {"lvert": "open", "rvert": "close", "lVert": "open", "rVert": "close", "mid": "rel", "colon": "rel"}

SUPERSCRIPTS = dict(zip(
    "0123456789+-−=()nijklmaboprstuvwxyzcdefghABDEGHIJKLMNOPRTUVWαβγδεθιφχ′'∘",
    "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁻⁼⁽⁾ⁿⁱʲᵏˡᵐᵃᵇᵒᵖʳˢᵗᵘᵛʷˣʸᶻᶜᵈᵉᶠᵍʰᴬᴮᴰᴱᴳᴴᴵᴶᴷᴸᴹᴺᴼᴾᴿᵀᵁⱽᵂᵅᵝᵞᵟᵋᶿᶥᵠᵡ′′°",
    strict=True,
))
SUBSCRIPTS = dict(zip(
    "0123456789+-−=()aehijklmnoprstuvxβγρφχ,",
    "₀₁₂₃₄₅₆₇₈₉₊₋₋₌₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓᵦᵧᵨᵩᵪ,",
    strict=True,
))

# Combining marks: on the last letter of the argument, or (lines) on every letter.
ACCENTS = {"hat": "\u0302", "widehat": "\u0302", "tilde": "\u0303", "widetilde": "\u0303", "bar": "\u0304",
           "vec": "\u20d7", "overrightarrow": "\u20d7", "dot": "\u0307", "ddot": "\u0308", "acute": "\u0301",
           "grave": "\u0300", "breve": "\u0306", "check": "\u030c", "mathring": "\u030a"}
LINES = {"overline": "\u0305", "underline": "\u0332"}

# \left( \right] and the like: what each delimiter reads as.
DELIMITERS = {"(": "(", ")": ")", "[": "[", "]": "]", "|": "|", "/": "/", ".": "", "<": "⟨", ">": "⟩",
              "\\{": "{", "\\}": "}", "\\lbrace": "{", "\\rbrace": "}", "\\langle": "⟨", "\\rangle": "⟩",
              "\\lvert": "|", "\\rvert": "|", "\\vert": "|", "\\|": "‖", "\\Vert": "‖", "\\lVert": "‖",
              "\\rVert": "‖", "\\lfloor": "⌊", "\\rfloor": "⌋", "\\lceil": "⌈", "\\rceil": "⌉",
              "\\lbrack": "[", "\\rbrack": "]", "\\backslash": "\\"}

# \mathbb{R} and friends: Unicode's letterlike forms, found by name (ℝ is "DOUBLE-STRUCK CAPITAL R", 𝔸 is
# "MATHEMATICAL DOUBLE-STRUCK CAPITAL A"); letters a font lacks stay plain.
FONTS = {"mathbb": "DOUBLE-STRUCK", "mathcal": "SCRIPT", "mathscr": "SCRIPT", "mathfrak": "FRAKTUR"}
PLAIN_FONTS = set("mathrm mathbf mathit mathsf mathtt boldsymbol bm mathnormal textbf textit textrm textsf "
                  "texttt textup emph mathup".split())
TEXT = {"text", "mbox", "textnormal", "hbox"}


def letter_in(font: str, char: str) -> str:
    """`char` in a letter font (FONTS' values), or `char` itself where Unicode has no such letter."""
    if not char.isascii() or not char.isalnum():
        return char
    kind = "DIGIT " + unicodedata.name(char).split()[-1] if char.isdigit() else (
        ("CAPITAL " if char.isupper() else "SMALL ") + char.upper())
    alias = "BLACK-LETTER" if font == "FRAKTUR" else font
    for name in (f"{alias} {kind}", f"MATHEMATICAL {font} {kind}"):
        try:
            return unicodedata.lookup(name)
        except KeyError:
            continue
    return char


def scripted(text: str, up: bool) -> str:
    """A superscript or subscript in Unicode's small letters where it has them all, else ^x or ^(...)."""
    table = SUPERSCRIPTS if up else SUBSCRIPTS
    if up and text in ("∘", "°"):
        return "°"
    if text and all(char in table for char in text):
        return "".join(table[char] for char in text)
    mark = "^" if up else "_"
    return f"{mark}{text}" if len(text) == 1 else f"{mark}({text})"


@cache
def table() -> dict[str, str]:
    """Macro name -> the text it stands for: pylatexenc's table (macros without arguments), then ours."""
    from pylatexenc import latex2text, latexwalker

    walker = latexwalker.get_default_latex_context_db()
    symbols = {}
    for spec in latex2text.get_default_latex_context_db().iter_macro_specs():
        text = spec.simplify_repl
        if not isinstance(text, str) or "%" in text:
            continue
        takes = walker.get_macro_spec(spec.macroname)
        if takes is not None and takes.args_parser.argspec:  # \hspace{...}, \ref{...}: not symbols
            continue
        symbols[spec.macroname] = text
    symbols.update(OURS)
    return symbols
