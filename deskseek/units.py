"""Byte counts for people: what every layer prints and parses, so it lives below them all."""

from __future__ import annotations

import re


def human_bytes(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(count) < 1000 or unit == "TB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.2f} {unit}"
        count /= 1000
    return f"{count:.2f} TB"


def parse_size(text: str) -> int:
    """'24G', '24GB', '24GiB', '512M', '80e9' -> bytes. Decimal units (as GPU vendors count) unless 'i'."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:e[0-9]+)?)\s*([kmgt]?)(i?)b?\s*", text.lower())
    if not match:
        raise ValueError(f"{text!r} is not a size like 24G, 512M or 80GiB")
    number, unit, binary = match.groups()
    base = 1024 if binary else 1000
    return int(float(number) * base ** " kmgt".index(unit or " "))
