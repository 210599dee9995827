"""Where a Bedrock deployment's calls go and how they are signed, shared by the Converse adapter and the
InvokeModel one (Claude's Messages API, see invoke.py): credentials resolved once per deployment and
kept, the runtime endpoint, the model's path, SigV4 or a bearer token."""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Mapping
from urllib.parse import quote

import httpx

from adapters.llm.bedrock import credentials
from adapters.llm.bedrock.credentials import Access
from adapters.llm.bedrock.signing import signed_headers
from domain.deployments import Deployment

# A model id goes into the path with the characters that both httpx and aiohttp (yarl) send as they
# are left unescaped, so the path signed is the path sent: `:` stays, an ARN's `/` becomes %2F (the
# `anthropic` SDK's AnthropicBedrock quotes it alike, `urllib.parse.quote(model, safe=":")`).
_PATH_SAFE = ":@!$&'()*+,;="
_ROUTES = ("converse/", "invoke/")
"""`bedrock/converse/<id>` and `bedrock/invoke/<id>` pick the API, not a model (as in LiteLLM)."""


def model_id(deployment: Deployment) -> str:
    """The Bedrock model id (a foundation model, a cross-region inference profile such as
    `us.anthropic.claude-...`, or an ARN) without the route that picked the API."""
    model = deployment.upstream_model
    for route in _ROUTES:
        model = model.removeprefix(route)
    return model


class BedrockAccess:
    """Signs the calls of each deployment with its own credentials, resolved on its first call (one
    resolution however many calls arrive meanwhile; a caller that goes away does not cancel it for the
    others)."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = environ  # None: the process environment, read when a deployment is first used
        self._access: dict[str, tuple[Deployment, Access]] = {}
        self._resolving: dict[str, asyncio.Future[Access]] = {}

    async def signed(
        self, deployment: Deployment, operation: str, content: bytes
    ) -> tuple[httpx.URL, dict[str, str]]:
        """The URL of `operation` on the deployment's model and the headers that authenticate `content`."""
        access = await self._access_of(deployment)
        url = _url(runtime_base(deployment, access.region), model_id(deployment), operation)
        if access.bearer is not None:
            return url, {"content-type": "application/json", "authorization": f"Bearer {access.bearer}"}
        assert access.source is not None
        headers = signed_headers(
            await access.source.current(), host=url.netloc.decode("ascii"),
            raw_path=url.raw_path.decode("ascii"), body=content, region=access.region,
        )  # fmt: skip
        return url, headers

    async def _access_of(self, deployment: Deployment) -> Access:
        known = self._access.get(deployment.id)
        if known is not None and known[0] is deployment:
            return known[1]
        pending = self._resolving.get(deployment.id)
        if pending is None:
            pending = self._resolving[deployment.id] = asyncio.ensure_future(self._resolve(deployment))
        return await asyncio.shield(pending)

    async def _resolve(self, deployment: Deployment) -> Access:
        environ = os.environ if self._environ is None else self._environ
        try:
            access = await credentials.resolve(deployment, environ)
            self._access[deployment.id] = (deployment, access)
            return access
        finally:
            del self._resolving[deployment.id]


def runtime_base(deployment: Deployment, region: str) -> str:
    """The deployment's Bedrock runtime endpoint: its api_base, its aws_bedrock_runtime_endpoint, else the
    region's."""
    endpoint = deployment.credentials.extra.get("aws_bedrock_runtime_endpoint")
    return deployment.api_base or (
        str(endpoint) if endpoint else f"https://bedrock-runtime.{region}.amazonaws.com"
    )


@functools.lru_cache(maxsize=1024)
def _url(base: str, model: str, operation: str) -> httpx.URL:
    # Parsing a URL costs httpx more than the rest of building a request: do it once per model.
    return httpx.URL(f"{base.rstrip('/')}/model/{quote(model, safe=_PATH_SAFE)}/{operation}")
