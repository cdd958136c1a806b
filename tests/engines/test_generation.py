"""One reply on the real llama.cpp with the sampling flags llama.cpp users expect: top-k, min-p, the repeat
penalty, and stop texts that end the reply without any piece of them reaching the reply, the thought included."""

from __future__ import annotations

import pytest

from deskseek.engines.events import AnswerDelta, ReasoningDelta, Settings
from tests.engines.test_local import GREEDY, R1_GRAMMAR, ask, r1, r1_paths, starter, starter_path  # noqa: F401

HOT = dict(temperature=5.0, top_k=0, top_p=1.0, min_p=0.0, max_tokens=16)  # near-uniform: a seed decides


def test_top_k_1_and_min_p_1_are_greedy_however_hot(starter):  # noqa: F811
    greedy = ask(starter, "Name a fruit.", Settings(temperature=0, max_tokens=16)).content
    hot = [ask(starter, "Name a fruit.", Settings(**HOT, seed=seed)).content for seed in (1, 2)]
    assert all(text != greedy for text in hot)  # the control: at this temperature sampling does wander
    for seed in (1, 2):
        assert ask(starter, "Name a fruit.", Settings(**{**HOT, "top_k": 1}, seed=seed)).content == greedy
        assert ask(starter, "Name a fruit.", Settings(**{**HOT, "min_p": 1.0}, seed=seed)).content == greedy


def test_repeat_penalty_steers_away_from_repeats(starter):  # noqa: F811
    prompt = "Count from 1 to 30, separated by commas."
    plain = ask(starter, prompt, Settings(temperature=0, max_tokens=40)).content
    penalized = ask(starter, prompt, Settings(temperature=0, max_tokens=40, repeat_penalty=1.3)).content
    assert plain.count("\n") > 5  # greedy repeats its line pattern...
    assert penalized != plain and penalized.count("\n") < plain.count("\n")  # ...which the penalty breaks


def test_a_stop_text_ends_the_reply_and_is_not_in_it(starter):  # noqa: F811
    full = ask(starter, "What is the capital of France?", Settings(temperature=0, max_tokens=24))
    stop = full.content[5:12]  # a few characters in the middle, whatever tokens they straddle
    cut = starter.generate([{"role": "user", "content": "What is the capital of France?"}],
                           Settings(temperature=0, max_tokens=24, stop=(stop,)))
    events = list(cut)
    reply = cut.reply
    assert reply.content == full.content[: full.content.index(stop)] and reply.finish_reason == "stop"
    streamed = "".join(e.text for e in events if isinstance(e, AnswerDelta))
    assert streamed == reply.content  # no delta ever carried a piece of the stop
    assert reply.stats.completion_tokens < full.stats.completion_tokens


def test_a_stop_that_never_comes_changes_nothing(starter):  # noqa: F811
    full = ask(starter, "What is the capital of France?", Settings(temperature=0, max_tokens=24))
    same = ask(starter, "What is the capital of France?",
               Settings(temperature=0, max_tokens=24, stop=(full.content[-3:] + "never",)))
    assert (same.content, same.finish_reason) == (full.content, full.finish_reason)


@pytest.mark.parametrize("stop, reasoning, content, closed", [
    ("answer is", None, "The", True),  # in the answer: the thought is whole
    ("think about", "Let me", "", False),  # in the thought: it never closed, no answer
    ("</think>", None, "", False),  # the closing tag itself: the splitter never sees it
])
def test_stops_and_the_think_splitter(r1, stop, reasoning, content, closed):  # noqa: F811
    settings = Settings(temperature=0, max_tokens=80, grammar=R1_GRAMMAR, stop=(stop,))
    whole = ask(r1, "What is 6 times 7?", Settings(temperature=0, max_tokens=80, grammar=R1_GRAMMAR))
    generation = r1.generate([{"role": "user", "content": "What is 6 times 7?"}], settings)
    events = list(generation)
    reply = generation.reply
    assert reply.finish_reason == "stop" and reply.thought_closed is closed
    assert reply.content.strip() == content
    assert reply.reasoning.strip() == (reasoning if reasoning is not None else whole.reasoning.strip())
    shown = "".join(e.text for e in events if isinstance(e, (ReasoningDelta, AnswerDelta)))
    assert stop not in shown and "</think" not in shown
