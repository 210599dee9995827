"""AWS Secrets Manager's GetSecretValue (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_GetSecretValue.html):
a JSON 1.1 POST (`X-Amz-Target: secretsmanager.GetSecretValue`) signed with SigV4 by Switchyard's own
signer, with the credentials the Bedrock adapter finds (static keys, a role, a profile, the default chain).

As LiteLLM's store: the region from key_management_settings.aws_region_name, else AWS_REGION_NAME,
AWS_REGION or AWS_DEFAULT_REGION; `primary_secret_name` names one secret holding a JSON object of every
NAME -> value. The endpoint is AWS_ENDPOINT_URL_SECRETS_MANAGER or AWS_ENDPOINT_URL when set (the AWS
SDKs' own variables), else `https://secretsmanager.{region}.amazonaws.com`."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from collections.abc import Mapping
from typing import Any, Self
from urllib.parse import urlsplit

import httpx

from adapters.llm.bedrock.credentials import BEARER_ENV, Access, resolve
from adapters.llm.bedrock.signing import amz_date, authorization
from adapters.secrets.http import ClientFactory, HttpSecretStore, read_json
from domain.deployments import Credentials, Deployment
from domain.errors import SwitchyardError
from ports.secret_store import SecretUnavailable

SERVICE = "secretsmanager"
_CONTENT_TYPE = "application/x-amz-json-1.1"
_TARGET = "secretsmanager.GetSecretValue"
# key_management_settings keys LiteLLM passes to its AWS credential lookup.
_AUTH_SETTINGS = ("aws_role_name", "aws_session_name", "aws_external_id", "aws_profile_name")


class AwsSecretsManagerStore(HttpSecretStore):
    system = "aws_secret_manager"

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        identity: Deployment,
        environ: Mapping[str, str],
        endpoint: str | None = None,
        primary_secret_name: str | None = None,
    ) -> None:
        """`identity`: a Bedrock-shaped deployment whose credentials say who calls (the Bedrock adapter's
        credential resolution is reused as it is)."""
        super().__init__(client)
        self._identity = identity
        self._environ = {name: value for name, value in environ.items() if name != BEARER_ENV}
        self._endpoint = endpoint
        self._primary = primary_secret_name
        self._access: Access | None = None
        self._lock = asyncio.Lock()

    @classmethod
    def create(cls, settings: Mapping[str, Any], environ: Mapping[str, str], clients: ClientFactory) -> Self:
        region = settings.get("aws_region_name") or _first(
            environ, "AWS_REGION_NAME", "AWS_REGION", "AWS_DEFAULT_REGION"
        )
        extra = {
            "aws_region_name": region,
            "aws_access_key_id": environ.get("AWS_ACCESS_KEY_ID"),
            "aws_secret_access_key": environ.get("AWS_SECRET_ACCESS_KEY"),
            "aws_session_token": environ.get("AWS_SESSION_TOKEN"),
            **{name: settings.get(name) for name in _AUTH_SETTINGS},
        }
        identity = Deployment(
            id=cls.system, model_name=cls.system, provider="bedrock", upstream_model="",
            credentials=Credentials(extra={name: value for name, value in extra.items() if value}),
        )  # fmt: skip
        endpoint = _first(environ, "AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_ENDPOINT_URL")
        primary = settings.get("primary_secret_name")
        return cls(
            clients(), identity=identity, environ=environ, endpoint=endpoint, primary_secret_name=primary
        )

    async def read(self, name: str) -> str:
        if self._primary is None:
            return await self._secret_string(name)
        text = await self._secret_string(self._primary)
        try:
            values = json.loads(text)
        except json.JSONDecodeError:
            values = None
        if not isinstance(values, dict):
            raise SecretUnavailable(name, self.system, f"primary secret {self._primary} is not a JSON object")
        if name not in values:
            raise SecretUnavailable(name, self.system, f"not in primary secret {self._primary}", missing=True)
        return str(values[name])

    async def _secret_string(self, name: str) -> str:
        access = await self._current_access(name)
        assert access.source is not None
        credentials = await access.source.current()
        url = self._endpoint or f"https://{SERVICE}.{access.region}.amazonaws.com"
        body = json.dumps({"SecretId": name}).encode()
        timestamp = amz_date()
        parts = urlsplit(url)
        raw_path = parts.path or "/"
        headers = {"content-type": _CONTENT_TYPE, "host": parts.netloc, "x-amz-date": timestamp,
                   "x-amz-target": _TARGET}  # fmt: skip
        if credentials.token:
            headers["x-amz-security-token"] = credentials.token
        headers["authorization"] = authorization(
            credentials, method="POST", raw_path=raw_path, headers=headers, timestamp=timestamp,
            payload_hash=hashlib.sha256(body).hexdigest(), region=access.region, service=SERVICE,
        )  # fmt: skip
        request = httpx.Request("POST", url, content=body, headers=headers)
        payload = await read_json(self._client, request, name=name, store=self.system, missing=_not_found)
        if isinstance(payload.get("SecretString"), str):
            return payload["SecretString"]
        if isinstance(payload.get("SecretBinary"), str):
            return base64.b64decode(payload["SecretBinary"]).decode()
        raise SecretUnavailable(name, self.system, "the answer holds no SecretString")

    async def _current_access(self, name: str) -> Access:
        """Resolved at the first read (a role or profile may mean a call to STS)."""
        async with self._lock:
            if self._access is None:
                try:
                    self._access = await resolve(self._identity, self._environ)
                except SwitchyardError as exc:
                    raise SecretUnavailable(name, self.system, f"no AWS credentials: {exc}") from exc
        return self._access


def _not_found(status: int, payload: Any) -> bool:
    """AWS answers a missing secret 400 ResourceNotFoundException."""
    return isinstance(payload, dict) and str(payload.get("__type", "")).endswith("ResourceNotFoundException")


def _first(environ: Mapping[str, str], *names: str) -> str | None:
    return next((environ[name] for name in names if environ.get(name)), None)
