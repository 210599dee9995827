"""Pass-through routes: a provider's own API relayed as it is, and the pure rules of where a call goes
and which headers cross."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from urllib.parse import urlsplit

from domain.frozen import frozen

Headers = tuple[tuple[str, str], ...]


@frozen
class ProviderRoute:
    """How one provider's pass-through route reaches it: its public endpoint (None: there is none, an
    api_base must be set), the environment variables for its base URL and key, and the header carrying
    the key (`authorization` takes `Bearer <key>`)."""

    public_base: str | None
    key_env: str
    base_env: str
    key_header: str


PROVIDER_ROUTES: dict[str, ProviderRoute] = {
    "openai": ProviderRoute("https://api.openai.com", "OPENAI_API_KEY", "OPENAI_API_BASE", "authorization"),
    "anthropic": ProviderRoute(
        "https://api.anthropic.com", "ANTHROPIC_API_KEY", "ANTHROPIC_API_BASE", "x-api-key"
    ),
    "gemini": ProviderRoute(
        "https://generativelanguage.googleapis.com", "GEMINI_API_KEY", "GEMINI_API_BASE", "x-goog-api-key"
    ),
    "cohere": ProviderRoute("https://api.cohere.com", "COHERE_API_KEY", "COHERE_API_BASE", "authorization"),
    "mistral": ProviderRoute(
        "https://api.mistral.ai", "MISTRAL_API_KEY", "MISTRAL_API_BASE", "authorization"
    ),
    "azure": ProviderRoute(None, "AZURE_API_KEY", "AZURE_API_BASE", "api-key"),
}

SIGNED_PROVIDERS = ("vertex_ai", "bedrock")
"""Providers whose pass-through calls are signed per call from their `use_in_pass_through` deployment."""
CUSTOM = "custom"
"""The provider name of the operator's own routes (`general_settings.pass_through_endpoints`)."""

CALLER_KEY_HEADERS = frozenset(
    {"authorization", "x-api-key", "x-goog-api-key", "api-key", "x-switchyard-api-key"}
)
"""Where a caller may present its Switchyard key; never sent upstream."""
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)
# The relay asks for identity bodies (so that usage can be read from them) and rewrites the length.
_NOT_RELAYED_BACK = HOP_BY_HOP | {"content-encoding", "date", "server"}
"""The server stamps its own date and name: the upstream's would make two of each."""
_NOT_RELAYED_ON = HOP_BY_HOP | CALLER_KEY_HEADERS | {"accept-encoding"}


@frozen
class CustomRoute:
    """One `general_settings.pass_through_endpoints` entry: calls to `path` and below it go to `target`
    (with the rest of the path), `headers` set on them; `forward_headers`: with the caller's own headers
    too (never its key); `auth` false: no key needed."""

    path: str
    target: str
    headers: Headers = ()
    forward_headers: bool = False
    auth: bool = True

    def url(self, rest: str, query: str = "") -> str:
        url = self.target.rstrip("/") + rest if rest.strip("/") else self.target
        return f"{url}?{query}" if query else url

    def outgoing_headers(self, headers: Headers) -> Headers:
        set_here = {name.lower() for name, _ in self.headers}
        dropped = _NOT_RELAYED_ON | set_here
        kept = [(n, v) for n, v in headers if n.lower() not in dropped] if self.forward_headers else []
        return (*kept, *self.headers, ("accept-encoding", "identity"))


def custom_route_of(routes: Iterable[CustomRoute], path: str) -> tuple[CustomRoute, str] | None:
    """The route whose path `path` is or lies below (the longest such), and the rest of `path`."""
    for route in sorted(routes, key=lambda r: len(r.path), reverse=True):
        prefix = route.path.rstrip("/")
        if path == prefix or path.startswith(prefix + "/"):
            return route, path[len(prefix) :]
    return None


@frozen
class RelayRequest:
    method: str
    url: str
    headers: Headers
    body: bytes
    timeout: float = 600.0


@frozen
class RelayReply:
    """The upstream's answer as it arrives: `body` yields its bytes as they come; `close` frees the
    connection (also after `body` was read to its end)."""

    status: int
    headers: Headers
    body: AsyncIterator[bytes]
    close: Callable[[], Awaitable[None]]


def upstream_url(base: str, path: str, query: str = "") -> str:
    """`path` (the provider's own, from its host root) on `base`; a version segment `base` already ends
    with is not doubled (`https://api.openai.com/v1` + `/v1/models`)."""
    base = base.rstrip("/")
    path = "/" + path.lstrip("/")
    last = urlsplit(base).path.rpartition("/")[2]
    if last and (path == f"/{last}" or path.startswith(f"/{last}/")):
        path = path[len(last) + 1 :]
    url = base + path
    return f"{url}?{query}" if query else url


def outgoing_headers(headers: Headers, key_header: str, credential: str) -> Headers:
    """The caller's headers as sent upstream: its Switchyard key and hop-by-hop headers dropped, the
    provider credential in the provider's own header, identity bodies asked for."""
    value = f"Bearer {credential}" if key_header == "authorization" else credential
    return (*relayed_headers(headers), (key_header, value))


def relayed_headers(headers: Headers) -> Headers:
    """The caller's headers without its Switchyard key and hop-by-hop headers, identity bodies asked for."""
    kept = tuple((name, value) for name, value in headers if name.lower() not in _NOT_RELAYED_ON)
    return (*kept, ("accept-encoding", "identity"))


def header(headers: Headers, name: str) -> str:
    """The first value of header `name` (lower case), else ''."""
    return next((value for key, value in headers if key.lower() == name), "")


def returned_headers(headers: Headers) -> Headers:
    return tuple((name, value) for name, value in headers if name.lower() not in _NOT_RELAYED_BACK)
