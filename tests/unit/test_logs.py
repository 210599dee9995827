"""The server's log lines: every logger through structlog, JSON or console, the call's request id on
each, and where the level and format come from."""

from __future__ import annotations

import io
import logging

import orjson
import pytest
import structlog
from structlog.contextvars import bound_contextvars

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
