"""Byte counts for people: what every layer prints and parses, so it lives below them all."""

from __future__ import annotations

import math
import re

MAX_SIZE = 2**60  # an exbibyte: past any machine's memory, and still an exact int everywhere we pass it


def human_bytes(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(count) < 1000 or unit == "TB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.2f} {unit}"
        count /= 1000
    return f"{count:.2f} TB"


def parse_size(text: str) -> int:
    """'24G', '24GB', '24GiB', '512M', '80e9' -> bytes. Decimal units (as GPU vendors count) unless 'i'.

    ValueError, one line, for anything else, including sizes no machine has (`1e400` is infinity as a float,
    and an int that large overflows every C type it would be handed to).
    """
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:e\+?[0-9]+)?)\s*([kmgtp]?)(i?)b?\s*", text.lower())
    if not match:
        raise ValueError(f"{text!r} is not a size like 24G, 512M or 80GiB")
    number, unit, binary = match.groups()
    base = 1024 if binary else 1000
    value = float(number) * base ** " kmgtp".index(unit or " ")
    if not math.isfinite(value) or value > MAX_SIZE:
        raise ValueError(f"{text!r} is more than any machine has (at most 1 EiB)")
    return int(value)
