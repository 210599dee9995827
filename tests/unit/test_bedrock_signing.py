"""SigV4 signing and the resolution of a Bedrock deployment's credentials.

The expected values of the signing tests are AWS's Signature Version 4 test suite: `get-vanilla` and
`post-vanilla` (2015 suite, AKIDEXAMPLE, us-east-1, service `service`), `get-utf8` and `get-space`
(2011 suite, as botocore ships it in tests/unit/auth/aws4_testsuite)."""

from __future__ import annotations

import asyncio
import hashlib
import sys
from pathlib import Path
from typing import Any

import pytest

from adapters.llm.bedrock import credentials
from adapters.llm.bedrock.credentials import BotocoreCredentialSource, resolve
from adapters.llm.bedrock.signing import (
    EMPTY_SHA256,
    AwsCredentials,
    amz_date,
    authorization,
    canonical_request,
    signed_headers,
    string_to_sign,
)
from domain.deployments import Credentials, Deployment, Secret
from domain.errors import AuthenticationError

EXAMPLE = AwsCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
SUITE_2015 = {"host": "example.amazonaws.com", "x-amz-date": "20150830T123600Z"}
SUITE_2011 = {"date": "Mon, 09 Sep 2011 23:36:00 GMT", "host": "host.foo.com"}


@pytest.mark.parametrize(
    ("method", "signature"),
    [
        ("GET", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
        ("POST", "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"),
    ],
)
def test_the_vanilla_requests_of_the_aws_test_suite_sign_as_aws_says(method: str, signature: str) -> None:
    header = authorization(
        EXAMPLE, method=method, raw_path="/", headers=SUITE_2015, payload_hash=EMPTY_SHA256,
        timestamp="20150830T123600Z", region="us-east-1", service="service",
    )  # fmt: skip

    assert header == (
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
        f"SignedHeaders=host;x-amz-date, Signature={signature}"
    )


@pytest.mark.parametrize(
    ("raw_path", "canonical_path", "digest", "signature"),
    [
        (
            "/%E1%88%B4",
            "/%25E1%2588%25B4",
            "47f4456c465167f4db3490a68903fe057412e6e030de38f71d9006467eb4922a",
            "57b1eb3df3b16a8479c0097b66c0b261cfd65b829419a3f2c3d05319722490b8",
        ),
        ("/%20/foo", "/%2520/foo", None, "2be9e587d1ee1f0fd02128724b86b4358ba3630d39f493b6e06610a19a50779e"),
    ],
)
def test_an_escaped_path_is_escaped_again_in_the_canonical_request_as_the_suite_has_it(
    raw_path: str, canonical_path: str, digest: str | None, signature: str
) -> None:
    canonical, signed = canonical_request("GET", raw_path, "", SUITE_2011, EMPTY_SHA256)

    assert signed == "date;host"
    assert canonical == (
        f"GET\n{canonical_path}\n\ndate:Mon, 09 Sep 2011 23:36:00 GMT\nhost:host.foo.com\n\n"
        f"date;host\n{EMPTY_SHA256}"
    )
    if digest is not None:
        assert string_to_sign("20110909T233600Z", "20110909/us-east-1/host/aws4_request", canonical) == (
            f"AWS4-HMAC-SHA256\n20110909T233600Z\n20110909/us-east-1/host/aws4_request\n{digest}"
        )
    header = authorization(
        EXAMPLE, method="GET", raw_path=raw_path, headers=SUITE_2011, payload_hash=EMPTY_SHA256,
        timestamp="20110909T233600Z", region="us-east-1", service="host",
    )  # fmt: skip
    assert header.endswith(f"SignedHeaders=date;host, Signature={signature}")


def test_a_bedrock_request_signs_its_body_host_date_and_session_token() -> None:
    session = AwsCredentials("AKIDEXAMPLE", EXAMPLE.secret_key, "session-token")
    body = b'{"messages":[]}'

    headers = signed_headers(
        session, host="bedrock-runtime.us-east-1.amazonaws.com", raw_path="/model/m:0/converse", body=body,
        region="us-east-1", now=1440938160.0,
    )  # fmt: skip

    assert headers["x-amz-date"] == "20150830T123600Z"
    assert headers["x-amz-security-token"] == "session-token"
    assert headers["authorization"] == authorization(
        session, method="POST", raw_path="/model/m:0/converse",
        headers={key: value for key, value in headers.items() if key != "authorization"},
        payload_hash=hashlib.sha256(body).hexdigest(), timestamp="20150830T123600Z", region="us-east-1",
    )  # fmt: skip
    assert "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token," in headers["authorization"]
    assert "/20150830/us-east-1/bedrock/aws4_request" in headers["authorization"]


def test_the_timestamp_is_utc_in_the_basic_iso_form() -> None:
    assert amz_date(0) == "19700101T000000Z"


def test_credentials_never_show_their_secrets() -> None:
    shown = repr(AwsCredentials("AKIDEXAMPLE", "very-secret", "very-secret-token"))

    assert "very-secret" not in shown and "AKIDEXAMPLE" in shown


# Credential resolution.


def _deployment(model: str = "anthropic.claude-3-haiku-20240307-v1:0", **extra: Any) -> Deployment:
    api_key = extra.pop("api_key", None)
    return Deployment(
        id="d1", model_name="m", provider="bedrock", upstream_model=model,
        credentials=Credentials(api_key=Secret(api_key) if api_key else None, extra=extra),
    )  # fmt: skip


async def test_static_keys_sign_in_the_configured_region() -> None:
    access = await resolve(
        _deployment(aws_access_key_id="AKID", aws_secret_access_key="secret", aws_session_token="tok",
                    aws_region_name="eu-central-1"),
        {},
    )  # fmt: skip

    assert access.region == "eu-central-1" and access.bearer is None
    assert access.source is not None
    assert await access.source.current() == AwsCredentials("AKID", "secret", "tok")


async def test_an_api_key_is_a_bearer_token_before_any_keys() -> None:
    access = await resolve(
        _deployment(api_key="br-key", aws_access_key_id="AKID", aws_secret_access_key="s"), {}
    )

    assert access.bearer == "br-key" and access.source is None


async def test_the_environments_bearer_token_is_used_when_no_api_key_is_configured() -> None:
    access = await resolve(
        _deployment(aws_access_key_id="AKID", aws_secret_access_key="s"), {"AWS_BEARER_TOKEN_BEDROCK": "env"}
    )

    assert access.bearer == "env"


async def test_an_arn_model_names_the_region_and_otherwise_litellms_default_applies() -> None:
    arn = "arn:aws:bedrock:ap-northeast-1:123456789012:provisioned-model/abc"
    keys = {"aws_access_key_id": "AKID", "aws_secret_access_key": "s"}

    assert (await resolve(_deployment(arn, **keys), {})).region == "ap-northeast-1"
    assert (await resolve(_deployment(**keys), {})).region == "us-west-2"


async def test_without_botocore_a_deployment_with_no_keys_fails_as_unauthenticated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "botocore.session", None)

    with pytest.raises(AuthenticationError, match="pip install botocore"):
        await resolve(_deployment(aws_profile_name="dev"), {})


async def test_a_profile_is_read_from_the_shared_files_with_its_region(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pytest.importorskip("botocore")
    (tmp_path / "credentials").write_text(
        "[dev]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = profile-secret\n"
    )
    (tmp_path / "config").write_text("[profile dev]\nregion = ca-central-1\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_REGION", "AWS_DEFAULT_REGION"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)

    access = await resolve(_deployment(aws_profile_name="dev"), {})

    assert access.region == "ca-central-1"
    assert access.source is not None
    assert await access.source.current() == AwsCredentials("AKIDPROFILE", "profile-secret", None)


async def test_an_unknown_profile_fails_as_unauthenticated(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pytest.importorskip("botocore")
    (tmp_path / "credentials").write_text("")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "credentials"))

    with pytest.raises(AuthenticationError):
        await resolve(_deployment(aws_profile_name="nope"), {})


class _Frozen:
    def __init__(self, generation: int) -> None:
        self.access_key, self.secret_key, self.token = f"AKID{generation}", f"secret{generation}", None


class _Refreshable:
    """Stands in for botocore's RefreshableCredentials: due after a while, then a new generation."""

    def __init__(self) -> None:
        self.generation = 1
        self.due = False
        self.refreshes = 0

    def refresh_needed(self) -> bool:
        return self.due

    def get_frozen_credentials(self) -> _Frozen:
        if self.due:
            self.generation += 1
            self.refreshes += 1
            self.due = False
        return _Frozen(self.generation)


async def test_refreshable_credentials_are_refreshed_once_when_due_and_kept_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [1000.0]
    monkeypatch.setattr(credentials.time, "monotonic", lambda: clock[0])
    botocore_like = _Refreshable()
    source = BotocoreCredentialSource(botocore_like)

    assert (await source.current()).access_key == "AKID1"
    botocore_like.due = True
    assert (await source.current()).access_key == "AKID1"  # not asked again before the next check
    clock[0] += 31
    results = await asyncio.gather(*(source.current() for _ in range(5)))

    assert {result.access_key for result in results} == {"AKID2"}
    assert botocore_like.refreshes == 1
