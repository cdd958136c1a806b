"""What goes over the wire to an inference server and back: request bodies, and the stream read into pieces.

Two APIs, from their documentation:
- OpenAI-compatible chat completions (llama.cpp's llama-server, vLLM, SGLang, exo, llama-cpp-python's
  server, Ollama's /v1): `POST /v1/chat/completions` with `stream: true` answers Server-Sent Events, one
  `data: {json}` per chunk, ended by `data: [DONE]`. The thought arrives as `choices[0].delta.reasoning_content`
  (llama-server, SGLang, exo, vLLM before 0.11), `delta.reasoning` (vLLM since), or inline in
  `delta.content` as `<think>` tags (llama-cpp-python's server, llama-server with `--reasoning-format
  none`). Counts come in `usage` (with `stream_options.include_usage`) and llama-server's `timings`.
  https://platform.openai.com/docs/api-reference/chat/streaming,
  github.com/ggml-org/llama.cpp tools/server/README.md, docs.vllm.ai features/reasoning_outputs.
- Ollama's own: `POST /api/chat` streams NDJSON, one object per line, `message.content` and (with
  `think: true`, Ollama 0.9+) `message.thinking`; the last line has `done: true`, `done_reason` and the
  counters `prompt_eval_count`, `prompt_eval_duration`, `eval_count`, `eval_duration` (nanoseconds).
  github.com/ollama/ollama docs/api.md.

Only fields a user set are sent: a sampling value left unset is the server's own default, which whoever
runs the server chose for its model.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from deskseek.engines.events import Settings
from deskseek.engines.http_client import ServerError, error_text

OPENAI, OLLAMA = "openai", "ollama"
FINISH = {"stop": "stop", "length": "length", "eos": "stop", "limit": "length"}  # anything else ends like a stop


@dataclass
class Piece:
    """One chunk of the stream, in neutral terms."""

    reasoning: str = ""
    content: str = ""
    finish: str | None = None  # set on the chunk that ends the reply
    counts: dict = field(default_factory=dict)  # whatever of Stats the server reported in this chunk
    id: str | None = None


def messages_for_server(messages: list[dict]) -> list[dict]:
    """Role and text only: the session already sends earlier answers without their thoughts."""
    return [{"role": m["role"], "content": m["content"]} for m in messages]


def openai_body(model: str, messages: list[dict], settings: Settings, *, budget_control: bool = False) -> dict:
    body: dict = {"model": model, "messages": messages_for_server(messages), "stream": True,
                  "stream_options": {"include_usage": True}}
    _set(body, temperature=settings.temperature, top_p=settings.top_p, max_tokens=settings.max_tokens,
         seed=settings.seed, stop=list(settings.stop) or None,
         # llama.cpp's and vLLM's extensions; a server that does not know a field ignores it
         top_k=settings.top_k, min_p=settings.min_p, grammar=settings.grammar)
    if settings.repeat_penalty is not None:
        body["repeat_penalty"] = body["repetition_penalty"] = settings.repeat_penalty  # llama.cpp's name, vLLM's
    if budget_control:
        body["reasoning_control"] = True  # llama-server: lets /v1/chat/completions/control end the thought
    return body


def ollama_body(model: str, messages: list[dict], settings: Settings, *, think: bool) -> dict:
    options: dict = {}
    _set(options, temperature=settings.temperature, top_p=settings.top_p, top_k=settings.top_k,
         min_p=settings.min_p, repeat_penalty=settings.repeat_penalty, seed=settings.seed,
         num_predict=settings.max_tokens, stop=list(settings.stop) or None)
    body: dict = {"model": model, "messages": messages_for_server(messages), "stream": True}
    if options:
        body["options"] = options
    if think:
        body["think"] = True
    return body


def _set(target: dict, **values) -> None:
    target.update({key: value for key, value in values.items() if value is not None})


# --- reading -----------------------------------------------------------------------------------------------


def sse_data(lines: Iterable[bytes]) -> Iterator[str]:
    """The data of each Server-Sent Event (several `data:` lines of one event joined by newlines);
    comments (`: ping`) and other fields are skipped."""
    data: list[str] = []
    for raw in lines:
        line = raw[:-1] if raw.endswith(b"\r") else raw
        if not line:
            if data:
                yield "\n".join(data)
                data = []
            continue
        if line.startswith(b"data:"):
            value = line[5:]
            data.append((value[1:] if value.startswith(b" ") else value).decode("utf-8", errors="replace"))
        elif line.startswith(b"error:"):  # a server that reports a failure as its own field
            raise ServerError(f"the server reported an error: {error_text(None, line[6:].strip())}")
    if data:
        yield "\n".join(data)


def openai_piece(chunk: object) -> Piece:
    if not isinstance(chunk, dict):
        raise ServerError(f"the server sent a chunk that is not an object: {str(chunk)[:80]}")
    if chunk.get("error") is not None:
        raise ServerError(f"the server stopped with an error: {error_text(chunk)}")
    piece = Piece(id=chunk.get("id") if isinstance(chunk.get("id"), str) else None)
    choices = chunk.get("choices") or []
    if choices and isinstance(choices[0], dict):
        choice = choices[0]
        delta = choice.get("delta") or {}
        piece.reasoning = _text(delta.get("reasoning_content")) or _text(delta.get("reasoning"))
        piece.content = _text(delta.get("content"))
        reason = choice.get("finish_reason")
        if reason:
            piece.finish = FINISH.get(reason, "stop")
    piece.counts = _openai_counts(chunk.get("usage"), chunk.get("timings"))
    return piece


def _openai_counts(usage, timings) -> dict:
    counts: dict = {}
    if isinstance(usage, dict):
        _number(counts, "prompt_tokens", usage.get("prompt_tokens"))
        _number(counts, "completion_tokens", usage.get("completion_tokens"))
        _number(counts, "cached_tokens", (usage.get("prompt_tokens_details") or {}).get("cached_tokens"))
        _number(counts, "reasoning_tokens", (usage.get("completion_tokens_details") or {}).get("reasoning_tokens"))
    if isinstance(timings, dict):  # llama-server's own
        cache, read = timings.get("cache_n"), timings.get("prompt_n")
        if isinstance(cache, int) and isinstance(read, int):
            counts.setdefault("prompt_tokens", cache + read)
            counts.setdefault("cached_tokens", cache)
        _number(counts, "completion_tokens", timings.get("predicted_n"), replace=False)
        _number(counts, "prompt_tok_s", timings.get("prompt_per_second"))
        _number(counts, "gen_tok_s", timings.get("predicted_per_second"))
        prompt_ms = timings.get("prompt_ms")
        if isinstance(prompt_ms, (int, float)):
            counts["server_ttft_s"] = prompt_ms / 1000
    return counts


def ollama_piece(line: bytes) -> Piece | None:
    """One NDJSON line (None for a blank one)."""
    if not line.strip():
        return None
    try:
        obj = json.loads(line)
    except ValueError:
        raise ServerError(f"the server sent a line that is not JSON: {line[:80]!r}") from None
    if not isinstance(obj, dict):
        raise ServerError(f"the server sent a line that is not an object: {line[:80]!r}")
    if obj.get("error") is not None:
        raise ServerError(f"the server stopped with an error: {error_text(obj)}")
    message = obj.get("message") or {}
    piece = Piece(reasoning=_text(message.get("thinking")), content=_text(message.get("content")))
    if obj.get("done"):
        piece.finish = FINISH.get(obj.get("done_reason") or "stop", "stop")
        piece.counts = _ollama_counts(obj)
    return piece


def _ollama_counts(obj: dict) -> dict:
    counts: dict = {}
    _number(counts, "prompt_tokens", obj.get("prompt_eval_count"))
    _number(counts, "completion_tokens", obj.get("eval_count"))
    for count, duration, name in (("prompt_eval_count", "prompt_eval_duration", "prompt_tok_s"),
                                  ("eval_count", "eval_duration", "gen_tok_s")):
        n, ns = obj.get(count), obj.get(duration)
        if isinstance(n, int) and isinstance(ns, int) and ns > 0:
            counts[name] = n / ns * 1e9
    load, prompt = obj.get("load_duration"), obj.get("prompt_eval_duration")
    if isinstance(prompt, int):
        counts["server_ttft_s"] = ((load if isinstance(load, int) else 0) + prompt) / 1e9
    return counts


def _number(counts: dict, name: str, value, *, replace: bool = True) -> None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        if replace or name not in counts:
            counts[name] = value


def _text(value) -> str:
    return value if isinstance(value, str) else ""
