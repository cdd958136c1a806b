"""Lookup drafting's index: what followed the latest earlier occurrence of the context's last n-gram."""

from __future__ import annotations

from deskseek.engines.drafts import N_MAX, NgramIndex


def test_the_longest_match_wins_and_proposes_what_followed_it():
    index = NgramIndex([1, 2, 3, 4, 5, 9, 3, 4, 7, 8])
    index.extend([2, 3, 4])  # ends with 2 3 4: once before as 1 [2 3 4] 5, and 3 4 alone later, followed by 7
    assert index.propose(3) == ([5, 9, 3], 3)


def test_the_latest_occurrence_wins():
    index = NgramIndex([5, 6, 1, 5, 6, 2, 9, 5, 6])
    assert index.propose(2) == ([2, 9], 2)


def test_shorter_ngrams_when_the_long_ones_never_came_before():
    index = NgramIndex([8, 1, 2, 9, 9, 9, 7, 2])
    assert index.propose(4) == ([9, 9, 9, 7], 1)


def test_the_context_never_matches_itself():
    index = NgramIndex([1, 2, 3])
    assert index.propose(5) == ([], 0)
    index.add(1)
    assert index.propose(5) == ([2, 3, 1, 2, 3], 1)  # it runs into the present: 1 2 3 repeating, it goes on


def test_repetition_proposes_the_repetition():
    index = NgramIndex([4, 4, 4, 4, 4, 4])
    assert index.propose(8) == ([4] * 8, N_MAX)
    index = NgramIndex([7, 1, 2, 1, 2, 1])
    assert index.propose(5) == ([2, 1, 2, 1, 2], 3)


def test_incremental_and_whole_indexes_agree():
    tokens = [(i * 7) % 5 for i in range(200)]
    whole = NgramIndex(tokens)
    grown = NgramIndex()
    for token in tokens:
        grown.add(token)
    assert whole.propose(6) == grown.propose(6) and whole._after == grown._after
