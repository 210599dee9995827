"""The layers of one call, for bench/layers.py: a sampled stack's CPU charged to a layer by module path.

A stack is charged to the layer of its innermost frame that belongs to one: generic standard-library frames
(json, re, dataclasses, contextlib, `<frozen ...>`, generated `<string>` code...) and pydantic's Python
frames are looked through, so `json.dumps` called by the renderer counts as rendering and a
`model_validate` called by the request parser as body parsing. C code (pydantic-core, orjson, httptools,
uvloop) has no frame of its own: its time goes to the Python frame that called it, and uvloop's own work
between callbacks to the frame it calls next, or to the event loop's outermost frame.
"""

from __future__ import annotations

import re
from collections import defaultdict

GC = "gc"
OTHER = "other"

# (layer, module-path prefixes), first match wins. A module path is the file's path below src/, below
# site-packages/ or as `stdlib/...` (see module_path).
# fmt: off
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("render (OpenAI JSON, SSE)", (
        "adapters/openai_format/render.py", "adapters/http/sse.py", "adapters/anthropic_format/render",
        "adapters/anthropic_format/stream", "adapters/responses_format/render")),
    ("body parse + validation", (
        "adapters/openai_format/requests.py", "adapters/openai_format/validation.py",
        "adapters/openai_format/wire.py", "adapters/anthropic_format/requests",
        "adapters/responses_format/requests")),
    ("response parse (upstream reply)", (
        "adapters/openai_format/replies.py", "adapters/llm/openai/mapping.py",
        "adapters/llm/anthropic/mapping",
        "adapters/llm/json_io.py", "adapters/llm/sse.py", "adapters/llm/native_events.py")),
    ("access (auth, keys, limits)", (
        "application/access.py", "application/identity_cache.py", "adapters/http/auth.py",
        "adapters/http/principal.py", "domain/access.py", "domain/identity.py", "domain/rate_limits.py",
        "adapters/cache/memory_rate_limiter.py", "adapters/cache/resilient_rate_limiter.py",
        "adapters/cache/redis_rate_limiter.py", "adapters/auth/", "adapters/crypto/")),
    ("routing", (
        "application/routing.py", "domain/routing.py", "domain/router_state.py", "domain/router_policy.py",
        "domain/fallbacks.py", "domain/retries.py", "adapters/cache/memory_router_state.py",
        "adapters/cache/resilient_router_state.py", "adapters/cache/redis_router_state.py")),
    ("ledger (metering, spend, db)", (
        "application/metering.py", "application/metered_stream.py", "application/metered_audio.py",
        "application/spend", "application/budgets.py", "application/pricing.py", "domain/spend.py",
        "domain/budgets.py", "domain/budget_policy.py", "domain/pricing.py", "adapters/journal/",
        "adapters/persistence/", "adapters/prices/", "adapters/cache/memory_budget_reservations.py",
        "adapters/cache/resilient_budget_reservations.py", "adapters/cache/redis_budget_reservations.py",
        "sqlalchemy/", "aiosqlite/", "stdlib/sqlite3/")),
    ("metrics", (
        "adapters/observability/metrics.py", "adapters/observability/key_metrics.py",
        "adapters/observability/gauges.py", "bootstrap/metrics.py", "prometheus_client/")),
    ("tracing", (
        "adapters/observability/tracing.py", "adapters/observability/server_spans.py",
        "adapters/observability/traced_provider.py", "adapters/observability/call_spans.py",
        "adapters/observability/otlp_wire.py", "adapters/telemetry.py", "bootstrap/tracing.py",
        "opentelemetry/")),
    ("logging (access log, structlog)", (
        "adapters/observability/access_log.py", "adapters/observability/callbacks.py",
        "switchyard/logs.py", "switchyard/redaction.py", "structlog/", "stdlib/logging/")),
    ("cache", ("application/caching.py", "domain/caching.py", "adapters/cache/")),
    ("guardrails", (
        "application/guardrails.py", "application/guarded_stream.py", "application/moderation_guardrail.py",
        "adapters/guardrails/", "domain/guardrails.py", "domain/guarded_texts.py", "domain/content_filter.py",
        "domain/secret_patterns.py")),
    ("upstream client (request build, transport)", (
        "adapters/openai_format/upstream.py", "adapters/llm/", "aiohttp/", "httpx/", "httpcore/", "h11/",
        "yarl/", "multidict/", "aiohappyeyeballs/", "aiosignal/", "frozenlist/", "anyio/")),
    ("HTTP adapter (controllers, exchange)", ("adapters/http/", "adapters/openai_format/")),
    ("framework (Litestar routing, DI)", ("litestar/", "msgspec/", "multipart/")),
    ("HTTP server + event loop", (
        "uvicorn/", "httptools/", "uvloop/", "stdlib/asyncio/", "stdlib/selectors.py", "stdlib/socket.py",
        "stdlib/ssl.py", "stdlib/threading.py")),
    ("use case (application)", ("application/",)),
    ("domain objects", ("domain/",)),
    ("pydantic (not under a layer)", ("pydantic/", "pydantic_core/")),
]
# fmt: on
"""The layers, in the order a table lists them is `ORDER`; here, the order the prefixes are tried in."""

ORDER = [
    "HTTP server + event loop",
    "framework (Litestar routing, DI)",
    "HTTP adapter (controllers, exchange)",
    "body parse + validation",
    "domain objects",
    "use case (application)",
    "access (auth, keys, limits)",
    "routing",
    "cache",
    "guardrails",
    "upstream client (request build, transport)",
    "response parse (upstream reply)",
    "render (OpenAI JSON, SSE)",
    "ledger (metering, spend, db)",
    "metrics",
    "tracing",
    "logging (access log, structlog)",
    "pydantic (not under a layer)",
    GC,
    OTHER,
]

# Looked through when charging a stack: their caller's layer pays for them.
TRANSPARENT = ("stdlib/", "<", "pydantic/", "pydantic_core/", "typing_extensions")
_NOT_TRANSPARENT = ("stdlib/asyncio/", "stdlib/selectors.py", "stdlib/socket.py", "stdlib/ssl.py",
                    "stdlib/logging/", "stdlib/sqlite3/", "stdlib/threading.py")  # fmt: skip

_FRAME = re.compile(r"^(?P<func>.*) \((?P<path>.*?)(?::(?P<line>\d+))?\)$")
_STDLIB = re.compile(r"/lib/python3\.\d+/")


def module_path(path: str) -> str:
    """`adapters/http/exchange.py`, `litestar/routes/http.py`, `stdlib/json/encoder.py`, `<frozen abc>`."""
    for marker in ("/site-packages/", "/dist-packages/"):
        if marker in path:
            return path.rsplit(marker, 1)[1]
    if "/src/" in path:
        return path.rsplit("/src/", 1)[1]
    found = _STDLIB.search(path)
    if found:
        return "stdlib/" + path[found.end() :]
    return path


def split_frame(frame: str) -> tuple[str, str]:
    """`func (path:line)` -> (function, module path)."""
    m = _FRAME.match(frame)
    if not m:
        return frame, frame
    return m["func"], module_path(m["path"])


def _own_layer(mod: str) -> str | None:
    for layer, prefixes in LAYERS:
        if mod.startswith(prefixes):
            return layer
    return None


def _transparent(mod: str) -> bool:
    return mod.startswith(TRANSPARENT) and not mod.startswith(_NOT_TRANSPARENT)


def layer_of(frames: list[str]) -> str:
    """The layer a stack (frames outermost first) is charged to."""
    fallback = None
    for frame in reversed(frames):
        mod = split_frame(frame)[1]
        if _transparent(mod):
            fallback = fallback or _own_layer(mod)
            continue
        return _own_layer(mod) or OTHER
    return fallback or OTHER


def breakdown(stacks: list[dict], gc_s: float, calls: int) -> dict:
    """Per layer: ms per call and share; the top functions by self time; the module paths nothing
    claimed. `stacks`: {"frames", "cpu_s"} each (outermost first)."""
    per_layer: dict[str, float] = defaultdict(float)
    per_function: dict[tuple[str, str], float] = defaultdict(float)
    unclaimed: dict[str, float] = defaultdict(float)
    profiler = 0.0
    for stack in stacks:
        frames, cpu = stack["frames"], stack["cpu_s"]
        if not frames:
            per_layer[OTHER] += cpu
            continue
        if "bench/layers_launcher.py" in frames[-1]:  # the sampler's gc callback: not the gateway's
            profiler += cpu
            continue
        layer = layer_of(frames)
        per_layer[layer] += cpu
        func, mod = split_frame(frames[-1])
        per_function[(f"{func} ({mod})", layer)] += cpu
        if layer == OTHER:
            unclaimed[mod] += cpu
    if gc_s:
        per_layer[GC] += gc_s
    total = sum(per_layer.values())

    def ms(seconds: float) -> float:
        return round(seconds / calls * 1000, 4) if calls else 0.0

    layers = [
        {"layer": name, "ms_per_call": ms(per_layer[name]), "share": round(per_layer[name] / total, 4)}
        for name in ORDER
        if per_layer.get(name)
    ]
    top = sorted(per_function.items(), key=lambda item: -item[1])[:60]
    return {
        "layers": layers,
        "total_ms_per_call": ms(total),
        "profiler_ms_per_call": ms(profiler),
        "top_functions": [
            {"function": f, "layer": layer, "ms_per_call": ms(cpu), "share": round(cpu / total, 4)}
            for (f, layer), cpu in top
        ],
        "other_modules": {m: ms(c) for m, c in sorted(unclaimed.items(), key=lambda i: -i[1])[:10]},
    }


def parse_py_spy(text: str, rate: float) -> list[dict]:
    """py-spy's `-f raw` output (`frame;frame;... count`, outermost first) as stacks of CPU seconds: each
    sample stands for 1/rate s of a thread that was not idle."""
    stacks = []
    for line in text.splitlines():
        head, _, count = line.rpartition(" ")
        if not head or not count.isdigit():
            continue
        frames = [f for f in head.split(";") if not f.startswith(("process ", "thread "))]
        stacks.append({"frames": frames, "cpu_s": int(count) / rate, "samples": int(count)})
    return stacks


def render(report: dict) -> str:
    """The layer table, the cross-check against /proc and the top functions, as text."""
    b = report["breakdown"]
    lines = [f"{'layer':<46} {'ms/call':>8} {'share':>7}"]
    for row in b["layers"]:
        lines.append(f"{row['layer']:<46} {row['ms_per_call']:8.4f} {row['share']:7.1%}")
    lines.append(f"{'sum of the layers (sampled)':<46} {b['total_ms_per_call']:8.4f} {1:7.1%}")
    check = report["cross_check"]
    lines.append("")
    for label, key in (
        ("gateway CPU per call from /proc (all threads)", "proc_ms_per_call"),
        ("  the same, not profiled (a phase just before)", "unprofiled_proc_ms_per_call"),
        ("  main thread CPU per call (its CPU clock)", "main_thread_ms_per_call"),
        ("  other threads' CPU per call", "other_threads_ms_per_call"),
        ("  the sampler's handler, left out", "sampler_overhead_ms_per_call"),
        ("  the sampler's gc callback, left out", "profiler_ms_per_call"),
    ):
        value = check.get(key, b.get(key))
        lines.append(f"{label:<46} {'-' if value is None else f'{value:8.4f}':>8}")
    if check.get("idle_share") is not None:
        lines.append(f"{'main thread idle (waiting, not CPU)':<46} {check['idle_share']:>8.1%} of the wall")
    lines += [
        "",
        "top 15 functions by self time (innermost frame)",
        f"{'ms/call':>8} {'share':>6}  function",
    ]
    for row in b["top_functions"][:15]:
        lines.append(f"{row['ms_per_call']:8.4f} {row['share']:6.1%}  {row['function']}  [{row['layer']}]")
    if b["other_modules"]:
        lines += [
            "",
            "'other' by module: " + ", ".join(f"{m} {v:.4f}" for m, v in b["other_modules"].items()),
        ]
    return "\n".join(lines)
