"""Writing systems: which scripts a text uses, and which a token's bytes commit the text to.

The thought guard (think_lang.py) keeps a model's reasoning in the scripts its user writes. That needs two
answers, both here and both free of llama.cpp: which scripts a user's messages use, and which scripts a token
would put on the page. Scripts are bits of an int, so a whole vocabulary is one integer array and the tokens a
set of scripts forbids is one vectorized test.

Latin, Greek (the letters of every maths thought), digits, punctuation, symbols, emoji, and every script not in
the table below are never a bit: they are always allowed. The table holds the major scripts a model may drift
into; a code point outside it is "common".

Byte-level BPE vocabularies (Qwen2's, DeepSeek's) hold pieces that are not whole characters: `E4 B8` is the
first two bytes of U+4E00..U+4E3F, a lone `E9` the first byte of U+9000..U+9FFF, `A0 80` the middle of a
four-byte character. A piece is judged by the whole characters in it and by what its unfinished last
character can still become: if one script holds more than half of those code points, the piece commits to
it (a lone `E9` is Han; `E4 B8` is Han; a lone `EA`, which may begin Hangul, Yi, Latin or Cyrillic
letters, commits to none). Leading continuation bytes finish a character an earlier token began: alone they
say nothing, and `classify(pending + piece)` judges them once the guard knows what was pending.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from functools import lru_cache

# Script bits. Hiragana and Katakana are one ("Kana"); Bopomofo goes with Han (both are Chinese writing).
HAN, KANA, HANGUL, CYRILLIC, ARABIC, HEBREW, THAI, DEVANAGARI = (1 << i for i in range(8))
ARMENIAN, SYRIAC, THAANA, BENGALI, GURMUKHI, GUJARATI, ORIYA, TAMIL = (1 << i for i in range(8, 16))
TELUGU, KANNADA, MALAYALAM, SINHALA, LAO, TIBETAN, MYANMAR, GEORGIAN = (1 << i for i in range(16, 24))
ETHIOPIC, KHMER, MONGOLIAN = (1 << i for i in range(24, 27))

NAMES = {
    HAN: "Han", KANA: "Kana", HANGUL: "Hangul", CYRILLIC: "Cyrillic", ARABIC: "Arabic", HEBREW: "Hebrew",
    THAI: "Thai", DEVANAGARI: "Devanagari", ARMENIAN: "Armenian", SYRIAC: "Syriac", THAANA: "Thaana",
    BENGALI: "Bengali", GURMUKHI: "Gurmukhi", GUJARATI: "Gujarati", ORIYA: "Oriya", TAMIL: "Tamil",
    TELUGU: "Telugu", KANNADA: "Kannada", MALAYALAM: "Malayalam", SINHALA: "Sinhala", LAO: "Lao",
    TIBETAN: "Tibetan", MYANMAR: "Myanmar", GEORGIAN: "Georgian", ETHIOPIC: "Ethiopic", KHMER: "Khmer",
    MONGOLIAN: "Mongolian",
}
ALL = sum(NAMES)

# (first, last, script), from the Unicode blocks (and, for the CJK punctuation block, the Script property:
# 々 and 〇 are Han, the brackets and the ideographic full stop are common punctuation).
_RANGES = sorted([
    (0x0400, 0x052F, CYRILLIC), (0x1C80, 0x1C8F, CYRILLIC), (0x2DE0, 0x2DFF, CYRILLIC),
    (0xA640, 0xA69F, CYRILLIC), (0x1E030, 0x1E08F, CYRILLIC),
    (0x0531, 0x058F, ARMENIAN), (0xFB13, 0xFB17, ARMENIAN),
    (0x0591, 0x05FF, HEBREW), (0xFB1D, 0xFB4F, HEBREW),
    (0x0600, 0x06FF, ARABIC), (0x0750, 0x077F, ARABIC), (0x0870, 0x08FF, ARABIC), (0xFB50, 0xFDFF, ARABIC),
    (0xFE70, 0xFEFF, ARABIC), (0x10EC0, 0x10EFF, ARABIC), (0x1EE00, 0x1EEFF, ARABIC),
    (0x0700, 0x074F, SYRIAC), (0x0860, 0x086F, SYRIAC),
    (0x0780, 0x07BF, THAANA),
    (0x0900, 0x097F, DEVANAGARI), (0xA8E0, 0xA8FF, DEVANAGARI), (0x11B00, 0x11B5F, DEVANAGARI),
    (0x0980, 0x09FF, BENGALI), (0x0A00, 0x0A7F, GURMUKHI), (0x0A80, 0x0AFF, GUJARATI), (0x0B00, 0x0B7F, ORIYA),
    (0x0B80, 0x0BFF, TAMIL), (0x11FC0, 0x11FFF, TAMIL),
    (0x0C00, 0x0C7F, TELUGU), (0x0C80, 0x0CFF, KANNADA), (0x0D00, 0x0D7F, MALAYALAM),
    (0x0D80, 0x0DFF, SINHALA), (0x111E0, 0x111FF, SINHALA),
    (0x0E00, 0x0E7F, THAI), (0x0E80, 0x0EFF, LAO), (0x0F00, 0x0FFF, TIBETAN),
    (0x1000, 0x109F, MYANMAR), (0xA9E0, 0xA9FF, MYANMAR), (0xAA60, 0xAA7F, MYANMAR), (0x116D0, 0x116FF, MYANMAR),
    (0x10A0, 0x10FF, GEORGIAN), (0x1C90, 0x1CBF, GEORGIAN), (0x2D00, 0x2D2F, GEORGIAN),
    (0x1100, 0x11FF, HANGUL), (0x3130, 0x318F, HANGUL), (0x3200, 0x321E, HANGUL), (0x3260, 0x327E, HANGUL),
    (0xA960, 0xA97F, HANGUL), (0xAC00, 0xD7FF, HANGUL), (0xFFA0, 0xFFDF, HANGUL),
    (0x1200, 0x139F, ETHIOPIC), (0x2D80, 0x2DDF, ETHIOPIC), (0xAB00, 0xAB2F, ETHIOPIC), (0x1E7E0, 0x1E7FF, ETHIOPIC),
    (0x1780, 0x17FF, KHMER), (0x19E0, 0x19FF, KHMER),
    (0x1800, 0x18AF, MONGOLIAN), (0x11660, 0x1167F, MONGOLIAN),
    (0x3041, 0x309F, KANA), (0x30A0, 0x30FF, KANA), (0x31F0, 0x31FF, KANA), (0x32D0, 0x32FE, KANA),
    (0x3300, 0x3357, KANA), (0xFF66, 0xFF9F, KANA), (0x1AFF0, 0x1AFFF, KANA), (0x1B000, 0x1B16F, KANA),
    (0x2E80, 0x2EFF, HAN), (0x2F00, 0x2FDF, HAN), (0x3005, 0x3005, HAN), (0x3007, 0x3007, HAN),
    (0x3021, 0x3029, HAN), (0x3038, 0x303B, HAN), (0x3100, 0x312F, HAN), (0x31A0, 0x31BF, HAN),
    (0x3400, 0x4DBF, HAN), (0x4E00, 0x9FFF, HAN), (0xF900, 0xFAFF, HAN), (0x20000, 0x2A6DF, HAN),
    (0x2A700, 0x2EE5F, HAN), (0x2F800, 0x2FA1F, HAN), (0x30000, 0x323AF, HAN),
])
_STARTS = [first for first, _, _ in _RANGES]
for _before, _after in zip(_RANGES, _RANGES[1:]):
    assert _before[1] < _after[0], f"overlapping script ranges {_before} {_after}"

_SURROGATES = (0xD800, 0xDFFF)  # not characters: UTF-8 never encodes them


def script_of(code_point: int) -> int:
    """The script bit of one code point; 0 for Latin, Greek, digits, punctuation, symbols, emoji, the rest."""
    if code_point < 0x0400:
        return 0
    i = bisect.bisect_right(_STARTS, code_point) - 1
    if i >= 0 and code_point <= _RANGES[i][1]:
        return _RANGES[i][2]
    return 0


def scripts_in(text: str) -> int:
    """The scripts a text writes in, as bits."""
    mask = 0
    for char in set(text):
        mask |= script_of(ord(char))
    return mask


def allowed_for(texts: Iterable[str]) -> int:
    """The scripts a thought may use for a user who wrote `texts`: theirs, and Han wherever they wrote Kana
    (Japanese is written with both)."""
    mask = 0
    for text in texts:
        mask |= scripts_in(text)
    if mask & KANA:
        mask |= HAN
    return mask


def names(mask: int) -> list[str]:
    return [name for bit, name in NAMES.items() if mask & bit]


# --- bytes: whole characters and unfinished ones ------------------------------------------------------------


def _length(lead: int) -> int:
    """How many bytes a UTF-8 sequence starting with `lead` has; 0 for a byte that starts none."""
    if lead < 0x80:
        return 1
    if 0xC2 <= lead <= 0xDF:
        return 2
    if 0xE0 <= lead <= 0xEF:
        return 3
    if 0xF0 <= lead <= 0xF4:
        return 4
    return 0  # a continuation byte, or one UTF-8 never uses


def unfinished_tail(data: bytes) -> bytes:
    """The bytes at the end of `data` that begin a character and still lack its last bytes ("" if none)."""
    for back in range(1, min(4, len(data) + 1)):
        byte = data[-back]
        if 0x80 <= byte < 0xC0:
            continue  # a continuation byte: the lead is further back
        need = _length(byte)
        return data[-back:] if need > back else b""
    return b""


@lru_cache(maxsize=4096)
def completions(tail: bytes) -> int:
    """The script an unfinished character commits to: the one holding more than half of the code points it
    can still become (0 if none does, or if no character starts this way)."""
    need = _length(tail[0])
    if need <= len(tail) or any(not 0x80 <= b < 0xC0 for b in tail[1:]):
        return 0
    missing = need - len(tail)
    try:
        first = ord((tail + b"\x80" * missing).decode())
        last = ord((tail + b"\xbf" * missing).decode())
    except UnicodeDecodeError:
        return _spread(tail, need)  # an overlong or out-of-range start: only some completions are valid
    return _majority(first, last)


def _spread(tail: bytes, need: int) -> int:
    """A start whose continuations are only partly valid (E0 80.., ED A0.., F0 80.., F4 90..): judge the
    valid ones, by trying each next byte."""
    valid = []
    for nxt in range(0x80, 0xC0):
        longer = tail + bytes([nxt])
        try:
            if len(longer) == need:
                valid.append((ord(longer.decode()),) * 2)
            else:
                pad = need - len(longer)
                valid.append((ord((longer + b"\x80" * pad).decode()), ord((longer + b"\xbf" * pad).decode())))
        except UnicodeDecodeError:
            continue
    if not valid:
        return 0
    counts: dict[int, int] = {}
    total = 0
    for first, last in valid:
        total += last - first + 1
        for script, count in _counts(first, last).items():
            counts[script] = counts.get(script, 0) + count
    return _winner(counts, total)


def _majority(first: int, last: int) -> int:
    surrogates = max(0, min(last, _SURROGATES[1]) - max(first, _SURROGATES[0]) + 1)
    return _winner(_counts(first, last), last - first + 1 - surrogates)


def _counts(first: int, last: int) -> dict[int, int]:
    """How many code points of first..last each script's ranges hold."""
    counts: dict[int, int] = {}
    i = max(bisect.bisect_right(_STARTS, first) - 1, 0)
    while i < len(_RANGES) and _RANGES[i][0] <= last:
        low, high, script = _RANGES[i]
        overlap = min(high, last) - max(low, first) + 1
        if overlap > 0:
            counts[script] = counts.get(script, 0) + overlap
        i += 1
    return counts


def _winner(counts: dict[int, int], total: int) -> int:
    for script, count in counts.items():
        if 2 * count > total:
            return script
    return 0


def classify(piece: bytes) -> int:
    """The scripts a token's bytes commit the text to: those of its whole characters, and the one its
    unfinished last character would most likely become. Leading continuation bytes (the end of a
    character an earlier token began) are skipped here: see the module's docstring."""
    if piece.isascii():
        return 0
    tail = unfinished_tail(piece)
    body = piece[: len(piece) - len(tail)] if tail else piece
    mask = scripts_in(body.decode("utf-8", errors="ignore"))
    if tail:
        mask |= completions(tail)
    return mask
