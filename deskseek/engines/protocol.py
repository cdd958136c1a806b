"""What `run`, the chat app and the chat session need of an engine, and nothing more.

Two engines stand behind this: the model in this process (local.Engine, llama.cpp) and a model on an
inference server (remote.RemoteEngine, over HTTP). The faces and the session are written against these
protocols only, so they never know which one they drive; the local engine's own extras (tokenize,
render, its KV cache) stay its own. Found by reading what the callers call: run.py, run_view.py,
chat/session.py and chat/live_reply.py, tui/app.py and tui/model_loading.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, runtime_checkable

from deskseek.engines.events import Event, Reply, Settings


@runtime_checkable
class Stream(Protocol):
    """One reply in flight. Its events end with Done, whatever happened (an Error comes before it).

    Reading may happen on any one thread; cancel() may come from any other, at any moment, and the reply
    then ends promptly with Done("cancelled"), keeping what was produced.
    """

    reply: Reply  # everything read so far, accumulated by get()

    def get(self) -> Event:
        """The next event, blocking; safe to call again after a KeyboardInterrupt interrupted the wait."""
        ...

    def __iter__(self) -> Iterator[Event]:
        """The events, up to and including Done."""
        ...

    def wait(self) -> Reply:
        """Read the rest and return the whole reply."""
        ...

    def cancel(self) -> None:
        ...


@runtime_checkable
class Engine(Protocol):
    """A loaded model. One reply at a time: generate() while one streams raises DeskseekError; whoever has
    seen a reply's Done may generate again. close() cancels a reply in flight and waits for it."""

    reasoning: bool  # its replies may carry a thought: the chat shows a thinking pane for each
    n_ctx: int | None  # the context in tokens, where known (a server may not say)
    server: str | None  # where the model runs: None for this machine, else the server's URL

    def generate(self, messages: list[dict], settings: Settings | None = None) -> Stream:
        """Start a reply to `messages` ({"role", "content"}, earlier answers without their thoughts)."""
        ...

    def close(self) -> None:
        ...
