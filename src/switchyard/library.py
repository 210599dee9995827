"""Switchyard as a library: the completions service built from a config, without the server.

Importing this module loads nothing of the gateway: its parts load when a gateway is built
(`from_config`), so that `from switchyard import Switchyard` costs an application next to nothing."""

from __future__ import annotations

import contextlib
import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncio
    from collections.abc import AsyncIterator, Iterator, Mapping
    from pathlib import Path
    from types import ModuleType, TracebackType

    from adapters.config.loader import GatewayConfig
    from application.completions import Completions
    from bootstrap import Container
    from domain.completions import CompletionChunk, CompletionResponse
    from domain.embeddings import EmbeddingResponse

    ConfigSource = str | Path | Mapping[str, Any] | None

OPEN_AT_CLOSE_SECONDS = 5.0
_OPTIONAL = ("rich", "pygments")


def _parts() -> ModuleType:
    """The gateway's parts (bootstrap, the formats, the use cases), loaded by the first gateway built,
    without rich and pygments: structlog (console tracebacks) and httpx (its command line) import them
    when they can, Switchyard renders nothing with them, and they cost 4-6 MB and a tenth of a second.
    Hidden only while the parts load: they stay importable for the application."""
    hidden = [name for name in _OPTIONAL if name not in sys.modules]
    if "structlog" in sys.modules and "httpx" in sys.modules:
        hidden = []
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        from switchyard import library_parts
    finally:
        for name in hidden:
            del sys.modules[name]
    return library_parts


class Switchyard:
    """Async entry point. Arguments are those of the OpenAI API (`model`, `messages`, `tools`,
    `temperature`, ...), validated as the server validates them; replies are domain objects
    (`reply.choices[0].message.content`). Resources start on first use; close with `aclose()` or
    `async with`."""

    def __init__(self, config: GatewayConfig) -> None:
        self._parts = parts = _parts()
        self._container: Container = parts.build_container(config)
        self._completions: Completions | None = None
        self._background: list[asyncio.Task[None]] = []

    @classmethod
    def from_config(
        cls, source: ConfigSource = None, *, environ: Mapping[str, str] | None = None
    ) -> Switchyard:
        """`source` is a YAML file path, a dict shaped like the YAML, or None for the embedded default."""
        return cls(_parts().load_gateway_config(source, os.environ if environ is None else environ))

    async def start(self) -> Completions:
        if self._completions is None:
            import asyncio

            parts, resolve = self._parts, self._parts.resolve
            await self._container.init_resources()
            self._completions = await resolve(self._container.completions)
            # Spend records go from the journal to the database as they do in the server.
            store = await resolve(self._container.store)
            writer = await resolve(self._container.spend_writer)
            self._background = [
                asyncio.create_task(store.open()),
                asyncio.create_task(parts.run_spend_writer(writer)),
                asyncio.create_task(
                    parts.load_prices(await resolve(self._container.pricing), self._container.deployments())
                ),
            ]
        return self._completions

    async def aclose(self) -> None:
        if self._completions is not None:
            import asyncio

            resolve = self._parts.resolve
            opening, *others = self._background
            for task in others:
                task.cancel()
            # A short-lived gateway closes before its database is open: give it the time to open, so
            # that the spend of its calls is written now (else it waits in the journal for the next run).
            with contextlib.suppress(Exception):
                await asyncio.wait_for(opening, OPEN_AT_CLOSE_SECONDS)
            await asyncio.gather(*others, return_exceptions=True)
            store = await resolve(self._container.store)
            if store.store is not None:
                await self._parts.final_drain(await resolve(self._container.spend_writer))
            await self._container.shutdown_resources()
            self._completions = None

    async def __aenter__(self) -> Switchyard:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def models(self) -> list[str]:
        return [group.name for group in self._container.catalog().groups()]

    async def chat(self, **request: Any) -> CompletionResponse:
        completions = await self.start()
        chat_request = self._parts.parse_chat_request({**request, "stream": False})
        served = await completions.chat(chat_request, call_id=self._call_id())
        return served.value

    async def stream(self, **request: Any) -> AsyncIterator[CompletionChunk]:
        completions = await self.start()
        chat_request = self._parts.parse_chat_request({**request, "stream": True})
        served = await completions.stream(chat_request, call_id=self._call_id())
        try:
            async for chunk in served.value:
                yield chunk
        finally:
            await served.value.aclose()

    async def embeddings(self, **request: Any) -> EmbeddingResponse:
        completions = await self.start()
        embedding_request = self._parts.parse_embedding_request(request)
        served = await completions.embed(embedding_request, call_id=self._call_id())
        return served.value

    def _call_id(self) -> str:
        return self._parts.new_call_id()


class SwitchyardSync:
    """The same calls, blocking: a thin wrapper that runs `Switchyard` on a private event loop."""

    def __init__(self, gateway: Switchyard) -> None:
        import asyncio

        self._gateway = gateway
        self._runner = asyncio.Runner()

    @classmethod
    def from_config(
        cls, source: ConfigSource = None, *, environ: Mapping[str, str] | None = None
    ) -> SwitchyardSync:
        return cls(Switchyard.from_config(source, environ=environ))

    def models(self) -> list[str]:
        return self._gateway.models()

    def chat(self, **request: Any) -> CompletionResponse:
        return self._runner.run(self._gateway.chat(**request))

    def stream(self, **request: Any) -> Iterator[CompletionChunk]:
        chunks = self._gateway.stream(**request)
        try:
            while True:
                try:
                    yield self._runner.run(anext(chunks))
                except StopAsyncIteration:
                    return
        finally:
            self._runner.run(chunks.aclose())

    def embeddings(self, **request: Any) -> EmbeddingResponse:
        return self._runner.run(self._gateway.embeddings(**request))

    def close(self) -> None:
        self._runner.run(self._gateway.aclose())
        self._runner.close()

    def __enter__(self) -> SwitchyardSync:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
