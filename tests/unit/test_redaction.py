"""Secrets never reach a log line: every shape of key and token, in messages, fields, nested bodies and
exceptions, and the config's own credentials whatever they look like."""

from __future__ import annotations

import io
import logging

import orjson
import pytest
import structlog

from adapters.config.loader import load_config
from switchyard.logs import configure_logging
from switchyard.redaction import MASK, Redactor
from switchyard.server import secrets_of


@pytest.fixture(autouse=True)
def _restored():
    yield
    structlog.reset_defaults()
    logging.getLogger().handlers = []


SECRETS = {
    "openai key": "sk-proj-Abc123def456GHI789jkl012MNO345",
    "anthropic key": "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUv",
    "virtual key": "sk-7Ho2zQk3L9x0aVbNcMdPeRfSgT",
    "google key": "AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q",
    "aws key id": "AKIAIOSFODNN7EXAMPLE",
    "jwt": "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEiLCJyb2xlIjoiYWRtaW4ifQ.c2lnbmF0dXJlLWJ5dGVz",
    "github token": "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
}


@pytest.mark.parametrize("secret", SECRETS.values(), ids=SECRETS.keys())
def test_every_shape_of_secret_is_masked_inside_text(secret: str) -> None:
    redactor = Redactor()
    message = f'upstream said: {{"error": "Incorrect API key provided: {secret}"}}'

    cleaned = redactor.text(message)

    assert secret not in cleaned and MASK in cleaned and cleaned.startswith("upstream said:")


def test_headers_bearer_tokens_assignments_and_url_passwords_are_masked() -> None:
    redactor = Redactor()
    event = {
        "event": "upstream failed: Authorization: Bearer abcdefghijklmnop1234 api_key=hunter2hunter2",
        "headers": {"authorization": "Basic dXNlcjpwYXNz", "x-api-key": "plain-looking", "accept": "json"},
        "url": "postgresql://llmproxy:dbpassword9090@db:5432/litellm",
        "attempts": [{"password": "p4ssw0rd!"}],
        "tokens": 42,
    }

    cleaned = redactor(None, "info", event)

    text = orjson.dumps(cleaned).decode()
    leaks = ("abcdefghijklmnop1234", "hunter2hunter2", "dXNlcjpwYXNz", "plain-looking", "dbpassword9090")
    for leaked in (*leaks, "p4ssw0rd!"):
        assert leaked not in text
    assert cleaned["headers"]["accept"] == "json" and cleaned["tokens"] == 42
    assert cleaned["url"] == f"postgresql://llmproxy:{MASK}@db:5432/litellm"


def test_ordinary_text_is_left_alone() -> None:
    text = "model gpt-4o-mini answered in 12 ms; deployment d1 cooled down for 30 s (task-queue ok)"

    assert Redactor().text(text) == text


def test_the_configs_credentials_are_masked_in_every_line_exceptions_included(tmp_path) -> None:
    config_file = tmp_path / "config.yaml"
    config_file.write_text(
        "model_list:\n"
        "  - model_name: claude\n"
        "    litellm_params: {model: anthropic/claude-sonnet-4-5, api_key: plainvendorkey0001}\n"
        "  - model_name: titan\n"
        "    litellm_params: {model: bedrock/amazon.titan, aws_access_key_id: AKIDPLAIN00000001,\n"
        "      aws_secret_access_key: wJalrXUtnFEMIbPxRfiCYzEXAMPLEKEY, aws_region_name: eu-west-1}\n"
        "general_settings: {master_key: masterofnothing42}\n"
    )
    stream = io.StringIO()
    configure_logging("info", "json", stream, secrets=secrets_of(load_config(str(config_file), {})))

    structlog.get_logger("switchyard").warning("call failed", detail="key plainvendorkey0001 refused")
    try:
        raise RuntimeError("signing with wJalrXUtnFEMIbPxRfiCYzEXAMPLEKEY failed")
    except RuntimeError:
        logging.getLogger("botocore").exception("boom with masterofnothing42")

    text = stream.getvalue()
    for leaked in ("plainvendorkey0001", "wJalrXUtnFEMIbPxRfiCYzEXAMPLEKEY", "masterofnothing42"):
        assert leaked not in text
    lines = [orjson.loads(line) for line in text.splitlines()]
    assert lines[0]["detail"] == f"key {MASK} refused"
    assert "RuntimeError" in lines[1]["exception"] and MASK in lines[1]["exception"]
    assert "eu-west-1" not in secrets_of(load_config(str(config_file), {}))


def test_texts_seen_clean_before_do_not_shelter_a_secret_beside_them() -> None:
    redactor = Redactor(["config-credential-value"])
    line = {"model_group": "bench-chat-model", "deployment": "deployment-a1", "call_id": "c" * 36}
    for _ in range(3):  # the same clean texts, line after line, are left as they are
        assert redactor(None, "info", dict(line)) == line

    secret = SECRETS["virtual key"]
    masked = redactor(None, "info", {**line, "user": f"uses {secret}", "team": "config-credential-value"})

    assert masked == {**line, "user": f"uses {MASK}", "team": MASK}
    # a text remembered as clean is still checked in a line that holds a secret elsewhere
    assert redactor(None, "info", {**line, "end_user": secret})["end_user"] == MASK


def test_a_line_is_redacted_the_same_whether_its_texts_were_seen_before_or_not() -> None:
    lines = [
        {"call_id": f"call-{index:04d}-abcdef", "model_group": group, "key_alias": alias}
        for index in range(50)
        for group, alias in (
            ("bench-chat-model", "my-alias-01"),
            ("sk-abcdefghij12345", "bearer abcdefghijkl"),
            ("bench-chat-model", "prod-key-alias"),  # a hint ("key"), and no secret
        )
    ]
    seasoned = Redactor()
    for line in lines:  # every text seen once already
        seasoned(None, "info", dict(line))

    assert [seasoned(None, "info", dict(line)) for line in lines] == [
        Redactor()(None, "info", dict(line)) for line in lines
    ]


def test_a_text_scanned_on_its_own_is_remembered_only_when_it_held_nothing() -> None:
    redactor = Redactor()
    secret = SECRETS["virtual key"]
    line = {"key_alias": "prod-key-alias", "user": f"uses {secret}", "team": "team-with-a-token-word"}

    for _ in range(3):  # the alias and the team hold hints and no secret: the user's text is masked each time
        assert redactor(None, "info", dict(line)) == {**line, "user": f"uses {MASK}"}
    assert redactor(None, "info", {"end_user": f"uses {secret}"}) == {"end_user": f"uses {MASK}"}
