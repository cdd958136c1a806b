"""HTTP for the remote engine: one request per connection, on the standard library's http.client.

Why not httpx (httpx2, which the Hub client brings along)? Two things this client must do that it makes
hard. Cancel must end a stream at once, even while a read is blocked waiting for the server's next
token: here the cancelling thread shuts the socket down, which wakes the reader with an end of stream
(closing a client from another thread does not wake a blocked read). And deskseek must connect to the
named server and nothing else: httpx routes through HTTP(S)_PROXY/ALL_PROXY from the environment by
default, so a conversation could go to a proxy the user never thought of; http.client goes only where it
is told. One connection per request keeps cancel simple (the socket belongs to one reply) and costs a
TCP handshake per reply, nothing beside a model's time to first token.

Every failure is a ServerError whose message is one line naming the server and what to try.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from deskseek.errors import NETWORK, DeskseekError

CONNECT_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 600.0  # a big model on a busy server can read a long prompt for minutes before its first token
CGNAT = ipaddress.ip_network("100.64.0.0/10")  # Tailscale and carrier-grade NAT: private in practice


class ServerError(DeskseekError):
    """The server could not be reached, refused the request, or broke off; one line saying which."""

    exit_code = NETWORK

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Endpoint:
    """A server's base URL, split: requests go to `path` + "/v1/models" and the like."""

    scheme: str
    host: str
    port: int
    path: str  # without a trailing slash; "" for the root

    @classmethod
    def parse(cls, url: str) -> Endpoint:
        parts = urlsplit(url)
        https = parts.scheme == "https"
        return cls(parts.scheme, parts.hostname or "", parts.port or (443 if https else 80), parts.path.rstrip("/"))

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}{self.path}"


def public_plain_http(endpoint: Endpoint, peer: str | None) -> bool:
    """True when words would cross the open internet unencrypted: plain http to an address outside
    loopback, the private ranges, link-local and CGNAT (judged on the address actually connected to)."""
    if endpoint.scheme != "http" or peer is None:
        return False
    try:
        ip = ipaddress.ip_address(peer.split("%")[0])
    except ValueError:
        return True
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (ip.is_loopback or ip.is_private or ip.is_link_local or (ip.version == 4 and ip in CGNAT))


class Request:
    """One request on its own connection. abort(), from any thread, ends it at once: a read blocked on the
    socket returns end-of-stream, and the server sees the client go (llama-server, vLLM and Ollama then
    stop generating)."""

    def __init__(self, endpoint: Endpoint, *, api_key: str | None = None,
                 connect_timeout: float = CONNECT_TIMEOUT_S, read_timeout: float = READ_TIMEOUT_S):
        self.endpoint, self.api_key = endpoint, api_key
        self.connect_timeout, self.read_timeout = connect_timeout, read_timeout
        self.aborted = False
        self.peer: str | None = None  # the IP address connected to
        kind = http.client.HTTPSConnection if endpoint.scheme == "https" else http.client.HTTPConnection
        extra = {"context": ssl.create_default_context()} if endpoint.scheme == "https" else {}
        self._conn = kind(endpoint.host, endpoint.port, timeout=connect_timeout, **extra)
        self.response: http.client.HTTPResponse | None = None

    def send(self, method: str, path: str, body: dict | None = None) -> http.client.HTTPResponse:
        """The response to METHOD base+path, its status not yet judged; ServerError when there is none."""
        where = self.endpoint.url
        try:
            self._conn.connect()
            if self.aborted:
                raise ConnectionAbortedError
            self.peer = self._conn.sock.getpeername()[0]
            self._conn.sock.settimeout(self.read_timeout)
            headers = {"User-Agent": "deskseek", "Accept": "application/json, text/event-stream"}
            data = None
            if body is not None:
                data = json.dumps(body, ensure_ascii=False).encode("utf-8")
                headers["Content-Type"] = "application/json"
            if self.api_key:
                headers["Authorization"] = f"Bearer {self.api_key}"
            self._conn.request(method, self.endpoint.path + path, body=data, headers=headers)
            self.response = self._conn.getresponse()
            return self.response
        except ConnectionRefusedError:
            raise ServerError(f"cannot reach {where}: connection refused (is the server running, on that port?)"
                              ) from None
        except socket.gaierror as err:
            raise ServerError(f"cannot find the host {self.endpoint.host} ({err.strerror})") from None
        except TimeoutError:
            if self.peer is None:
                raise ServerError(f"{where} did not answer within {self.connect_timeout:g} s") from None
            raise ServerError(f"{where} accepted the request but sent nothing for {self.read_timeout:g} s") from None
        except ssl.SSLError as err:
            raise ServerError(f"TLS with {where} failed: {err.reason or err}") from None
        except (OSError, http.client.HTTPException) as err:
            if self.aborted:
                raise ServerError("the request was stopped") from None
            raise ServerError(f"cannot talk to {where}: {_reason(err)}") from None

    def json(self, method: str, path: str, body: dict | None = None) -> tuple[int, object]:
        """(status, parsed body) of a small request; the body is None when it is not JSON."""
        try:
            response = self.send(method, path, body)
            try:
                raw = response.read()
            except (OSError, http.client.HTTPException) as err:
                raise ServerError(f"{self.endpoint.url} broke off its answer: {_reason(err)}") from None
            try:
                return response.status, json.loads(raw)
            except ValueError:
                return response.status, None
        finally:
            self.close()

    def lines(self) -> Iterator[bytes]:
        """The response body line by line as it arrives (read1: whatever the socket has, never waiting for a
        full buffer). Ends at the end of the body, or at once after abort()."""
        response, held = self.response, b""
        while True:
            data = response.read1(65536)
            if not data:
                break
            held += data
            if b"\n" in held:
                *complete, held = held.split(b"\n")
                yield from complete
        if held:
            yield held

    def abort(self) -> None:
        """From any thread: wake a blocked read with end-of-stream, so the reply ends now."""
        self.aborted = True
        sock = self._conn.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # not connected yet, or already closed

    def close(self) -> None:
        self._conn.close()


def status_error(endpoint: Endpoint, status: int, body: object, raw: bytes = b"") -> ServerError:
    """One line for a refusal: what the server said, and what to do about a missing or wrong key."""
    said = error_text(body, raw)
    said = f": {said}" if said else ""
    if status in (401, 403):
        return ServerError(f"{endpoint.url} refused the request ({status}{said}); give its key with --api-key "
                           "or DESKSEEK_API_KEY (or api_key_env in models.toml)", status)
    return ServerError(f"{endpoint.url} answered {status} {http.client.responses.get(status, '')}".rstrip() + said,
                       status)


def error_text(body: object, raw: bytes = b"") -> str:
    """The message a server put in its error body (OpenAI's, Ollama's and FastAPI's shapes), cut to one line."""
    text = ""
    if isinstance(body, dict):
        error = body.get("error", body.get("detail", body.get("message")))
        if isinstance(error, dict):
            error = error.get("message", error)
        text = error if isinstance(error, str) else json.dumps(error) if error is not None else ""
    elif raw:
        text = raw.decode("utf-8", errors="replace")
    line = " ".join(text.split())
    return line if len(line) <= 200 else line[:199] + "…"


def _reason(err: BaseException) -> str:
    if isinstance(err, http.client.IncompleteRead):
        return "the connection closed part-way"
    if isinstance(err, http.client.RemoteDisconnected):
        return "the server closed the connection without answering"
    return getattr(err, "strerror", None) or str(err) or type(err).__name__
