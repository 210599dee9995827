"""Response caching as the completions use case applies it: look a call up before it is routed, store
its answer after, both beside the call's own work and never failing it.

A backend that cannot answer (`CacheUnavailable`) is a miss, or a store that did not happen; its adapter
says so in the logs and counts it. Stores run in the background: the answer never waits for them.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from domain.caching import (
    NO_CONTROLS,
    CacheControls,
    CachedReply,
    CachedVector,
    Partition,
    chat_key,
    embedding_key,
    parse_controls,
    partition_of,
    scope_of,
    semantic_scope,
)
from domain.completions import CompletionChunk, CompletionRequest, CompletionResponse, Usage, assemble
from domain.embeddings import Embedding, EmbeddingRequest, EmbeddingResponse
from domain.errors import SwitchyardError
from domain.frozen import frozen
from domain.spend import ZERO, Caller
from ports.clock import Clock
from ports.llm_provider import ChunkStream, StreamWrapper
from ports.response_cache import CacheUnavailable, ResponseCache, VectorIndex

CALL_TYPES = frozenset({"chat", "embeddings"})
"""What can be cached: chat (answered whole or streamed, through any entry point) and embeddings."""
_CALL_TYPE_NAMES = {
    "completion": "chat", "acompletion": "chat", "chat": "chat", "chat_completion": "chat",
    "embedding": "embeddings", "aembedding": "embeddings", "embeddings": "embeddings",
}  # fmt: skip
"""`supported_call_types` as LiteLLM spells them, and as Switchyard does."""


def call_types_of(names: Sequence[str] | None) -> frozenset[str]:
    """The call types a config's `supported_call_types` names (LiteLLM's names accepted); unknown names
    (text completions, transcriptions: not cached) are skipped."""
    if names is None:
        return CALL_TYPES
    return frozenset(_CALL_TYPE_NAMES[name] for name in names if name in _CALL_TYPE_NAMES)


@frozen
class CachePolicy:
    ttl: float | None = None
    """Seconds an entry lives unless a call says otherwise (None: until the backend evicts it)."""
    namespace: str | None = None
    call_types: frozenset[str] = CALL_TYPES
    default_on: bool = True
    """False (`mode: default_off`): only calls that opt in (`cache: {"use-cache": true}`) are cached."""
    partition: Partition = Partition.TEAM
    similarity_threshold: float = 0.95
    embedding_model: str | None = None
    """The model group a semantic cache embeds prompts with."""


@dataclass(slots=True)
class ChatLookup:
    """One chat call's dealings with the cache: its key, the entry that answers it (if any) and whether
    its own answer is to be stored."""

    key: str
    controls: CacheControls
    hit: CachedReply | None = None
    similarity: float | None = None
    """Set when a semantic lookup answered."""
    scope: str = ""
    vector: Sequence[float] | None = None
    """The prompt's embedding, when a semantic cache looked (stored with the answer)."""

    @property
    def storable(self) -> bool:
        return not self.controls.no_store


@dataclass(slots=True)
class EmbeddingLookup:
    keys: list[str]
    controls: CacheControls
    found: list[CachedVector | None] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return bool(self.found) and all(entry is not None for entry in self.found)


Embedder = Callable[[EmbeddingRequest], Awaitable[EmbeddingResponse]]


class ResponseCaching:
    """Looks calls up in the cache and stores their answers, by the config's policy and each call's
    controls. With a vector index and an embedding model, a chat call that misses exactly is looked up
    semantically: its conversation's embedding against those of stored answers with the same other
    parameters, answering when the similarity reaches the threshold."""

    def __init__(
        self,
        cache: ResponseCache,
        policy: CachePolicy,
        clock: Clock,
        *,
        index: VectorIndex | None = None,
    ) -> None:
        self._cache = cache
        self._policy = policy
        self._clock = clock
        self._index = index
        self._pending: set[asyncio.Task[None]] = set()

    def controls(self, request: CompletionRequest | EmbeddingRequest) -> CacheControls | None:
        """The call's cache controls; None when the cache is not for this call (its type is not cached,
        or the cache is opt-in and the call did not opt in). A malformed control is a 400."""
        controls = request.controls
        call_type = "embeddings" if isinstance(request, EmbeddingRequest) else "chat"
        if call_type not in self._policy.call_types:
            return None
        body, header = controls.get("cache"), controls.get("cache_control_header")
        parsed = parse_controls(body, header) if body is not None or header else NO_CONTROLS
        if controls.get("caching") is False or parsed.use_cache is False:
            return None
        if not self._policy.default_on and not (parsed.use_cache or controls.get("caching") is True):
            return None
        return parsed

    def _scope(self, controls: CacheControls, caller: Caller | None) -> str:
        return scope_of(
            controls.namespace or self._policy.namespace, partition_of(caller, self._policy.partition)
        )

    async def lookup_chat(
        self, request: CompletionRequest, caller: Caller | None, embed: Embedder | None = None
    ) -> ChatLookup | None:
        """The call's lookup (None: the cache is not for it). `embed` embeds its prompt for a semantic
        lookup."""
        controls = self.controls(request)
        if controls is None:
            return None
        scope = self._scope(controls, caller)
        lookup = ChatLookup(chat_key(request, scope), controls, scope=scope)
        if controls.no_cache:
            return lookup
        try:
            entry = await self._cache.get(lookup.key)
        except CacheUnavailable:
            entry = None
        if isinstance(entry, CachedReply) and self._fresh(entry, controls):
            lookup.hit = entry
            return lookup
        if self._index is not None and embed is not None:
            await self._lookup_similar(request, lookup, embed)
        return lookup

    async def _lookup_similar(self, request: CompletionRequest, lookup: ChatLookup, embed: Embedder) -> None:
        assert self._index is not None
        text = _conversation(request)
        if not text:
            return
        lookup.scope = semantic_scope(request, lookup.scope)
        try:
            model = self._policy.embedding_model or request.model
            embedded = await embed(EmbeddingRequest(model=model, inputs=(text,)))
            lookup.vector = tuple(embedded.data[0].vector)
            found = await self._index.search(lookup.scope, lookup.vector, self._policy.similarity_threshold)
        except (CacheUnavailable, SwitchyardError):  # no embedding, no index: a miss, never a failure
            return
        if found is not None and self._fresh(found[0], lookup.controls):
            lookup.hit, lookup.similarity = found

    def store_chat(self, lookup: ChatLookup, response: CompletionResponse, deployment_id: str | None) -> None:
        """Stores an answer, in the background. Only a whole answer is stored: a reply cut short (no
        finish reason) is not."""
        if not lookup.storable or not response.choices:
            return
        if any(choice.finish_reason is None for choice in response.choices):
            return
        entry = CachedReply(dataclasses.replace(response, cost=None), self._clock.now(), deployment_id)
        ttl = lookup.controls.ttl if lookup.controls.ttl is not None else self._policy.ttl
        self._soon(self._store_reply(lookup, entry, ttl))

    async def _store_reply(self, lookup: ChatLookup, entry: CachedReply, ttl: float | None) -> None:
        try:
            await self._cache.set(lookup.key, entry, ttl)
            if self._index is not None and lookup.vector is not None:
                await self._index.add(lookup.scope, lookup.vector, entry, ttl)
        except CacheUnavailable:
            return

    async def lookup_embeddings(
        self, request: EmbeddingRequest, caller: Caller | None
    ) -> EmbeddingLookup | None:
        controls = self.controls(request)
        if controls is None:
            return None
        scope = self._scope(controls, caller)
        lookup = EmbeddingLookup([embedding_key(request, item, scope) for item in request.inputs], controls)
        if controls.no_cache:
            lookup.found = [None] * len(lookup.keys)
            return lookup
        try:
            found = await self._cache.get_many(lookup.keys)
        except CacheUnavailable:
            found = [None] * len(lookup.keys)
        lookup.found = [
            entry if isinstance(entry, CachedVector) and self._fresh(entry, controls) else None
            for entry in found
        ]
        return lookup

    def store_embeddings(
        self, lookup: EmbeddingLookup, data: Sequence[Embedding], positions: Sequence[int], deployment_id: str
    ) -> None:
        """Stores the vectors fetched for the inputs at `positions` of the lookup, in the background."""
        if lookup.controls.no_store:
            return
        now = self._clock.now()
        ttl = lookup.controls.ttl if lookup.controls.ttl is not None else self._policy.ttl
        entries = [
            (lookup.keys[position], CachedVector(tuple(item.vector), now, deployment_id))
            for position, item in zip(positions, data, strict=True)
        ]
        self._soon(self._store_vectors(entries, ttl))

    async def _store_vectors(self, entries: list[tuple[str, CachedVector]], ttl: float | None) -> None:
        for key, entry in entries:
            try:
                await self._cache.set(key, entry, ttl)
            except CacheUnavailable:
                return

    def _fresh(self, entry: CachedReply | CachedVector, controls: CacheControls) -> bool:
        return controls.s_maxage is None or self._clock.now() - entry.stored_at <= controls.s_maxage

    def _soon(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    @property
    def storing(self) -> int:
        """Stores under way."""
        return len(self._pending)

    async def drain(self) -> None:
        """Waits for the stores under way (at shutdown, and in tests)."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    async def close(self) -> None:
        await self.drain()
        await self._cache.close()
        if self._index is not None:
            await self._index.close()


def embeddings_from_cache(request: EmbeddingRequest, found: Sequence[CachedVector]) -> EmbeddingResponse:
    """A whole embedding answer from the cache (nothing spent: no usage)."""
    data = tuple(Embedding(index, entry.vector) for index, entry in enumerate(found))
    return EmbeddingResponse(model=request.model, data=data, usage=Usage())


def merged(
    lookup: EmbeddingLookup, fetched: Sequence[Embedding], positions: Sequence[int]
) -> tuple[Embedding, ...]:
    """The whole answer of a call whose inputs were partly in the cache: each input's vector, in order."""
    vectors: list[Sequence[float] | None] = [
        entry.vector if entry is not None else None for entry in lookup.found
    ]
    for position, item in zip(positions, fetched, strict=True):
        vectors[position] = item.vector
    return tuple(Embedding(index, vector) for index, vector in enumerate(vectors) if vector is not None)


def _conversation(request: CompletionRequest) -> str:
    """What a semantic lookup embeds: the conversation's text, role by role."""
    return "\n".join(f"{message.role}: {message.text}" for message in request.messages if message.text)


class CachedStream(ChunkStream):
    """A stored reply replayed as a stream (all at once: nothing waits upstream). It reports no usage
    and costs nothing: the caller's token limits and budgets are not charged."""

    def __init__(self, chunks: list[CompletionChunk]) -> None:
        self._chunks = chunks
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[CompletionChunk]:
        async for batch in self.batches():
            for chunk in batch:
                yield chunk

    async def batches(self) -> AsyncIterator[Sequence[CompletionChunk]]:
        if not self._closed:
            self._closed = True
            yield self._chunks

    async def aclose(self) -> None:
        self._closed = True

    @property
    def cost(self) -> Decimal | None:
        return ZERO


class StoringStream(StreamWrapper):
    """Passes a stream through, keeping its chunks; once it has ended whole (no error, every choice
    finished), `on_complete` gets the reply it spelled. A stream cut short stores nothing."""

    def __init__(self, inner: ChunkStream, on_complete: Callable[[CompletionResponse], None]) -> None:
        super().__init__(inner)
        self._on_complete = on_complete
        self._chunks: list[CompletionChunk] = []

    async def batches(self) -> AsyncIterator[Sequence[CompletionChunk]]:
        async for batch in self._inner.batches():
            self._chunks.extend(batch)
            yield batch
        if self._chunks:
            self._on_complete(assemble(self._chunks))

    async def aclose(self) -> None:
        self._chunks.clear()
        await self._inner.aclose()
