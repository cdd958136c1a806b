"""The thought guard (deskseek/engines/think_lang.py): real vocabularies judged token by token, and real replies.

The classifier runs on the Qwen2 vocabulary every R1 Qwen distill uses and on DeepSeek's own, through llama.cpp's
pieces, as the engine sees them; the replies come from a tiny model whose greedy thought is chosen by hand
(tests/fixtures/tiny_thinker.py), through the real engine, template and sampler chain.
"""

from __future__ import annotations

import ctypes

import pytest

from deskseek.engines import scripts, think_lang
from deskseek.engines.events import Settings
from deskseek.engines.local import Engine
from deskseek.engines.scripts import HAN, HANGUL, KANA
from tests.fixtures import vocabularies
from tests.fixtures.tiny_thinker import ANSWER, THOUGHTS, tiny_thinker

LATIN = 0  # a user who writes only Latin: no script bit


class Vocab:
    """A vocabulary loaded through llama.cpp, its judged tokens, and a way to walk the guard over a text."""

    def __init__(self, llama, vocab):
        self.llama, self.vocab = llama, vocab
        self.index = think_lang.VocabScripts(llama, vocab)
        self.pieces = [self._piece(t) for t in range(self.index.n_vocab)]

    def _piece(self, token: int) -> bytes:
        buf = ctypes.create_string_buffer(256)
        count = self.llama.llama_token_to_piece(self.vocab, token, buf, 256, 0, False)
        return buf.raw[:count]

    def tokenize(self, text: str) -> list[int]:
        data = text.encode()
        out = (self.llama.llama_token * (len(data) + 8))()
        count = self.llama.llama_tokenize(self.vocab, data, len(data), out, len(data) + 8, False, False)
        assert count > 0
        return list(out[:count])

    def stopped_at(self, allowed: int, tokens: list[int]) -> int | None:
        """Feed the tokens to a guard inside a thought: the index of the first it bans, None if it bans none."""
        guard = think_lang.ThoughtGuard(self.llama, None, self.index, allowed, in_thought=True)
        try:
            for i, token in enumerate(tokens):
                if guard.bans(token):
                    return i
                guard.follow(self.pieces[token], in_thought=True)
            return None
        finally:
            self.llama.llama_sampler_free(guard.sampler)  # never handed to a chain

    def ids(self, piece: bytes) -> int:
        return self.pieces.index(piece)


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    path = vocabularies.written_vocab(tmp_path_factory.mktemp("vocab") / "written.gguf")
    with vocabularies.open_vocab(path) as (llama, vocab):
        judged = Vocab(llama, vocab)
        yield judged
        judged.index.close()


@pytest.fixture(scope="module", params=sorted(vocabularies.REAL_VOCABS))
def real(request):
    with vocabularies.open_vocab(vocabularies.real_vocab(request.param)) as (llama, vocab):
        judged = Vocab(llama, vocab)
        yield judged
        judged.index.close()


# --- the written vocabulary: every shape of piece -----------------------------------------------------------------


@pytest.mark.parametrize(("text", "banned_for", "allowed_for"), [
    ("好", [LATIN, HANGUL], [HAN]),
    ("思考", [LATIN, HANGUL, KANA], [HAN, KANA | HAN]),
    ("생각", [LATIN, HAN], [HANGUL]),
    ("ですね", [LATIN, HANGUL, HAN], [KANA]),
    ("Привет", [LATIN, HANGUL], [scripts.CYRILLIC]),
    ("😀", [], [LATIN, HANGUL]),
    ("αβ", [], [LATIN]),
    ("。", [], [LATIN, HANGUL]),
    ("々", [LATIN, HANGUL], [HAN]),
])
def test_whole_pieces_are_banned_for_users_who_do_not_write_their_script(written, text, banned_for, allowed_for):
    token = written.ids(text.encode())
    for allowed in banned_for:
        assert written.stopped_at(allowed, [token]) == 0, (text, scripts.names(allowed))
    for allowed in allowed_for:
        assert written.stopped_at(allowed, [token]) is None, (text, scripts.names(allowed))


@pytest.mark.parametrize(("pieces", "allowed", "stopped"), [
    (["一".encode()[:2], b"\x80"], LATIN, 0),  # a two-byte Han start is banned itself
    (["丂".encode()[:2], b"\x82"], HANGUL, 0),
    (["䷀".encode()[:2], b"\x80"], LATIN, None),  # a hexagram: a symbol, split the same way
    ([b"\xf0", "𠀀".encode()[1:]], LATIN, 1),  # a lone F0 may start an emoji; finishing it as Han is banned
    ([b"\xf0", "𠀀".encode()[1:3], b"\x80"], HANGUL, 1),
    ([b"\xf0", "😀".encode()[1:]], LATIN, None),
    ([b"\xf0", "𠀀".encode()[1:]], HAN, None),
    ([b"\xec", "생".encode()[1:]], HANGUL, None),  # Hangul from a lone lead byte, for a Korean user
    ([b"\xec", "생".encode()[1:]], LATIN, 0),
    ([b"\xea"], LATIN, None),  # may begin Latin letters (U+A720..) too
    ([b"\xea", b"\xb0", b"\x80"], LATIN, 1),  # ... but not 가 (EA B0 80)
    ([b"\xea", b"\xb0", b"\x80"], HANGUL, None),
    ([b"\xe3", "ア".encode()[1:2], "ア".encode()[2:]], HANGUL, 0),  # a lone E3 is mostly CJK Extension A
    (["ア".encode()[:2], "ア".encode()[2:]], HANGUL, 0),
    (["ア".encode()[:2], "ア".encode()[2:]], KANA, None),
    ([b"o", b"\xe4"], LATIN, 1),
    ([b"\xe4", b"the"], HAN, None),  # an abandoned start is not the guard's business
])
def test_characters_split_over_pieces(written, pieces, allowed, stopped):
    assert written.stopped_at(allowed, [written.ids(p) for p in pieces]) == stopped


def test_the_model_can_always_stop_and_close_its_thought(written):
    eos = written.llama.llama_vocab_eos(written.vocab)
    close = written.pieces.index(b"</think>")
    for allowed in (LATIN, HANGUL, HAN):
        assert written.stopped_at(allowed, [close]) is None and written.stopped_at(allowed, [eos]) is None
        assert not written.index.forbids(allowed, eos)


def test_outside_the_thought_nothing_is_banned(written):
    guard = think_lang.ThoughtGuard(written.llama, None, written.index, LATIN, in_thought=False)
    han = written.ids("好".encode())
    assert not guard.bans(han)
    guard.follow(b"<think>", in_thought=True)
    assert guard.bans(han)
    guard.follow(b"</think>", in_thought=False)
    assert not guard.bans(han)
    written.llama.llama_sampler_free(guard.sampler)


# --- real vocabularies --------------------------------------------------------------------------------------------


def test_every_token_that_writes_han_is_banned_and_no_hangul_token_is(real):
    han_tokens = hangul_tokens = 0
    for token, piece in enumerate(real.pieces):
        try:
            text = piece.decode()
        except UnicodeDecodeError:
            continue  # pieces of characters: the next tests walk them
        found = scripts.scripts_in(text)
        if found & HAN:
            han_tokens += 1
            assert real.index.forbids(LATIN, token) and real.index.forbids(HANGUL, token), (token, text)
            assert not real.index.forbids(HAN | (found & ~HAN), token)
        if found == HANGUL:
            hangul_tokens += 1
            assert not real.index.forbids(HANGUL, token), (token, text)
            assert real.index.forbids(LATIN, token) and real.index.forbids(HAN, token)
    assert han_tokens > 10_000 and hangul_tokens > 10  # DeepSeek's has few Hangul tokens, Qwen2's thousands


def test_no_han_character_gets_through_in_pieces(real):
    """Every CJK Unified Ideograph, and samples of Extensions A and B, as the real tokenizer splits them: the guard
    stops each of them for an English and for a Korean user, whole or in pieces."""
    characters = [*range(0x4E00, 0xA000), *range(0x3400, 0x4DC0, 7), *range(0x20000, 0x2A6E0, 97)]
    split = 0
    for code_point in characters:
        tokens = real.tokenize(chr(code_point))
        split += len(tokens) > 1
        for allowed in (LATIN, HANGUL):
            assert real.stopped_at(allowed, tokens) is not None, (hex(code_point), tokens, scripts.names(allowed))
        assert real.stopped_at(HAN, tokens) is None
    assert split > 1000  # so the pieces were really tested


def test_every_hangul_syllable_gets_through_for_a_korean_user(real):
    split = 0
    for code_point in range(0xAC00, 0xD7A4):
        tokens = real.tokenize(chr(code_point))
        split += len(tokens) > 1
        assert real.stopped_at(HANGUL, tokens) is None, (hex(code_point), [real.pieces[t] for t in tokens])
        assert real.stopped_at(LATIN, tokens) is not None
        assert real.stopped_at(HAN, tokens) is not None
    assert split > 1000


def test_japanese_and_russian_text_gets_through_for_its_writers(real):
    japanese = "思考の過程を日本語で書きます。カタカナもひらがなも使います"
    russian = "Давайте подумаем, сколько будет дважды два"
    assert real.stopped_at(KANA | HAN, real.tokenize(japanese)) is None
    assert real.stopped_at(HANGUL, real.tokenize(japanese)) is not None
    assert real.stopped_at(scripts.CYRILLIC, real.tokenize(russian)) is None
    assert real.stopped_at(LATIN, real.tokenize(russian)) is not None
    english = "Let me think: 2 + 2 = 4, so α ≈ 0.5 — done 😀"
    assert real.stopped_at(LATIN, real.tokenize(english)) is None


# --- replies ------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def thinker(tmp_path_factory):
    path = tiny_thinker(tmp_path_factory.mktemp("thinker") / "thinker.gguf")
    with Engine(path, n_ctx=512, n_threads=1) as engine:
        yield engine


GREEDY = Settings(temperature=0, max_tokens=64)


def ask(engine, text, settings=GREEDY):
    return engine.generate([{"role": "user", "content": text}], settings).wait()


@pytest.mark.parametrize(("prompt", "think_lang", "thought", "steered"), [
    ("What is 2+2?", "auto", THOUGHTS["Latin"], 3),
    ("2 더하기 2는 무엇인가요?", "auto", THOUGHTS["Hangul"], 2),
    ("二加二是多少？", "auto", THOUGHTS["Han"], 1),  # a Chinese user's thought keeps its Han, not the Hangul
    ("What is 2+2?", "any", THOUGHTS["any"], 0),
])
def test_the_thought_keeps_to_the_users_scripts_and_the_answer_is_the_same(thinker, prompt, think_lang, thought,
                                                                           steered):
    reply = ask(thinker, prompt, Settings(temperature=0, max_tokens=64, think_lang=think_lang))
    assert reply.error is None and reply.finish_reason == "stop" and reply.thought_closed
    assert reply.reasoning == thought
    assert reply.content == ANSWER and "四" in reply.content  # the answer is never filtered
    assert reply.stats.think_lang_steered == steered and reply.stats.as_dict()["think_lang_steered"] == steered
    if think_lang == "auto" and not scripts.scripts_in(prompt) & HAN:
        assert not scripts.scripts_in(reply.reasoning) & HAN


def test_a_grammar_turns_the_guard_off(thinker):
    grammar = 'root ::= "Let me think" (" well" | "好") " so" [^<]* "</think>" [^\\x00]*'
    reply = ask(thinker, "What is 2+2?", Settings(temperature=0, max_tokens=64, grammar=grammar))
    assert reply.reasoning.startswith("Let me think好") and reply.stats.think_lang_steered == 0


def test_a_thought_that_fights_the_guard_is_closed_and_answered(tmp_path):
    path = tiny_thinker(tmp_path / "stubborn.gguf", stubborn=True)
    with Engine(path, n_ctx=512, n_threads=1) as engine:
        reply = ask(engine, "What is 2+2?", Settings(temperature=0, max_tokens=200))
        assert reply.thought_closed and reply.finish_reason == "stop" and reply.content == ANSWER
        assert "好" not in reply.reasoning and reply.reasoning.count(" well") == think_lang.STUCK_STEPS
        assert reply.stats.think_lang_steered == think_lang.STUCK_STEPS
        assert len(reply.notices) == 1 and "Han" in reply.notices[0] and "--think-lang any" in reply.notices[0]
        index = engine.script_index()
        # A Chinese user's thought is not fought: the index is the same, judged once per model.
        again = ask(engine, "二加二是多少？", Settings(temperature=0, max_tokens=200))
        assert engine.script_index() is index
        assert again.reasoning == THOUGHTS["Han"] and again.notices == []


def test_a_model_that_opens_its_own_thought_is_guarded_from_its_think_tag(tmp_path):
    """Qwen3-style: the prompt does not open the thought, the model does; the guard starts with it."""
    path = tiny_thinker(tmp_path / "qwen3.gguf", opens_thought=True)
    with Engine(path, n_ctx=512, n_threads=1) as engine:
        assert engine.reasoning and not engine.render([{"role": "user", "content": "hi"}]).starts_in_thought
        reply = ask(engine, "What is 2+2?")
        assert reply.thought_closed and reply.reasoning == THOUGHTS["Latin"] and reply.content == ANSWER
        assert reply.stats.think_lang_steered == 3
