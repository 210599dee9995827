"""Who a Bedrock deployment calls as, and where: resolved once per deployment, then cached.

In the order LiteLLM (and boto3) apply them:
1. a bearer token: the deployment's `api_key`, else AWS_BEARER_TOKEN_BEDROCK -> `Authorization: Bearer`;
2. static keys: `aws_access_key_id` + `aws_secret_access_key` (+ `aws_session_token`), configured or
   copied from AWS_ACCESS_KEY_ID / ... by the config loader -> SigV4, nothing imported;
3. `aws_role_name` (+ `aws_session_name`, `aws_external_id`): an STS AssumeRole, made from the static
   keys when given or from the default chain, refreshed before it expires;
4. `aws_profile_name`: that profile of ~/.aws/config and ~/.aws/credentials;
5. otherwise botocore's default chain (environment, shared files, SSO, web identity, ECS, EC2 metadata).
Steps 3-5 need botocore (`pip install botocore`); it is imported the first time one of them is used,
its blocking work (file reads, metadata and STS calls) runs in a worker thread, and credentials that
expire are refreshed by botocore when they come within its advisory window (15 minutes).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from adapters.llm.bedrock.signing import AwsCredentials
from domain.deployments import Deployment
from domain.errors import AuthenticationError

DEFAULT_REGION = "us-west-2"  # LiteLLM's fallback when nothing names a region
BEARER_ENV = "AWS_BEARER_TOKEN_BEDROCK"
# An ARN, after the route (`invoke/`, `converse/`) that may come first.
_ARN_REGION = re.compile(r"^(?:[a-z]+/)?arn:aws[a-z-]*:bedrock:([a-z0-9-]+):")
_CHECK_EVERY = 30.0  # seconds between asking botocore whether refreshable credentials are due


class CredentialSource:
    """Hands out current credentials; the static kind never changes."""

    def __init__(self, credentials: AwsCredentials) -> None:
        self._credentials = credentials

    async def current(self) -> AwsCredentials:
        return self._credentials


class BotocoreCredentialSource(CredentialSource):
    """Credentials botocore found (profile, role, default chain); refreshed through botocore when due,
    without blocking the event loop, one refresh at a time."""

    def __init__(self, credentials: Any) -> None:
        super().__init__(_frozen(credentials))
        self._botocore = credentials
        self._check_after = time.monotonic() + _CHECK_EVERY
        self._lock = asyncio.Lock()

    async def current(self) -> AwsCredentials:
        if time.monotonic() < self._check_after:
            return self._credentials
        async with self._lock:
            if time.monotonic() >= self._check_after:
                refreshable = getattr(self._botocore, "refresh_needed", None)
                if refreshable is not None and refreshable():
                    self._credentials = await asyncio.to_thread(_frozen, self._botocore)
                self._check_after = time.monotonic() + _CHECK_EVERY
        return self._credentials


@dataclass(frozen=True, slots=True)
class Access:
    """How to reach and authenticate a deployment's Bedrock endpoint."""

    region: str
    bearer: str | None = None
    source: CredentialSource | None = None


async def resolve(deployment: Deployment, environ: Mapping[str, str]) -> Access:
    """The deployment's access; AuthenticationError when it names no way to authenticate that works."""
    extra = deployment.credentials.extra
    region = _text(extra, "aws_region_name") or region_of_model(deployment.upstream_model)
    api_key = deployment.credentials.api_key
    bearer = (api_key.value if api_key is not None else None) or environ.get(BEARER_ENV)
    if bearer:
        return Access(region or DEFAULT_REGION, bearer=bearer)
    key_id, secret = _text(extra, "aws_access_key_id"), _text(extra, "aws_secret_access_key")
    role = _text(extra, "aws_role_name")
    if key_id and secret and not role:
        static = AwsCredentials(key_id, secret, _text(extra, "aws_session_token"))
        return Access(region or DEFAULT_REGION, source=CredentialSource(static))
    credentials, found_region = await asyncio.to_thread(_from_botocore, extra, region)
    return Access(region or found_region or DEFAULT_REGION, source=BotocoreCredentialSource(credentials))


def region_of_model(model_id: str) -> str | None:
    """The region an ARN model id (inference profile, provisioned throughput) names."""
    found = _ARN_REGION.match(model_id)
    return found.group(1) if found else None


def _from_botocore(extra: Mapping[str, Any], region: str | None) -> tuple[Any, str | None]:
    """(botocore credentials, the profile's region). Runs in a worker thread: it reads files and may call
    the instance metadata service or STS."""
    try:
        import botocore.session
    except ImportError as exc:
        raise AuthenticationError(
            "No AWS credentials are configured for this Bedrock deployment: set aws_access_key_id and "
            "aws_secret_access_key (or api_key / AWS_BEARER_TOKEN_BEDROCK); aws_profile_name, "
            "aws_role_name and the default credential chain need botocore (pip install botocore)."
        ) from exc
    role = _text(extra, "aws_role_name")
    try:
        session = botocore.session.Session(profile=_text(extra, "aws_profile_name"))
        found_region = session.get_config_variable("region")
        if role:
            credentials = _assumed_role(session, extra, role, region or found_region)
        else:
            credentials = session.get_credentials()
    except Exception as exc:  # botocore's own errors: a missing profile, a refused AssumeRole, ...
        raise AuthenticationError(f"AWS credentials could not be resolved: {exc}") from exc
    if credentials is None:
        raise AuthenticationError(
            "No AWS credentials were found for this Bedrock deployment: set aws_access_key_id and "
            "aws_secret_access_key, aws_profile_name, api_key or AWS_BEARER_TOKEN_BEDROCK."
        )
    return credentials, found_region


def _assumed_role(session: Any, extra: Mapping[str, Any], role: str, region: str | None) -> Any:
    from botocore.credentials import RefreshableCredentials

    sts = session.create_client(
        "sts",
        region_name=region or DEFAULT_REGION,
        aws_access_key_id=_text(extra, "aws_access_key_id"),
        aws_secret_access_key=_text(extra, "aws_secret_access_key"),
        aws_session_token=_text(extra, "aws_session_token"),
    )
    parameters = {"RoleArn": role, "RoleSessionName": _text(extra, "aws_session_name") or "switchyard"}
    if external_id := _text(extra, "aws_external_id"):
        parameters["ExternalId"] = external_id

    def assume() -> dict[str, Any]:
        answer = sts.assume_role(**parameters)["Credentials"]
        return {
            "access_key": answer["AccessKeyId"],
            "secret_key": answer["SecretAccessKey"],
            "token": answer["SessionToken"],
            "expiry_time": answer["Expiration"].isoformat(),
        }

    return RefreshableCredentials.create_from_metadata(assume(), assume, "assume-role")


def _frozen(credentials: Any) -> AwsCredentials:
    frozen = credentials.get_frozen_credentials()
    return AwsCredentials(frozen.access_key, frozen.secret_key, frozen.token or None)


def _text(extra: Mapping[str, Any], name: str) -> str | None:
    value = extra.get(name)
    return str(value) if value else None
