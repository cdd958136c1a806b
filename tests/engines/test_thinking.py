"""Tests for the streaming thought/answer splitter (deskseek.engines.thinking)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deskseek.engines.thinking import Delta, ReasoningSplitter, split_reasoning

MAX_HELD = len("</think>") - 1

# deadline=None: examples take microseconds, but a slow shared CI runner can
# stall one long enough to trip Hypothesis' deadline and report a flaky test.
prop = settings(deadline=None)


def feed_chunks(
    chunks: list[str], *, starts_in_thought: bool
) -> tuple[str, str, bool, list[list[Delta]]]:
    """Feed chunks, finish, and return (reasoning, answer, closed, per-call deltas)."""
    splitter = ReasoningSplitter(starts_in_thought=starts_in_thought)
    calls = [splitter.feed(chunk) for chunk in chunks]
    calls.append(splitter.finish())
    deltas = [d for call in calls for d in call]
    reasoning = "".join(d.text for d in deltas if d.kind == "reasoning")
    answer = "".join(d.text for d in deltas if d.kind == "answer")
    return reasoning, answer, splitter.thought_closed, calls


def reference_split(text: str, *, starts_in_thought: bool) -> tuple[str, str, bool]:
    """The rules applied to the whole text at once, written independently."""
    if starts_in_thought:
        body = text
    else:
        text = text.lstrip()
        if not text.startswith("<think>"):
            return "", text, False
        body = text[len("<think>"):]
    end = body.find("</think>")
    if end == -1:
        thought, answer, closed = body, "", False
    else:
        thought, answer, closed = body[:end], body[end + len("</think>"):], True
    return thought.replace("<think>", "").lstrip(), answer.lstrip(), closed


# --- whole-text semantics ---------------------------------------------------


def test_r1_stream_without_opening_tag_splits_at_close_tag() -> None:
    text = "Let me think.\nOK.\n</think>\n\nThe answer is 4."
    assert split_reasoning(text, starts_in_thought=True) == (
        "Let me think.\nOK.\n",
        "The answer is 4.",
        True,
    )


def test_starts_in_thought_drops_leading_opening_tag() -> None:
    text = "<think>\nhmm</think>\n\nyes"
    assert split_reasoning(text, starts_in_thought=True) == ("hmm", "yes", True)


def test_starts_in_thought_drops_opening_tag_after_whitespace() -> None:
    text = "\n \n<think>\n\nhmm</think>yes"
    assert split_reasoning(text, starts_in_thought=True) == ("hmm", "yes", True)


def test_model_opened_thought_is_split() -> None:
    text = "\n  <think>\nhmm</think>\n\nyes"
    assert split_reasoning(text, starts_in_thought=False) == ("hmm", "yes", True)


def test_text_before_opening_tag_means_no_thought() -> None:
    text = "  Sure. <think>not a thought</think> done"
    assert split_reasoning(text, starts_in_thought=False) == (
        "",
        "Sure. <think>not a thought</think> done",
        False,
    )


def test_close_tag_first_without_thought_is_answer_text() -> None:
    text = "</think>answer"
    assert split_reasoning(text, starts_in_thought=False) == ("", text, False)


def test_opening_tag_inside_thought_is_dropped() -> None:
    text = "a<think>b\n<think>c</think>d"
    assert split_reasoning(text, starts_in_thought=True) == ("ab\nc", "d", True)


def test_tags_after_close_are_literal_answer_text() -> None:
    text = "r</think>a <think>x</think> b </think>"
    assert split_reasoning(text, starts_in_thought=True) == (
        "r",
        "a <think>x</think> b </think>",
        True,
    )


def test_inner_and_trailing_whitespace_kept_leading_stripped() -> None:
    text = "<think>\n\n  a  b \n\n</think>\n\n  x \n y\n\n"
    assert split_reasoning(text, starts_in_thought=False) == (
        "a  b \n\n",
        "x \n y\n\n",
        True,
    )


@pytest.mark.parametrize(
    ("text", "starts_in_thought"),
    [
        ("<think></think>answer", False),
        ("<think>\n\n</think>\n\nanswer", False),
        ("</think>answer", True),
        ("<think></think>answer", True),
        ("\n</think>\nanswer", True),
    ],
)
def test_empty_thought_gives_no_reasoning(text: str, starts_in_thought: bool) -> None:
    reasoning, answer, closed, calls = feed_chunks(
        list(text), starts_in_thought=starts_in_thought
    )
    assert (reasoning, answer, closed) == ("", "answer", True)
    assert all(d.kind == "answer" for call in calls for d in call)


def test_missing_close_tag_leaves_everything_reasoning() -> None:
    splitter = ReasoningSplitter(starts_in_thought=True)
    assert splitter.feed("thinking forever <") == [
        Delta("reasoning", "thinking forever ")
    ]
    assert splitter.finish() == [Delta("reasoning", "<")]
    assert splitter.in_thought
    assert not splitter.thought_closed


def test_unfinished_close_tag_at_end_is_reasoning_text() -> None:
    assert split_reasoning("hmm </thin", starts_in_thought=True) == (
        "hmm </thin",
        "",
        False,
    )


def test_unfinished_opening_tag_in_prelude_is_answer_text() -> None:
    assert split_reasoning(" <thin", starts_in_thought=False) == ("", "<thin", False)


@pytest.mark.parametrize("starts_in_thought", [True, False])
def test_empty_stream(starts_in_thought: bool) -> None:
    assert split_reasoning("", starts_in_thought=starts_in_thought) == ("", "", False)
    assert split_reasoning(" \n ", starts_in_thought=starts_in_thought) == (
        "",
        "",
        False,
    )


# --- flags ------------------------------------------------------------------


def test_flags_follow_r1_stream() -> None:
    splitter = ReasoningSplitter(starts_in_thought=True)
    assert (splitter.in_thought, splitter.saw_thought, splitter.thought_closed) == (
        True,
        True,
        False,
    )
    splitter.feed("hmm</th")
    assert splitter.in_thought and not splitter.thought_closed
    splitter.feed("ink>ok")
    assert not splitter.in_thought
    assert splitter.saw_thought and splitter.thought_closed


def test_flags_follow_model_opened_thought() -> None:
    splitter = ReasoningSplitter(starts_in_thought=False)
    splitter.feed("\n<thi")
    assert not splitter.in_thought and not splitter.saw_thought
    splitter.feed("nk>hmm")
    assert splitter.in_thought and splitter.saw_thought
    splitter.feed("</think>ok")
    assert not splitter.in_thought and splitter.thought_closed


def test_flags_when_no_thought() -> None:
    splitter = ReasoningSplitter(starts_in_thought=False)
    splitter.feed("hello <think>")
    splitter.finish()
    assert not splitter.in_thought
    assert not splitter.saw_thought
    assert not splitter.thought_closed


# --- streaming behaviour ----------------------------------------------------


@pytest.mark.parametrize(
    "chunks",
    [
        ["abc</th", "ink>xyz"],
        ["abc<", "/think>xyz"],
        ["abc</think", ">xyz"],
        ["abc", "<", "/", "t", "h", "i", "n", "k", ">", "xyz"],
    ],
)
def test_close_tag_split_across_chunks(chunks: list[str]) -> None:
    reasoning, answer, closed, _ = feed_chunks(chunks, starts_in_thought=True)
    assert (reasoning, answer, closed) == ("abc", "xyz", True)


def test_partial_tag_is_held_back_then_completed() -> None:
    splitter = ReasoningSplitter(starts_in_thought=True)
    assert splitter.feed("abc</th") == [Delta("reasoning", "abc")]
    assert splitter.feed("ink>\n\nxyz") == [Delta("answer", "xyz")]
    assert splitter.finish() == []


def test_lone_angle_bracket_released_when_it_cannot_be_a_tag() -> None:
    splitter = ReasoningSplitter(starts_in_thought=True)
    assert splitter.feed("a <") == [Delta("reasoning", "a ")]
    assert splitter.feed(" b") == [Delta("reasoning", "< b")]
    assert splitter.feed("</thx") == [Delta("reasoning", "</thx")]


def test_bracket_in_prelude_released_as_answer_when_not_a_tag() -> None:
    splitter = ReasoningSplitter(starts_in_thought=False)
    assert splitter.feed("  <") == []
    assert splitter.feed("b>") == [Delta("answer", "<b>")]
    assert not splitter.saw_thought


def test_one_feed_merges_same_kind_and_emits_no_empty_delta() -> None:
    splitter = ReasoningSplitter(starts_in_thought=True)
    deltas = splitter.feed("a<think>b<think>c</think>\n\nd<think>e")
    assert deltas == [Delta("reasoning", "abc"), Delta("answer", "d<think>e")]
    assert splitter.feed("") == []
    assert splitter.feed("\n") == [Delta("answer", "\n")]


def test_whitespace_only_chunks_at_section_start_emit_nothing() -> None:
    splitter = ReasoningSplitter(starts_in_thought=True)
    assert splitter.feed("\n") == []
    assert splitter.feed(" ") == []
    assert splitter.feed("x") == [Delta("reasoning", "x")]
    assert splitter.feed("</think>") == []
    assert splitter.feed("\n\n") == []
    assert splitter.feed("y") == [Delta("answer", "y")]


def test_feed_after_finish_is_an_error() -> None:
    splitter = ReasoningSplitter(starts_in_thought=True)
    splitter.finish()
    assert splitter.finish() == []
    with pytest.raises(RuntimeError):
        splitter.feed("late")


def test_many_one_char_chunks_never_hold_more_than_seven() -> None:
    # A counted bound, not a timing one: with no complete tag and no
    # whitespace, all input but the held-back tail must already be out.
    # A splitter that rescanned its output would also make this run very long.
    pattern = "<</thin<thinkx</think<a"
    assert "</think>" not in pattern * 2 and "<think>" not in pattern * 2
    stream = (pattern * (200_000 // len(pattern) + 1))[:200_000]
    splitter = ReasoningSplitter(starts_in_thought=True)
    emitted = 0
    for fed, char in enumerate(stream, start=1):
        for delta in splitter.feed(char):
            assert delta.kind == "reasoning"
            emitted += len(delta.text)
        assert fed - emitted <= MAX_HELD
    emitted += sum(len(d.text) for d in splitter.finish())
    assert emitted == len(stream)


def test_one_huge_chunk_of_brackets() -> None:
    stream = "<" * 100_000 + "</think>" + "<" * 100_000
    assert split_reasoning(stream, starts_in_thought=True) == (
        "<" * 100_000,
        "<" * 100_000,
        True,
    )


# --- properties -------------------------------------------------------------

PIECES = st.one_of(
    st.sampled_from(
        [
            "<think>",
            "</think>",
            "<",
            "</",
            "<th",
            "<thin",
            "</thin",
            "</think",
            "think>",
            ">",
            "/",
            "\n",
            "\n\n",
            " ",
            "\t",
        ]
    ),
    st.text(alphabet="ab<>/thinkx \n思考答🤔é", max_size=8),
)
STREAMS = st.lists(PIECES, max_size=24).map("".join)
TAG_FREE = STREAMS.filter(lambda s: "<think>" not in s and "</think>" not in s)


@st.composite
def chunked(draw: st.DrawFn) -> list[str]:
    """A stream cut into chunks at arbitrary places (empty chunks included)."""
    text = draw(STREAMS)
    cuts = draw(st.lists(st.integers(0, len(text)), max_size=12))
    bounds = [0, *sorted(cuts), len(text)]
    return [text[a:b] for a, b in zip(bounds, bounds[1:])]


@prop
@given(chunks=chunked(), starts_in_thought=st.booleans())
def test_any_chunking_matches_whole_text_and_char_by_char(
    chunks: list[str], starts_in_thought: bool
) -> None:
    text = "".join(chunks)
    whole = split_reasoning(text, starts_in_thought=starts_in_thought)
    by_chunk = feed_chunks(chunks, starts_in_thought=starts_in_thought)
    by_char = feed_chunks(list(text), starts_in_thought=starts_in_thought)
    assert by_chunk[:3] == whole
    assert by_char[:3] == whole


@prop
@given(text=STREAMS, starts_in_thought=st.booleans())
def test_matches_independent_reference(text: str, starts_in_thought: bool) -> None:
    assert split_reasoning(
        text, starts_in_thought=starts_in_thought
    ) == reference_split(text, starts_in_thought=starts_in_thought)


@prop
@given(chunks=chunked(), starts_in_thought=st.booleans())
def test_deltas_are_merged_and_never_empty(
    chunks: list[str], starts_in_thought: bool
) -> None:
    *_, calls = feed_chunks(chunks, starts_in_thought=starts_in_thought)
    for call in calls:
        assert all(d.text for d in call)
        assert all(a.kind != b.kind for a, b in zip(call, call[1:]))


@prop
@given(reasoning=TAG_FREE, answer=STREAMS.filter(str.strip))
def test_round_trip_model_opened_thought(reasoning: str, answer: str) -> None:
    text = "<think>\n" + reasoning + "</think>\n\n" + answer
    assert split_reasoning(text, starts_in_thought=False) == (
        reasoning.lstrip(),
        answer.lstrip(),
        True,
    )


@prop
@given(reasoning=TAG_FREE, answer=STREAMS.filter(str.strip))
def test_round_trip_r1_stream(reasoning: str, answer: str) -> None:
    text = reasoning + "</think>" + answer
    assert split_reasoning(text, starts_in_thought=True) == (
        reasoning.lstrip(),
        answer.lstrip(),
        True,
    )


@prop
@given(chunks=chunked(), starts_in_thought=st.booleans())
def test_held_back_text_never_exceeds_seven_chars(
    chunks: list[str], starts_in_thought: bool
) -> None:
    # What finish() would add if the stream stopped here is exactly what is
    # held back. So after each feed, the output so far must be a prefix of the
    # whole-text split of the input so far, short of it by at most 7 chars.
    splitter = ReasoningSplitter(starts_in_thought=starts_in_thought)
    fed, reasoning, answer = "", "", ""
    for chunk in chunks:
        fed += chunk
        for delta in splitter.feed(chunk):
            if delta.kind == "reasoning":
                reasoning += delta.text
            else:
                answer += delta.text
        full_reasoning, full_answer, _ = split_reasoning(
            fed, starts_in_thought=starts_in_thought
        )
        assert full_reasoning.startswith(reasoning)
        assert full_answer.startswith(answer)
        held = len(full_reasoning) + len(full_answer) - len(reasoning) - len(answer)
        assert held <= MAX_HELD
