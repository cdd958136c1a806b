"""One formula's TeX as Unicode: `inline` gives a line of text, `display` the lines of a display formula.

What R1 writes, and how it reads here: `\\frac{3}{8}` 3/8 (the parts in parentheses where the grouping needs
them: `\\frac{a+b}{2c}` (a+b)/(2c)), `x^2` x², `a_{n+1}` aₙ₊₁ (`x^{1/2}` x^(1/2) where Unicode has no
superscript), `\\sqrt{2}` √2, `\\sqrt[3]{x}` ∛x, `\\sum_{k=1}^{n}` ∑ₖ₌₁ⁿ, Greek and relations from the symbol
table, `\\mathbb{R}` ℝ, `\\hat{x}` x̂, `\\binom{n}{k}` C(n, k), `\\text{...}` as it is, `\\boxed{7}` marked to stand out
(a frame on a display line). On a display line also aligned rows (`aligned`, `align*`, `gather`), cases and
matrices. Anything else (an unknown command, an environment inside a line, a brace left open) raises
`Unreadable`: the caller shows the formula as the model wrote it, never a guess.
"""

from __future__ import annotations

import re
import unicodedata
from contextlib import contextmanager

from deskseek.chat.texmath import BOX_CLOSE, BOX_OPEN
from deskseek.chat.texmath import symbols as tables
from deskseek.chat.texmath.atoms import Atom, join, kind
from deskseek.chat.texmath.layout import KNOWN, Block, beside, environment, framed, grouped


class Unreadable(ValueError):
    """TeX this module cannot show faithfully."""


_TOKEN = re.compile(r"\\([A-Za-z]+)\s*|\\(.)|(\s+)|(.)", re.S)  # TeX ends a command's name at the spaces after it
_FRACTIONS = {"frac", "dfrac", "tfrac", "cfrac"}
_BINOMIALS = {"binom", "dbinom", "tbinom"}
_BOXES = {"boxed", "fbox", "framebox"}


def tokenize(tex: str) -> list[str]:
    """Commands (`\\frac`, `\\,`), one space for each run of spaces (none after a command's name: `\\partial f`
    is ∂f), and single characters."""
    tokens = []
    for match in _TOKEN.finditer(tex):
        word, symbol, space, char = match.groups()
        tokens.append("\\" + word if word else "\\" + symbol if symbol is not None else " " if space else char)
    return tokens


def inline(tex: str) -> str:
    """A formula inside a line of text, as one line. Raises Unreadable."""
    with _nested_too_deep():
        text = join(_Parser(tokenize(tex)).row(top=True))
    if not text.replace(BOX_OPEN, "").replace(BOX_CLOSE, "").strip():
        raise Unreadable("nothing to show")
    return text


def display(tex: str) -> list[str]:
    """A display formula as lines of equal width (to centre as one). Raises Unreadable."""
    parser = _Parser(tokenize(tex), display=True)
    with _nested_too_deep():
        if parser.aligned_at_top():  # `\[ a &= b \\ &= c \]`: rows without an environment around them
            block = environment("aligned", parser.cells(parser.tokens))
        else:
            block = _line(parser.row(top=True))
    lines = block.padded()
    if not "".join(lines).replace(BOX_OPEN, "").replace(BOX_CLOSE, "").strip():
        raise Unreadable("nothing to show")
    return lines


@contextmanager
def _nested_too_deep():
    """Braces nested hundreds deep (a model looping) would exhaust Python's stack: that is unreadable too."""
    try:
        yield
    except RecursionError:
        raise Unreadable("nested too deep") from None


def _line(items: list) -> Block:
    """A display row of atoms and blocks (frames, environments) as one block."""
    blocks, run = [], []
    for item in items + [None]:
        if isinstance(item, Atom):
            run.append(item)
            continue
        if run:
            spaced = item is not None and run[-1].kind == "op"  # `\det` before a matrix: "det │a b│"
            blocks.append(Block([join(run, strip=False) + (" " if spaced else "")]))
            run = []
        if item is not None:
            blocks.append(item)
    if not blocks:
        return Block([""])
    first, last = blocks[0], blocks[-1]
    first.lines = [line.lstrip() if len(first.lines) == 1 else line for line in first.lines]
    last.lines = [line.rstrip() if len(last.lines) == 1 else line for line in last.lines]
    return beside(blocks)


class _Parser:
    def __init__(self, tokens: list[str], *, display: bool = False) -> None:
        self.tokens = tokens
        self.at = 0
        self.display = display
        self.symbols = tables.table()

    def peek(self) -> str | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self) -> str:
        token = self.peek()
        if token is None:
            raise Unreadable("the formula ends inside a command")
        self.at += 1
        return token

    def skip_spaces(self) -> None:
        while self.peek() == " ":
            self.at += 1

    # -- rows and groups --

    def row(self, *, top: bool = False) -> list:
        """Atoms up to a closing brace or the end; at the top of a display formula also Blocks."""
        items: list = []
        while (token := self.peek()) is not None and token != "}":
            self.at += 1
            if token in ("^", "_"):
                self._script(items, token == "^")
            else:
                items.extend(self.one(token, top=top))
        if token == "}" and top:
            raise Unreadable("a closing brace without its opening one")
        return items

    def group_text(self) -> str:
        """The next argument (a {group}, or one token) as one line of text."""
        self.skip_spaces()
        token = self.take()
        if token == "{":
            items = self.row()
            if self.peek() != "}":
                raise Unreadable("a brace left open")
            self.at += 1
            return join(items)
        if token in ("}", "^", "_", "&", "\\\\"):
            raise Unreadable(f"{token} where an argument belongs")
        return join(self.one(token))

    def raw_group(self) -> str:
        """The next {group} as it is written (an environment's name, a \\text's words)."""
        self.skip_spaces()
        if self.take() != "{":
            raise Unreadable("a brace expected")
        depth, start = 1, self.at
        while depth:
            token = self.take()
            depth += {"{": 1, "}": -1}.get(token, 0)
        return "".join(self.tokens[start:self.at - 1])

    def optional(self) -> str | None:
        """An [optional argument] as it is written, or None."""
        self.skip_spaces()
        if self.peek() != "[":
            return None
        self.at += 1
        start = self.at
        while self.take() != "]":
            pass
        return "".join(self.tokens[start:self.at - 1])

    def _script(self, items: list, up: bool) -> None:
        text = re.sub(r"\s+", "", self.group_text())
        attach = items and isinstance(items[-1], Atom) and items[-1].kind != "rel"
        base = items.pop() if attach else Atom("")
        items.append(Atom(base.text + tables.scripted(text, up), base.kind if base.kind in ("op", "close") else "ord"))

    # -- one token --

    def one(self, token: str, *, top: bool = False) -> list:
        if token == " ":
            return [Atom(" ", "space")]
        if token == "{":
            self.at -= 1
            return [Atom(self.group_text())]
        if token in ("&", "\\\\"):
            raise Unreadable("rows or columns outside an environment")
        if token == "\\":
            raise Unreadable("a backslash at the end")
        if token == "'":
            return [Atom("′")]
        if token == "~":
            return [Atom(" ", "space")]
        if not token.startswith("\\") or len(token) == 1:
            return [Atom(token, kind(token))]
        return self.command(token[1:], top=top)

    def command(self, name: str, *, top: bool) -> list:
        if name in _FRACTIONS:
            over, under = self.group_text(), self.group_text()
            return [Atom(f"{grouped(over, under=False)}/{grouped(under, under=True)}", "loose")]
        if name in _BINOMIALS:
            n, k = self.group_text(), self.group_text()
            return [Atom(f"C({n}, {k})")]
        if name == "sqrt":
            return [self._root()]
        if name in _BOXES:
            text = self.group_text()
            if top and self.display:
                return [framed(text)]
            return [Atom(f"{BOX_OPEN}{text}{BOX_CLOSE}")]
        if name in tables.TEXT:
            return [Atom(self._text(self.raw_group()))]
        if name in tables.PLAIN_FONTS:
            return [Atom(self.group_text())]
        if name in tables.FONTS:
            font = tables.FONTS[name]
            return [Atom("".join(tables.letter_in(font, char) for char in self.group_text()))]
        if name in tables.ACCENTS:
            text = self.group_text()
            return [Atom(unicodedata.normalize("NFC", text + tables.ACCENTS[name]) if text else "")]  # ŷ, not y+^
        if name in tables.LINES:
            mark = tables.LINES[name]
            return [Atom("".join(char + mark if not unicodedata.combining(char) else char
                                 for char in self.group_text()))]
        if name == "operatorname":
            if self.peek() == "*":
                self.at += 1
            return [Atom(self.group_text(), "op")]
        if name in tables.OPERATORS:
            return [Atom(tables.OPERATORS[name], "op")]
        if name in ("left", "right", "middle"):
            self.skip_spaces()
            delimiter = self.take()
            if delimiter not in tables.DELIMITERS:
                raise Unreadable(f"\\{name} with {delimiter}")
            return [Atom(tables.DELIMITERS[delimiter], {"left": "open", "right": "close"}.get(name, "rel"))]
        if name in tables.IGNORED:
            return []
        if name in tables.IGNORED_ARG:
            if self.peek() == "*":
                self.at += 1
            self.raw_group()
            return []
        return self._other(name, top=top)

    def _other(self, name: str, *, top: bool) -> list:
        if name == "not":
            self.skip_spaces()
            negated = join(self.one(self.take()), script=True)
            return [Atom(unicodedata.normalize("NFC", negated + "\u0338"), "rel")]
        if name == "pmod":
            return [Atom(f"\u2003(mod {self.group_text()})")]
        if name in ("bmod", "mod"):
            return [Atom(" mod ")]
        if name == "tag":
            if self.peek() == "*":
                self.at += 1
            return [Atom(f"\u2003({self.group_text()})")]
        if name in ("overset", "stackrel", "underset"):
            mark, body = self.group_text(), self.group_text()
            return [Atom(body + tables.scripted(mark.replace(" ", ""), name != "underset"), "rel")]
        if name == "textcolor":
            self.raw_group()
            return [Atom(self.group_text())]
        if name == "begin":
            return [self._environment(top)]
        if name in self.symbols:
            text = self.symbols[name]
            return [Atom(text, tables.KINDS.get(name) or kind(text))] if text else []
        raise Unreadable(f"\\{name}")

    def _root(self) -> Atom:
        index = self.optional()
        body = self.group_text()
        radicand = grouped(body, under=True)
        if index is None:
            sign = "√"
        else:
            index = re.sub(r"\s+", "", index)
            sign = {"2": "√", "3": "∛", "4": "∜"}.get(index) or tables.scripted(index, True) + "√"
        return Atom(sign + radicand, "ord" if radicand.startswith("(") else "loose")

    def _text(self, written: str) -> str:
        """\\text{...}: words as they are, with its escapes (`\\%`, `\\$`) and any `$math$` inside."""
        out = []
        for piece in re.split(r"(\$[^$]*\$)", written):
            if piece.startswith("$") and len(piece) > 1:
                out.append(inline(piece[1:-1]))
            else:
                out.append(re.sub(r"\\([%$&#_{} ])", r"\1", piece).replace("~", " "))
        text = "".join(out)
        if "\\" in text:
            raise Unreadable("a command inside \\text")
        return text

    # -- environments --

    def _environment(self, top: bool) -> Block:
        name = self.raw_group()
        if not (self.display and top):
            raise Unreadable(f"{name} inside a line")
        if name in ("array", "alignat", "alignat*", "alignedat"):
            raise Unreadable(f"{name}'s column layout")
        if name not in KNOWN:
            raise Unreadable(f"the {name} environment")
        start, depth = self.at, 1
        while depth:
            token = self.take()
            if token in ("\\begin", "\\end"):
                depth += 1 if token == "\\begin" else -1
                if depth == 0:
                    body = self.tokens[start:self.at - 1]
                    if self.raw_group() != name:
                        raise Unreadable(f"{name} ended by another environment")
        return environment(name, self.cells(body))

    def aligned_at_top(self) -> bool:
        depth = 0
        for token in self.tokens:
            depth += {"{": 1, "}": -1, "\\begin": 1, "\\end": -1}.get(token, 0)
            if depth == 0 and token in ("&", "\\\\"):
                return True
        return False

    def cells(self, tokens: list[str]) -> list[list[str]]:
        """An environment's body as rows of cells, each cell rendered as one line."""
        rows: list[list[str]] = [[]]
        cell: list[str] = []
        depth, at = 0, 0
        while at < len(tokens):
            token = tokens[at]
            at += 1
            depth += {"{": 1, "}": -1, "\\begin": 1, "\\end": -1}.get(token, 0)
            if depth == 0 and token in ("&", "\\\\"):
                rows[-1].append(self._cell(cell))
                cell = []
                if token == "\\\\":
                    rows.append([])
                    while at < len(tokens) and tokens[at] == " ":
                        at += 1
                    if at < len(tokens) and tokens[at] == "[":  # \\[4pt]: extra space between rows
                        at = tokens.index("]", at) + 1 if "]" in tokens[at:] else len(tokens)
                continue
            if token != "\\hline":
                cell.append(token)
        rows[-1].append(self._cell(cell))
        rows = [row for row in rows if any(text for text in row)]  # a trailing \\ makes no empty row
        if not rows:
            raise Unreadable("an empty environment")
        return rows

    def _cell(self, tokens: list[str]) -> str:
        parser = _Parser(tokens)
        text = join(parser.row())
        if parser.peek() is not None:
            raise Unreadable("a closing brace without its opening one")
        return text
