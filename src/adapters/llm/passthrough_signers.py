"""The pass-through signers: Vertex AI's calls carry an OAuth token, Bedrock's a SigV4 signature, both
made from the `use_in_pass_through` deployment's credentials as its chat adapter makes them. The Bedrock and
Gemini adapters they borrow from are imported with the first call each signs: a gateway that relays
neither never loads them."""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

import httpx

from domain.deployments import Deployment
from domain.passthrough import RelayRequest, header, upstream_url
from ports.passthrough import PassThroughSigner

if TYPE_CHECKING:
    from adapters.llm.bedrock import credentials
    from adapters.llm.gemini.auth import CachedTokens

_LOCATION = re.compile(r"/locations/([^/]+)/")


class VertexSigner(PassThroughSigner):
    """`/v1/projects/{p}/locations/{l}/...` to the location's endpoint (or the deployment's api_base), with
    a bearer token from its `vertex_credentials` or the machine's metadata server."""

    provider: ClassVar[str] = "vertex_ai"

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client
        self._tokens: dict[str, CachedTokens] = {}

    async def sign(self, request: RelayRequest, deployment: Deployment) -> RelayRequest:
        from adapters.llm.gemini.client import VERTEX_LOCATION, tokens_of, vertex_host

        path, _, query = request.url.partition("?")
        found = _LOCATION.search(path)
        location = found.group(1) if found else str(deployment.credentials.extra.get("vertex_location") or "")
        base = deployment.api_base or vertex_host(location or VERTEX_LOCATION)
        token = await tokens_of(self._tokens, deployment).token(self._client)
        kept = tuple((n, v) for n, v in request.headers if n.lower() != "authorization")
        return dataclasses.replace(
            request,
            url=upstream_url(base, path, query),
            headers=(*kept, ("authorization", f"Bearer {token}")),
        )


class BedrockSigner(PassThroughSigner):
    """`/model/{id}/{operation}` (and the rest of bedrock-runtime's paths) to the deployment's runtime
    endpoint, SigV4-signed with its AWS credentials (or its Bedrock API key as a bearer)."""

    provider: ClassVar[str] = "bedrock"

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = environ
        self._access: dict[str, tuple[Deployment, credentials.Access]] = {}

    async def sign(self, request: RelayRequest, deployment: Deployment) -> RelayRequest:
        from adapters.llm.bedrock.client import runtime_base
        from adapters.llm.bedrock.signing import signed_headers

        access = await self._access_of(deployment)
        path, _, query = request.url.partition("?")
        url = httpx.URL(upstream_url(runtime_base(deployment, access.region), path, query))
        kept = tuple((n, v) for n, v in request.headers if n.lower() not in _SIGNED)
        source = access.source  # resolve() gives a source or a bearer
        if source is None:
            return dataclasses.replace(
                request, url=str(url), headers=(*kept, ("authorization", f"Bearer {access.bearer}"))
            )
        signed = signed_headers(
            await source.current(),
            host=url.netloc.decode("ascii"),
            raw_path=url.raw_path.partition(b"?")[0].decode("ascii"),
            raw_query=url.query.decode("ascii"),
            body=request.body,
            region=access.region,
            content_type=header(request.headers, "content-type") or "application/json",
            method=request.method,
        )
        return dataclasses.replace(request, url=str(url), headers=(*kept, *signed.items()))

    async def _access_of(self, deployment: Deployment) -> credentials.Access:
        known = self._access.get(deployment.id)
        if known is not None and known[0] is deployment:
            return known[1]
        from adapters.llm.bedrock import credentials

        access = await credentials.resolve(deployment, os.environ if self._environ is None else self._environ)
        self._access[deployment.id] = (deployment, access)
        return access


_SIGNED = frozenset({"authorization", "content-type", "host", "x-amz-date", "x-amz-security-token"})
