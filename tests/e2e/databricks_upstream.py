"""A scripted Databricks workspace on a real socket, for end-to-end tests: the OpenAI-format upstream of
tests/e2e/upstream.py served under `/serving-endpoints/...` (the endpoint's name as `model` picks the
scenario), behind Databricks' authentication: a workspace token, or the bearer token its
`/oidc/v1/token` endpoint hands out for OAuth M2M client credentials (HTTP Basic, client_credentials,
scope all-apis). Any other bearer is answered 401 as Databricks does."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs

from tests.e2e.upstream import FakeUpstream

PAT = "dapi-e2e-workspace-token"
CLIENT_ID, CLIENT_SECRET = "e2e-service-principal", "e2e-oauth-secret"
OAUTH_TOKEN = "e2e-oauth-m2m-token"


class _Handler(FakeUpstream.handler):  # type: ignore[name-defined,misc]
    server: FakeDatabricks

    def do_POST(self) -> None:
        if self.path == "/oidc/v1/token":
            return self._token()
        if self.headers.get("authorization") not in (f"Bearer {PAT}", f"Bearer {OAUTH_TOKEN}"):
            self.record(json.loads(self.read_body()))
            message = "Credential was not sent or was of an unsupported type for this API."
            return self.send_json(401, {"error_code": "401", "message": message})
        return super().do_POST()

    def _token(self) -> None:
        form = {name: values[0] for name, values in parse_qs(self.read_body().decode()).items()}
        self.record(form)
        basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if self.headers.get("authorization") != f"Basic {basic}":
            return self.send_json(
                401, {"error": "invalid_client", "error_description": "Client authentication failed"}
            )
        return self.send_json(200, {"access_token": OAUTH_TOKEN, "token_type": "Bearer", "expires_in": 3600})


class FakeDatabricks(FakeUpstream):
    handler = _Handler

    @property
    def base_url(self) -> str:
        return f"{self.root}/serving-endpoints"
