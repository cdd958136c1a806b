"""The thought guard: while a model thinks, it writes only in the scripts its user writes in (`--think-lang auto`).

R1's distills drift into Chinese while they think, whatever the user's language. With the guard on, a token that
would put a character of a script absent from the user's messages on the page is not sampled while the model is
inside its thought; the answer is never touched (a user may ask for a translation). Latin, Greek, digits,
punctuation, symbols and emoji are always allowed (scripts.py says which scripts are bits).

How, and why this way:

* Each token of the vocabulary is judged once per loaded model (`VocabScripts`, built on the first guarded reply:
  about 0.5 s for a 152k vocabulary, see benchmarks/RESULTS.md) into the scripts it commits to. The tokens a set
  of allowed scripts forbids is one numpy test, and becomes one llama.cpp logit-bias sampler, cached per set.
* The guard is one sampler in llama.cpp's chain (right after the grammar and the end-of-generation ban, before
  anything that reorders the candidates): a ctypes callback that does nothing outside the thought and, inside
  it, hands the candidates to the cached logit-bias sampler (a C loop over the banned ids). One chain, so the
  grammar's, the repeat penalty's and the draw's state stay whole across the thought's end; switching chains
  would leave one of them behind.
* A character split over tokens: a token ending in an unfinished character is judged by what that character can
  still become (scripts.py). When one is allowed and left pending, the next step also bans each token whose
  leading continuation bytes would finish it as a forbidden character: a small second logit-bias sampler per
  pending start, over the few hundred tokens that begin with a continuation byte. So no forbidden character
  gets through in pieces, and Hangul (which a lone EA-ED byte may begin) is never banned for a Korean user.
* "Steered" counts the steps inside the thought where the token with the highest raw logit (the model's own
  first choice) was one the guard banned: the steps where the guard changed what greedy decoding would write.
  When that happens `STUCK_STEPS` times in a row, the model is fighting the guard with nothing it ranks first
  left to write; the generation closes the thought for it (as a think budget does) and says so.
  End-of-generation tokens and `</think>` are never banned, so the model can always close its thought itself.
"""

from __future__ import annotations

import ctypes
import logging
import time
from dataclasses import dataclass

import numpy as np

from deskseek.engines import scripts

log = logging.getLogger("deskseek.engine")

STUCK_STEPS = 32  # steered steps in a row before the guard closes the thought

_LOGIT_BIAS = np.dtype([("token", "<i4"), ("bias", "<f4")])  # llama_logit_bias
_NAME = ctypes.create_string_buffer(b"deskseek-think-lang")
_NAME_FN = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p)  # const char * name(smpl), returning our buffer


def allowed_scripts(messages: list[dict]) -> int:
    """The scripts of the conversation's user messages (scripts.allowed_for): what its thoughts may use."""
    return scripts.allowed_for(m["content"] for m in messages
                               if m.get("role") == "user" and isinstance(m.get("content"), str))


class VocabScripts:
    """One vocabulary, every token judged once: the scripts each commits to, and the logit-bias samplers that
    ban them, cached per allowed set (and per pending unfinished character). The engine keeps one and frees it
    with the model."""

    def __init__(self, llama, vocab):
        started = time.perf_counter()
        self._llama = llama
        n_vocab = llama.llama_vocab_n_tokens(vocab)
        buf = ctypes.create_string_buffer(256)
        pieces = []
        for token in range(n_vocab):
            # special=False: control tokens render as nothing, so they commit to no script.
            count = llama.llama_token_to_piece(vocab, token, buf, 256, 0, False)
            if count < 0:
                big = ctypes.create_string_buffer(-count)
                count = llama.llama_token_to_piece(vocab, token, big, -count, 0, False)
                pieces.append(big.raw[:count])
            else:
                pieces.append(buf.raw[:count])
        self.n_vocab = n_vocab
        self.masks = np.fromiter((scripts.classify(p) for p in pieces), dtype=np.int64, count=n_vocab)
        for token in np.flatnonzero(self.masks):
            if llama.llama_vocab_is_eog(vocab, int(token)):
                self.masks[token] = 0  # the model may always stop
        # Tokens that begin by finishing a character an earlier token began.
        self.continuing = {t: p for t, p in enumerate(pieces) if p and 0x80 <= p[0] < 0xC0}
        self._bans: dict[int, ctypes.c_void_p] = {}
        self._finishing: dict[tuple[int, bytes], tuple[ctypes.c_void_p | None, frozenset[int]]] = {}
        self.build_s = time.perf_counter() - started
        log.info("judged the scripts of %d tokens in %.2f s", n_vocab, self.build_s)

    def banned(self, allowed: int) -> np.ndarray:
        """The ids a thought of a user writing `allowed` may not sample."""
        return np.flatnonzero(self.masks & ~allowed)

    def ban(self, allowed: int):
        """The logit-bias sampler for `allowed` (built once; None when it bans nothing)."""
        if allowed not in self._bans:
            self._bans[allowed] = self._bias_sampler(self.banned(allowed))
        return self._bans[allowed]

    def finishing(self, allowed: int, pending: bytes) -> tuple[ctypes.c_void_p | None, frozenset[int]]:
        """With `pending` (an unfinished character) on the page: the sampler banning the tokens that would
        finish it, or what follows it, in a script outside `allowed`, and their ids."""
        key = (allowed, pending)
        if key not in self._finishing:
            # Beside ban(allowed), which already bans the tokens that commit outside `allowed` on their own.
            ids = frozenset(t for t, piece in self.continuing.items()
                            if scripts.classify(pending + piece) & ~allowed and not self.masks[t] & ~allowed)
            self._finishing[key] = (self._bias_sampler(np.fromiter(ids, dtype=np.int64)), ids)
        return self._finishing[key]

    def forbids(self, allowed: int, token: int) -> bool:
        return bool(self.masks[token] & ~allowed)

    def _bias_sampler(self, ids: np.ndarray):
        if not len(ids):
            return None
        biases = np.empty(len(ids), dtype=_LOGIT_BIAS)
        biases["token"], biases["bias"] = ids, -np.inf
        pointer = biases.ctypes.data_as(ctypes.POINTER(self._llama.llama_logit_bias))
        return self._llama.llama_sampler_init_logit_bias(self.n_vocab, len(ids), pointer)  # copies the array

    def close(self) -> None:
        samplers = [*self._bans.values(), *(s for s, _ in self._finishing.values())]
        self._bans, self._finishing = {}, {}
        for sampler in samplers:
            if sampler:
                self._llama.llama_sampler_free(sampler)


@dataclass
class _State:
    active: bool = False  # inside the thought
    ban: object = None  # the allowed set's sampler (None when it bans nothing)
    finish: object = None  # the pending character's sampler
    finish_ids: frozenset[int] = frozenset()


class ThoughtGuard:
    """One reply's guard. `sampler` goes into the chain (which then owns and frees it); the generation calls
    `follow` after every token so the guard knows whether the next one is inside the thought."""

    def __init__(self, llama, ctx, index: VocabScripts, allowed: int, *, in_thought: bool):
        self._llama, self.index, self.allowed = llama, index, allowed
        self.steered = 0  # steps where the model's first choice was banned
        self.run = 0  # of them, the latest in a row
        self.reached = 0  # the forbidden scripts those first choices were in
        self._pending = b""
        self._state = _State()
        self._ctx = ctx
        self._view_at: int | None = None
        self.logits_at = -1  # the batch position the next token is sampled from (speculative.py sets it)
        self._view = None
        self._apply_fn = llama.llama_sampler_i_apply(self._apply)  # kept: C holds the pointer
        self._name_fn = _NAME_FN(lambda _smpl: ctypes.addressof(_NAME))
        self._iface = llama.llama_sampler_i()
        self._iface.apply = self._apply_fn
        self._iface.name = ctypes.cast(self._name_fn, llama.llama_sampler_i_name)
        self.sampler = llama.llama_sampler_init(ctypes.pointer(self._iface), None)
        self.follow(b"", in_thought=in_thought)

    @property
    def stuck(self) -> bool:
        return self.run >= STUCK_STEPS

    def follow(self, piece: bytes, *, in_thought: bool) -> None:
        """The token just written (its bytes), and whether the next token is inside the thought."""
        if not in_thought:
            self._pending, self._state, self.run = b"", _State(), 0
            return
        self._pending = scripts.unfinished_tail(self._pending + piece)
        finish, ids = self.index.finishing(self.allowed, self._pending) if self._pending else (None, frozenset())
        self._state = _State(True, self.index.ban(self.allowed), finish, ids)

    def bans(self, token: int) -> bool:
        """Whether the next step may not sample `token`."""
        state = self._state
        return state.active and (self.index.forbids(self.allowed, token) or token in state.finish_ids)

    def _apply(self, _smpl, cur_p) -> None:
        """llama.cpp's apply(): called with the candidates in vocabulary order (nothing before it reorders, which
        keeps the logit-bias samplers on their direct path)."""
        state = self._state
        if not state.active:
            return
        try:
            top = self._top()
            if self.bans(top):
                self.steered += 1
                self.run += 1
                finishing = self.index.continuing.get(top)
                mask = scripts.classify(self._pending + finishing) if finishing else int(self.index.masks[top])
                self.reached |= mask & ~self.allowed
            else:
                self.run = 0
            for sampler in (state.ban, state.finish):
                if sampler:
                    self._llama.llama_sampler_apply(sampler, cur_p)
        except Exception:  # ctypes would print and drop it: keep the traceback in the log instead
            log.exception("the thought guard failed on this token; it went unguarded")

    def _top(self) -> int:
        """The token with the highest raw logit: the model's own first choice. The raw logits are one contiguous
        float array (the candidates are 12-byte records, which numpy scans five times slower)."""
        address = ctypes.cast(self._llama.llama_get_logits_ith(self._ctx, self.logits_at), ctypes.c_void_p).value
        if self._view_at != address:  # the context reuses its output buffer: the view is made once
            self._view = np.ctypeslib.as_array((ctypes.c_float * self.index.n_vocab).from_address(address))
            self._view_at = address
        return int(np.argmax(self._view))


def guard_for(engine, messages: list[dict], settings, *, in_thought: bool, thinks: bool) -> ThoughtGuard | None:
    """The reply's guard, or None: `--think-lang any`, a model that does not think, or a grammar (which already
    says what may be written; a ban on top of it could leave it nothing to write)."""
    if getattr(settings, "think_lang", "auto") != "auto" or not thinks or settings.grammar:
        return None
    return ThoughtGuard(engine._llama, engine._ctx, engine.script_index(), allowed_scripts(messages),
                        in_thought=in_thought)
