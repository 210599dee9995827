"""Where a Vertex AI deployment's calls go and how they authenticate: its project, its location's
endpoint and a bearer token, shared by every adapter that serves a Vertex AI model (Gemini, Claude,
the OpenAI-format partner models)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx
import orjson

from adapters.llm.gemini.auth import CachedTokens, token_source
from domain.deployments import Deployment
from domain.errors import AuthenticationError

VERTEX_LOCATION = "us-central1"
_VERSIONED = re.compile(r"/v1(alpha|beta|beta1)?$")


@dataclass(frozen=True, slots=True)
class VertexTarget:
    project: str
    location: str
    token: str

    def located(self, api_base: str | None) -> str:
        """`{root}/projects/{project}/locations/{location}`, where every model of the location lives."""
        return f"{vertex_root(api_base, self.location)}/projects/{self.project}/locations/{self.location}"

    def headers(self) -> dict[str, str]:
        return {"Content-Type": "application/json", "Authorization": f"Bearer {self.token}"}


class VertexAccess:
    """The token caches of the deployments' credentials, one per distinct `vertex_credentials`."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client
        self._tokens: dict[str, CachedTokens] = {}

    async def target(self, deployment: Deployment) -> VertexTarget:
        """The deployment's project (`vertex_project`, else the one its credentials name), location
        (`vertex_location`, us-central1 by default) and a current token."""
        extra = deployment.credentials.extra
        tokens = tokens_of(self._tokens, deployment)
        project = extra.get("vertex_project") or await tokens.project(self._client)
        if not project:
            raise AuthenticationError(
                f"deployment {deployment.id} names no Vertex AI project: set vertex_project "
                "(or VERTEXAI_PROJECT), or use credentials that name one"
            )
        location = str(extra.get("vertex_location") or VERTEX_LOCATION)
        return VertexTarget(str(project), location, await tokens.token(self._client))

    def refused(self, deployment: Deployment, status: int) -> None:
        """Called with each failure status: a 401 means a revoked or expired token, never reused."""
        if status == 401:
            tokens_of(self._tokens, deployment).forget()


def tokens_of(cache: dict[str, CachedTokens], deployment: Deployment) -> CachedTokens:
    """The token cache of the deployment's `vertex_credentials`, one per distinct credentials."""
    credentials = deployment.credentials.extra.get("vertex_credentials")
    key = credentials if isinstance(credentials, str) else orjson.dumps(credentials).decode()
    tokens = cache.get(key)
    if tokens is None:
        tokens = cache[key] = CachedTokens(token_source(credentials))
    return tokens


def vertex_root(api_base: str | None, location: str) -> str:
    """`{endpoint}/v1` of `location`, or `api_base` in its place (with `/v1` unless it names a version)."""
    if not api_base:
        return vertex_host(location) + "/v1"
    root = api_base.rstrip("/")
    return root if _VERSIONED.search(root) else root + "/v1"


def vertex_host(location: str) -> str:
    """The regional endpoint of `location`; `global` and the multi-regions `us` / `eu` have their own
    (as the `anthropic` SDK's AnthropicVertex picks them)."""
    if location == "global":
        return "https://aiplatform.googleapis.com"
    if location in ("us", "eu"):
        return f"https://aiplatform.{location}.rep.googleapis.com"
    return f"https://{location}-aiplatform.googleapis.com"
