"""Which server, which model on it, and how to talk to it: from a user's flags to a probed Server.

The server comes from `--server URL|NAME`, else `DESKSEEK_SERVER`, else a model typed as `NAME:MODEL`
where NAME is a server in the user's models.toml (models/servers.py). Its key from `--api-key`, else the
variable the named server's `api_key_env` names, else `DESKSEEK_API_KEY`: never a provider's variable
(OPENAI_API_KEY and the like) the user did not point at.

Probing asks the server what it is: Ollama answers `GET /api/tags`, an OpenAI-compatible server `GET
/v1/models` (a URL that ends in /v1 is taken as OpenAI-compatible at once). The model is the one named,
else the server's only one, else the list goes back to the user. Whether the model thinks, and so whether
a stream with no opening tag starts inside its thought, comes from what the server tells (Ollama's
capabilities, llama-server's chat template in /props), else from its name (R1, QwQ, "thinking").
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field

from deskseek.engines.events import Settings
from deskseek.engines.http_client import Endpoint, Request, ServerError, public_plain_http, status_error
from deskseek.engines.wire import OLLAMA, OPENAI
from deskseek.errors import NotFound, UsageError
from deskseek.models import gguf
from deskseek.models import servers as named_servers
from deskseek.models.registry import RegistryError

log = logging.getLogger("deskseek.remote")

SERVER_ENV, KEY_ENV = "DESKSEEK_SERVER", "DESKSEEK_API_KEY"
THINKING_NAME = re.compile(r"(?<![a-z0-9])(r1|qwq|think|thinking|thinker|reasoner|reasoning)(?![a-z0-9])")
LISTED = 20  # models named in an error, at most


@dataclass(frozen=True)
class Target:
    url: str  # normalised by models.servers.check_url
    name: str | None = None  # the server's name in models.toml
    model: str | None = None  # the model asked for; None: the server's only one
    api_key: str | None = None

    @property
    def label(self) -> str:
        """How the status line names it: its name and URL, or the URL."""
        return f"{self.name} ({self.url})" if self.name else self.url


@dataclass
class Server:
    """A server that answered, and the model on it this chat uses."""

    target: Target
    endpoint: Endpoint
    api: str  # wire.OPENAI | wire.OLLAMA
    prefix: str  # before the API's paths: "/v1" for OpenAI-compatible below the base URL, "" otherwise
    models: list[str]
    model: str
    thinks: bool  # the model reasons: a stream without an opening <think> starts inside the thought
    may_think: bool = True  # its replies may carry a thought: False only where the server said it has no tags
    ollama_think: bool = False  # send Ollama `think: true` (the model has the "thinking" capability)
    n_ctx: int | None = None
    notices: list[str] = field(default_factory=list)  # said once, with the first reply


def target(flags, model: str | None) -> Target | None:
    """The server the flags (or DESKSEEK_SERVER) name, with the model to use on it; None: a local model."""
    given = (getattr(flags, "server", None) or os.environ.get(SERVER_ENV, "")).strip() or None
    spec = None
    if given is not None:
        spec = _named().get(given) if "/" not in given and ":" not in given else None
        url = spec.url if spec else named_servers.check_url(given)
    else:
        prefix, colon, rest = (model or "").partition(":")
        if not colon or not rest:
            return None
        try:
            spec = _named().get(prefix)
        except RegistryError as err:  # a broken file must not stop a local model whose name has a colon
            log.warning("servers in models.toml not read: %s", err)
            return None
        if spec is None:
            return None
        url, model = spec.url, rest
    return Target(url=url, name=spec.name if spec else None, model=model or (spec.model if spec else None),
                  api_key=_api_key(flags, spec))


def settings(flags) -> Settings:
    """What the flags set, and nothing else: an unset value (None) is not sent, so the server's own default
    applies, which whoever runs the server chose for its model."""
    from deskseek.engines.launch import read_grammar

    return Settings(
        temperature=getattr(flags, "temperature", None), top_p=getattr(flags, "top_p", None),
        top_k=getattr(flags, "top_k", None), min_p=getattr(flags, "min_p", None),
        repeat_penalty=getattr(flags, "repeat_penalty", None), stop=tuple(getattr(flags, "stop", None) or ()),
        seed=getattr(flags, "seed", None), max_tokens=getattr(flags, "max_tokens", None),
        think_budget=getattr(flags, "think_budget", None), grammar=read_grammar(getattr(flags, "grammar_file", None)),
    )


def _named() -> dict[str, named_servers.ServerSpec]:
    return named_servers.load()


def _api_key(flags, spec) -> str | None:
    key = getattr(flags, "api_key", None)
    if key:
        return key
    if spec is not None and spec.api_key_env:
        value = os.environ.get(spec.api_key_env)
        if not value:
            raise UsageError(f"server {spec.name} takes its key from ${spec.api_key_env} (api_key_env in models.toml), "
                             "which is not set")
        return value
    return os.environ.get(KEY_ENV) or None


@dataclass
class Listing:
    """What a server is and which models it serves, before one is chosen."""

    endpoint: Endpoint
    api: str
    prefix: str
    models: list[str]
    contexts: dict[str, int]  # model -> its context, where the listing says (vLLM's max_model_len)
    peer: str | None  # the address connected to


def listing(target: Target, *, connect_timeout: float | None = None) -> Listing:
    """Ask the server what it is and which models it has; ServerError (one line) when it will not say."""
    endpoint = Endpoint.parse(target.url)
    get = _getter(target, endpoint, connect_timeout)
    if endpoint.path.endswith("/v1"):
        api, prefix = OPENAI, ""
        status, answer, peer = get("/models")
    else:
        status, answer, peer = get("/api/tags")
        api, prefix = OLLAMA, ""
        if status != 200 or not isinstance(answer, dict) or not isinstance(answer.get("models"), list):
            tags_status = status
            status, answer, peer = get("/v1/models")
            api, prefix = OPENAI, "/v1"
            if status != 200:
                raise ServerError(f"{endpoint.url} is neither Ollama (GET /api/tags answered {tags_status}) nor "
                                  f"OpenAI-compatible (GET /v1/models answered {status}); check the URL")
    if status != 200:
        raise status_error(endpoint, status, answer)
    models, contexts = _models(api, answer)
    if models is None:
        raise ServerError(f"{endpoint.url} answered its model list with something deskseek cannot read")
    return Listing(endpoint, api, prefix, models, contexts, peer)


def probe(target: Target, *, connect_timeout: float | None = None) -> Server:
    """The server, the model on it this chat uses, and whether that model thinks."""
    found = listing(target, connect_timeout=connect_timeout)
    endpoint = found.endpoint
    server = Server(target, endpoint, found.api, found.prefix, found.models, _choose(target, found.models),
                    thinks=False)
    server.n_ctx = found.contexts.get(server.model)
    if public_plain_http(endpoint, found.peer):
        server.notices.append(f"{endpoint.url} is reached over plain http outside this network: the conversation "
                              "crosses it unencrypted (use https, a VPN or an SSH tunnel)")
    _learn_thinking(server, _getter(target, endpoint, connect_timeout))
    log.info("server %s: %s API, model %s, thinks %s, ctx %s", endpoint.url, server.api, server.model,
             server.thinks, server.n_ctx)
    return server


def _getter(target: Target, endpoint: Endpoint, connect_timeout: float | None):
    """A small request to the server: (status, parsed JSON body, address connected to); 401/403 raise."""
    timeouts = {"connect_timeout": connect_timeout, "read_timeout": connect_timeout} if connect_timeout else {}

    def get(path: str, body: dict | None = None) -> tuple[int, object, str | None]:
        request = Request(endpoint, api_key=target.api_key, **timeouts)
        status, parsed = request.json("POST" if body is not None else "GET", path, body)
        if status in (401, 403):
            raise status_error(endpoint, status, parsed)
        return status, parsed, request.peer

    return get


def _models(api: str, listing: object) -> tuple[list[str] | None, dict[str, int]]:
    """The model names, and the context each runs with where the listing says (vLLM's max_model_len)."""
    key, name = ("models", "name") if api == OLLAMA else ("data", "id")
    items = listing.get(key) if isinstance(listing, dict) else None
    if not isinstance(items, list):
        return None, {}
    names, contexts = [], {}
    for item in items:
        if isinstance(item, dict) and isinstance(item.get(name) or item.get("model"), str):
            names.append(item.get(name) or item.get("model"))
            if isinstance(item.get("max_model_len"), int):
                contexts[names[-1]] = item["max_model_len"]
    return names, contexts


def _choose(target: Target, models: list[str]) -> str:
    where = target.label
    if target.model:
        for candidate in (target.model, f"{target.model}:latest"):  # Ollama's default tag may go unsaid
            if candidate in models:
                return candidate
        raise NotFound(f"{where} has no model {target.model!r}; it has {_listed(models)}")
    if len(models) == 1:
        return models[0]
    if not models:
        raise NotFound(f"{where} serves no model yet")
    raise UsageError(f"{where} has {len(models)} models; choose one with --model: {_listed(models)}")


def _listed(models: list[str]) -> str:
    shown = ", ".join(models[:LISTED])
    return shown + (f" and {len(models) - LISTED} more" if len(models) > LISTED else "") if models else "none"


def _learn_thinking(server: Server, get) -> None:
    """Does the model think? What the server says about it, else its name."""
    try:
        if server.api == OLLAMA:
            status, shown, _ = get("/api/show", {"model": server.model})
            if status == 200 and isinstance(shown, dict):
                capabilities = shown.get("capabilities") or []
                server.ollama_think = "thinking" in capabilities
                server.thinks = server.ollama_think or gguf.is_reasoning_template(str(shown.get("template") or ""))
                server.may_think = server.thinks
                return
        elif server.prefix == "/v1":  # llama-server keeps /props beside /v1: the template and the context
            status, props, _ = get("/props")
            if status == 200 and isinstance(props, dict) and isinstance(props.get("chat_template"), str):
                server.thinks = server.may_think = gguf.is_reasoning_template(props["chat_template"])
                n_ctx = (props.get("default_generation_settings") or {}).get("n_ctx")
                server.n_ctx = n_ctx if isinstance(n_ctx, int) and n_ctx > 0 else server.n_ctx
                return
    except ServerError as err:  # a server without these endpoints is still a server
        log.info("could not ask %s about %s: %s", server.endpoint.url, server.model, err)
    server.thinks = bool(THINKING_NAME.search(server.model.lower()))
