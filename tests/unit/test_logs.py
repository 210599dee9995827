"""The server's log lines: every logger through structlog, JSON or console, the call's request id on
each, and where the level and format come from."""

from __future__ import annotations

import asyncio
import io
import logging
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import orjson
import pytest
import structlog
from structlog.contextvars import bound_contextvars

from adapters.observability.access_log import AccessLog, access_fields
from domain.completions import Usage
from domain.guardrails import Decision, GuardrailMode, GuardrailRun
from domain.spend import Caller, CallStatus, SpendRecord
from switchyard import logs
from switchyard.logs import chosen, configure_logging


@pytest.fixture(autouse=True)
def _restored():
    yield
    structlog.reset_defaults()
    logging.getLogger().handlers = []


def _lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


def test_json_lines_carry_level_time_and_the_calls_request_id_from_every_logger() -> None:
    stream = io.StringIO()
    configure_logging("info", "json", stream)

    with bound_contextvars(request_id="req-1"):
        structlog.get_logger("switchyard.http").warning("stream failed", error="boom")
        logging.getLogger("alembic.runtime.migration").info("Running upgrade 0003 -> 0004")

    ours, alembic = (orjson.loads(line) for line in _lines(stream))
    assert ours["event"] == "stream failed" and ours["level"] == "warning" and ours["error"] == "boom"
    assert ours["request_id"] == alembic["request_id"] == "req-1"
    assert alembic["logger"] == "alembic.runtime.migration" and alembic["level"] == "info"
    assert ours["timestamp"].endswith("Z")


def test_lines_below_the_level_and_chatty_libraries_are_left_out() -> None:
    stream = io.StringIO()
    configure_logging("warning", "json", stream)

    structlog.get_logger("switchyard").info("not shown")
    logging.getLogger("httpx").info("HTTP Request: POST ...")
    logging.getLogger("uvicorn.error").warning("shown")

    assert [orjson.loads(line)["event"] for line in _lines(stream)] == ["shown"]


def test_console_lines_are_for_people_and_json_is_the_default_off_a_terminal() -> None:
    console, piped = io.StringIO(), io.StringIO()
    configure_logging("info", "console", console)
    structlog.get_logger("switchyard").info("hello", models=["demo"])
    configure_logging("info", None, piped)  # a StringIO is no terminal
    structlog.get_logger("switchyard").info("hello")

    assert "hello" in console.getvalue() and not console.getvalue().startswith("{")
    assert orjson.loads(_lines(piped)[0])["event"] == "hello"


def test_the_command_line_wins_then_the_environment_then_litellms_settings() -> None:
    env = {"SWITCHYARD_LOG_LEVEL": "WARNING", "SWITCHYARD_LOG_FORMAT": "console"}

    assert chosen("error", "json", env) == ("error", "json")
    assert chosen(None, None, env, verbose=True, json_logs=True) == ("warning", "console")
    assert chosen(None, None, {}, verbose=True, json_logs=True) == ("debug", "json")
    assert chosen(None, None, {}) == ("info", None)
    with pytest.raises(ValueError, match="loud"):
        chosen(None, None, {"SWITCHYARD_LOG_LEVEL": "loud"})


def _record(**changes: object) -> SpendRecord:
    started = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    fields: dict = {
        "request_id": "call-1",
        "call_type": "chat",
        "started_at": started,
        "ended_at": started + timedelta(milliseconds=250),
        "model_group": "gpt-x",
        "caller": Caller(key_hash="ab" * 32, key_alias="ci", key_name="sk-...wxyz", team_id="t1"),
        "deployment_id": "d1",
        "provider": "openai",
        "usage": Usage(100, 20, cached_tokens=40),
        "cost": Decimal("0.00042"),
        "upstream_seconds": 0.2,
    }
    return SpendRecord(**(fields | changes))


async def test_the_access_record_of_a_call_names_who_what_and_how_it_went_but_no_key_or_text() -> None:
    stream = io.StringIO()
    configure_logging("info", "json", stream, cache=False)  # the access log's logger is module-wide
    assert AccessLog.enabled()

    with bound_contextvars(request_id="client-7"):
        AccessLog().call_ended(_record())
        failed = {"status": CallStatus.FAILURE, "error_type": "rate_limit_error", "status_code": 429}
        AccessLog().call_ended(_record(request_id="call-2", **failed))
    await asyncio.sleep(0)  # written once the call's task yields

    ok, refused = (orjson.loads(line) for line in _lines(stream))
    assert ok["event"] == "call" and ok["request_id"] == "client-7"
    assert (ok["model_group"], ok["deployment"], ok["provider"]) == ("gpt-x", "d1", "openai")
    assert (ok["key_alias"], ok["key_name"], ok["key_hash"]) == ("ci", "sk-...wxyz", "ab" * 6)
    assert (ok["prompt_tokens"], ok["cached_tokens"], ok["cost"]) == (100, 40, "0.00042")
    assert ok["latency_ms"] == 250.0 and ok["status"] == "success"
    assert (ok["upstream_ms"], ok["overhead_ms"]) == (200.0, 50.0)
    assert (refused["status"], refused["status_code"], refused["error_type"]) == (
        "failure", 429, "rate_limit_error"
    )  # fmt: skip
    assert "messages" not in ok and "response" not in ok
    assert "ab" * 32 not in stream.getvalue()


async def test_the_access_record_shows_the_prompt_and_reply_it_carries_with_keys_in_them_masked() -> None:
    stream = io.StringIO()
    configure_logging("info", "json", stream, cache=False)
    leaked = "sk-proj-Abc123def456GHI789jkl012"
    prompt = [{"role": "user", "content": f"my prompt, with {leaked} pasted in"}]
    answer = [{"role": "assistant", "content": "the reply"}]

    AccessLog().call_ended(_record(messages=prompt, response=answer))
    await asyncio.sleep(0)

    line = orjson.loads(_lines(stream)[0])
    assert line["messages"] == [{"role": "user", "content": "my prompt, with [REDACTED] pasted in"}]
    assert line["response"] == answer
    assert leaked not in stream.getvalue()


async def test_the_access_record_says_which_guardrails_ran_and_what_each_decided_but_not_why() -> None:
    stream = io.StringIO()
    configure_logging("info", "json", stream, cache=False)
    runs = (
        GuardrailRun(
            "hide-secrets", GuardrailMode.PRE_CALL, Decision.MASKED, 0.000021, "masked: openai_api_key"
        ),
        GuardrailRun(
            "policy", GuardrailMode.DURING_CALL, Decision.BLOCKED, 0.0125, "the service's own words"
        ),
    )

    AccessLog().call_ended(_record(guardrails=runs))
    await asyncio.sleep(0)

    line = orjson.loads(_lines(stream)[0])
    assert line["guardrails"] == [
        {"guardrail": "hide-secrets", "mode": "pre_call", "decision": "masked", "ms": 0.021},
        {"guardrail": "policy", "mode": "during_call", "decision": "blocked", "ms": 12.5},
    ]
    assert "own words" not in stream.getvalue()


def test_no_access_log_is_wired_when_the_logs_take_no_info_lines() -> None:
    configure_logging("warning", "json", io.StringIO())

    assert not AccessLog.enabled()


async def test_what_a_client_chose_is_masked_in_the_access_record_when_it_holds_a_key() -> None:
    stream = io.StringIO()
    configure_logging("info", "json", stream, cache=False)
    leaked = "sk-proj-Abc123def456GHI789jkl012"

    AccessLog().call_ended(_record(model_group=leaked, caller=Caller(end_user=f"user {leaked}")))
    await asyncio.sleep(0)

    line = orjson.loads(_lines(stream)[0])
    assert leaked not in stream.getvalue()
    assert line["model_group"] == "[REDACTED]" and line["end_user"] == "user [REDACTED]"


@pytest.mark.parametrize("format", ["json", "console"])
async def test_the_access_line_is_the_line_structlog_writes_for_the_same_fields(format: str) -> None:
    stream = io.StringIO()
    configure_logging("info", format, stream, secrets=["plainvendorkey0001"], cache=False)
    caller = Caller(key_hash="ab" * 32, end_user="plainvendorkey0001 sk-proj-Abc123def456GHI789jkl012")
    record = _record(caller=caller, model_group="Bearer abcdefghijklmnop1234")

    with bound_contextvars(request_id="client-7"):
        AccessLog().call_ended(record)
        await asyncio.sleep(0)
        structlog.get_logger("switchyard.access").info("call", **access_fields(record))

    ours, theirs = _lines(stream)
    stamp = re.compile(r"\d{4}-\d\d-\d\dT[\d:.]+Z")  # each line's own time
    assert stamp.sub("T", ours) == stamp.sub("T", theirs)
    assert "plainvendorkey0001" not in ours and "abcdefghijklmnop1234" not in ours and "client-7" in ours


@pytest.mark.parametrize(
    "ns",
    [
        0,
        1_765_110_350_000_000_000,
        1_765_110_350_178_248_999,
        1_765_110_350_000_001_000,
        951_782_399_999_999_999,
    ],
)
def test_the_time_on_a_line_is_the_one_structlogs_iso_utc_stamper_writes(monkeypatch, ns: int) -> None:
    monkeypatch.setattr(logs.time, "time_ns", lambda: ns)
    stamped = logs._IsoUtcStamper()(None, "info", {})["timestamp"]

    expected = datetime.fromtimestamp(ns // 1000 / 1e6, UTC).replace(microsecond=ns // 1000 % 1_000_000)
    assert stamped == expected.isoformat().replace("+00:00", "Z")
    assert stamped == logs._IsoUtcStamper()(None, "info", {})["timestamp"]  # from its kept second too


async def test_lines_written_on_the_loop_are_flushed_together_on_its_next_turn_and_in_order(tmp_path) -> None:
    path = tmp_path / "server.log"
    with open(path, "w") as stream:
        configure_logging("info", "json", stream)
        log = structlog.get_logger("switchyard.access")
        log.info("first")
        log.info("second")
        logging.getLogger("uvicorn.error").warning("a library's line")  # the handler flushes as it writes
        log.info("third")
        assert [orjson.loads(line)["event"] for line in path.read_text().splitlines()] == [
            "first", "second", "a library's line"
        ]  # fmt: skip
        await asyncio.sleep(0)
        assert [orjson.loads(line)["event"] for line in path.read_text().splitlines()][-1] == "third"


def test_lines_written_off_the_loop_are_flushed_as_they_are_written(tmp_path) -> None:
    path = tmp_path / "server.log"
    with open(path, "w") as stream:
        configure_logging("info", "json", stream)
        structlog.get_logger("switchyard").info("before the loop")
        asyncio.run(asyncio.sleep(0))
        structlog.get_logger("switchyard").info("after it")
        assert [orjson.loads(line)["event"] for line in path.read_text().splitlines()] == [
            "before the loop", "after it"
        ]  # fmt: skip
