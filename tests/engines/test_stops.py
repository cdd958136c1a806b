"""Stop texts on a stream: the reply ends at one, and no piece of one is ever shown, however the text is cut."""

from __future__ import annotations

import pytest

from deskseek.engines.stops import StopMatcher


def stream(pieces, stops):
    matcher = StopMatcher(stops)
    shown = []
    for piece in pieces:
        shown.append(matcher.feed(piece))
        if matcher.stopped:
            break
    else:
        shown.append(matcher.flush())
    return shown, matcher.stopped


def every_cut(text):
    """The text in one piece, character by character, and split at every position."""
    yield [text]
    yield list(text)
    for cut in range(1, len(text)):
        yield [text[:cut], text[cut:]]


@pytest.mark.parametrize("pieces", list(every_cut("The answer is 42.\nUser: more")))
def test_the_stop_and_all_after_it_are_never_shown(pieces):
    shown, stopped = stream(pieces, ["\nUser:"])
    assert stopped and "".join(shown) == "The answer is 42."
    assert not any("\n" in piece for piece in shown)  # not even the stop's first character went out early


def test_text_that_only_looks_like_a_stop_is_held_then_released():
    matcher = StopMatcher(["</answer>"])
    assert matcher.feed("a </ans") == "a "  # could still become the stop: held
    assert matcher.feed("wer-ish") == "</answer-ish"  # it did not: released in order
    assert not matcher.stopped
    assert matcher.feed("</an") == ""
    assert matcher.flush() == "</an"  # the reply ended without the stop: what was held was text


def test_the_earliest_of_several_stops_wins():
    shown, stopped = stream(["one END two STOP three"], ["STOP", "END"])
    assert stopped and shown == ["one "]


def test_a_stop_can_overlap_a_false_start():
    shown, stopped = stream(list("xx#x#y"), ["#x#y"])
    assert stopped and "".join(shown) == "xx"


def test_without_stops_everything_passes_at_once():
    matcher = StopMatcher([])
    assert matcher.feed("<") == "<" and matcher.flush() == "" and not matcher.stopped


def test_nothing_more_after_a_stop():
    matcher = StopMatcher(["."])
    assert matcher.feed("a.b") == "a" and matcher.feed("more") == "" and matcher.flush() == ""


def test_held_text_is_bounded_by_the_longest_stop():
    matcher = StopMatcher(["abcd", "xy"])
    out = matcher.feed("zzzabc")
    assert out == "zzz"  # "abc" could start "abcd"
    assert matcher.feed("q" * 10) == "abc" + "q" * 10
