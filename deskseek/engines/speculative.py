"""Speculative decoding: several tokens for one decode, and exactly the text the model would have written alone.

The token loop (generation.py) samples a token, writes it, and hands it here (`commit`). Plain decoding decodes it
alone. Speculation decodes it together with a draft d1..dk (drafts.py: from the conversation, or a draft model) in
one batch whose every position has its logits; the loop then samples position 0 with the reply's own sampler
chain, exactly as it would have after decoding the token alone (the logits are the same: the batch holds the
same tokens at the same positions). If that sample is d1, d1 is already in the KV cache: `commit` has nothing to
decode, and the next sample reads position 1; and so on. The first sample that differs from its draft token is
written instead, the draft's rest is removed from the KV cache, and it is decoded with a new draft.

So every token is drawn from the target's own distribution given exactly the tokens before it, by the same
sampler chain, in the same order, one draw per written token: greedy text is the same token for token, and with
a fixed seed sampled text is too (tests/engines/test_speculative.py checks both), wherever llama.cpp computes a
batch's logits to the bit as it computes one token's (the CPU with flash attention, also tested). Where it uses
other kernels for batches (`-fa off`, CUDA), the last bits differ and a near-tie can go the other way, as between
`-fa on` and `off`. The grammar, the repeat
penalty and the thought guard see only the tokens really written, since only those are sampled. Every rule of
the loop (stop texts, end of generation, the token limit, the think budget, the guard, cancel) still runs after
each token; wherever the loop stops or writes something itself (a closing `</think>`), `settle` first drops the
draft tokens not taken, so the KV cache (and `engine._cached`) holds exactly the context.

Whether and how long to draft is draft_costs.py's adaptive rule (`--speculate auto`); `always` drafts whatever
there is (the tests use it to check exactness on many drafts, whatever this machine's speed), `off` never does.
"""

from __future__ import annotations

import time

from deskseek.engines import draft_costs, drafts

MODES = ("auto", "off", "always")
FORCED_LENGTH = 6  # the draft length with `always`
BATCH = max(draft_costs.K_MAX, FORCED_LENGTH) + 1  # the most tokens one check decodes: the token and its draft
PROBE_EVERY = 64  # tokens between trial drafts of a draft model the rule has stopped using (its acceptance ages)
RETIME_EVERY = 32  # with `auto`, at least one token in this many is decoded alone: plain decoding's time ages too


class VerifyBatch:
    """One llama_batch for the token and its draft, every position asking for logits; made once per engine."""

    def __init__(self, llama, size: int):
        self._llama, self.size = llama, size
        self.batch = llama.llama_batch_init(size, 0, 1)

    def fill(self, tokens: list[int], first_pos: int):
        batch = self.batch
        for i, token in enumerate(tokens):
            batch.token[i] = token
            batch.pos[i] = first_pos + i
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = 0
            batch.logits[i] = 1
        batch.n_tokens = len(tokens)
        return batch

    def close(self) -> None:
        if self.batch is not None:
            self._llama.llama_batch_free(self.batch)
            self.batch = None


class Speculator:
    """One reply's speculation. `index` is the batch position whose logits the next token is sampled from."""

    def __init__(self, engine, mode: str):
        self.engine = engine
        self.mode = mode if mode in MODES else "auto"
        self.index = -1
        self.pending: list[int] = []  # draft tokens in the KV cache past engine._cached, not yet taken
        self.source = None  # where the pending draft came from: ("lookup", n) or "model"
        self.drafted = self.accepted = 0
        self.unchecked = 0  # draft tokens dropped unchecked: the loop stopped, or closed the thought, before them
        self.costs: draft_costs.Costs = engine.speculation_costs
        self.lookup = drafts.NgramIndex(engine._cached) if self.mode != "off" else None
        self.model = engine.draft if self.mode != "off" else None
        if self.model is not None:
            self.model.start()
        self.shadow: list[int] = []  # a lookup draft not made, scored against what is written: acceptance for free
        self.shadow_n = 0
        self.model_idle = PROBE_EVERY  # the first chance tries the draft model
        self.since_plain = 0  # tokens written since the last one decoded alone (and timed)

    def commit(self, token: int, room: int) -> int:
        """`token` was sampled at `index` and written: make it part of the context. `room`: how many more tokens
        the reply may write after it. Returns 0, or llama_decode's status when the context has no room left."""
        engine = self.engine
        if self.lookup is not None:
            self.lookup.add(token)
            self._score_shadow(token)
        if self.pending:
            hit = token == self.pending[0]
            self.costs.saw(self.source, hit)
            if hit:  # decoded with the batch already: its logits are the next position's
                self.since_plain += 1
                self.pending.pop(0)
                engine._cached.append(token)
                self.index += 1
                self.accepted += 1
                return 0
            self._drop()
        if self.lookup is not None and (self.since_plain < RETIME_EVERY or self.mode == "always"):
            draft, source = self._draft(token, room)
            if draft and self._verify(token, draft, source):
                self.since_plain += 1
                return 0
        self.since_plain = 0
        started = time.perf_counter()
        status = engine._decode_one(token)
        if status == 0:
            self._finish()
            self.costs.timed_single(time.perf_counter() - started)
        self.index = -1
        return status

    def settle(self) -> None:
        """Drop the draft tokens not taken from the KV cache: before the loop ends or writes text of its own."""
        self.unchecked += len(self.pending)
        self._drop()

    def _drop(self) -> None:
        if self.pending:
            self.engine._forget_from(len(self.engine._cached))
            self.pending = []
        self.index = -1

    def follow_context(self) -> None:
        """The loop decoded tokens itself (a closing `</think>`): the lookup index takes them in."""
        if self.lookup is not None:
            self.lookup.extend(self.engine._cached[len(self.lookup.seq):])
            self.shadow = []

    # -- drafting --

    def _draft(self, token: int, room: int) -> tuple[list[int], object]:
        """The draft to check with `token` (maybe none), and its source."""
        engine = self.engine
        # The batch is the token and the draft: it must fit the context, and the reply's token limit.
        longest = min(draft_costs.K_MAX, room, engine.n_ctx - len(engine._cached) - 1)
        if longest <= 0:
            return [], None
        proposal, n = self.lookup.propose(longest)
        if self.mode == "always":
            if self.model is not None:
                return self._from_model(min(FORCED_LENGTH, longest)), "model"
            return proposal[:FORCED_LENGTH], ("lookup", n)
        k_lookup, gain_lookup = self.costs.length(("lookup", n), len(proposal)) if proposal else (0, 1.0)
        k_model, gain_model = 0, 1.0
        if self.model is not None and not self.model.broken:
            k_model, gain_model = self.costs.length("model", longest, draft_share=self.model.share)
            self.model_idle = 0 if k_model else self.model_idle + 1
            if (self.model_idle >= PROBE_EVERY and not k_lookup
                    and self.costs.could_pay("model", longest, draft_share=self.model.share)):
                # Its acceptance was last measured long ago: a short trial measures it again. Not for a draft
                # model that could not pay even if every draft were taken (one as slow as the target).
                self.model_idle, k_model, gain_model = 0, min(2, longest), 1.0 + 1e-9
        if k_model and gain_model > gain_lookup:
            if proposal and not self.shadow:
                self.shadow, self.shadow_n = proposal, n
            return self._from_model(k_model), "model"
        if k_lookup:
            self.shadow = []
            return proposal[:k_lookup], ("lookup", n)
        if proposal and not self.shadow:
            self.shadow, self.shadow_n = proposal, n
        return [], None

    def _from_model(self, k: int) -> list[int]:
        draft = self.model.draft(self.lookup.seq, k)
        if draft and self.model.per_token is not None:
            self.costs.timed_draft(1, self.model.per_token)
        return draft

    def _finish(self) -> None:
        """Wait for the decode to be done before reading the clock: on a GPU llama_decode returns once the work
        is queued, and the wait would otherwise fall on the sampler, outside every measurement."""
        self.engine._llama.llama_synchronize(self.engine._ctx)

    def _score_shadow(self, token: int) -> None:
        if self.shadow:
            hit = token == self.shadow[0]
            self.costs.saw(("lookup", self.shadow_n), hit)
            self.shadow = self.shadow[1:] if hit else []

    def _verify(self, token: int, draft: list[int], source) -> bool:
        """Decode the token and its draft in one batch; False (and nothing decoded) where llama.cpp cannot."""
        engine = self.engine
        started = time.perf_counter()
        status = engine._decode_checked([token, *draft])
        if status != 0:
            engine._forget_from(len(engine._cached))  # whatever part of it went in
            return False
        self._finish()
        self.costs.timed_batch(len(draft) + 1, time.perf_counter() - started)
        engine._cached.append(token)
        self.pending, self.source, self.index = list(draft), source, 0
        self.drafted += len(draft)
        return True
