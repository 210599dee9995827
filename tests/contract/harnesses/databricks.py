"""The harness of the Databricks adapter: the OpenAI harness (serving endpoints answer OpenAI's format),
with a workspace's URL and token, and Databricks' own error bodies."""

from __future__ import annotations

from typing import Any

import httpx

from adapters.llm.databricks import DatabricksProvider
from domain.deployments import Credentials, Secret
from tests.contract.harnesses.base import FIXTURES_ROOT, Failure
from tests.contract.harnesses.openai import OpenAIHarness

FIXTURES = FIXTURES_ROOT / "databricks"
WORKSPACE = "https://adb-1234567890123456.7.azuredatabricks.example"
API_BASE = f"{WORKSPACE}/serving-endpoints"
OAUTH_TOKEN = "eyJraWQiOiJkYXRhYnJpY2tzIiwiYWxnIjoiUlMyNTYifQ.oauth-m2m"


class DatabricksHarness(OpenAIHarness):
    adapter = DatabricksProvider
    failures = OpenAIHarness.failures | {
        "bad_request": Failure(400, FIXTURES / "errors/bad_request.json"),
        "context_window": Failure(400, FIXTURES / "errors/context_length.json"),
        "unauthorized": Failure(401, FIXTURES / "errors/invalid_token.json"),
        "forbidden": Failure(403, FIXTURES / "errors/permission_denied.json"),
        "not_found": Failure(404, FIXTURES / "errors/endpoint_not_found.json"),
        "rate_limited": Failure(429, FIXTURES / "errors/rate_limited.json", {"retry-after": "7"}),
        "server_error": Failure(500, FIXTURES / "errors/internal_error.json"),
        "unavailable": Failure(503, FIXTURES / "errors/temporarily_unavailable.json"),
    }
    retry_after = 7.0

    def __init__(self, **deployment_changes: Any) -> None:
        self.token_requests: list[httpx.Request] = []
        super().__init__(**deployment_changes)

    def route(self, request: httpx.Request) -> httpx.Response:
        """The workspace's OAuth token endpoint answers M2M exchanges; the rest goes to the upstream."""
        if request.url.path == "/oidc/v1/token":
            self.token_requests.append(request)
            return httpx.Response(
                200, json={"access_token": OAUTH_TOKEN, "token_type": "Bearer", "expires_in": 3600}
            )
        return self.upstream(request)

    def settings(self) -> dict[str, Any]:
        return super().settings() | {
            "id": "databricks-1",
            "provider": "databricks",
            "upstream_model": "databricks-meta-llama-3-3-70b-instruct",
            "api_base": API_BASE,
            "credentials": Credentials(api_key=Secret("dapi-test-123")),
        }


HARNESSES = {"databricks": DatabricksHarness}
