"""The semantic cache's vector index in Qdrant: a server in production, its local mode in tests."""

from __future__ import annotations

import asyncio
import base64
import re
import uuid
from collections.abc import Awaitable, Sequence
from typing import TypeVar

from adapters.cache.vector_entries import reply_of, to_store
from adapters.clock import SystemClock
from domain.caching import CachedReply
from domain.errors import ConfigurationError
from ports.clock import Clock
from ports.response_cache import CacheUnavailable, VectorIndex

try:
    from qdrant_client import AsyncQdrantClient, models
    from qdrant_client.common.client_exceptions import QdrantException
    from qdrant_client.http.exceptions import ApiException, UnexpectedResponse
except ImportError as exc:
    raise ImportError(
        "The Qdrant semantic cache needs the package qdrant-client: pip install 'switchyard[semantic-cache]'"
    ) from exc

T = TypeVar("T")

COLLECTION = "switchyard_semantic_cache"
TIMEOUT = 1.0
"""Seconds a search or add may take before it is CacheUnavailable."""
ADMIN_TIMEOUT = 30.0
"""Seconds creating a collection (at the first vector of a dimension) or `clear` may take."""
PURGE_EVERY = 60.0
"""Seconds between two deletions of a collection's expired points (by an `add`); until then they are
only filtered out."""
QUANTIZATIONS: dict[str, models.QuantizationConfig] = {
    "binary": models.BinaryQuantization(binary=models.BinaryQuantizationConfig(always_ram=True)),
    "scalar": models.ScalarQuantization(
        scalar=models.ScalarQuantizationConfig(type=models.ScalarType.INT8, quantile=0.99, always_ram=True)
    ),
    "product": models.ProductQuantization(
        product=models.ProductQuantizationConfig(compression=models.CompressionRatio.X16, always_ram=True)
    ),
}
"""The quantizations a collection may be created with, by LiteLLM's names (`qdrant_quantization_config`)."""


class QdrantVectorIndex(VectorIndex):
    """Entries as points of the collection `<collection>_<dimensions>` (cosine distance), created at the
    first vector of that many dimensions, each with the payload `scope`, `expires_at` (Unix seconds) and
    `reply` (the codec's bytes, base64). A search filters on the scope and on `expires_at > now`; on a
    server both fields are indexed. Expired points are deleted by an `add` at most every PURGE_EVERY
    seconds per collection. `quantization` (binary, scalar or product) applies to the collections it
    creates; searches then rescore with the original vectors, so similarities stay exact.

    The index owns its client and closes it. Every call is bounded by `timeout` (creating a collection
    and `clear` by ADMIN_TIMEOUT); any error of Qdrant or the network raises `CacheUnavailable`."""

    def __init__(
        self,
        client: AsyncQdrantClient,
        *,
        collection: str = COLLECTION,
        quantization: str | None = None,
        timeout: float = TIMEOUT,
        clock: Clock | None = None,
    ) -> None:
        if quantization is not None and quantization not in QUANTIZATIONS:
            raise ConfigurationError(
                "qdrant_quantization_config",
                f"must be one of {', '.join(QUANTIZATIONS)}, not {quantization!r}",
            )
        self._client = client
        self._collection = collection
        self._names = re.compile(rf"{re.escape(collection)}_(\d+)")
        self._timeout = timeout
        self._clock = clock or SystemClock()
        options = client.init_options
        self._local = options.get("location") == ":memory:" or options.get("path") is not None
        """Local mode (in process, exact search) has no payload indexes nor quantization, and warns when
        asked for either."""
        self._quantization = None if quantization is None else QUANTIZATIONS[quantization]
        self._search_params = (
            None
            if quantization is None or self._local
            else models.SearchParams(quantization=models.QuantizationSearchParams(rescore=True))
        )
        self._collections: set[str] = set()
        self._purge_at: dict[str, float] = {}

    @classmethod
    def connect(
        cls,
        url: str | None = None,
        *,
        api_key: str | None = None,
        location: str | None = None,
        path: str | None = None,
        collection: str = COLLECTION,
        quantization: str | None = None,
        timeout: float = TIMEOUT,
        clock: Clock | None = None,
    ) -> QdrantVectorIndex:
        """An index over a new client: of the server at `url` (with `api_key`), or in local mode in memory
        (`location=":memory:"`) or in the folder `path`."""
        client = AsyncQdrantClient(
            url=url,
            api_key=api_key,
            location=location,
            path=path,
            timeout=max(1, round(ADMIN_TIMEOUT)),
            check_compatibility=False,  # a blocking round trip at construction, and a warning
        )
        return cls(client, collection=collection, quantization=quantization, timeout=timeout, clock=clock)

    async def search(
        self, scope: str, vector: Sequence[float], threshold: float
    ) -> tuple[CachedReply, float] | None:
        name = self._name(vector)
        if name not in self._collections:
            if not await self._call(self._client.collection_exists(name), name):
                return None
            self._collections.add(name)
        live = models.Filter(
            must=[
                models.FieldCondition(key="scope", match=models.MatchValue(value=scope)),
                models.FieldCondition(key="expires_at", range=models.Range(gt=self._clock.now())),
            ]
        )
        found = await self._call(
            self._client.query_points(
                name,
                query=list(vector),
                query_filter=live,
                search_params=self._search_params,
                limit=1,
                score_threshold=threshold,
                with_payload=["reply"],
            ),
            name,
        )
        if not found.points:
            return None
        point = found.points[0]
        reply = reply_of(_bytes((point.payload or {}).get("reply")))
        return None if reply is None else (reply, point.score)

    async def add(self, scope: str, vector: Sequence[float], entry: CachedReply, ttl: float | None) -> None:
        now = self._clock.now()
        if not (stored := to_store(scope, vector, entry, ttl, now)):
            return
        data, expires_at = stored
        name = self._name(vector)
        if name not in self._collections:
            await self._call(self._create(name, len(vector)), name, ADMIN_TIMEOUT)
            self._collections.add(name)
        payload = {"scope": scope, "expires_at": expires_at, "reply": base64.b64encode(data).decode("ascii")}
        point = models.PointStruct(id=str(uuid.uuid4()), vector=list(vector), payload=payload)
        await self._call(self._client.upsert(name, [point]), name)
        if now >= self._purge_at.get(name, 0.0):
            self._purge_at[name] = now + PURGE_EVERY
            expired = models.Filter(
                must=[models.FieldCondition(key="expires_at", range=models.Range(lte=now))]
            )
            await self._call(
                self._client.delete(name, models.FilterSelector(filter=expired), wait=False), name
            )

    async def clear(self) -> None:
        self._collections.clear()
        self._purge_at.clear()
        await self._call(self._drop_all(), timeout=ADMIN_TIMEOUT)

    async def close(self) -> None:
        await self._client.close()

    def _name(self, vector: Sequence[float]) -> str:
        return f"{self._collection}_{len(vector)}"

    async def _create(self, name: str, dimensions: int) -> None:
        if await self._client.collection_exists(name):
            return
        try:
            await self._client.create_collection(
                name,
                vectors_config=models.VectorParams(size=dimensions, distance=models.Distance.COSINE),
                quantization_config=self._quantization,
            )
        except UnexpectedResponse as exc:
            if exc.status_code != 409:  # 409: another instance created it meanwhile
                raise
        if not self._local:
            await self._client.create_payload_index(name, "scope", models.PayloadSchemaType.KEYWORD)
            await self._client.create_payload_index(name, "expires_at", models.PayloadSchemaType.FLOAT)

    async def _drop_all(self) -> None:
        for found in (await self._client.get_collections()).collections:
            if self._names.fullmatch(found.name):
                await self._client.delete_collection(found.name)

    async def _call(self, call: Awaitable[T], name: str | None = None, timeout: float | None = None) -> T:
        """The one place where Qdrant's errors become the port's. A collection that failed is looked up
        again next time (another instance's `clear` may have dropped it)."""
        try:
            async with asyncio.timeout(timeout or self._timeout):
                return await call
        except (ApiException, QdrantException, OSError, ValueError) as exc:  # TimeoutError is an OSError
            # Local mode raises ValueError for a collection that is not there.
            if name is not None:
                self._collections.discard(name)
            raise CacheUnavailable(f"semantic cache in Qdrant is unavailable: {exc!r}") from exc


def _bytes(text: object) -> bytes | None:
    """The bytes a payload's base64 spells; None for anything else (a miss)."""
    try:
        return base64.b64decode(text, validate=True) if isinstance(text, str) else None
    except ValueError:  # binascii.Error is one
        return None
