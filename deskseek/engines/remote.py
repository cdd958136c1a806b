"""A model on an inference server, streaming the same events as the local engine and cancelled the same way.

llama.cpp's llama-server, vLLM, SGLang, exo, llama-cpp-python's server and Ollama all serve the models
that do not fit a laptop (the full R1 needs a cluster); deskseek stays their front end: the same chat, the
same folded thought, the same history. Whatever the server calls the thought (a reasoning field, Ollama's
`thinking`, or `<think>` inline in the text, from the first token or only after an opening tag), it comes
out as ReasoningDelta and the answer as AnswerDelta, through the local engine's own ReasoningSplitter and
StopMatcher where the text carries its tags inline.

Each reply reads its stream on its own thread into a queue, as local generations do. cancel() shuts the
reply's socket down from the cancelling thread, which ends a read blocked on the server at once; what came
before is kept. Counts come from the server's `usage`, `timings` or Ollama's counters where it sends them,
measured here otherwise; the time to the first token is always this client's (Enter to text).
"""

from __future__ import annotations

import http.client
import json
import logging
import queue
import threading
import time
from collections.abc import Iterator

from deskseek.engines.events import (
    AnswerDelta,
    Done,
    Error,
    EventStream,
    Notice,
    ReasoningDelta,
    Reply,
    Settings,
    Stats,
    TokenCount,
)
from deskseek.engines.http_client import READ_TIMEOUT_S, Request, ServerError, error_text, status_error
from deskseek.engines.remote_target import Server
from deskseek.engines.thought_router import ThoughtRouter
from deskseek.engines.wire import OLLAMA, Piece, ollama_body, ollama_piece, openai_body, openai_piece, sse_data
from deskseek.errors import DeskseekError

log = logging.getLogger("deskseek.remote")


class RemoteEngine:
    """A model on a server (see remote_target.probe); an engines.protocol.Engine."""

    def __init__(self, server: Server, *, read_timeout: float = READ_TIMEOUT_S):
        self.info = server
        self.server = server.endpoint.url  # the protocol's "where it runs"
        self.model = server.model
        # A thought may come even from a model not known to think (vLLM's reasoning field, a name that says
        # nothing): the chat gives each reply a thinking pane unless the server said the model has none.
        self.reasoning = server.may_think
        self.n_ctx = server.n_ctx
        self.read_timeout = read_timeout
        self._notices = list(server.notices)  # said once, with the first reply
        self._busy = threading.Lock()
        self._live: RemoteGeneration | None = None
        self._closed = False

    def generate(self, messages: list[dict], settings: Settings | None = None) -> RemoteGeneration:
        if self._closed:
            raise DeskseekError("the connection to the server has been closed")
        if not self._busy.acquire(blocking=False):
            raise DeskseekError("a reply is already being generated; cancel it first")
        notices, self._notices = self._notices, []
        self._live = RemoteGeneration(self, messages, settings or Settings(), notices)
        return self._live

    def close(self) -> None:
        """Cancel a reply in flight and wait for its thread to end (it keeps nothing open after)."""
        self._closed = True
        live = self._live
        if live is not None:
            live.cancel()
            live.thread.join(timeout=30)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class RemoteGeneration(EventStream):
    """One reply from the server; an engines.protocol.Stream."""

    def __init__(self, engine: RemoteEngine, messages: list[dict], settings: Settings, notices: list[str]):
        self.engine, self.messages, self.settings = engine, messages, settings
        self.reply = Reply()
        self.counts: dict = {}  # what the server reported about this reply (benchmarks read server_ttft_s)
        self._events: queue.Queue = queue.Queue()
        self._cancel = threading.Event()
        self._request: Request | None = None
        self._notices = notices
        self.thread = threading.Thread(target=self._run, name="deskseek-remote", daemon=True)
        self.thread.start()

    # -- the stream protocol --

    def cancel(self) -> None:
        self._cancel.set()
        request = self._request
        if request is not None:
            request.abort()

    # -- on the reply's thread --

    def _run(self) -> None:
        done = Done("error", True)
        try:
            for notice in self._notices:
                self._events.put(Notice(notice))
            done = self._stream()
        except DeskseekError as err:
            if self._cancel.is_set():
                done = self._finish("cancelled")
            else:
                self._events.put(Error(str(err)))
                done = self._finish("error")
        except Exception as err:  # a bug: one line here, the traceback in the log
            log.exception("remote generation failed")
            self._events.put(Error(f"{type(err).__name__}: {err}"))
            done = self._finish("error")
        finally:
            self.engine._busy.release()  # whoever sees Done may generate again
            self._events.put(done)

    def _stream(self) -> Done:
        engine, server, settings = self.engine, self.engine.info, self.settings
        self._started = time.perf_counter()
        self._first_at = self._last_at = None
        self._generated = self._thought_tokens = 0
        self._router = ThoughtRouter(thinks=server.thinks, stops=settings.stop, server_splits=server.ollama_think)
        self._check_settings(server, settings)
        ollama = server.api == OLLAMA
        budget = settings.think_budget if not ollama else None
        if ollama:
            path, body = "/api/chat", ollama_body(server.model, self.messages, settings, think=server.ollama_think)
        else:
            path = server.prefix + "/chat/completions"
            body = openai_body(server.model, self.messages, settings, budget_control=budget is not None)
        request = self._request = Request(server.endpoint, api_key=server.target.api_key,
                                          read_timeout=engine.read_timeout)
        if self._cancel.is_set():
            return self._finish("cancelled")
        try:
            response = request.send("POST", path, body)
            if response.status != 200:
                raw = response.read()
                raise self._refusal(response.status, raw)
            pieces = self._ollama_pieces(request) if ollama else self._openai_pieces(request)
            reason = self._read(pieces, budget)
        finally:
            request.close()
        return self._finish(reason)

    def _refusal(self, status: int, raw: bytes) -> ServerError:
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = None
        if status == 404:
            server, said = self.engine.info, error_text(parsed, raw)
            return ServerError(f"{server.target.label} has no model {server.model!r} now (it answered 404"
                               f"{': ' + said if said else ''})", status)
        return status_error(self.engine.info.endpoint, status, parsed, raw)

    def _openai_pieces(self, request: Request) -> Iterator[Piece]:
        for data in sse_data(request.lines()):
            if data.strip() == "[DONE]":
                self._ended = True
                return
            try:
                chunk = json.loads(data)
            except ValueError:
                raise ServerError(f"the server sent an event that is not JSON: {data[:80]!r}") from None
            yield openai_piece(chunk)

    def _ollama_pieces(self, request: Request) -> Iterator[Piece]:
        for line in request.lines():
            piece = ollama_piece(line)
            if piece is not None:
                yield piece
                if piece.finish is not None:
                    self._ended = True
                    return

    def _read(self, pieces: Iterator[Piece], budget: int | None) -> str:
        """Route each piece's text into events until the stream ends; the finish reason."""
        self._ended, finish, budget_spent, reply_id = False, None, False, None
        router = self._router
        try:
            for piece in pieces:
                if self._cancel.is_set():
                    return "cancelled"
                reply_id = reply_id or piece.id
                self.counts.update(piece.counts)
                if piece.reasoning or piece.content:
                    thought = self._text(router.feed(piece.reasoning, piece.content))
                    self._generated += 1
                    self._thought_tokens += thought
                    self._events.put(TokenCount(self._generated, self._thought_tokens))
                    if router.stopped:
                        return "stop"
                    if budget is not None and not budget_spent and router.in_thought and self._thought_tokens >= budget:
                        budget_spent = True
                        self._end_thought(reply_id)
                finish = piece.finish or finish
        except (OSError, http.client.HTTPException) as err:  # the socket broke, or cancel shut it down
            if self._cancel.is_set():
                return "cancelled"
            raise self._broken(err) from None
        if self._cancel.is_set():
            return "cancelled"
        if not self._ended and finish is None:
            raise self._closed_early()
        return finish or "stop"

    def _broken(self, err: Exception) -> ServerError:
        where = self.engine.server
        if isinstance(err, TimeoutError):
            return ServerError(f"{where} sent nothing for {self.engine.read_timeout:g} s mid-reply; "
                               "the reply so far is kept")
        if isinstance(err, http.client.IncompleteRead):  # the body ended before its last chunk
            return self._closed_early()
        return ServerError(f"the connection to {where} broke mid-reply ({err}); the reply so far is kept")

    def _closed_early(self) -> ServerError:
        return ServerError(f"{self.engine.server} closed the stream mid-reply (it may have crashed or been "
                           "restarted); the reply so far is kept")

    def _text(self, deltas) -> bool:
        """Emit the router's deltas; whether this piece was (in part) thought."""
        now = time.perf_counter()
        if self._first_at is None:
            self._first_at = now
        self._last_at = now
        thought = False
        for kind, text in deltas:
            thought |= kind == "reasoning"
            self._events.put(ReasoningDelta(text) if kind == "reasoning" else AnswerDelta(text))
        return thought or self._router.in_thought

    def _check_settings(self, server: Server, settings: Settings) -> None:
        """Say what this server cannot honour rather than ignore it silently."""
        if server.api == OLLAMA and settings.think_budget is not None:
            self._events.put(Notice("Ollama takes no think budget: --think-budget does not apply to this reply"))
        if server.api == OLLAMA and settings.grammar:
            self._events.put(Notice("Ollama takes no GBNF grammar: --grammar-file does not apply to this reply"))

    def _end_thought(self, reply_id: str | None) -> None:
        """Think budget spent: ask the server to close the thought (llama-server's completion control)."""
        server = self.engine.info
        problem = "the reply has no id" if reply_id is None else None
        if problem is None:
            try:
                status, answer = Request(server.endpoint, api_key=server.target.api_key, read_timeout=10).json(
                    "POST", server.prefix + "/chat/completions/control",
                    {"id": reply_id, "action": "reasoning_end", "model": server.model})
                if status != 200 or not (isinstance(answer, dict) and answer.get("success")):
                    problem = f"it answered {status}"
            except ServerError as err:
                problem = str(err)
        if problem is not None:
            self._events.put(Notice(f"this server cannot end a thought early ({problem}): the think budget "
                                    "does not apply to it"))

    def _finish(self, reason: str) -> Done:
        """Flush what the router held back, send Stats; the Done to send last."""
        router = getattr(self, "_router", None)
        closed = True
        if router is not None:
            self._text(router.finish())
            closed = router.thought_closed
        self._events.put(self._stats())
        return Done(reason, closed)

    def _stats(self) -> Stats:
        counts, now = self.counts, time.perf_counter()
        started = getattr(self, "_started", now)
        first, last = getattr(self, "_first_at", None), getattr(self, "_last_at", None)
        generated = getattr(self, "_generated", 0)
        client_rate = (generated - 1) / (last - first) if first and last and last > first and generated > 1 else 0.0
        prompt = int(counts.get("prompt_tokens", 0))
        cached = int(counts.get("cached_tokens", 0))
        ttft = (first or now) - started
        completion = int(counts.get("completion_tokens", generated))
        return Stats(
            prompt_tokens=prompt,
            cached_tokens=cached,
            completion_tokens=completion,
            reasoning_tokens=min(int(counts.get("reasoning_tokens", getattr(self, "_thought_tokens", 0))), completion),
            ttft_s=ttft,
            prompt_tok_s=counts.get("prompt_tok_s") or ((prompt - cached) / ttft if prompt and ttft > 0 else 0.0),
            gen_tok_s=counts.get("gen_tok_s") or client_rate,
        )
