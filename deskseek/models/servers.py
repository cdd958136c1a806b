"""Inference servers the user named in their models.toml, and what a server URL may look like.

    [servers.homelab]
    url = "http://10.0.0.5:11434"      # required: http or https, host, optional port and path
    api_key_env = "HOMELAB_KEY"        # optional: the environment variable that holds its key
    model = "deepseek-r1:70b"          # optional: the model to use when none is named

A name saves typing the URL: `--server homelab`, or `--model homelab:deepseek-r1:70b`. Only the user's own
file can name servers (the shipped registry names none): deskseek connects to no server the user did not
name. A key never sits in the file: `api_key_env` names the variable that holds it, chosen by the user,
so no provider's key is read by surprise. Checked here, with the file and line in the message, as models
are (registry.py), and with no import of the engine layer: models/ knows nothing of HTTP.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from urllib.parse import urlsplit

from deskseek import paths
from deskseek.errors import UsageError
from deskseek.models.registry import RegistryError, line_of

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
FIELDS = ("url", "api_key_env", "model")


@dataclass(frozen=True)
class ServerSpec:
    name: str
    url: str  # checked and normalised by check_url
    api_key_env: str | None = None
    model: str | None = None


def check_url(url: str) -> str:
    """The URL as deskseek uses it (scheme, host, port, path without a trailing slash), or UsageError.

    `host:port` alone means http. Credentials in the URL are refused: the URL is stored in the chat
    history and shown on the status line, and a key belongs in --api-key or DESKSEEK_API_KEY.
    """
    text = url.strip()
    if not text:
        raise UsageError("an empty server URL; give one like http://HOST:PORT")
    if "://" not in text:
        text = "http://" + text
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as err:
        raise UsageError(f"{url!r} is not a server URL ({err})") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise UsageError(f"{url!r}: deskseek speaks http:// and https:// to servers, not {parts.scheme}://")
    if not parts.hostname:
        raise UsageError(f"{url!r} names no host; give one like http://HOST:PORT")
    if parts.username is not None or parts.password is not None:
        raise UsageError(f"{url!r} carries credentials: give the key with --api-key or DESKSEEK_API_KEY instead "
                         "(the URL is kept in the chat history)")
    if parts.query or parts.fragment:
        raise UsageError(f"{url!r}: a server URL takes no ?query or #fragment")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    netloc = f"{host}:{port}" if port is not None else host
    return f"{parts.scheme.lower()}://{netloc}{parts.path.rstrip('/')}"


def parse(text: str, origin: str) -> dict[str, ServerSpec]:
    """The [servers.NAME] tables of one models.toml's text; `origin` names the file in error messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        line = re.search(r"line (\d+)", str(err))
        raise RegistryError(f"{origin}:{line.group(1) if line else 1}: not valid TOML: {err}") from None
    servers = data.get("servers", {})
    if not isinstance(servers, dict):
        raise RegistryError(f"{origin}:1: servers: expected tables like [servers.NAME]")
    return {name: _parse_one(text, origin, name, table) for name, table in servers.items()}


def _parse_one(text: str, origin: str, name: str, table) -> ServerSpec:
    def fail(key: str | None, problem: str) -> RegistryError:
        line = line_of(text, name, key, section="servers")
        return RegistryError(f"{origin}:{line}: servers.{name}{'.' + key if key else ''}: {problem}")

    if not NAME.fullmatch(name):
        raise fail(None, "a server's name is letters, digits, - and _ (it is typed as NAME:MODEL)")
    if not isinstance(table, dict):
        raise fail(None, "expected a table with at least `url`")
    unknown = sorted(set(table) - set(FIELDS))
    if unknown:
        raise fail(unknown[0], f"unknown field: {', '.join(FIELDS)} are known")
    values = {}
    for key in FIELDS:
        value = table.get(key)
        if value is None:
            if key == "url":
                raise fail(None, "missing required field url")
            continue
        if not isinstance(value, str):
            raise fail(key, f"expected a string, got {value!r}")
        values[key] = value
    try:
        url = check_url(values["url"])
    except UsageError as err:
        raise fail("url", str(err)) from None
    env = values.get("api_key_env")
    if env is not None and not ENV_NAME.fullmatch(env):
        raise fail("api_key_env", f"{env!r} is not an environment variable's name (the key itself never goes here)")
    model = values.get("model")
    if model is not None and not model.strip():
        raise fail("model", "an empty model name")
    return ServerSpec(name=name, url=url, api_key_env=env, model=model)


def load() -> dict[str, ServerSpec]:
    """The servers of the user's models.toml (none when there is no such file)."""
    user = paths.user_registry()
    if not user.is_file():
        return {}
    try:
        text = user.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise RegistryError(f"{user}: cannot read: {err}") from None
    return parse(text, str(user))
