"""The engine on the real llama.cpp: the starter model, and the same weights wearing DeepSeek-R1's templates."""

from __future__ import annotations

import os
import re
import signal
import time

import pytest

from deskseek.engines.events import AnswerDelta, ReasoningDelta, Settings
from deskseek.engines.local import Engine, LoadError
from deskseek.llama import native_log
from deskseek.models import gguf
from tests.fixtures import chat_templates, gguf_writers

GREEDY = Settings(temperature=0, max_tokens=24)
# Forces an R1-shaped reply out of a model that has never seen R1: reasoning, the closing tag, an answer.
R1_GRAMMAR = r'''
root ::= thought "</think>" "\n\n" answer
thought ::= "Let me think" [a-z ,]{3,30} "."
answer ::= "The answer is " [0-9]{1,3} "."
'''


@pytest.fixture(scope="session")
def starter_path():
    return gguf_writers.starter_gguf(gguf_writers.default_cache_dir())


@pytest.fixture(scope="session")
def r1_paths(starter_path, tmp_path_factory):
    """SmolLM2's weights carrying each generation of R1's chat template (and one that keeps old thoughts)."""
    folder = tmp_path_factory.mktemp("r1")
    return {
        name: gguf_writers.with_metadata(starter_path, folder / f"{name}.gguf", chat_template=template)
        for name, template in {
            "old": chat_templates.R1_TEMPLATE_OLD,
            "new": chat_templates.R1_TEMPLATE_NEW,
            "no_strip": chat_templates.R1_TEMPLATE_NO_STRIP,
        }.items()
    }


@pytest.fixture(scope="session")
def starter(starter_path):
    with Engine(starter_path, n_ctx=1024, n_threads=2) as engine:
        yield engine


@pytest.fixture(scope="session")
def r1(r1_paths):
    with Engine(r1_paths["old"], n_ctx=1024, n_threads=2, allow_system=False) as engine:
        yield engine


def ask(engine, text, settings=GREEDY, history=()):
    return engine.generate([*history, {"role": "user", "content": text}], settings).wait()


def test_starter_answers_without_thinking(starter):
    assert starter.reasoning is False and starter.architecture == "llama"
    reply = ask(starter, "What is the capital of France?")
    assert reply.finish_reason in ("stop", "length") and reply.error is None
    assert reply.reasoning == "" and reply.content.strip()
    stats = reply.stats
    assert stats.prompt_tokens > 10 and 0 < stats.completion_tokens <= 24 and stats.reasoning_tokens == 0
    assert stats.ttft_s > 0 and stats.gen_tok_s > 0 and stats.prompt_tok_s > 0


def test_greedy_is_deterministic_and_seed_reproduces(starter):
    assert ask(starter, "Name a fruit.").content == ask(starter, "Name a fruit.").content
    seeded = Settings(temperature=0.9, seed=42, max_tokens=16)
    assert ask(starter, "Tell me a word.", seeded).content == ask(starter, "Tell me a word.", seeded).content


def test_second_turn_reuses_the_kv_cache(starter):
    first = ask(starter, "Say one word.")
    history = [{"role": "user", "content": "Say one word."}, {"role": "assistant", "content": first.content}]
    second = ask(starter, "Another.", history=history)
    assert second.stats.cached_tokens >= first.stats.prompt_tokens - 1


@pytest.mark.parametrize("generation", ["old", "new"])
def test_both_r1_template_generations_start_inside_the_thought(r1_paths, generation):
    with Engine(r1_paths[generation], n_ctx=512, n_threads=2, allow_system=False) as engine:
        assert engine.reasoning is True
        rendered = engine.render([{"role": "user", "content": "hi"}])
    assert rendered.starts_in_thought
    assert rendered.prompt.endswith("<｜Assistant｜><think>\n")
    assert rendered.prompt.count("<think>") == 1


@pytest.mark.parametrize("generation", ["new", "no_strip"])
def test_r1_gets_no_system_prompt_and_stored_answers_whole(r1_paths, generation):
    """Earlier answers come stored without their thought: one that quotes `</think>` is not cut there, neither by
    the engine nor by R1's own template (which keeps only what follows the last `</think>`)."""
    answer = "Strip them with re.sub(r'<think>.*?</think>', '', text) and keep the rest."
    conversation = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": answer},
        {"role": "user", "content": "second"},
    ]
    with Engine(r1_paths[generation], n_ctx=512, n_threads=2, allow_system=False) as engine:
        prompt = engine.render(conversation).prompt
    assert f"<｜Assistant｜>{answer}<｜end▁of▁sentence｜><｜User｜>second" in prompt
    assert "Be brief.\n\nfirst" in prompt  # folded into the first user turn


def test_grammar_forced_r1_reply_splits_into_reasoning_and_answer(r1):
    reply = ask(r1, "What is 6 times 7?", Settings(temperature=0, max_tokens=80, grammar=R1_GRAMMAR))
    assert reply.finish_reason == "stop" and reply.thought_closed
    assert reply.reasoning.startswith("Let me think") and reply.reasoning.rstrip().endswith(".")
    assert reply.content.startswith("The answer is ") and "</think>" not in reply.content
    assert 0 < reply.stats.reasoning_tokens < reply.stats.completion_tokens


def test_a_thought_that_never_closes_is_not_an_answer(r1):
    reply = ask(r1, "Think forever.", Settings(temperature=0, max_tokens=12, grammar='root ::= [a-z ]+'))
    assert reply.finish_reason == "length" and not reply.thought_closed
    assert reply.content == "" and reply.reasoning.strip()
    assert reply.stats.reasoning_tokens == 12


def test_think_budget_closes_the_thought_and_lets_it_answer(r1):
    # ignore_eos: the model may not stop on its own, so whatever it writes after the closed thought is the answer.
    reply = ask(r1, "What is 2+2?", Settings(temperature=0, max_tokens=40, think_budget=8, ignore_eos=True))
    assert reply.thought_closed and reply.finish_reason == "length"
    assert reply.stats.reasoning_tokens == 8 and reply.reasoning.strip()
    assert reply.stats.completion_tokens == 40 and reply.content.strip() and "</think>" not in reply.content


def test_multibyte_text_is_never_split_mid_character(starter):
    reply = ask(starter, "인사", Settings(temperature=0, max_tokens=20, grammar='root ::= "안녕하세요 " [가-힣]{2,6}'))
    assert reply.content.startswith("안녕하세요 ") and "\ufffd" not in reply.content


def test_cancel_between_tokens_keeps_what_was_produced(starter):
    generation = starter.generate([{"role": "user", "content": "Count to a thousand."}],
                                  Settings(temperature=0, max_tokens=900))
    texts = []
    for event in generation:
        if isinstance(event, AnswerDelta):
            texts.append(event.text)
            if len(texts) == 5:
                generation.cancel()
    reply = generation.reply
    assert reply.finish_reason == "cancelled" and reply.content == "".join(texts)
    assert 5 <= reply.stats.completion_tokens < 900
    assert ask(starter, "Hello").finish_reason in ("stop", "length")  # the engine is still usable


class CancelsInsideTheFirstBatch(Engine):
    """Cancels its reply from inside llama.cpp's computation of the prompt's first batch, whatever the machine's speed:
    the first time llama.cpp asks whether to abort, no cancel has been asked for yet; it is, right there, as
    Generation.cancel() does from another thread."""

    armed = False

    def _should_abort(self) -> bool:
        if self.armed:
            self.armed = False
            self._cancel.set()
        return super()._should_abort()


def test_cancel_during_prompt_processing_aborts_the_batch(starter_path):
    long_prompt = "Summarise this: " + "the quick brown fox jumps over the lazy dog. " * 180
    with CancelsInsideTheFirstBatch(starter_path, n_ctx=4096, n_batch=4096, n_threads=2) as engine:
        engine.armed = True
        reply = engine.generate([{"role": "user", "content": long_prompt}], GREEDY).wait()
        assert reply.finish_reason == "cancelled" and reply.stats.completion_tokens == 0
        assert reply.stats.prompt_tok_s == 0  # no batch finished: no rate as if the whole prompt had been read
        assert engine.aborted_decodes == 1  # llama.cpp stopped inside the batch, not after it
        assert engine._cached == []
        assert ask(engine, "Hi").finish_reason in ("stop", "length")


@pytest.fixture(scope="session")
def alternating_path(starter_path, tmp_path_factory):
    """SmolLM2's weights with a template that raises unless user and assistant turns alternate (as Gemma's does)."""
    folder = tmp_path_factory.mktemp("alternating")
    return gguf_writers.with_metadata(starter_path, folder / "alternating.gguf",
                                      chat_template=chat_templates.ALTERNATING_TEMPLATE)


def test_a_long_conversation_on_a_template_that_needs_alternation_keeps_working(alternating_path):
    """Past the context, whole exchanges go, oldest first: the roles still alternate, the system prompt and the
    first question stay, and the notice says how many exchanges went."""
    filler = "This is a long earlier message about nothing in particular. " * 3
    short = Settings(temperature=0, max_tokens=8)
    history = [{"role": "system", "content": "You are terse."}]
    notices = []
    with Engine(alternating_path, n_ctx=256, n_threads=2) as engine:
        assert engine.n_ctx == 256  # llama.cpp rounds other sizes up to a multiple of 256
        for index in range(6):
            prompt = f"Question {index}: {filler}"
            reply = ask(engine, prompt, short, history=history)
            assert reply.error is None and reply.finish_reason in ("stop", "length"), reply.error
            assert reply.stats.prompt_tokens + 8 <= 256
            notices += reply.notices
            history += [{"role": "user", "content": prompt}, {"role": "assistant", "content": reply.content}]
        rendered, _tokens, dropped = engine._fit([*history, {"role": "user", "content": "Last one?"}], 8)
    assert notices and all(re.fullmatch(r"dropped \d+ earlier exchange\(s\) to fit the 256-token context", n)
                           for n in notices)
    assert dropped >= 1
    prompt = rendered.prompt
    assert prompt.index("<|im_start|>system\nYou are terse.") < prompt.index("Question 0:")
    assert "Question 1:" not in prompt and "Question 5:" in prompt and prompt.endswith("Last one?<|im_end|>\n<|im_start|>assistant\n")
    assert prompt.count("<|im_start|>user") == prompt.count("<|im_start|>assistant")  # one answer per question


def test_a_prompt_longer_than_the_context_is_an_error_not_a_crash(starter_path):
    with Engine(starter_path, n_ctx=256, n_threads=2) as engine:
        reply = ask(engine, "word " * 600)
    assert reply.finish_reason == "error" and "more than this context holds (256)" in reply.error


def test_llama_cpp_log_goes_to_our_log_not_the_terminal(starter_path, capfd):
    start = native_log.mark()
    with Engine(starter_path, n_ctx=256, n_threads=2):
        pass
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    assert any("llama_model_loader" in line for line in native_log.lines_since(start))


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda src, dst: gguf_writers.not_gguf(dst), gguf.NotGguf, "not a GGUF file"),
        (lambda src, dst: gguf_writers.truncated(src, dst, 2_000_000), gguf.NotGguf,
         r"bad.gguf: truncated: tensor data ends at \d+ bytes, file has 2000000"),
        (lambda src, dst: gguf_writers.truncated(src, dst, 1000), gguf.NotGguf, "truncated GGUF header"),
        (gguf_writers.with_unknown_architecture, LoadError, "architecture 'nosucharch' is not supported"),
    ],
)
def test_bad_files_fail_with_one_clear_line(starter_path, tmp_path, make, error, message):
    bad = make(starter_path, tmp_path / "bad.gguf")
    started = time.monotonic()
    with pytest.raises(error, match=message) as caught:
        Engine(bad, n_ctx=256, n_threads=2)
    assert "\n" not in str(caught.value)
    assert time.monotonic() - started < 60  # no hang


def test_a_context_too_big_for_memory_is_one_line(starter_path):
    with pytest.raises(LoadError, match=r"not enough memory for a 4000000-token context \(.*insufficient memory.*\); try a smaller --ctx"):
        Engine(starter_path, n_ctx=4_000_000, n_threads=2)


def test_a_context_full_notice_follows_the_text_and_done_is_last(starter_path):
    """A reply that runs into the end of the context: its text, then the notice that says so, then Stats, then Done."""
    with Engine(starter_path, n_ctx=256, n_threads=2) as engine:
        events = list(engine.generate([{"role": "user", "content": "Tell a story. " * 30}],
                                      Settings(temperature=0, max_tokens=None, ignore_eos=True)))
    kinds = [type(event).__name__ for event in events]
    assert kinds[-3:] == ["Notice", "Stats", "Done"], kinds[-6:]
    assert events[-3].message.startswith("the context (256 tokens) is full; the reply was cut short: `-c 512` gives")
    assert events[-1].finish_reason == "length" and kinds.count("Notice") == 1
    assert any(isinstance(e, AnswerDelta) for e in events) and not any(isinstance(e, ReasoningDelta) for e in events)


def test_closing_mid_reply_cancels_and_waits_instead_of_crashing(starter_path):
    engine = Engine(starter_path, n_ctx=1024, n_threads=2)
    generation = engine.generate([{"role": "user", "content": "Count to a thousand."}],
                                 Settings(temperature=0, max_tokens=900))
    next(iter(generation))
    engine.close()  # frees llama.cpp's context only once the generation thread has let go of it
    assert generation.wait().finish_reason == "cancelled"
    with pytest.raises(Exception, match="closed"):
        engine.generate([{"role": "user", "content": "again"}])


def test_one_reply_at_a_time(starter):
    first = starter.generate([{"role": "user", "content": "Count to a thousand."}], Settings(max_tokens=200))
    with pytest.raises(Exception, match="already being generated"):
        starter.generate([{"role": "user", "content": "Hi"}])
    first.cancel()
    first.wait()


def test_ctrl_c_while_loading_stops_the_load(starter_path):
    """A real SIGINT mid-load: it must stop the load and surface as KeyboardInterrupt once llama.cpp has returned.

    (Raised inside a ctypes callback, a KeyboardInterrupt would be printed and swallowed, and the load go on.)
    """
    fractions = []

    def press_ctrl_c(fraction: float) -> None:
        fractions.append(fraction)
        if len(fractions) == 1:
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(KeyboardInterrupt):
        Engine(starter_path, n_ctx=128, n_threads=2, on_progress=press_ctrl_c)
    assert fractions and max(fractions) < 1.0  # stopped part-way, not after loading everything
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # Ctrl+C behaves as before afterwards
