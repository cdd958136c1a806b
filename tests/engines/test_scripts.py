"""Writing systems of text and of token bytes (deskseek/engines/scripts.py), without llama.cpp."""

from __future__ import annotations

import pytest

from deskseek.engines import scripts
from deskseek.engines.scripts import CYRILLIC, HAN, HANGUL, KANA, THAI, classify, completions, unfinished_tail


@pytest.mark.parametrize(("text", "expected"), [
    ("What is 2+2? Café, naïve, Ω = αβ, x² ≤ 3 — “quoted” 😀 🇰🇷 …", 0),  # Latin, Greek, symbols, emoji: no script
    ("서울의 인구는?", HANGUL),
    ("ㅋㅋ", HANGUL),  # compatibility jamo
    ("二加二是多少？", HAN),  # the fullwidth question mark is punctuation
    ("日本語ですね。", HAN | KANA),
    ("カタカナ", KANA),
    ("Привет, мир", CYRILLIC),
    ("สวัสดี", THAI),
    ("々〇", HAN),  # Unicode counts the iteration mark and ideographic zero as Han
    ("「」、。・", KANA),  # brackets and stops are punctuation; the katakana middle dot is Kana
    ("𠀀", HAN),  # plane 2
])
def test_scripts_in_text(text, expected):
    assert scripts.scripts_in(text) == expected


def test_the_scripts_a_user_may_think_in():
    assert scripts.allowed_for(["Hello", "안녕하세요"]) == HANGUL
    assert scripts.allowed_for(["ひらがなだけ"]) == KANA | HAN  # Japanese is written with kanji too
    assert scripts.allowed_for([]) == 0
    assert scripts.names(HAN | HANGUL) == ["Han", "Hangul"]


@pytest.mark.parametrize(("data", "tail"), [
    (b"abc", b""),
    ("好".encode(), b""),
    ("好".encode()[:2], "好".encode()[:2]),
    (b"x" + "好".encode()[:1], "好".encode()[:1]),
    ("😀".encode()[:3], "😀".encode()[:3]),
    ("😀".encode()[1:], b""),  # continuation bytes only: nothing begun here
    (b"\xff", b""),  # not a UTF-8 byte
    (b"", b""),
])
def test_unfinished_tail(data, tail):
    assert unfinished_tail(data) == tail


@pytest.mark.parametrize(("start", "expected"), [
    (b"\xe9", HAN),  # U+9000..9FFF: all Han
    (b"\xe4", HAN),  # U+4000..4FFF: Han, but for 64 Yijing hexagrams
    (b"\xe4\xb8", HAN),  # U+4E00..4E3F
    (b"\xe4\xb7", 0),  # U+4DC0..4DFF: the hexagrams, symbols
    (b"\xeb", HANGUL),  # U+B000..BFFF
    (b"\xec\x83", HANGUL),
    (b"\xed", HANGUL),  # U+D000..D7FF and the surrogates, which UTF-8 never encodes
    (b"\xea", 0),  # U+A000..AFFF: Yi, Vai, Cyrillic, Latin and Hangul: no script holds most
    (b"\xe3", HAN),  # U+3000..3FFF: mostly CJK Extension A
    (b"\xe3\x85", HANGUL),  # U+3140..317F: compatibility jamo
    (b"\xe3\x82", KANA),
    (b"\xd0", CYRILLIC),
    (b"\xe0\xb8", THAI),
    (b"\xe0", 0),  # U+0800..0FFF: a dozen scripts
    (b"\xf0", 0),  # all four-byte characters: emoji, historic scripts, Han: no majority
    (b"\xf0\x9f", 0),  # emoji
    (b"\xf0\xa0", HAN),  # U+20000..20FFF
    (b"\xf0\xa0\x80", HAN),
    (b"\xed\xa0", 0),  # a surrogate's start: nothing it could become is a character
    (b"\xf4\x90", 0),  # past U+10FFFF
    (b"\xc0", 0),  # never in UTF-8
])
def test_an_unfinished_character_is_judged_by_what_it_can_become(start, expected):
    assert completions(start) == expected


def test_classify_a_token_by_its_whole_characters_and_its_unfinished_end():
    assert classify(b" the") == 0
    assert classify("好".encode()) == HAN
    assert classify("한국어".encode()) == HANGUL
    assert classify(" 생각한다".encode()) == HANGUL
    assert classify("Привет".encode()) == CYRILLIC
    assert classify("αβγ".encode()) == 0
    assert classify("😀".encode()) == 0
    assert classify(b"ok" + "中".encode()) == HAN
    assert classify("한".encode() + "好".encode()[:2]) == HANGUL | HAN  # a whole Hangul syllable, then a Han start
    assert classify("𠀀".encode()[1:]) == 0  # only the end of a character: the guard judges it with what came before
    assert classify("𠀀".encode()[:1] + "𠀀".encode()[1:]) == HAN
    assert classify(b"\xf0" + "😀".encode()[1:]) == 0
