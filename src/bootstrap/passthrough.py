"""The pass-through side of the composition root: one pooled client for every relayed provider call
(and the Vertex AI tokens signing some); the operator's routes that need no key reported once."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Mapping

import httpx
import structlog

from adapters.llm.passthrough_relay import HttpxPassThrough
from adapters.llm.passthrough_signers import BedrockSigner, VertexSigner
from bootstrap.upstreams import new_upstream_client
from domain.frozen import frozen
from domain.passthrough import CustomRoute
from ports.passthrough import PassThrough, PassThroughSigner, ReplyFraming

_log = structlog.get_logger("switchyard.passthrough")


AWS_EVENT_STREAM = "application/vnd.amazon.eventstream"


def _aws_event_framing() -> ReplyFraming:
    """Bedrock's framing, imported with the first event stream relayed (the Bedrock adapter is heavy)."""
    from adapters.llm.bedrock.framing import AwsEventFraming

    return AwsEventFraming()


@frozen
class Relaying:
    relay: PassThrough
    signers: tuple[PassThroughSigner, ...]
    framings: Mapping[str, Callable[[], ReplyFraming]]


async def open_passthrough(
    client_factory: Callable[[], httpx.AsyncClient] = new_upstream_client,
    environ: Mapping[str, str] | None = None,
) -> AsyncIterator[Relaying]:
    client = client_factory()
    try:
        yield Relaying(
            HttpxPassThrough(client),
            (VertexSigner(client), BedrockSigner(environ)),
            {AWS_EVENT_STREAM: _aws_event_framing},
        )
    finally:
        await client.aclose()


def report_open_routes(routes: Iterable[CustomRoute]) -> None:
    for route in routes:
        if not route.auth:
            _log.warning(
                "pass-through route needs no key (auth: false): anyone who reaches the gateway may call it",
                path=route.path,
                target=route.target,
            )
