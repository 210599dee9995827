"""Response caching: which requests share an answer (the cache key), what a caller may ask of the cache
(its controls), and what an entry holds.

The key is a SHA-256 over the request's fields that change the answer, normalised (dict keys sorted,
unset values left out): the model group; the messages (role, content parts, name, tool calls and
results, reasoning carried back); the tools, tool_choice and response_format; the sampling parameters
(temperature, top_p, max_tokens, max_completion_tokens, stop, n, seed, presence and frequency penalties,
logit_bias, logprobs, top_logprobs, parallel_tool_calls, reasoning_effort, top_k, thinking_budget);
provider-specific fields sent upstream as they are; a `mock_response`; and, for a request passed through
in a provider's own format, that format and its body. Never of what does not change the answer: `user`,
`metadata`, the `stream` flag and `stream_options`, routing and cache controls (`fallbacks`,
`num_retries`, `cache`, ...). Embeddings are keyed per input: the model group, the input, `dimensions`
and provider-specific fields (the encoding format only changes how the same vector is written).

A key is also scoped: by the cache's namespace (config, or the request's `cache.namespace`) and by the
caller's partition, so that one team never reads another's entries (see `partition_of`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Mapping
from enum import Enum, StrEnum
from json import encoder as json_encoder
from operator import attrgetter
from typing import Any

from domain.completions import (
    ChunkChoice,
    CompletionChunk,
    CompletionRequest,
    CompletionResponse,
    Delta,
    FinishReason,
    ToolCallDelta,
)
from domain.embeddings import EmbeddingRequest
from domain.errors import BadRequestError
from domain.frozen import frozen
from domain.spend import Caller

KEY_VERSION = "1"
"""Part of every key: changing the normalisation changes it, so old entries are simply never read."""
_UNKEYED_PARAMS = frozenset({"user"})


class Partition(StrEnum):
    """Whose entries a caller reads: `team` (the default: the caller's team; a caller without a team its
    own key's), `key` (each key its own), or `shared` (everyone the same)."""

    TEAM = "team"
    KEY = "key"
    SHARED = "shared"


def partition_of(caller: Caller | None, partition: Partition) -> str:
    """The partition a caller's entries live in."""
    if caller is None or partition is Partition.SHARED:
        return ""
    if partition is Partition.TEAM and caller.team_id:
        return f"team:{caller.team_id}"
    return f"key:{caller.key_hash}" if caller.key_hash else ""


@frozen
class CacheControls:
    """What a request asks of the cache, from its body's `cache` object and its `Cache-Control` header."""

    no_cache: bool = False
    """Do not answer from the cache (the answer may still be stored)."""
    no_store: bool = False
    """Do not store the answer."""
    ttl: float | None = None
    """Seconds the stored answer lives (else the cache's own ttl)."""
    s_maxage: float | None = None
    """Only an entry at most this many seconds old may answer."""
    namespace: str | None = None
    use_cache: bool | None = None
    """Opt in (or out) explicitly: a cache in `default_off` mode answers only calls that opt in."""

    def names(self) -> tuple[str, ...]:
        """The controls set, by their wire names (for a key's `allowed_cache_controls`)."""
        found = []
        for name, value in (
            ("no-cache", self.no_cache),
            ("no-store", self.no_store),
            ("ttl", self.ttl is not None),
            ("s-maxage", self.s_maxage is not None),
            ("namespace", self.namespace is not None),
            ("use-cache", self.use_cache is not None),
        ):
            if value:
                found.append(name)
        return tuple(found)


NO_CONTROLS = CacheControls()
CONTROL_NAMES = ("no-cache", "no-store", "ttl", "s-maxage", "namespace", "use-cache")
"""Every control by its wire name, as `CacheControls.names` gives them and a key's `allowed_cache_controls`
lists them."""


def parse_controls(body: object, header: str | None = None) -> CacheControls:
    """The controls of a request's `cache` object (`{"no-cache": true, "no-store": true, "ttl": 60,
    "s-maxage": 10, "namespace": "x", "use-cache": true}`; underscores accepted for dashes) and its
    `Cache-Control` header (`no-cache`, `no-store`, `max-age=N` as s-maxage, `s-maxage=N`). A control of
    the wrong type is a 400 naming it (`cache.ttl`)."""
    fields: dict[str, Any] = {}
    if header:
        for directive in header.split(","):
            name, _, value = directive.strip().lower().partition("=")
            if name in ("no-cache", "no-store"):
                fields[name.replace("-", "_")] = True
            elif name in ("max-age", "s-maxage") and value:
                fields["s_maxage"] = _seconds(value.strip().strip('"'), "Cache-Control")
    if body is None:
        return CacheControls(**fields) if fields else NO_CONTROLS
    if not isinstance(body, Mapping):
        raise BadRequestError("'cache' must be an object of cache controls.", param="cache")
    for raw, value in body.items():
        name = str(raw).replace("_", "-")
        param = f"cache.{raw}"
        if name in ("no-cache", "no-store", "use-cache"):
            if not isinstance(value, bool):
                raise BadRequestError(f"'{param}' must be true or false.", param=param)
            fields[name.replace("-", "_")] = value
        elif name in ("ttl", "s-maxage"):
            fields[name.replace("-", "_")] = _seconds(value, param)
        elif name == "namespace":
            if not isinstance(value, str) or not value:
                raise BadRequestError(f"'{param}' must be a non-empty string.", param=param)
            fields["namespace"] = value
        else:
            raise BadRequestError(
                f"Unknown cache control '{raw}'; use no-cache, no-store, ttl, s-maxage, namespace or "
                "use-cache.",
                param=param,
            )
    return CacheControls(**fields)


def _seconds(value: object, param: str) -> float:
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise BadRequestError(f"'{param}' must be a number of seconds.", param=param) from None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise BadRequestError(f"'{param}' must be a number of seconds, 0 or more.", param=param)
    return float(value)


@frozen
class CachedReply:
    """A chat answer as the cache keeps it: the reply (its cost left out: a hit costs nothing), when it
    was stored (Unix seconds), and the deployment that first gave it."""

    response: CompletionResponse
    stored_at: float
    deployment_id: str | None = None


@frozen
class CachedVector:
    """One embedding input's vector as the cache keeps it."""

    vector: tuple[float, ...]
    stored_at: float
    deployment_id: str | None = None


CachedEntry = CachedReply | CachedVector


def chat_key(request: CompletionRequest, scope: str) -> str:
    """The cache key of a chat request within `scope` (namespace and partition)."""
    return _digest("chat", scope, chat_fields(request))


def chat_fields(request: CompletionRequest, *, messages: bool = True) -> dict[str, Any]:
    """The request's fields that change its answer, normalised (`messages=False`: all but the
    conversation, the scope of a semantic lookup)."""
    params = {name: value for name, value in _plain(request.params).items() if name not in _UNKEYED_PARAMS}
    fields: dict[str, Any] = {
        "model": request.model,
        "params": params,
        "tools": _plain(request.tools),
        "tool_choice": _plain(request.tool_choice),
        "response_format": _plain(request.response_format),
        "extra_body": _plain(request.extra_body),
        "mock_response": request.mock_response,
    }
    if messages:
        fields["messages"] = _plain(request.messages)
    native = request.native
    if native is not None:
        body = {k: v for k, v in native.body.items() if k not in ("stream", "metadata", "user")}
        if not messages:
            body.pop("messages", None)
            body.pop("input", None)
        fields["native"] = {"format": native.format, "body": _plain(body)}
    return {name: value for name, value in fields.items() if value not in _UNSET}


_UNSET = (None, {}, [])
"""What a field of a key is left out for (made once, not per field)."""


def semantic_scope(request: CompletionRequest, scope: str) -> str:
    """Where similar conversations may answer each other: the same scope, model group and other fields
    (tools, response format, sampling, ...), whatever the messages."""
    return _digest("semantic", scope, chat_fields(request, messages=False))


def embedding_key(request: EmbeddingRequest, input: str | tuple[int, ...], scope: str) -> str:
    """The cache key of one input of an embedding request within `scope`."""
    fields = {
        "model": request.model,
        "input": list(input) if isinstance(input, tuple) else input,
        "dimensions": request.dimensions,
        "extra_body": _plain(request.extra_body),
    }
    return _digest("embedding", scope, {k: v for k, v in fields.items() if v not in (None, {})})


def scope_of(namespace: str | None, partition: str) -> str:
    return f"{namespace or ''}\x1f{partition}"


def _canonical_encoder(encoder: json.JSONEncoder) -> Callable[[Any], str]:
    """`encoder.encode`, without the C encoder it builds anew on every call (a third of a key's JSON):
    the very one it would build, made once. `encoder.encode` itself where the C accelerator is missing."""
    make = json_encoder.c_make_encoder
    if make is None or encoder.indent is not None or encoder.check_circular:
        return encoder.encode
    try:
        once = make(
            None,  # no markers: check_circular is off
            encoder.default,
            json_encoder.encode_basestring_ascii if encoder.ensure_ascii else json_encoder.encode_basestring,
            encoder.indent,
            encoder.key_separator,
            encoder.item_separator,
            encoder.sort_keys,
            encoder.skipkeys,
            encoder.allow_nan,
        )
        fast: Callable[[Any], str] = lambda value: "".join(once(value, 0))  # noqa: E731
        sample = {"b": [1, 2.5, None, True], "a": {"é": "x\n"}, "c": ()}
        if fast(sample) == encoder.encode(sample):
            return fast
    except TypeError:  # the accelerator is CPython's own: another version may take other arguments
        pass
    return encoder.encode


_CANONICAL = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str, check_circular=False
)
"""The key's JSON (built once: `json.dumps` with options builds an encoder per call). The fields are
plain trees made by `_plain` from parsed requests: never circular, so not checked for it."""
_ENCODE = _canonical_encoder(_CANONICAL)


def _digest(kind: str, scope: str, fields: Mapping[str, Any]) -> str:
    text = _ENCODE(fields)
    return hashlib.sha256(f"{KEY_VERSION}\x1f{kind}\x1f{scope}\x1f{text}".encode()).hexdigest()


_SCALARS = (str, int, float, bool, type(None))
_PLAIN_TYPES = frozenset(_SCALARS)
"""Exactly these types (not their subclasses, such as a StrEnum) are kept as they are."""
_CONTAINERS = frozenset({tuple, list, dict})
_WALKERS: dict[type, Callable[[Any], Any] | None] = {}
"""How to walk each dataclass met so far (its fields read one by one in generated code: looking them
up by name is most of the walk's cost) and read each enum, None for each other type met."""
_UNSEEN: Any = object()


def _plain(value: Any) -> Any:
    """Dataclasses as dicts of their set fields, enums as their values, tuples as lists."""
    kind = type(value)
    if kind in _PLAIN_TYPES:
        return value
    walk = _WALKERS.get(kind, _UNSEEN)
    if walk is _UNSEEN:
        walk = _WALKERS[kind] = _walker_of(kind)
    if walk is not None:
        return walk(value)
    # The usual containers by their exact type first: isinstance against an ABC (Mapping) costs more.
    if kind is dict:
        return {str(k): v if type(v) in _PLAIN_TYPES else _plain(v) for k, v in value.items()}
    if kind is tuple or kind is list:
        return [item if type(item) in _PLAIN_TYPES else _plain(item) for item in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def _walker_of(kind: type) -> Callable[[Any], Any] | None:
    """How `_plain` turns a value of type `kind` into plain data when it is a dataclass or an enum (its
    value, found without `_plain`'s chain of type tests); None for any other type."""
    if dataclasses.is_dataclass(kind):
        return _walker(kind)
    if issubclass(kind, Enum):
        # `value` is a property that reads `_value_`: read it straight, where the enum does not redefine it.
        defines = next(c for c in kind.__mro__ if "value" in vars(c))
        return attrgetter("_value_" if defines is Enum else "value")
    return None


def _walker(kind: type) -> Callable[[Any], dict[str, Any]]:
    """A dataclass's set fields as a dict: None, and what is empty once plain, left out (an empty
    tuple, list or dict without making its empty plain copy first)."""
    lines = ["def _walk(value):", "    found = {}"]
    for field in dataclasses.fields(kind):
        name = field.name
        lines += [
            f"    item = value.{name}",
            "    if item is not None:",
            "        if type(item) in _PLAIN_TYPES:",
            f"            found[{name!r}] = item",
            "        elif type(item) not in _CONTAINERS or item:",
            "            item = _plain(item)",
            "            if item is not None and item != [] and item != {}:",
            f"                found[{name!r}] = item",
        ]
    lines.append("    return found")
    scope: dict[str, Any] = {"_PLAIN_TYPES": _PLAIN_TYPES, "_CONTAINERS": _CONTAINERS, "_plain": _plain}
    exec("\n".join(lines), scope)
    return scope["_walk"]  # type: ignore[no-any-return]


def replay(response: CompletionResponse, include_usage: bool) -> list[CompletionChunk]:
    """A stored reply as the stream that spells it: per choice, its reasoning (each thinking block closed
    by its signature), text and tool calls, then its finish; the usage last when asked for."""
    chunks: list[CompletionChunk] = []

    def chunk(index: int, delta: Delta, finish: FinishReason | None = None, stop: str | None = None) -> None:
        choice = ChunkChoice(index=index, delta=delta, finish_reason=finish, stop_sequence=stop)
        chunks.append(CompletionChunk(response.id, response.created, response.model, (choice,)))

    for choice in response.choices:
        message = choice.message
        role: str | None = "assistant"
        if message.thinking_blocks:
            for block in message.thinking_blocks:
                if block.redacted is not None:
                    chunk(choice.index, Delta(role=role, redacted_thinking=block.redacted))
                else:
                    delta = Delta(
                        role=role, reasoning_content=block.text or None, thinking_signature=block.signature
                    )
                    chunk(choice.index, delta)
                role = None
        elif message.reasoning_content:
            chunk(choice.index, Delta(role=role, reasoning_content=message.reasoning_content))
            role = None
        calls = tuple(
            ToolCallDelta(index=position, id=call.id, name=call.name, arguments=call.arguments)
            for position, call in enumerate(message.tool_calls)
        )
        text = message.text or None
        if text is not None or calls or message.refusal or role is not None:
            chunk(choice.index, Delta(role=role, content=text, refusal=message.refusal, tool_calls=calls))
        chunk(choice.index, Delta(), choice.finish_reason, choice.stop_sequence)
    if include_usage and response.usage is not None:
        chunks.append(CompletionChunk(response.id, response.created, response.model, (), response.usage))
    return chunks
