"""Speculative decoding on the real llama.cpp: the text is the one the model writes alone, token for token.

Each test runs the same prompt with `speculate="off"` and with drafting (`"always"`, which drafts whatever there is
whatever this machine's speed, so that exactness is checked on many drafts, accepted and rejected; and `"auto"`),
and compares: greedy and seeded sampling, reasoning and grammars, the think budget and the thought guard closing
the thought in the middle of a draft, cancel in the middle of a check, a context that fills up, a draft model.
After every reply the KV cache holds exactly the context (`engine._cached`): no draft token is left behind.
"""

from __future__ import annotations

import pytest

from deskseek.engines import draft_costs, think_lang
from deskseek.engines.events import AnswerDelta, Settings
from deskseek.engines.local import Engine
from tests.engines.test_local import R1_GRAMMAR, r1_paths, starter_path  # noqa: F401
from tests.fixtures.speculation_prompts import COPY, FREE
from tests.fixtures.tiny_thinker import ANSWER, tiny_thinker

MODES = ("off", "always", "auto")
# One thread: on a machine whose cores other processes share, llama.cpp's threads wait for each other at every
# step of the graph, and a 2-thread decode can take seconds; one thread never waits (and these models are tiny).
THREADS = 1


@pytest.fixture(scope="module")
def starter(starter_path):  # noqa: F811
    with Engine(starter_path, n_ctx=1024, n_threads=THREADS) as engine:
        yield engine


@pytest.fixture(scope="module")
def r1(r1_paths):  # noqa: F811
    with Engine(r1_paths["old"], n_ctx=1024, n_threads=THREADS, allow_system=False) as engine:
        yield engine


def ask(engine, text, **settings):
    generation = engine.generate([{"role": "user", "content": text}], Settings(**settings))
    reply = generation.wait()
    assert reply.error is None, reply.error
    assert_cache_is_the_context(engine)
    return reply, generation


def assert_cache_is_the_context(engine):
    """The KV cache holds exactly the tokens the engine believes it does: no draft token stayed behind."""
    llama = engine._llama
    last = llama.llama_memory_seq_pos_max(llama.llama_get_memory(engine._ctx), 0)
    assert last == len(engine._cached) - 1


def replies(engine, text, modes=MODES, **settings):
    """The reply in each mode, each from the same start: the prompt cached but for its last token.

    (A prompt decoded in one big batch and one whose last token is decoded alone may differ in the last bits of
    its logits, which a seeded draw can notice: that is prefix caching, with or without drafts. So a first reply
    puts the prompt in the cache, and every compared one decodes only its last token.)"""
    ask(engine, text, speculate="off", **{**settings, "max_tokens": 1})
    return {mode: ask(engine, text, speculate=mode, **settings)[0] for mode in modes}


def assert_same(found):
    plain = found["off"]
    assert plain.stats.drafted == 0
    for mode, reply in found.items():
        assert (reply.reasoning, reply.content, reply.finish_reason, reply.thought_closed, reply.notices) == (
            plain.reasoning, plain.content, plain.finish_reason, plain.thought_closed, plain.notices), mode
        assert reply.stats.completion_tokens == plain.stats.completion_tokens, mode
        assert reply.stats.reasoning_tokens == plain.stats.reasoning_tokens, mode
        assert reply.stats.think_lang_steered == plain.stats.think_lang_steered, mode
        assert 0 <= reply.stats.accepted <= reply.stats.drafted


@pytest.mark.parametrize("prompt", [COPY, FREE], ids=["copy", "free"])
def test_greedy_text_is_the_same_drafted_or_not(starter, prompt):
    found = replies(starter, prompt, temperature=0, max_tokens=120)
    assert_same(found)
    forced = found["always"].stats
    assert forced.drafted > 0
    if prompt is COPY:  # copying is what lookup drafts are for: most of them are taken
        assert forced.accepted > 40 and forced.accepted > forced.drafted / 2
        assert "total / window" in found["off"].content  # the control: the model does copy


@pytest.mark.parametrize("seed", [1, 7, 1234])
def test_sampled_text_with_a_seed_is_the_same_token_for_token(starter, seed):
    """One draw of the sampler per written token, in the same order, from the same logits: with a fixed seed the
    sampled text does not just keep its distribution, it is the same text."""
    found = replies(starter, COPY, modes=("off", "always"), temperature=0.8, top_k=40, top_p=0.95, min_p=0.05,
                    seed=seed, max_tokens=96)
    assert_same(found)
    assert found["always"].stats.accepted > 0 and found["always"].stats.accepted < found["always"].stats.drafted


def test_a_repeat_penalty_is_the_same_too(starter):
    """The penalty's window must hold only the tokens written, never a draft token the model did not take."""
    found = replies(starter, COPY, modes=("off", "always"), max_tokens=48, temperature=0.7, repeat_penalty=1.3,
                    seed=9)
    assert_same(found)
    assert found["always"].stats.drafted > found["always"].stats.accepted


def test_reasoning_and_a_grammar_on_r1_shaped_models(r1):
    thought = replies(r1, COPY, temperature=0, max_tokens=100)
    assert_same(thought)
    assert thought["off"].reasoning and thought["always"].stats.drafted > 0
    grammar = replies(r1, "What is 6 times 7?", temperature=0, max_tokens=80, grammar=R1_GRAMMAR)
    assert_same(grammar)
    assert grammar["off"].reasoning.startswith("Let me think") and grammar["off"].content.startswith("The answer is")


def test_the_think_budget_closes_the_thought_inside_an_accepted_draft(r1):
    """`</think>` goes right after the budget's last token even where that token came from a draft with more
    draft tokens behind it: those are dropped unchecked, and the rest is the same as without drafts."""
    dropped = 0
    for budget in range(6, 30, 4):
        settings = dict(temperature=0, max_tokens=60, think_budget=budget, ignore_eos=True)
        found = replies(r1, COPY, modes=("off",), **settings)
        forced, generation = ask(r1, COPY, speculate="always", **settings)
        found["always"] = forced
        assert_same(found)
        assert forced.stats.reasoning_tokens == budget and forced.thought_closed and forced.content
        dropped += generation._spec.unchecked  # only the budget's close drops drafts here (no stop, no end)
    assert dropped > 0  # the control: at least one budget closed the thought in the middle of a draft


def test_the_thought_guard_closes_a_stubborn_thought_inside_a_draft(tmp_path):
    """The tiny thinker that keeps preferring 好 writes " well" again and again: lookup drafts it, the guard
    steers every step (reading the logits of the draft position it is at), and closes the thought after
    STUCK_STEPS in the middle of a draft."""
    path = tiny_thinker(tmp_path / "stubborn.gguf", stubborn=True)
    with Engine(path, n_ctx=512, n_threads=1) as engine:
        plain, _ = ask(engine, "What is 2+2?", temperature=0, max_tokens=200, speculate="off")
        forced, generation = ask(engine, "What is 2+2?", temperature=0, max_tokens=200, speculate="always")
    assert_same({"off": plain, "always": forced})
    assert forced.content == ANSWER and forced.stats.think_lang_steered == think_lang.STUCK_STEPS
    assert forced.stats.accepted > 10 and generation._spec.unchecked > 0


class CancelsAfterChecks(Engine):
    """Cancels its reply right after its Nth draft check, as Generation.cancel() would from another thread: the
    draft is in the KV cache, and the loop has not yet written any of it."""

    checks_left: int | None = None

    def _decode_checked(self, tokens):
        status = super()._decode_checked(tokens)
        if self.checks_left is not None:
            self.checks_left -= 1
            if self.checks_left == 0:
                self._cancel.set()
        return status


def test_cancel_in_the_middle_of_a_check_drops_the_draft(starter_path):  # noqa: F811
    with CancelsAfterChecks(starter_path, n_ctx=1024, n_threads=THREADS) as engine:
        whole = replies(engine, COPY, modes=("off",), temperature=0, max_tokens=120)["off"]
        engine.checks_left = 3
        generation = engine.generate([{"role": "user", "content": COPY}],
                                     Settings(temperature=0, max_tokens=120, speculate="always"))
        streamed = "".join(e.text for e in generation if isinstance(e, AnswerDelta))
        cut = generation.reply
        assert cut.finish_reason == "cancelled" and cut.content == streamed
        assert 0 < len(cut.content) < len(whole.content) and whole.content.startswith(cut.content)
        assert generation._spec.unchecked > 0  # the draft was in the cache when the cancel came
        assert_cache_is_the_context(engine)
        engine.checks_left = None
        again, _ = ask(engine, COPY, temperature=0, max_tokens=120, speculate="always")  # reuses the cached prefix
        assert again.content == whole.content and again.stats.cached_tokens > 0


def test_a_context_that_fills_up_mid_draft(starter_path):  # noqa: F811
    """Drafts never reach past the context: the last check is cut to the room left, and the reply ends where
    plain decoding ends it, with the same notice."""
    prompt = "Repeat this line forever: the cat sat on the mat and the dog sat on the log. " * 4
    with Engine(starter_path, n_ctx=256, n_threads=THREADS) as engine:
        found = replies(engine, prompt, modes=("off", "always"), temperature=0, ignore_eos=True)
        assert len(engine._cached) == engine.n_ctx
    assert_same(found)
    assert found["off"].notices and found["off"].notices[-1].startswith("the context (256 tokens) is full")
    assert found["always"].stats.accepted > 0


def test_auto_drafts_a_copy_where_the_measured_costs_say_it_pays(starter):
    """The adaptive rule with this machine's timing set aside: decodes measured as cheap batches (a batch of n costs
    1 + n/10 of one token), so only the acceptance decides. A copy is drafted, and the text is the same."""
    saved = starter.speculation_costs
    try:
        starter.speculation_costs = cheap = draft_costs.Costs(single=0.01)
        cheap.batches = {n: 0.01 * (1 + n / 10) for n in range(2, draft_costs.K_MAX + 2)}
        frozen = dict(cheap.batches)
        cheap.timed_single = cheap.timed_batch = lambda *_: None  # keep them: the rule alone is under test
        found = replies(starter, COPY, modes=("off", "auto"), temperature=0, max_tokens=120)
        assert cheap.batches == frozen
    finally:
        starter.speculation_costs = saved
    assert_same(found)
    auto = found["auto"].stats
    assert auto.drafted > 20 and auto.accepted > auto.drafted * 0.7
    assert found["auto"].stats.as_dict()["speculative"] == {"drafted": auto.drafted, "accepted": auto.accepted}


def test_auto_drafts_nothing_where_batches_cost_as_much_as_their_tokens(starter):
    saved = starter.speculation_costs
    try:
        starter.speculation_costs = dear = draft_costs.Costs(single=0.01)
        dear.batches = {n: 0.01 * n for n in range(2, draft_costs.K_MAX + 2)}
        dear.timed_single = dear.timed_batch = lambda *_: None
        reply, _ = ask(starter, COPY, temperature=0, max_tokens=60, speculate="auto")
    finally:
        starter.speculation_costs = saved
    assert reply.stats.drafted == 0


# --- a draft model ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def drafted(starter_path):  # noqa: F811
    """The starter drafting for itself: every draft is what the target writes, so every one must be taken, which
    only holds while the draft model's KV cache follows the target's context exactly."""
    with Engine(starter_path, n_ctx=1024, n_threads=THREADS, draft=starter_path) as engine:
        assert engine.draft is not None and engine.draft_problem is None
        yield engine


@pytest.mark.parametrize("prompt", [COPY, FREE], ids=["copy", "free"])
def test_a_draft_model_gives_the_same_text(drafted, prompt):
    found = replies(drafted, prompt, temperature=0, max_tokens=80)
    assert_same(found)
    forced = found["always"].stats
    assert forced.drafted > 20 and forced.accepted == forced.drafted
    draft = drafted.draft.engine
    assert_cache_is_the_context(draft)
    assert draft._cached[:len(drafted._cached)] == drafted._cached[:len(draft._cached)]


def test_a_draft_model_with_seeded_sampling_and_a_second_turn(drafted):
    first = replies(drafted, COPY, modes=("off", "always"), temperature=0.8, seed=3, max_tokens=60)
    assert_same(first)
    history = [{"role": "user", "content": COPY}, {"role": "assistant", "content": first["off"].content}]
    second = {}
    for mode in ("off", "always"):
        generation = drafted.generate([*history, {"role": "user", "content": "Now shorter."}],
                                      Settings(temperature=0, max_tokens=40, speculate=mode))
        second[mode] = generation.wait()
        assert_cache_is_the_context(drafted)
    assert_same(second)


def test_hot_sampling_rejects_most_drafts_and_writes_the_same(drafted):
    """The draft model drafts greedily; near-uniform sampling seldom agrees: many rejections, the same text."""
    found = replies(drafted, COPY, modes=("off", "always"), temperature=3.0, top_k=0, top_p=1.0, min_p=0.0,
                    seed=5, max_tokens=32)
    assert_same(found)
    assert found["always"].stats.drafted > 2 * found["always"].stats.accepted


def test_a_draft_model_for_an_r1_shaped_target(r1_paths, starter_path):  # noqa: F811
    """The starter's weights with R1's template, the starter drafting for them; the think budget closes the thought
    in the middle of a draft, and both KV caches go on from `</think>`."""
    with Engine(r1_paths["old"], n_ctx=1024, n_threads=THREADS, allow_system=False, draft=starter_path) as engine:
        found = replies(engine, COPY, modes=("off",), temperature=0, max_tokens=60, think_budget=30)
        found["always"], generation = ask(engine, COPY, speculate="always", temperature=0, max_tokens=60,
                                          think_budget=30)
        assert_cache_is_the_context(engine.draft.engine)
    assert_same(found)
    forced = found["always"].stats
    assert found["off"].reasoning and forced.reasoning_tokens == 30 and forced.drafted > 0
    # Every draft token checked was taken (the same weights): those not taken were dropped unchecked at `</think>`.
    assert forced.accepted == forced.drafted - generation._spec.unchecked


def test_a_draft_model_of_another_vocabulary_is_refused_in_one_line(starter_path, tmp_path):  # noqa: F811
    other = tiny_thinker(tmp_path / "thinker.gguf")
    with Engine(starter_path, n_ctx=512, n_threads=THREADS, draft=other) as engine:
        assert engine.draft is None
        first, _ = ask(engine, "Say hi.", temperature=0, max_tokens=8)
        second, _ = ask(engine, "Say hi.", temperature=0, max_tokens=8)
    assert first.notices == [
        "thinker.gguf cannot draft for SmolLM2-135M-Instruct.Q4_1.gguf: its vocabulary has 276 tokens and the "
        "model's 49,152, so its tokens would mean other text; running without it"]
    assert second.notices == [] and first.content == second.content and first.content


def test_a_draft_model_whose_tokens_spell_other_text_is_refused(starter_path, tmp_path):  # noqa: F811
    """The same size of vocabulary is not the same vocabulary: two token texts swapped are found and named."""
    from tests.fixtures import gguf_writers

    tokens = list(gguf_writers.read_kv(starter_path)["tokenizer.ggml.tokens"].value)
    tokens[30001], tokens[30002] = tokens[30002], tokens[30001]
    swapped = gguf_writers.with_metadata(starter_path, tmp_path / "swapped.gguf",
                                         set_kv={"tokenizer.ggml.tokens": tokens})
    with Engine(starter_path, n_ctx=256, n_threads=THREADS, draft=swapped) as engine:
        assert engine.draft is None
        assert engine.draft_problem == (
            f"swapped.gguf cannot draft for {starter_path.name}: its token 30001 is {tokens[30001]!r} and the "
            f"model's is {tokens[30002]!r}, so its tokens would mean other text; running without it")


def logits_one_by_one_and_checked(engine, head, tail):
    """The logits after each of `tail`'s tokens, decoded one at a time and then as one checked batch."""
    import numpy as np

    llama, n_vocab = engine._llama, engine._llama.llama_vocab_n_tokens(engine._vocab)

    def logits(i):
        return np.ctypeslib.as_array(llama.llama_get_logits_ith(engine._ctx, i), shape=(n_vocab,)).copy()

    engine._forget_from(0)
    assert engine._decode(head)
    one_by_one = []
    for token in tail:
        assert engine._decode_one(token) == 0
        one_by_one.append(logits(-1))
    engine._forget_from(len(head))
    assert engine._decode_checked(tail) == 0
    checked = [logits(i) for i in range(len(tail))]
    engine._forget_from(0)
    return one_by_one, checked


def test_a_checked_batch_computes_the_very_logits_of_one_token_at_a_time(starter_path):  # noqa: F811
    """What greedy exactness rests on. A draft's logits come from one batch, plain decoding's from one token at a
    time, and llama.cpp may compute the two with other kernels whose rounding differs (tinyBLAS's products for
    batches against ggml's dot products; without flash attention, the attention's F16 products; CUDA's mmq
    against mmvq). Where they round alike, to the bit, the greedy text is the same; this checks the CPU's
    default (flash attention on, the starter's Q4_1). With `-fa off` they do not (measured: a 0.6 logit
    difference on this model, and 8 of 24 greedy replies alike), which README's `--speculate` section says."""
    import numpy as np

    with Engine(starter_path, n_ctx=512, n_threads=THREADS) as engine:
        tokens = engine.tokenize("The quick brown fox jumps over the lazy dog. Then it runs into the forest and",
                                 add_bos=False)
        one_by_one, checked = logits_one_by_one_and_checked(engine, tokens[:-6], tokens[-6:])
    for single, batched in zip(one_by_one, checked):
        assert np.array_equal(single, batched)
