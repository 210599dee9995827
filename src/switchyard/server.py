"""Running the gateway server under uvicorn."""
# ruff: noqa: E402  (two optional libraries are kept out before the imports that would load them)

from __future__ import annotations

import contextlib
import gc
import importlib.util
import os
import shutil
import sys
import tempfile
from collections.abc import Mapping
from typing import Any

# rich and pygments come in through optional imports (structlog's console tracebacks, httpx's command line);
# the server renders nothing with them, and they cost every worker 4 MB and a tenth of a second to start.
# Kept out only when nothing has imported them yet.
for _optional in ("rich", "pygments"):
    sys.modules.setdefault(_optional, None)  # type: ignore[arg-type]

import structlog
from litestar import Litestar

from adapters.config.loader import GatewayConfig
from adapters.observability.metrics import MULTIPROCESS_ENV
from bootstrap import build_container, create_http_app
from bootstrap.secrets import load_gateway_config
from domain.errors import ConfigurationError
from switchyard.logs import FORMAT_ENV, LEVEL_ENV, chosen, configure_logging

CONFIG_ENV = "SWITCHYARD_CONFIG"
_log = structlog.get_logger("switchyard")


def report(config: GatewayConfig) -> None:
    """What a newcomer needs to know at start: ignored keys and config warnings."""
    if config.ignored:
        _log.warning("config keys not supported yet, ignored", keys=list(config.ignored))
    for warning in config.warnings:
        _log.warning(warning)


def app() -> Litestar:
    """Factory for uvicorn's worker processes: the config path and the log settings come from the
    serving process."""
    from switchyard.cli import START_GC_THRESHOLDS

    gc.set_threshold(*START_GC_THRESHOLDS)  # as `switchyard serve` does before it loads the server
    _one_malloc_arena()
    config = load_gateway_config(os.environ.get(CONFIG_ENV), os.environ)
    configure_logging(*chosen(None, None, os.environ), secrets=secrets_of(config))
    return create_http_app(build_container(config))


_SECRET_NAMES = ("secret", "key", "token", "password", "credential")


def secrets_of(config: GatewayConfig) -> list[str]:
    """The config's credentials, for the logs to mask wherever they would show up: the master key, each
    deployment's API key and its secret-named provider settings (aws_secret_access_key, ...)."""
    found = [config.master_key.value] if config.master_key else []
    for deployment in config.deployments:
        credentials = deployment.credentials
        if credentials.api_key is not None:
            found.append(credentials.api_key.value)
        for name, value in credentials.extra.items():
            if isinstance(value, str) and any(word in name.lower() for word in _SECRET_NAMES):
                found.append(value)
    return found


def _http_protocol() -> Any:
    """uvicorn's httptools protocol with a response's writes coalesced (one system call and one packet
    per answer instead of two: see adapters.http.server_protocol); h11 where httptools is missing."""
    if importlib.util.find_spec("httptools") is None:
        return "h11"
    from adapters.http.server_protocol import CoalescingHttpToolsProtocol

    return CoalescingHttpToolsProtocol


def _one_malloc_arena() -> None:
    """One malloc arena for the process, as `MALLOC_ARENA_MAX=1` would set (glibc only; elsewhere nothing).

    glibc gives each thread that allocates an arena of its own (the database driver's thread, the
    executor's): under load each holds megabytes that the main thread's allocations never reuse. The
    event loop's thread makes nearly every allocation, so sharing one costs no measurable CPU, and the
    bench's RSS after load went 113.5 -> 104.2 MB (chat) and 115.6 -> 107.3 MB (then streams). Set before
    the server starts any thread: an arena a thread already has stays."""
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (AttributeError, OSError):
        return
    mallopt(_M_ARENA_MAX, 1)


_M_ARENA_MAX = -8
"""mallopt's parameter number for the arena limit (malloc.h)."""


def serve(
    *,
    config: str | None,
    host: str,
    port: int,
    workers: int,
    log_level: str | None,
    environ: Mapping[str, str],
    log_format: str | None = None,
) -> int:
    import uvicorn

    try:
        gateway_config = load_gateway_config(config, environ)
        level, format = chosen(
            log_level,
            log_format,
            environ,
            verbose=gateway_config.verbose_logs,
            json_logs=gateway_config.json_logs,
        )
    except ConfigurationError as exc:
        print(f"switchyard: invalid config: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"switchyard: cannot read config: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"switchyard: {exc}", file=sys.stderr)
        return 2
    _one_malloc_arena()
    configure_logging(level, format, secrets=secrets_of(gateway_config))
    # Worker processes set theirs up from these (they start from nothing).
    os.environ[LEVEL_ENV] = level
    if format is not None:
        os.environ[FORMAT_ENV] = format
    report(gateway_config)
    names = sorted({d.model_name for d in gateway_config.deployments})
    _log.info("switchyard starting", url=f"http://{host}:{port}", models=names, workers=workers)
    options = {
        "host": host,
        "port": port,
        "loop": "uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
        "http": _http_protocol(),
        "access_log": False,
        "ws": "none",  # no route speaks WebSocket: uvicorn need not load an implementation of it
        "log_config": None,  # uvicorn's own lines go through ours (switchyard.logs)
        "log_level": "warning" if level == "info" else level,
        "timeout_graceful_shutdown": 10,
    }
    if workers > 1:
        if config:
            os.environ[CONFIG_ENV] = os.path.abspath(config)
        # The workers' metrics meet in a directory of this server's own, new at each start.
        metrics_dir = tempfile.mkdtemp(prefix="switchyard-metrics-")
        os.environ[MULTIPROCESS_ENV] = metrics_dir
        try:
            return _serve_workers(workers, options)
        finally:
            shutil.rmtree(metrics_dir, ignore_errors=True)
    uvicorn.run(create_http_app(build_container(gateway_config)), **options)
    return 0


def _serve_workers(workers: int, options: dict[str, Any]) -> int:
    """uvicorn's worker processes, each listening on a socket of its own where the system spreads
    connections over such sockets (see switchyard.listeners); uvicorn's shared socket elsewhere."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from switchyard.listeners import WorkerListeners, reserve, spreads_connections

    if not spreads_connections():
        uvicorn.run("switchyard.server:app", factory=True, workers=workers, **options)
        return 0
    host = options["host"]
    try:
        held = reserve(host, options["port"])
    except OSError as exc:
        print(f"switchyard: cannot listen on {host}:{options['port']}: {exc}", file=sys.stderr)
        return 1
    with held:
        port = held.getsockname()[1]
        options = {**options, "port": port}
        config = uvicorn.Config("switchyard.server:app", factory=True, workers=workers, **options)
        listeners: Any = WorkerListeners(host, port)  # stands in for uvicorn's list of shared sockets
        with contextlib.suppress(KeyboardInterrupt):
            Multiprocess(config, sockets=listeners).run()
    return 0
