"""A formula's line as atoms, spaced as TeX spaces them.

TeX ignores the spaces typed in a formula and spaces it by what each piece is: a relation (`=`, `\\leq`) has
space around it, a binary operator too when it stands between two operands (`a-b` is "a - b", but `x = -5`
and `(-1)` keep their sign), brackets hold their contents tight, a named operator (`\\sin`, `\\sum`) stands
apart from the letter after it. Typed spaces are kept where they separate, so "a b" stays two things.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from deskseek.chat.texmath import symbols


@dataclass
class Atom:
    text: str
    # ord | space | rel (spaced) | bin (spaced between operands) | open, close (brackets: no space inside) |
    # op (a name or big operator: spaced from a letter after it) | loose (a/b, √2: spaced from letters beside)
    kind: str = "ord"


def join(items: list[Atom], *, script: bool = False, strip: bool = True) -> str:
    """Atoms as a line, spaced as TeX spaces them: around relations, around an operator between two operands
    (`a-b` is "a - b", `x = -5` keeps "-5"), none inside brackets (`( a/b )` is "(a/b)")."""
    out = ""
    previous = last = None  # the atom before, and the last one that was not a space
    for atom in items:
        text = atom.text
        if atom.kind == "space" and previous is not None and previous.kind == "open":
            continue
        if atom.kind == "close":
            out = out.rstrip(" ")
        if not script and (atom.kind == "rel" or (atom.kind == "bin" and _operand(last))):
            text = f" {text} "
        if previous is not None and out and text and _spaced(previous, atom, out[-1], text[0]):
            out += " "
        out += text
        previous = atom
        if atom.kind != "space":
            last = atom
    out = re.sub(r" {2,}", " ", out)
    out = re.sub(r" ([,;])", r"\1", out)
    out = re.sub(r" *\u2003 *", "\u2003", out).replace("\u2003", "  ")
    return out.strip() if strip else out


def kind(text: str) -> str:
    """How a character or symbol is spaced (Atom.kind)."""
    if text in symbols.RELATIONS:
        return "rel"
    if text in symbols.BINARY:
        return "bin"
    if text in symbols.BIG:
        return "op"
    if text in "([{⟨⌊⌈":
        return "open"
    if text in ")]}⟩⌋⌉":
        return "close"
    return "space" if text == " " else "ord"


def _operand(atom: Atom | None) -> bool:
    """Whether an operator after `atom` is binary: after a relation, another operator, an opening bracket or
    a comma it is a sign (`x = -5`, `(-1)`, `1, -2`)."""
    return atom is not None and atom.kind not in ("rel", "bin", "open", "op") and not atom.text.endswith((",", ";"))


def _spaced(before: Atom, after: Atom, last: str, first: str) -> bool:
    """Whether two atoms need a space between them to read right: "sin x", "2 1/2", "√2 x"."""
    if before.kind == "op":
        return first.isalnum() or after.kind == "loose"
    return "loose" in (before.kind, after.kind) and last.isalnum() and first.isalnum()
