"""Every log line of the server through structlog: its own loggers and the standard library's (uvicorn,
Alembic, httpx), as JSON lines or as readable console lines, with the call's context on each."""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Iterable, Mapping
from typing import Any, TextIO

import orjson
import structlog

from switchyard.redaction import Redactor

LEVELS = ("debug", "info", "warning", "error")
FORMATS = ("json", "console")
LEVEL_ENV = "SWITCHYARD_LOG_LEVEL"
FORMAT_ENV = "SWITCHYARD_LOG_FORMAT"
# Libraries that log a line per upstream call at INFO, or per statement at DEBUG (a cost on the hot path,
# not a log), and Alembic's list of the plugins it loads, at every start.
_CHATTY = ("httpx", "httpcore", "aiosqlite", "alembic.runtime.plugins")


def chosen(
    level: str | None,
    format: str | None,
    environ: Mapping[str, str],
    *,
    verbose: bool = False,
    json_logs: bool = False,
) -> tuple[str, str | None]:
    """(level, format) from the command line first, then SWITCHYARD_LOG_LEVEL / SWITCHYARD_LOG_FORMAT,
    then LiteLLM's `litellm_settings.set_verbose` (debug) and `json_logs`; `info` and None (JSON unless
    the output is a terminal) when nothing says. A level or format not known is a ValueError."""
    level = (level or environ.get(LEVEL_ENV) or ("debug" if verbose else "info")).lower()
    format = format or environ.get(FORMAT_ENV) or ("json" if json_logs else None)
    if level not in LEVELS:
        raise ValueError(f"log level {level!r} is none of {', '.join(LEVELS)}")
    if format is not None and format not in FORMATS:
        raise ValueError(f"log format {format!r} is none of {', '.join(FORMATS)}")
    return level, format


def configure_logging(
    level: str = "info",
    format: str | None = None,
    stream: TextIO | None = None,
    *,
    secrets: Iterable[str] = (),
    cache: bool = True,
) -> None:
    """Sends every log line to `stream` (stdout by default) at `level` or above: as JSON lines when
    `format` is "json", or when it is None and the stream is no terminal; as console lines otherwise.
    Secrets are masked in every line, `secrets` (the config's credentials) wherever they appear. With
    `cache`, a logger keeps the configuration of its first use (faster; what a server wants)."""
    redactor = Redactor(secrets)
    stream = stream or sys.stdout
    as_json = format == "json" or (format is None and not stream.isatty())
    threshold = logging.getLevelName(level.upper())
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        _IsoUtcStamper(),
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer(serializer=_json)
        if as_json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, redactor, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(threshold),
        logger_factory=_LineWriterFactory(stream),
        cache_logger_on_first_use=cache,
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                redactor,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(threshold)
    for name in _CHATTY:
        logging.getLogger(name).setLevel(max(logging.WARNING, threshold))
    # uvicorn's and Alembic's loggers keep no handlers of their own: their lines go through the above.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "alembic"):
        logger = logging.getLogger(name)
        logger.handlers = []
        logger.propagate = True


def _json(event: Any, **_: Any) -> str:
    return orjson.dumps(event, default=str).decode()


class _IsoUtcStamper:
    """`TimeStamper(fmt="iso", utc=True)`'s `timestamp`, written from the clock with the date and time to
    the second kept while the second lasts: the same text (`2026-12-07T12:05:50.178248Z`, no fraction
    when the microseconds are 0, as `isoformat` writes it) for half the CPU of a datetime per line. The
    second and its text are kept as one tuple, so a thread stamping beside the loop never pairs one
    second's text with another's."""

    __slots__ = ("_kept",)

    def __init__(self) -> None:
        self._kept = (-1, "")

    def __call__(self, logger: Any, method: str, event: dict[str, Any]) -> dict[str, Any]:
        second, micros = divmod(time.time_ns() // 1000, 1_000_000)  # floored, as datetime.now floors
        kept = self._kept
        if kept[0] != second:
            kept = self._kept = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
        event["timestamp"] = f"{kept[1]}.{micros:06d}Z" if micros else f"{kept[1]}Z"
        return event


class _LineWriter(structlog.WriteLogger):
    """structlog's `WriteLogger`, its lines flushed once per turn of the event loop that writes them rather
    than one write system call per line: the lines a turn writes (a call's access line, and its
    neighbours' under load) leave together as the loop moves on, before it waits for anything. Off the
    loop (a thread, start-up, shutdown) each line is flushed as it is written."""

    def __init__(self, file: TextIO | None = None) -> None:
        super().__init__(file)
        self._flushing: asyncio.AbstractEventLoop | None = None

    def msg(self, message: str) -> None:
        with self._lock:
            self._write(message + "\n")
        owed = self._flushing
        if owed is not None and owed.is_running():
            return  # a flush is owed already, on the loop's next turn
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None:
            self._flushing = None  # a loop that stopped before its turn came: flushed here instead
            with self._lock:
                self._flush()
            return
        self._flushing = loop
        loop.call_soon(self._flush_owed)

    def _flush_owed(self) -> None:
        self._flushing = None
        with self._lock:
            self._flush()

    log = debug = info = warn = warning = msg
    fatal = failure = err = error = critical = exception = msg


class _LineWriterFactory:
    """`WriteLoggerFactory` for `_LineWriter`."""

    def __init__(self, file: TextIO | None = None) -> None:
        self._file = file

    def __call__(self, *args: Any) -> _LineWriter:
        return _LineWriter(self._file)
