"""Issue 18's goals, checked against a run's results (bench/run.py prints them as the "goals (issue 18)"
group under the budget; they do not change `pass` or `--strict`)."""

from __future__ import annotations

from typing import Any

# The scenarios the goals read: `--goals` runs them (added to --scenarios).
GOAL_SCENARIOS = (
    "chat", "stream", "passthrough-stream", "chat-cached", "features", "start-50", "workers-2", "library",
)  # fmt: skip
STREAMS = {"stream": "stream (translated)", "passthrough-stream": "stream (passed through)"}


def _get(d: Any, *keys: str) -> float | None:
    for k in keys:
        if not isinstance(d, dict):
            return None
        d = d.get(k)
    return d if isinstance(d, int | float) else None


def build_goals(result: dict) -> dict:
    """{"speed_probe_ms": the run's probe, "checks": [{check, value, budget, pass}], "pass": all met}; a
    goal whose scenario did not run is `pass: None` ("n/a")."""
    c = f"c{result['options']['concurrency']}"
    gw = result.get("gateway") or {}
    scenarios = gw.get("scenarios") or {}
    launches = result.get("launches") or {}
    overhead = result.get("overhead") or {}
    checks: list[dict] = []

    def goal(name: str, value: float | None, limit: float, op: str, unit: str) -> None:
        ok = None if value is None else (value <= limit if op == "<=" else value >= limit)
        checks.append({"check": name, "value": value, "budget": f"{op} {limit:g} {unit}".strip(), "pass": ok})

    chat = scenarios.get("chat")
    goal(f"CPU per chat call ({c})", _get(chat, c, "server_cpu_ms_per_request"), 0.35, "<=", "ms")
    goal("overhead p50, chat", _get(overhead, "chat", "p50_ms"), 0.3, "<=", "ms")
    goal(f"chat throughput ({c})", _get(chat, c, "rps"), 3000, ">=", "req/s")
    goal(f"chat p99 ({c})", _get(chat, c, "latency_ms", "p99"), 15, "<=", "ms")
    for sc, label in STREAMS.items():
        goal(f"CPU per 20-chunk {label} ({c})", _get(scenarios.get(sc), c, "server_cpu_ms_per_request"),
             0.6, "<=", "ms")  # fmt: skip
    for sc, label in STREAMS.items():
        goal(f"first byte after the upstream's, {label} (p50)", _get(overhead, sc, "first_chunk_p50_ms"),
             0.3, "<=", "ms")  # fmt: skip
    goal("RSS after start", _get(gw, "memory_after_start", "rss_mb"), 70, "<=", "MB")
    goal("RSS after load", _get(gw, "memory_after_load", "rss_mb"), 90, "<=", "MB")
    start = launches.get("start-50") or {}
    goal("start to healthy, bench config (median)", gw.get("startup_s_median"), 0.6, "<=", "s")
    goal("start to healthy, embedded default (median)",
         _get(start, "embedded_default", "startup_s_median"), 0.6, "<=", "s")  # fmt: skip
    goal("start to healthy, 50 deployments (median)",
         _get(start, "deployments_50", "startup_s_median"), 0.6, "<=", "s")  # fmt: skip
    goal("RSS after start, 50 deployments",
         _get(start, "deployments_50", "memory_after_start", "rss_mb"), 70, "<=", "MB")  # fmt: skip
    goal(f"--workers 2 rps / one worker's ({c})", _get(launches, "workers-2", "rps_ratio"), 1.8, ">=", "x")
    goal(
        f"features-on CPU / bare CPU per chat ({c})", _get(launches, "features", "cpu_ratio"), 1.3, "<=", "x"
    )
    goal(f"CPU per cache hit ({c})", _get(scenarios.get("chat-cached"), c, "server_cpu_ms_per_request"),
         0.2, "<=", "ms")  # fmt: skip
    library = launches.get("library") or {}
    goal("library: import (median)", _get(library, "import_s_median"), 0.3, "<=", "s")
    goal("library: RSS after the import (median)", _get(library, "import_rss_mb_median"), 45, "<=", "MB")
    goal("library: CPU per chat() call", _get(library, "chat", "cpu_ms_per_call"), 0.25, "<=", "ms")
    measured = [ch["pass"] for ch in checks if ch["pass"] is not None]
    return {
        "speed_probe_ms": result.get("speed_probe_ms"),
        "checks": checks,
        "met": sum(measured),
        "measured": len(measured),
        "pass": bool(measured) and all(measured),
    }


def describe_launches(result: dict) -> list[str]:
    """A line per launch scenario that ran, for the report."""
    c = f"c{result['options']['concurrency']}"
    launches = result.get("launches") or {}
    out = []
    for name, found in launches.items():
        if found.get("error"):
            out.append(f"{name}: NOT MEASURED: {found['error']}")
        elif name == "features":
            bare, on = found.get("bare") or {}, found.get("features") or {}
            sink = found.get("otlp_sink") or {}
            out.append(
                f"features: chat CPU {_fmt(_get(on, c, 'server_cpu_ms_per_request'))} ms/req with every "
                f"feature on ({_fmt(_get(on, c, 'rps'), 0)} req/s) against "
                f"{_fmt(_get(bare, c, 'server_cpu_ms_per_request'))} bare ({_fmt(_get(bare, c, 'rps'), 0)} "
                f"req/s) at {c}: x{_fmt(found.get('cpu_ratio'))}; {found.get('access_log_lines')} access "
                f"lines, {sink.get('requests', '?')} OTLP exports; speed probe "
                f"{_get(on, c, 'speed_probe_ms')} / {_get(bare, c, 'speed_probe_ms')} ms"
            )
        elif name == "start-50":
            big, default = found.get("deployments_50") or {}, found.get("embedded_default") or {}
            out.append(
                f"start-50: start to healthy {_fmt(big.get('startup_s_median'))} s median of "
                f"{big.get('startup_s')}, RSS {_get(big, 'memory_after_start', 'rss_mb')} MB after start; "
                f"embedded default {_fmt(default.get('startup_s_median'))} s of {default.get('startup_s')}, "
                f"RSS {_get(default, 'memory_after_start', 'rss_mb')} MB"
            )
        elif name == "workers-2":
            one, two = found.get("one_worker") or {}, found.get("two_workers") or {}
            out.append(
                f"workers-2: chat {_fmt(_get(two, c, 'rps'), 0)} req/s on 2 workers (CPUs "
                f"{found.get('gateway_cpus_2_workers')}) against {_fmt(_get(one, c, 'rps'), 0)} on one at "
                f"{c}: x{_fmt(found.get('rps_ratio'))}; loadgen + mock "
                f"{_fmt((_get(two, c, 'loadgen_cpu_util') or 0) + (_get(two, c, 'mock_cpu_util') or 0), 2)}"
                f" cores, gateway {_fmt(_get(two, c, 'server_cpu_util'), 2)} cores; speed probe "
                f"{_get(two, c, 'speed_probe_ms')} / {_get(one, c, 'speed_probe_ms')} ms"
            )
        elif name == "library":
            chat = found.get("chat") or {}
            out.append(
                f"library: import {_fmt(found.get('import_s_median'))} s median of {found.get('import_s')}, "
                f"RSS {found.get('import_rss_mb_median')} MB; chat() CPU {_fmt(chat.get('cpu_ms_per_call'))}"
                f" ms/call over {chat.get('calls')} calls (wall {_fmt(chat.get('wall_ms_per_call'))} ms)"
                + (f"; ERRORS {found['errors']}" if found.get("errors") else "")
            )
    return out


def _fmt(v: float | None, digits: int = 3) -> str:
    return "-" if v is None else f"{v:.{digits}f}"
