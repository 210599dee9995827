"""Pass-through routes: a provider's own API relayed as it is, and the pure rules of where a call goes
and which headers cross."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

Headers = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
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
_NOT_RELAYED_BACK = HOP_BY_HOP | {"content-encoding"}
_NOT_RELAYED_ON = HOP_BY_HOP | CALLER_KEY_HEADERS | {"accept-encoding"}


@dataclass(frozen=True, slots=True)
class RelayRequest:
    method: str
    url: str
    headers: Headers
    body: bytes
    timeout: float = 600.0


@dataclass(frozen=True, slots=True)
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
    kept = tuple((name, value) for name, value in headers if name.lower() not in _NOT_RELAYED_ON)
    value = f"Bearer {credential}" if key_header == "authorization" else credential
    return (*kept, (key_header, value), ("accept-encoding", "identity"))


def returned_headers(headers: Headers) -> Headers:
    return tuple((name, value) for name, value in headers if name.lower() not in _NOT_RELAYED_BACK)
