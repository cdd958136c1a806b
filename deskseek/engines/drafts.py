"""Where draft tokens come from: the conversation itself (lookup drafting), or a smaller model of the same family.

Lookup drafting (prompt lookup, n-gram drafting) proposes what followed the last earlier occurrence of the reply's
last few tokens: R1 restates its thought in the answer, rewrites the code it was given, quotes the passage it was
asked about. The index is one dict per n-gram length from the n-gram to the position after its latest
occurrence, kept as tokens arrive: O(1) a token, for the prompt and the reply alike.

A draft model is a second llama.cpp context on a smaller model whose vocabulary is the target's (the 1.5B R1
distill for the 7B/14B/32B ones): it drafts greedily, and its KV cache follows the tokens the target really wrote,
rolled back past every draft token the target did not take. Two vocabularies that disagree would make every
draft token mean something else; they are compared before the pair is used, and the reason said in one line.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from deskseek.llama import threadpool

log = logging.getLogger("deskseek.engine")

N_MAX = 4  # the longest n-gram matched: longer ones rarely match where shorter ones would not mislead
N_MIN = 1
VOCAB_SLACK = 128  # token ids a pair's vocabularies may differ by: padding rows (Qwen2.5's 1.5B 151936, 7B 152064)


class NgramIndex:
    """The context's tokens in order, and for each n-gram (N_MIN..N_MAX long) the position after its latest
    occurrence that is already followed by a token."""

    def __init__(self, tokens=()):
        self.seq: list[int] = []
        self._after: dict[int, dict[tuple[int, ...], int]] = {n: {} for n in range(N_MIN, N_MAX + 1)}
        self.extend(tokens)

    def extend(self, tokens) -> None:
        for token in tokens:
            self.add(token)

    def add(self, token: int) -> None:
        seq = self.seq
        end = len(seq)  # the new token's position: the n-grams ending just before it are now followed
        seq.append(token)
        for n, after in self._after.items():
            if end >= n:
                after[tuple(seq[end - n:end])] = end

    def propose(self, longest: int) -> tuple[list[int], int]:
        """`longest` tokens that followed the latest earlier occurrence of the longest n-gram the context ends with,
        and that n (0 and no tokens: nothing matches). Where that continuation runs into the present, the
        context is repeating itself with that period, and the proposal goes on repeating it."""
        seq, size = self.seq, len(self.seq)
        for n in range(N_MAX, N_MIN - 1, -1):
            if size < n:
                continue
            start = self._after[n].get(tuple(seq[size - n:]))
            if start is not None:
                period = seq[start:]
                return (period * (longest // len(period) + 1))[:longest], n
        return [], 0


def vocab_problem(llama, draft_vocab, target_vocab) -> str | None:
    """Why a draft model's tokens would not mean the target's (None: they do): the sizes, the special tokens, then
    every token id both have, by text."""
    n_draft = llama.llama_vocab_n_tokens(draft_vocab)
    n_target = llama.llama_vocab_n_tokens(target_vocab)
    if abs(n_draft - n_target) > VOCAB_SLACK:
        return f"its vocabulary has {n_draft:,} tokens and the model's {n_target:,}"
    for name in ("bos", "eos", "eot"):
        ours, theirs = (getattr(llama, f"llama_vocab_{name}")(v) for v in (draft_vocab, target_vocab))
        if ours != theirs:
            return f"its {name.upper()} token is {ours} and the model's {theirs}"
    text = llama.llama_vocab_get_text
    for token in range(min(n_draft, n_target)):  # every one, once per load (a fraction of a second)
        ours, theirs = text(draft_vocab, token), text(target_vocab, token)
        if ours != theirs:
            shown = [piece.decode("utf-8", errors="replace") for piece in (ours, theirs)]
            return f"its token {token} is {shown[0]!r} and the model's is {shown[1]!r}"
    return None


class DraftModel:
    """A loaded draft model (an Engine of its own, whose cancel is the target's) and its greedy drafting."""

    def __init__(self, engine, target):
        self.engine = engine
        self.name = engine.path.name
        llama = engine._llama
        self._greedy = llama.llama_sampler_init_greedy()
        self._usable = min(llama.llama_vocab_n_tokens(target._vocab), llama.llama_vocab_n_tokens(engine._vocab))
        # What a drafted token costs, as a share of a target token, until measured: decoding reads the weights.
        self.share = max(_size(engine.path) / max(_size(target.path), 1), 0.01)
        self.agreed = 0  # how many leading tokens of the target's context this one's KV cache is known to hold
        self.broken = False
        self.per_token: float | None = None  # what the last draft cost a token (a decode and a greedy pick)

    def start(self) -> None:
        """A new reply: its context is compared from the start (the last reply's may share a prefix)."""
        self.agreed = 0

    def draft(self, seq: list[int], k: int) -> list[int]:
        """Up to k tokens the draft model would write after `seq` (the target's context and the token just
        written), greedily; [] when cancelled or broken."""
        if self.broken or k <= 0:
            return []
        engine = self.engine
        llama = engine._llama
        k = min(k, engine.n_ctx - len(seq))
        try:
            started = time.perf_counter()
            behind = len(seq) - len(engine._cached)
            if k <= 0 or not self._sync(seq):
                return []
            # Drafting k tokens costs k decodes: the catch-up (the token the target just wrote, and the last draft
            # token where it was taken) and k-1 in the loop. The catch-up after rounds without drafts is longer,
            # and is not what drafting costs: it is timed only when it is the usual one or two tokens.
            step = time.perf_counter()
            times = [step - started] if behind <= 2 else []
            out = []
            for i in range(k):
                token = llama.llama_sampler_sample(self._greedy, engine._ctx, -1)
                if token >= self._usable:
                    break  # a padding row of the larger vocabulary: the target has no such token
                out.append(token)
                if i == k - 1 or llama.llama_vocab_is_eog(engine._vocab, token) or engine._decode_one(token) != 0:
                    break
                now = time.perf_counter()
                times.append(now - step)
                step = now
            self.per_token = sum(times) / len(times) if times else None
            return out
        except Exception:  # a draft model that fails must not fail the reply: it just stops drafting
            log.exception("the draft model %s failed; drafting without it", self.name)
            self.broken = True
            return []

    def _sync(self, seq: list[int]) -> bool:
        """Make this model's KV cache hold `seq`, keeping the prefix it shares (its rejected drafts go)."""
        engine = self.engine
        cached = engine._cached
        limit = min(len(cached), len(seq) - 1)  # at least one token is decoded: its logits start the draft
        keep = min(self.agreed, limit)
        while keep < limit and cached[keep] == seq[keep]:
            keep += 1
        if keep < len(cached):
            engine._forget_from(keep)
        if not engine._decode(seq[keep:]):
            self.agreed = 0
            return False
        self.agreed = len(seq)
        return True

    def close(self) -> None:
        if self._greedy:
            self.engine._llama.llama_sampler_free(self._greedy)
            self._greedy = None
        self.engine.close()


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def attach(target, path, *, gpu_layers: int, engine_class) -> tuple[DraftModel | None, str | None]:
    """Load `path` to draft for `target` (an Engine), or None and the one line saying why it cannot."""
    from deskseek.errors import DeskseekError

    name = Path(path).name
    started = time.perf_counter()
    try:
        engine = engine_class(path, n_ctx=target.n_ctx, n_threads=target.threads, n_gpu_layers=gpu_layers,
                              reasoning=False)
    except DeskseekError as err:
        return None, f"the draft model {name} could not be loaded ({err}); running without it"
    problem = vocab_problem(target._llama, engine._vocab, target._vocab)
    if problem:
        engine.close()
        return None, (f"{name} cannot draft for {target.path.name}: {problem}, so its tokens would mean other "
                      "text; running without it")
    engine._cancel = target._cancel  # cancelling the reply also stops the draft model's prompt processing
    if engine._pool is not None and target._pool is not None:
        # The two models take turns on one thread: one pool of workers, rather than a second one that spins
        # for a while after each draft, on the cores the target is computing on.
        threadpool.detach(engine._ctx)
        engine._pool.free()
        engine._pool = threadpool.share(engine._ctx, target._pool)
    log.info("draft model %s loaded in %.1f s", name, time.perf_counter() - started)
    return DraftModel(engine, target), None
