"""One reply in flight on the local engine: rendering the conversation to fit, the token loop, the events.

Runs on the engine's one long-lived thread (see local.py for why); the caller iterates the events from
its own thread and may cancel() at any moment.
"""

from __future__ import annotations

import codecs
import logging
import queue
import time
from typing import TYPE_CHECKING

from deskseek.engines import chat_template, samplers, scripts, speculative, think_lang
from deskseek.engines.events import (
    AnswerDelta,
    Done,
    Error,
    Event,
    EventStream,
    Notice,
    ReasoningDelta,
    Reply,
    Settings,
    Stats,
    TokenCount,
)
from deskseek.engines.stops import StopMatcher
from deskseek.engines.thinking import ReasoningSplitter
from deskseek.errors import DeskseekError

if TYPE_CHECKING:
    from deskseek.engines.local import Engine

log = logging.getLogger("deskseek.engine")


class Generation(EventStream):
    """One reply in flight. Iterate it for events (ending with Done); cancel() stops it promptly."""

    def __init__(self, engine: Engine, messages: list[dict], settings: Settings):
        self.engine, self.messages, self.settings = engine, messages, settings
        self._events: queue.Queue = queue.Queue()
        self.reply = Reply()
        self._stops = StopMatcher(settings.stop)  # before the think splitter: no part of a stop text goes on
        self._guard: think_lang.ThoughtGuard | None = None
        self._spec: speculative.Speculator | None = None

    def start(self) -> None:
        self.engine._cancel.clear()
        self.engine._jobs.put(self)

    def cancel(self) -> None:
        self.engine._cancel.set()

    def _emit(self, event: Event) -> None:
        if isinstance(event, Done):
            self._done = event  # sent by _run once the engine is free: whoever sees Done may generate again
            return
        self._events.put(event)

    def _run(self) -> None:
        engine = self.engine
        self._done = Done("error", True)
        try:
            self._generate()
        except chat_template.TemplateStopped:
            self._emit(Done("cancelled", True))
        except DeskseekError as err:
            self._emit(Error(str(err)))
            self._emit(Done("error", True))
        except Exception as err:  # a bug: say so in one line, keep the traceback in the log
            log.exception("generation failed")
            self._emit(Error(f"{type(err).__name__}: {err}"))
            self._emit(Done("error", True))
        finally:
            engine._busy.release()
            self._events.put(self._done)

    def _generate(self) -> None:
        engine, settings, llama = self.engine, self.settings, self.engine._llama
        started = time.perf_counter()
        reserve = min(settings.max_tokens or engine.n_ctx // 4, engine.n_ctx // 2)
        rendered, tokens, dropped = engine._fit(self.messages, reserve)
        if dropped:
            self._emit(Notice(f"dropped {dropped} earlier exchange(s) to fit the {engine.n_ctx}-token context"))
        splitter = ReasoningSplitter(starts_in_thought=rendered.starts_in_thought) if engine.reasoning else None
        if engine.draft_problem:  # a --draft that cannot draft for this model: said once, with the first reply
            self._emit(Notice(engine.draft_problem))
            engine.draft_problem = None
        cached = engine._reuse_prefix(tokens)
        if not engine._decode(tokens[cached:]):
            processed = len(engine._cached) - cached  # whole batches done before the cancel
            self._finish("cancelled", splitter, started, len(tokens), cached, 0, 0, None, None, processed)
            return
        llama.llama_synchronize(engine._ctx)  # an asynchronous backend (a --rpc worker) may still be computing it
        prompt_done = time.perf_counter()
        guard = self._guard = think_lang.guard_for(
            engine, self.messages, settings, thinks=splitter is not None,
            in_thought=splitter is not None and splitter.in_thought)
        spec = self._spec = speculative.Speculator(engine, settings.speculate)
        sampler = samplers.chain(llama, engine._vocab, settings, guard.sampler if guard else None)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        limit = settings.max_tokens if settings.max_tokens is not None else engine.n_ctx
        generated = reasoning_tokens = 0
        first_token_at = None
        reason = "length"
        budget_spent = False
        try:
            while generated < limit:
                if engine._cancel.is_set():
                    reason = "cancelled"
                    break
                if len(engine._cached) >= engine.n_ctx:
                    self._emit(Notice(self._context_full()))
                    break
                if guard is not None:
                    guard.logits_at = spec.index
                token = llama.llama_sampler_sample(sampler, engine._ctx, spec.index)
                if first_token_at is None:
                    first_token_at = time.perf_counter()
                if llama.llama_vocab_is_eog(engine._vocab, token):
                    reason = "stop"
                    break
                generated += 1
                if splitter is not None and splitter.in_thought:
                    reasoning_tokens += 1
                piece = engine._piece(token)
                self._text(decoder.decode(piece), splitter)
                self._emit(TokenCount(generated, reasoning_tokens))
                if self._stops.stopped:
                    reason = "stop"
                    break
                status = spec.commit(token, limit - generated)
                if status != 0:
                    self._emit(Notice(self._context_full()))
                    break
                close = False
                if (
                    splitter is not None and settings.think_budget is not None and not budget_spent
                    and splitter.in_thought and reasoning_tokens >= settings.think_budget
                ):
                    budget_spent = close = True
                elif guard is not None and guard.stuck and splitter.in_thought:
                    close = True
                    self._emit(Notice(self._guard_gave_up(guard, reasoning_tokens)))
                if close:
                    spec.settle()  # the draft's rest goes before `</think>` is written after the last token taken
                    if not self._close_thought(splitter):
                        reason = "cancelled"
                        break
                    spec.follow_context()
                    if self._stops.stopped:  # a stop text that the closing tag completed
                        reason = "stop"
                        break
                if guard is not None:
                    guard.follow(piece, in_thought=splitter.in_thought)
        finally:
            spec.settle()
            llama.llama_sampler_free(sampler)
        # A reply cut off mid-character (length, cancel) leaves bytes of half a character: drop them
        # rather than show a replacement glyph.
        decoder.reset()
        self._finish(reason, splitter, started, len(tokens), cached, generated, reasoning_tokens,
                     prompt_done, first_token_at)

    def _context_full(self) -> str:
        """What ran out, and the remedy in the same line (a larger context, where the model was trained for one)."""
        engine = self.engine
        have = engine.n_ctx
        trained = engine._llama.llama_model_n_ctx_train(engine._model)
        more = min(have * 2, trained) if trained > 0 else have * 2
        if more <= have:
            return f"the context ({have} tokens, the most this model was trained for) is full; the reply was cut short"
        return (f"the context ({have} tokens) is full; the reply was cut short: `-c {more}` gives it room "
                "(if memory allows)")

    @staticmethod
    def _guard_gave_up(guard: think_lang.ThoughtGuard, reasoning_tokens: int) -> str:
        reached = ", ".join(scripts.names(guard.reached)) or "other scripts"
        return (f"the thought kept reaching for {reached}, which your messages do not use; it was closed after "
                f"{reasoning_tokens} tokens (--think-lang any lets the model think in any script)")

    def _close_thought(self, splitter: ReasoningSplitter) -> bool:
        """Write `</think>` into the context as if the model had (its think budget is spent, or the thought guard
        gave up), and let it answer."""
        closing = "\n" + chat_template.THINK_CLOSE + "\n\n"
        self._text(closing, splitter)
        return self.engine._decode(self.engine.tokenize(closing, add_bos=False))

    def _text(self, text: str, splitter: ReasoningSplitter | None) -> None:
        self._shown(self._stops.feed(text), splitter)

    def _shown(self, text: str, splitter: ReasoningSplitter | None) -> None:
        if not text:
            return
        if splitter is None:
            self._emit(AnswerDelta(text))
            return
        self._emit_deltas(splitter.feed(text))

    def _emit_deltas(self, deltas) -> None:
        for delta in deltas:
            self._emit(ReasoningDelta(delta.text) if delta.kind == "reasoning" else AnswerDelta(delta.text))

    def _finish(self, reason, splitter, started, prompt_tokens, cached, generated, reasoning_tokens,
                prompt_done, first_token_at, processed: int | None = None) -> None:
        """`processed`: prompt tokens decoded when prompt processing was cancelled (else all of them)."""
        thought_closed = True
        self._shown(self._stops.flush(), splitter)  # the reply ended without a stop: held-back text was text
        if splitter is not None:
            self._emit_deltas(splitter.finish())
            thought_closed = splitter.thought_closed or not splitter.saw_thought
        now = time.perf_counter()
        prompt_s = (prompt_done - started) if prompt_done else now - started
        gen_s = (now - first_token_at) if first_token_at else 0.0
        read = prompt_tokens - cached if processed is None else processed
        self._emit(Stats(
            prompt_tokens=prompt_tokens,
            cached_tokens=cached,
            completion_tokens=generated,
            reasoning_tokens=reasoning_tokens,
            ttft_s=(first_token_at - started) if first_token_at else now - started,
            prompt_tok_s=read / prompt_s if prompt_s > 0 else 0.0,
            gen_tok_s=(generated - 1) / gen_s if gen_s > 0 and generated > 1 else 0.0,
            think_lang_steered=self._guard.steered if self._guard is not None else 0,
            drafted=self._spec.drafted if self._spec is not None else 0,
            accepted=self._spec.accepted if self._spec is not None else 0,
        ))
        self._emit(Done(reason, thought_closed))
