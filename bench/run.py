"""Switchyard benchmark: `make bench` or `.venv/bin/python -m bench.run [--duration S] [--gateway-cmd CMD]`.

Starts bench/mock_upstream.py, measures it directly with bench/loadgen.py, starts the gateway against it,
measures the gateway, prints a table with a pass/fail column against the performance budget and another
against issue 18's goals (`--goals` runs what they read, including the launches of bench/launches.py), and
writes bench/results/latest.json. See bench/README.md for what each number means and how it is measured.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from bench.goals import GOAL_SCENARIOS, build_goals, describe_launches
from bench.launches import LAUNCHES, RUNNERS, Bench
from bench.processes import (
    CLK_TCK,
    HOST,
    OBSERVABILITY,
    ROOT,
    cached_config,
    compile_bytecode,
    cpu_seconds,
    free_port,
    gateway_config,
    gateway_environment,
    generate_key,
    memory_mb,
    pin,
    process_tree,
    server_stats,
    settle,
    settled_memory_mb,
    speed_probe,
    start_gateway,
    start_helper,
    stop_process,
    upstream_requests,
    wait_ready,
)

BENCH = ROOT / "bench"
# SWITCHYARD_BENCH_RESULTS: another folder for the run's files, so that two runs on one checkout keep apart.
RESULTS = Path(os.environ.get("SWITCHYARD_BENCH_RESULTS") or BENCH / "results")

DEFAULT_SWITCHYARD = Path(sys.executable).parent / "switchyard"
DEFAULT_GATEWAY_CMD = (
    f"{DEFAULT_SWITCHYARD if DEFAULT_SWITCHYARD.exists() else 'switchyard'} serve "
    "--config {config} --host {host} --port {port} --workers 1"
)
SCENARIO_LABELS = {
    "chat": "chat (non-stream)",
    "chat-cached": "chat answered from the cache",
    "keyed": "chat with a rate-limited virtual key",
    "budgeted": "chat with a key that has budgets",
    "guarded": "chat with a key that has 2 guardrails",
    "router": "chat via a 4-deployment group",
    "stream": "chat stream (20 chunks)",
    "claude": "claude (non-stream)",
    "claude-stream": "claude stream (20 deltas)",
    "messages": "/v1/messages to claude (as sent)",
    "messages-stream": "/v1/messages stream to claude",
    "messages-openai": "/v1/messages to an openai model",
    "messages-openai-stream": "/v1/messages stream to an openai model",
    "passthrough-stream": "/anthropic pass-through stream",
    "responses": "/v1/responses (stored) to chat",
    "responses-stream": "/v1/responses stream to chat",
    "embed": "embeddings (base64)",
    "embed-float": "embeddings (float)",
    **LAUNCHES,
}

# The performance budget: (check name, unit, limit, "<=" or ">=").
DEFAULT_SCENARIOS = (
    "chat,keyed,budgeted,guarded,router,stream,claude,claude-stream,messages,messages-stream,messages-openai,"
    "messages-openai-stream,passthrough-stream,responses,responses-stream,embed,chat-cached"
)
BUDGET_OVERHEAD_P50_MS = 1.0
# router is chat routed over a group of 4 deployments with rpm/tpm limits: it is held to chat's budget.
BUDGET_CPU_MS = {
    "chat": 1.0,
    "keyed": 1.0,
    "budgeted": 1.0,
    "guarded": 1.0,
    "router": 1.0,
    "stream": 2.0,
    "claude": 1.0,
    "claude-stream": 2.0,
    "messages": 1.0,
    "messages-stream": 2.0,
    "messages-openai": 1.0,
    "messages-openai-stream": 2.0,
    "passthrough-stream": 2.0,
    "responses": 1.0,
    "responses-stream": 2.0,
}
BUDGET_RPS = {"chat": 1000.0, "keyed": 1000.0, "budgeted": 1000.0, "router": 1000.0}
BUDGET_RSS_MB = 100.0
BUDGET_STARTUP_S = 1.5
# Scenarios measured on a second launch of the gateway with `litellm_settings.cache: true` (the cache is
# global in the config), and the scenario whose direct phase stands for theirs (the same request).
CACHED_SCENARIOS = {"chat-cached": "chat"}
BUDGET_CACHE_HIT_CPU_SHARE = 0.5
"""A hit's gateway CPU per request below this share of a miss's (`chat`, the same request, cache off)."""
BUDGET_CACHED_UPSTREAM_CALLS = 0.01
"""Upstream calls per request of a scenario answered from the cache: about 0."""
# Scenarios whose gateway CPU per request must stay below another's in the same run (issue 14: a relayed
# stream costs less than the same stream translated): scenario -> the one it is compared with.
CHEAPER_THAN = {"passthrough-stream": "messages-openai-stream"}
# Scenarios whose gateway CPU per request may exceed another's by at most so much (issue 17: two regex/PII
# guardrails on every call cost at most 0.15 ms): scenario -> (the one it is compared with, ms).
COSTS_AT_MOST = {"guarded": ("keyed", 0.15)}


# --- observability and the cache ------------------------------------------------------------------------
def warm_cache(port: int, api_key: str, scenario: str, upstream_port: int) -> dict:
    """Sends the scenario's request twice: the first fills the cache, the second should be a hit. What
    the gateway said of each (its cache headers), and the upstream calls the two made (1 expected)."""
    from bench.loadgen import SCENARIOS

    sc = SCENARIOS[scenario]
    found: dict = {}
    before = upstream_requests(upstream_port)
    for name in ("first", "second"):
        request = urllib.request.Request(
            f"http://{HOST}:{port}{sc.path}",
            data=sc.body,
            headers={"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                answer.read()
                found[name] = {
                    "status": answer.status,
                    "cache_hit": answer.headers.get("x-switchyard-cache-hit"),
                    "cache_key": answer.headers.get("x-switchyard-cache-key"),
                }
        except OSError as exc:  # HTTPError too: the phases will count the failures
            found[name] = {"status": getattr(exc, "code", None), "error": str(exc)}
        time.sleep(0.05)  # the gateway stores the entry just after it answers
    after = upstream_requests(upstream_port)
    found["upstream_calls"] = None if before is None or after is None else after - before
    found["hit"] = found["second"].get("cache_hit") == "true"
    return found


def scrape_metrics(port: int, api_key: str) -> dict:
    """GET /metrics once (with the master key): its status, and whether it parses as Prometheus text."""
    request = urllib.request.Request(
        f"http://{HOST}:{port}/metrics", headers={"Authorization": f"Bearer {api_key}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            status, text = answer.status, answer.read().decode()
    except OSError as exc:  # HTTPError too
        return {"status": getattr(exc, "code", None), "parsed": False, "error": str(exc)}
    found: dict = {"status": status, "bytes": len(text)}
    try:
        from prometheus_client.parser import text_string_to_metric_families
    except ImportError:
        return {**found, "parsed": None, "error": "prometheus-client is not installed here"}
    try:
        families = list(text_string_to_metric_families(text))
    except ValueError as exc:
        return {**found, "parsed": False, "error": str(exc)}
    calls = [s.value for f in families for s in f.samples if s.name == "switchyard_requests_total"]
    return {
        **found,
        "parsed": True,
        "families": len(families),
        "samples": sum(len(f.samples) for f in families),
        "switchyard_requests_total": sum(calls),
    }


def _observability_warnings(observed: dict) -> list[str]:
    """What says a mode did not do what it should (tracing, for one, exists only in newer gateways)."""
    found = []
    lines = observed.get("access_log_lines")
    if observed["mode"] == "off" and lines:
        found.append(f"--observability off, yet the gateway wrote {lines} access lines")
    if observed["mode"] != "on":
        return found
    if lines == 0:
        found.append("--observability on, yet the gateway wrote no access line (see gateway.log)")
    if not (observed.get("otlp_sink") or {}).get("requests"):
        found.append("the OTLP sink received no export: this gateway does not trace (or did not flush)")
    scrape = observed.get("metrics_scrape")
    if scrape is not None and not scrape.get("parsed"):
        found.append(f"GET /metrics did not parse: {scrape.get('status')} {scrape.get('error', '')}")
    return found


CACHED_LAUNCH = "===== cached launch"


def access_lines(log: Path) -> int:
    """Access records (JSON lines of event `call`) the gateway wrote in its last launch's log."""
    text = log.read_text(errors="replace").rpartition("===== launch ")[2].partition(CACHED_LAUNCH)[0]
    return sum(1 for line in text.splitlines() if '"event":"call"' in line.replace(" ", ""))


# --- load ---------------------------------------------------------------------------------------------
class Load:
    def __init__(
        self, args: argparse.Namespace, cpus: set[int] | None, gw_cpus: set[int] | None, mock_pid: int
    ) -> None:
        self.args = args
        self.cpus = cpus
        self.gw_cpus = gw_cpus
        self.mock_pid = mock_pid
        self.keys: dict[str, str] = {}
        """Scenario -> the bearer key its calls send (default: --api-key)."""

    def loadgen(self, port: int, scenario: str, concurrency: int, duration: float, direct: bool) -> dict:
        cmd = [
            sys.executable, "-m", "bench.loadgen", "--url", f"http://{HOST}:{port}", "--scenario", scenario,
            "--concurrency", str(concurrency), "--duration", str(duration),
            "--api-key", self.keys.get(scenario, self.args.api_key),
        ]  # fmt: skip
        if direct:  # straight to the mock: scenarios with their own upstream format send that
            cmd.append("--direct")
        try:
            out = subprocess.run(
                cmd,
                cwd=ROOT,
                capture_output=True,
                timeout=duration + 90,
                preexec_fn=pin(self.cpus),
                check=False,
            )
        except subprocess.TimeoutExpired:
            return {"requests": 0, "responses": 0, "errors": {"loadgen_timeout": 1}, "latency_ms": None}
        if out.returncode != 0:
            err = out.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["?"]
            return {"requests": 0, "responses": 0, "errors": {f"loadgen: {err[0]}": 1}, "latency_ms": None}
        return json.loads(out.stdout)

    def phase(
        self,
        port: int,
        scenario: str,
        concurrency: int,
        duration: float,
        server_pid: int | None,
        label: str | None = None,
    ) -> dict:
        """Warm up, then one measured run; CPU of the server tree and of the mock over the measured run."""
        probe = speed_probe(self.gw_cpus)
        direct = server_pid is None
        if self.args.warmup > 0:
            self.loadgen(port, scenario, concurrency, self.args.warmup, direct)
        pids = process_tree(server_pid) if server_pid else []
        if pids:
            settle(pids)  # what the warm-up left behind is not the measured run's
        up0 = upstream_requests(self.args.upstream_port_actual)
        cpu0, mock0 = cpu_seconds(pids), cpu_seconds([self.mock_pid])
        res = self.loadgen(port, scenario, concurrency, duration, direct)
        window, mock1 = cpu_seconds(pids), cpu_seconds([self.mock_pid])
        # What the calls left behind counts too: a gateway whose spend ledger lags its journal under load
        # catches up once the load stops.
        settled_in = settle(pids) if pids else 0.0
        cpu1 = cpu_seconds(pids)
        up1 = upstream_requests(self.args.upstream_port_actual)
        res["speed_probe_ms"] = probe
        n = res.get("requests") or 0  # successful responses: a gateway failing fast gets no credit
        wall = res.get("duration_s") or 0
        if n:
            res["mock_cpu_us_per_request"] = round((mock1 - mock0) / n * 1e6, 1)
            res["mock_cpu_util"] = round((mock1 - mock0) / wall, 3) if wall else None
            if server_pid:
                res["server_cpu_ms_per_request"] = round((cpu1 - cpu0) / n * 1000, 3)
                res["server_cpu_ms_per_request_in_run"] = round((window - cpu0) / n * 1000, 3)
                res["server_settle_s"] = round(settled_in, 2)
                res["server_cpu_util"] = round((window - cpu0) / wall, 3) if wall else None
            if server_pid and up0 is not None and up1 is not None:
                res["upstream_calls_per_request"] = round((up1 - up0) / n, 3)
        _progress(res, scenario, concurrency, label or ("gateway" if server_pid else "direct"))
        return res


def _progress(res: dict, scenario: str, concurrency: int, target: str) -> None:
    lat = res.get("latency_ms") or {}
    extra = ""
    if "server_cpu_ms_per_request" in res:
        cpu, in_run = res["server_cpu_ms_per_request"], res["server_cpu_ms_per_request_in_run"]
        extra = f"  cpu {cpu:.3f} ms/req ({in_run:.3f} in the run, {res['server_settle_s']:.1f} s after)"
    bad = sum((res.get("errors") or {}).values()) + (res.get("invalid") or 0)
    print(
        f"  {target:7} {scenario:11} c={concurrency:<3} {res.get('requests', 0):>7} req "
        f"{res.get('rps', 0):>9.1f} rps  p50 {lat.get('p50', float('nan')):8.3f} ms  "
        f"p99 {lat.get('p99', float('nan')):8.3f} ms{extra}" + (f"  ERRORS {bad}" if bad else ""),
        file=sys.stderr,
        flush=True,
    )


# --- report -------------------------------------------------------------------------------------------
def _get(d: dict | None, *keys: str) -> float | None:
    for k in keys:
        if not isinstance(d, dict):
            return None
        d = d.get(k)
    return d if isinstance(d, int | float) else None


def _sub(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else round(a - b, 4)


def _fmt(v: float | None, digits: int = 3) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(r: list[str]) -> str:
        cells = zip(r, widths, strict=True)
        return "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(cells))

    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def build_checks(result: dict) -> list[dict]:
    checks: list[dict] = []
    gw = result.get("gateway") or {}

    def check(name: str, value: float | None, limit: float, op: str, unit: str) -> None:
        ok = None if value is None else {"<=": value <= limit, "<": value < limit, ">=": value >= limit}[op]
        checks.append({"check": name, "value": value, "budget": f"{op} {limit:g} {unit}", "pass": ok})

    if gw and not gw.get("error"):
        check("startup to healthy (median)", gw.get("startup_s_median"), BUDGET_STARTUP_S, "<=", "s")
        check("RSS after start", _get(gw, "memory_after_start", "rss_mb"), BUDGET_RSS_MB, "<=", "MB")
        check("RSS after load", _get(gw, "memory_after_load", "rss_mb"), BUDGET_RSS_MB, "<=", "MB")
    for sc, ov in (result.get("overhead") or {}).items():
        check(f"overhead p50, {SCENARIO_LABELS[sc]}", ov.get("p50_ms"), BUDGET_OVERHEAD_P50_MS, "<=", "ms")
    for sc, per in (gw.get("scenarios") or {}).items():
        c = f"c{result['options']['concurrency']}"
        if sc in BUDGET_CPU_MS:
            cpu = _get(per, c, "server_cpu_ms_per_request")
            check(f"gateway CPU per request, {SCENARIO_LABELS[sc]}", cpu, BUDGET_CPU_MS[sc], "<=", "ms")
        if sc in BUDGET_RPS:
            check(f"throughput at {c.replace('c', 'concurrency ')}, {SCENARIO_LABELS[sc]}",
                  _get(per, c, "rps"), BUDGET_RPS[sc], ">=", "req/s")  # fmt: skip
    c = f"c{result['options']['concurrency']}"
    scenarios = gw.get("scenarios") or {}
    for sc, like in CACHED_SCENARIOS.items():
        if sc not in scenarios:
            continue
        calls = _get(scenarios[sc], c, "upstream_calls_per_request")
        check(f"upstream calls per request, {SCENARIO_LABELS[sc]}", calls, BUDGET_CACHED_UPSTREAM_CALLS,
              "<=", "")  # fmt: skip
        check(f"cache hit CPU / {like} CPU per request ({c})", cache_hit_share(result, sc, like),
              BUDGET_CACHE_HIT_CPU_SHARE, "<", "")  # fmt: skip
    for sc, dearer in CHEAPER_THAN.items():
        if sc in scenarios and dearer in scenarios:
            cheap = _get(scenarios[sc], c, "server_cpu_ms_per_request")
            dear = _get(scenarios[dearer], c, "server_cpu_ms_per_request")
            check(f"{SCENARIO_LABELS[sc]} CPU < {SCENARIO_LABELS[dearer]} CPU per request ({c})",
                  cheap if dear is not None else None, dear or 0.0, "<", "ms")  # fmt: skip
    for sc, (base, extra) in COSTS_AT_MOST.items():
        if sc in scenarios and base in scenarios:
            cost = _get(scenarios[sc], c, "server_cpu_ms_per_request")
            plain = _get(scenarios[base], c, "server_cpu_ms_per_request")
            added = cost - plain if cost is not None and plain is not None else None
            check(
                f"{SCENARIO_LABELS[sc]}: CPU added over {SCENARIO_LABELS[base]} ({c})",
                added,
                extra,
                "<=",
                "ms",
            )
    bad = 0
    for per in (gw.get("scenarios") or {}).values():
        for res in per.values():
            bad += sum((res.get("errors") or {}).values()) + (res.get("invalid") or 0)
    if gw.get("scenarios"):
        checks.append({"check": "gateway responses all 200 and well-formed", "value": bad, "budget": "0 bad",
                       "pass": bad == 0})  # fmt: skip
    return checks


def cache_hit_share(result: dict, scenario: str, like: str) -> float | None:
    """A cached scenario's gateway CPU per request over that of the same request answered upstream."""
    c = f"c{result['options']['concurrency']}"
    scenarios = (result.get("gateway") or {}).get("scenarios") or {}
    hit = _get(scenarios.get(scenario), c, "server_cpu_ms_per_request")
    miss = _get(scenarios.get(like), c, "server_cpu_ms_per_request")
    return None if hit is None or not miss else round(hit / miss, 3)


def render(result: dict) -> str:
    opts = result["options"]
    c = f"c{opts['concurrency']}"
    direct = result["direct"]
    gw = result.get("gateway") or {}
    gws = gw.get("scenarios") or {}
    out = []
    m = result["meta"]
    out.append(
        f"Switchyard benchmark  {m['time']}  commit {m.get('commit') or '?'}  {m['cpu_model']} x{m['cpus']}\n"
        f"gateway: {'(not run: --direct-only)' if opts['direct_only'] else opts['gateway_cmd']}\n"
        f"pinning: {opts['pinning']}\n"
        f"observability: {opts['observability']} ({OBSERVABILITY[opts['observability']]})\n"
        f"phases: {opts['duration']:g}s measured after {opts['warmup']:g}s warm-up;  CPU speed probe "
        f"{_get(result, 'speed_probe_ms', 'median')} ms (median; lower is a faster CPU, compare across runs)"
    )
    rows = []
    measured = [sc for sc in opts["scenarios"] if sc not in LAUNCHES]
    for sc in measured:
        d1, dc = direct[sc].get("c1"), direct[sc].get(c)
        g1, gc = (gws.get(sc) or {}).get("c1"), (gws.get(sc) or {}).get(c)
        ov = (result.get("overhead") or {}).get(sc) or {}
        rows.append([
            SCENARIO_LABELS[sc],
            f"{_fmt(_get(d1, 'latency_ms', 'p50'))} / {_fmt(_get(d1, 'latency_ms', 'p99'))}",
            f"{_fmt(_get(g1, 'latency_ms', 'p50'))} / {_fmt(_get(g1, 'latency_ms', 'p99'))}",
            f"{_fmt(ov.get('p50_ms'))} / {_fmt(ov.get('p99_ms'))}",
            _fmt(_get(g1, "overhead_header_ms", "p50")),
            _fmt(_get(gc, "rps"), 0),
            _fmt(_get(dc, "rps"), 0),
            f"{_fmt(_get(gc, 'server_cpu_ms_per_request'))} / {_fmt(_get(g1, 'server_cpu_ms_per_request'))}",
        ])  # fmt: skip
    out.append(
        "\nLatency in ms at concurrency 1 (p50 / p99); throughput at concurrency " + str(opts["concurrency"])
    )
    out.append(table(rows, [
        "scenario", "direct p50/p99", "gateway p50/p99", "overhead p50/p99", "hdr overhead p50",
        f"gw req/s {c}", f"direct req/s {c}", f"gw CPU ms/req {c} / c1",
    ]))  # fmt: skip
    streamed = (
        "stream", "claude-stream", "messages-stream", "messages-openai-stream", "passthrough-stream",
        "responses-stream",
    )  # fmt: skip
    streams = [sc for sc in measured if sc in streamed]
    for sc in streams:
        d1, g1 = direct[sc].get("c1"), (gws.get(sc) or {}).get("c1")
        out.append(
            f"{sc} first chunk p50: direct {_fmt(_get(d1, 'first_chunk_ms', 'p50'))} ms, "
            f"gateway {_fmt(_get(g1, 'first_chunk_ms', 'p50'))} ms"
        )
    for sc in measured:
        spread = []
        for conc, res in (gws.get(sc) or {}).items():
            tally = res.get("tally") if isinstance(res, dict) else None
            if sc in CACHED_SCENARIOS and isinstance(res, dict) and "requests" in res:
                spread.append(f"{conc} {(tally or {}).get('true', 0)} of {res['requests']}")
            elif tally:
                total = sum(tally.values())
                shares = ", ".join(f"{k} {v / total:.0%}" for k, v in tally.items())
                spread.append(f"{conc} {len(tally)} ({shares})")
        if spread and sc in CACHED_SCENARIOS:
            out.append(f"{sc} responses with x-switchyard-cache-hit: true: " + ";  ".join(spread))
        elif spread:
            out.append(f"{sc} deployments that answered: " + ";  ".join(spread))
    for sc, like in CACHED_SCENARIOS.items():
        if sc not in gws:
            continue
        hit, miss = (
            _get(gws[sc], c, "server_cpu_ms_per_request"),
            _get(gws.get(like), c, "server_cpu_ms_per_request"),
        )
        out.append(
            f"{sc}: gateway CPU {_fmt(hit)} ms/req against {like}'s {_fmt(miss)} ms/req at {c} (share "
            f"{_fmt(cache_hit_share(result, sc, like))}), upstream calls/request "
            f"{_fmt(_get(gws[sc], c, 'upstream_calls_per_request'))}; warm-up: "
            f"{'hit' if (gw.get('cache_warm') or {}).get('hit') else 'NO HIT'}"
        )
    for sc, dearer in CHEAPER_THAN.items():
        if sc not in gws:
            continue
        others = [o for o in ("messages-stream", dearer) if o in gws]
        out.append(
            f"{sc}: gateway CPU {_fmt(_get(gws[sc], c, 'server_cpu_ms_per_request'))} ms/req at {c}, against "
            + (", ".join(f"{o} {_fmt(_get(gws[o], c, 'server_cpu_ms_per_request'))}" for o in others)
               or "nothing (run it with messages-openai-stream)")
        )  # fmt: skip
    floor = result.get("hop_floor")
    if floor and "chat" in direct:
        f50, f99 = _get(floor, "latency_ms", "p50"), _get(floor, "latency_ms", "p99")
        d1 = direct["chat"].get("c1")
        out.append(
            f"hop floor (chat c=1, loadgen -> a mock on the gateway's CPU): "
            f"p50 {_fmt(f50)} / p99 {_fmt(f99)} ms, i.e. {_fmt(_sub(f50, _get(d1, 'latency_ms', 'p50')))} / "
            f"{_fmt(_sub(f99, _get(d1, 'latency_ms', 'p99')))} ms of overhead is the cross-core hop itself"
        )
    if gw.get("error"):
        out.append(f"\nGATEWAY NOT MEASURED: {gw['error']}")
    elif gw:
        ms, ml = gw.get("memory_after_start") or {}, gw.get("memory_after_load") or {}
        out.append(
            f"\nstartup to healthy: {_fmt(gw.get('startup_s_median'))} s median of "
            f"{[round(x, 3) for x in gw.get('startup_s', [])]}\n"
            f"memory (gateway tree, {ms.get('processes')} process(es)): "
            f"RSS {ms.get('rss_mb')} MB after start, "
            f"{ml.get('rss_mb')} MB after load (PSS {ms.get('pss_mb')} / {ml.get('pss_mb')} MB)"
        )
        load_side = []
        for sc in measured:
            r = (gws.get(sc) or {}).get(c) or {}
            load_side.append(
                f"{sc}: loadgen {_fmt(r.get('loadgen_cpu_util'), 2)} + mock {_fmt(r.get('mock_cpu_util'), 2)}"
                f" cores, gateway {_fmt(r.get('server_cpu_util'), 2)} cores"
                + (f", upstream calls/request {r.get('upstream_calls_per_request')}"
                   if r.get("upstream_calls_per_request") not in (None, 1.0) else "")
            )  # fmt: skip
        out.append(f"CPU used at {c} (load side shares one core):  " + ";  ".join(load_side))
        observed = _observed(result.get("observability") or {})
        if observed:
            out.append(f"observability {opts['observability']}: {observed}")
    out.extend(describe_launches(result))
    for sc in measured:
        for target, per in (("direct", direct.get(sc)), ("gateway", gws.get(sc))):
            for conc, res in (per or {}).items():
                if not isinstance(res, dict) or "latency_ms" not in res:
                    continue
                bad = dict(res.get("errors") or {})
                if res.get("invalid"):
                    bad["malformed"] = res["invalid"]
                if bad:
                    sample = (res.get("sample") or "").replace("\n", " ")[:300]
                    out.append(f"ERRORS {target} {sc} {conc}: {bad}  first bad body: {sample}")
    for w in result.get("warnings", []):
        out.append(f"WARNING: {w}")
    checks = result.get("checks") or []
    if checks:
        out.append("\nBudget")
        rows = [
            [ch["check"], _fmt(ch["value"]) if isinstance(ch["value"], float) else str(ch["value"]),
             ch["budget"], {True: "PASS", False: "FAIL", None: "n/a"}[ch["pass"]]]
            for ch in checks
        ]  # fmt: skip
        out.append(table(rows, ["check", "measured", "budget", "result"]))
    goals = result.get("goals")
    if goals:
        probe = goals.get("speed_probe_ms") or {}
        out.append(
            f"\nGoals (issue 18): {goals['met']} of {goals['measured']} measured met;  CPU speed probe "
            f"{_fmt(probe.get('median'))} ms median (min {_fmt(probe.get('min'))}, "
            f"max {_fmt(probe.get('max'))})"
        )
        verdict = {True: "PASS", False: "FAIL", None: "n/a"}
        rows = [[ch["check"], _fmt(ch["value"]), ch["budget"], verdict[ch["pass"]]] for ch in goals["checks"]]
        out.append(table(rows, ["goal", "measured", "limit", "result"]))
    return "\n".join(out)


def _observed(observed: dict) -> str:
    """What the gateway's observability produced, in a line: access lines, exports, the /metrics scrape."""
    parts = []
    if "access_log_lines" in observed:
        parts.append(f"{observed['access_log_lines']} access lines in gateway.log (last launch)")
    if "otlp_endpoint" in observed:
        sink = observed.get("otlp_sink") or {}
        parts.append(
            f"OTLP sink {sink.get('requests', '?')} exports, {(sink.get('bytes') or 0) / 1024:.1f} kB"
        )
    scrape = observed.get("metrics_scrape")
    if scrape:
        parsed = {True: "parsed", False: "NOT parsed", None: "not checked"}[scrape.get("parsed")]
        parts.append(
            f"GET /metrics {scrape.get('status')} {parsed}"
            + (f" ({scrape['families']} families, {scrape['switchyard_requests_total']:g} calls counted)"
               if scrape.get("parsed") else "")
        )  # fmt: skip
    return ";  ".join(parts)


def _meta() -> dict:
    cpu_model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu_model = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass

    def git(*a: str) -> str | None:
        try:
            return subprocess.run(
                ["git", *a], cwd=ROOT, capture_output=True, text=True, check=True
            ).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return None

    commit = git("rev-parse", "--short", "HEAD")
    if commit and git("status", "--porcelain", "--untracked-files=no"):
        commit += "+dirty"
    return {
        "time": time.strftime("%Y-%m-%d %H:%M:%S"),
        "commit": commit,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_model": cpu_model,
        "cpus": os.cpu_count(),
        "clk_tck": CLK_TCK,
    }


def run_launches(bench: Bench, scenarios: list[str]) -> dict:
    """Each launch scenario in turn; one that fails is reported as its error, and the others still run."""
    found = {}
    for sc in scenarios:
        print(f"{sc}: {LAUNCHES[sc]}", file=sys.stderr, flush=True)
        try:
            found[sc] = RUNNERS[sc](bench)
        except (RuntimeError, SystemExit, OSError, ValueError) as exc:
            found[sc] = {"error": f"{exc} (see {RESULTS / sc})"}
            print(f"{sc}: {found[sc]['error']}", file=sys.stderr, flush=True)
    return found


def _probes(tree: object) -> list[float]:
    """Every `speed_probe_ms` in a nested result (the launches' phases, starts and library runs)."""
    if not isinstance(tree, dict):
        return []
    own = [tree["speed_probe_ms"]] if isinstance(tree.get("speed_probe_ms"), float) else []
    return own + [p for value in tree.values() for p in _probes(value)]


def _cpus(spec: str | None) -> set[int] | None:
    return {int(x) for x in spec.split(",")} if spec else None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n", 1)[0])
    p.add_argument("--duration", type=float, default=5.0, help="seconds of each measured phase (default 5)")
    p.add_argument(
        "--warmup", type=float, default=1.0, help="seconds of warm-up before each phase (default 1)"
    )
    p.add_argument("--gateway-cmd", default=DEFAULT_GATEWAY_CMD,
                   help="command that starts the gateway; {config} {host} {port} are filled in "
                        "(e.g. 'litellm --config {config} --host {host} --port {port}')")  # fmt: skip
    p.add_argument("--health-path", default="/health/liveliness")
    p.add_argument("--json", default=str(RESULTS / "latest.json"), help="where to write the results")
    p.add_argument(
        "--config", default=str(BENCH / "config.yaml"), help="config template (upstream port rewritten)"
    )
    p.add_argument(
        "--scenarios",
        default=None,
        help=f"comma list of {','.join(SCENARIO_LABELS)} (default: {DEFAULT_SCENARIOS})",
    )
    p.add_argument("--goals", action="store_true",
                   help="run what issue 18's goals read: " + ",".join(GOAL_SCENARIOS) + " (instead of the "
                        "default list; added to an explicit --scenarios)")  # fmt: skip
    p.add_argument("--concurrency", type=int, default=32, help="concurrency of the throughput phases")
    p.add_argument(
        "--startup-runs", type=int, default=3, help="gateway launches timed (the last one is measured)"
    )
    p.add_argument("--startup-timeout", type=float, default=60.0)
    p.add_argument("--api-key", default="sk-bench-master")
    p.add_argument("--gateway-port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--upstream-port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--gateway-cpus", help="CPUs for the gateway (default: 0 when the machine has 2+ CPUs)")
    p.add_argument("--load-cpus", help="CPUs for loadgen + mock upstream (default: all the others)")
    p.add_argument("--no-pin", action="store_true", help="do not pin CPU affinity")
    p.add_argument(
        "--direct-only", action="store_true", help="measure the mock upstream directly, no gateway"
    )
    p.add_argument(
        "--observability",
        choices=tuple(OBSERVABILITY),
        default="default",
        help="logs, metrics and tracing of the gateway: "
        + "; ".join(f"{k}: {v}" for k, v in OBSERVABILITY.items()),
    )
    p.add_argument("--strict", action="store_true", help="exit 1 when a budget check fails")
    args = p.parse_args(argv)
    if args.scenarios is None:
        listed = [] if args.goals else DEFAULT_SCENARIOS.split(",")
    else:
        listed = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    scenarios = listed + [s for s in GOAL_SCENARIOS if args.goals and s not in listed]
    for s in scenarios:
        if s not in SCENARIO_LABELS:
            p.error(f"unknown scenario {s!r}")

    all_cpus = set(os.sched_getaffinity(0))
    ncpu = len(all_cpus)
    gw_cpus = load_cpus = None
    if not args.no_pin and ncpu >= 2:
        allowed = sorted(os.sched_getaffinity(0))
        gw_cpus = _cpus(args.gateway_cpus) or {allowed[0]}
        load_cpus = _cpus(args.load_cpus) or (set(allowed) - gw_cpus) or set(allowed)
        os.sched_setaffinity(0, load_cpus)
    pinning = (
        f"gateway on CPU {sorted(gw_cpus)}, loadgen + mock on CPU {sorted(load_cpus)}" if gw_cpus else "none"
    )

    RESULTS.mkdir(parents=True, exist_ok=True)
    result: dict = {
        "meta": _meta(),
        "options": {
            "duration": args.duration,
            "warmup": args.warmup,
            "concurrency": args.concurrency,
            "scenarios": scenarios,
            "gateway_cmd": args.gateway_cmd,
            "pinning": pinning,
            "direct_only": args.direct_only,
            "observability": args.observability,
        },
        "direct": {},
        "warnings": [],
    }
    c = f"c{args.concurrency}"
    mock, gateway, sink, sink_port = None, None, None, 0
    observed: dict = {"mode": args.observability}
    result["observability"] = observed
    gw_log = open(RESULTS / "gateway.log", "w")  # noqa: SIM115
    compile_bytecode(ROOT / "src")
    try:
        mock, up_port = start_helper(
            "bench.mock_upstream", args.upstream_port, load_cpus, RESULTS / "mock_upstream.log"
        )
        args.upstream_port_actual = up_port
        load = Load(args, load_cpus, gw_cpus, mock.pid)
        print(f"mock upstream on :{up_port} (pid {mock.pid}); {pinning}", file=sys.stderr)

        for sc in (sc for sc in scenarios if sc not in LAUNCHES):
            like = CACHED_SCENARIOS.get(sc)
            if like in result["direct"]:  # the same request straight to the mock: measured once
                result["direct"][sc] = result["direct"][like]
                continue
            result["direct"][sc] = {
                "c1": load.phase(up_port, sc, 1, args.duration, None),
                c: load.phase(up_port, sc, args.concurrency, max(1.0, args.duration / 2), None),
            }
        if gw_cpus and not args.direct_only:
            # The cost of the extra hop alone: loadgen -> a second mock on the gateway's core, chat at c=1.
            floor_mock, floor_port = start_helper(
                "bench.mock_upstream", 0, gw_cpus, RESULTS / "mock_floor.log"
            )
            try:
                result["hop_floor"] = load.phase(
                    floor_port, "chat", 1, min(3.0, args.duration), None, "floor"
                )
            finally:
                stop_process(floor_mock)

        if not args.direct_only:
            gw: dict = {"scenarios": {}}
            result["gateway"] = gw
            port = args.gateway_port or free_port()
            template = Path(args.config).read_text()
            config = RESULTS / "config.yaml"
            config.write_text(gateway_config(template, up_port, args.observability))
            if args.observability == "on":
                sink, sink_port = start_helper("bench.otlp_sink", 0, load_cpus, RESULTS / "otlp_sink.log")
                observed["otlp_endpoint"] = f"http://{HOST}:{sink_port}"
            env = gateway_environment(args.observability, sink_port)
            cmd = shlex.split(args.gateway_cmd.format(config=config, host=HOST, port=port))
            for db in RESULTS.glob("*.db*"):  # a fresh default SQLite file beside the config each run
                db.unlink()
            try:
                times = []
                for i in range(max(1, args.startup_runs)):
                    gw_log.write(f"===== launch {i + 1}: {shlex.join(cmd)}\n")
                    gw_log.flush()
                    gateway, secs = start_gateway(cmd, port, args.health_path, gw_cpus, gw_log,
                                                  args.startup_timeout, env)  # fmt: skip
                    times.append(secs)
                    print(f"gateway healthy in {secs:.3f} s (pid {gateway.pid})", file=sys.stderr, flush=True)
                    if i < args.startup_runs - 1:
                        wait_ready(port)  # the first creates the database: the measured one finds it
                        stop_process(gateway)
                        gateway = None
                        time.sleep(0.3)
                gw["startup_s"] = [round(t, 4) for t in times]
                gw["startup_s_median"] = round(statistics.median(times), 4)
                gw["memory_after_start"] = settled_memory_mb(gateway.pid)
                if "keyed" in scenarios:
                    load.keys["keyed"] = generate_key(port, args.api_key)
                if "budgeted" in scenarios:
                    load.keys["budgeted"] = generate_key(port, args.api_key, budgeted=True)
                if "guarded" in scenarios:
                    load.keys["guarded"] = generate_key(port, args.api_key, guarded=True)
                for sc in scenarios:
                    if sc in CACHED_SCENARIOS or sc in LAUNCHES:
                        continue
                    gw["scenarios"][sc] = {
                        "c1": load.phase(port, sc, 1, args.duration, gateway.pid),
                        c: load.phase(port, sc, args.concurrency, args.duration, gateway.pid),
                    }
                    gw["scenarios"][sc]["memory_after"] = memory_mb(gateway.pid)
                gw["memory_after_load"] = memory_mb(gateway.pid)
                if args.observability == "on":
                    observed["metrics_scrape"] = scrape_metrics(port, args.api_key)
                cached = [sc for sc in scenarios if sc in CACHED_SCENARIOS]
                if cached:
                    # The cache is global in a config: its scenarios get a launch of their own, cache on.
                    stop_process(gateway)
                    gateway = None
                    cached_path = RESULTS / "config-cached.yaml"
                    cached_path.write_text(cached_config(config.read_text()))
                    cached_cmd = shlex.split(
                        args.gateway_cmd.format(config=cached_path, host=HOST, port=port)
                    )
                    gw_log.write(f"{CACHED_LAUNCH}: {shlex.join(cached_cmd)}\n")
                    gw_log.flush()
                    gateway, secs = start_gateway(cached_cmd, port, args.health_path, gw_cpus, gw_log,
                                                  args.startup_timeout, env)  # fmt: skip
                    gw["cached_launch"] = {"config": str(cached_path), "startup_s": round(secs, 4)}
                    print(f"gateway (cache on) healthy in {secs:.3f} s (pid {gateway.pid})", file=sys.stderr)
                    for sc in cached:
                        gw["cache_warm"] = warm_cache(port, args.api_key, sc, up_port)
                        if not gw["cache_warm"]["hit"]:
                            result["warnings"].append(
                                f"{sc}: the warm-up's second call was not a cache hit: {gw['cache_warm']}"
                            )
                        gw["scenarios"][sc] = {
                            "c1": load.phase(port, sc, 1, args.duration, gateway.pid),
                            c: load.phase(port, sc, args.concurrency, args.duration, gateway.pid),
                        }
                        gw["scenarios"][sc]["memory_after"] = memory_mb(gateway.pid)
                launched = [sc for sc in scenarios if sc in LAUNCHES]
                if launched:
                    stop_process(gateway)  # the launches take its port
                    gateway = None
                    bench = Bench(args=args, phase=load.phase, keys=load.keys, template=template,
                                  upstream_port=up_port, port=port, results=RESULTS, gw_cpus=gw_cpus,
                                  all_cpus=all_cpus, env=env)  # fmt: skip
                    result["launches"] = run_launches(bench, launched)
            except RuntimeError as exc:
                gw["error"] = f"{exc} (see {RESULTS / 'gateway.log'})"
                print(f"gateway: {gw['error']}", file=sys.stderr)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        if gateway is not None:
            stop_process(gateway)  # a gateway exports the spans it still holds as it stops
        if sink is not None:
            observed["otlp_sink"] = server_stats(sink_port)
            stop_process(sink)
        if mock is not None:
            stop_process(mock)
        gw_log.close()
    if not args.direct_only and args.observability != "default":
        observed["access_log_lines"] = access_lines(RESULTS / "gateway.log")
    result["warnings"].extend(_observability_warnings(observed))

    overhead = {}
    for sc in (sc for sc in scenarios if sc not in LAUNCHES):
        d1 = result["direct"][sc]["c1"]
        g1 = ((result.get("gateway") or {}).get("scenarios") or {}).get(sc, {}).get("c1")
        if g1:
            overhead[sc] = {
                "p50_ms": _sub(_get(g1, "latency_ms", "p50"), _get(d1, "latency_ms", "p50")),
                "p99_ms": _sub(_get(g1, "latency_ms", "p99"), _get(d1, "latency_ms", "p99")),
                "mean_ms": _sub(_get(g1, "latency_ms", "mean"), _get(d1, "latency_ms", "mean")),
                "first_chunk_p50_ms": _sub(
                    _get(g1, "first_chunk_ms", "p50"), _get(d1, "first_chunk_ms", "p50")
                ),
                "self_reported_p50_ms": _get(g1, "overhead_header_ms", "p50"),
            }
    result["overhead"] = overhead
    for sc, per in ((result.get("gateway") or {}).get("scenarios") or {}).items():
        r = per.get(c) or {}
        side = (r.get("loadgen_cpu_util") or 0) + (r.get("mock_cpu_util") or 0)
        if side > 0.8 * max(1, len(load_cpus or ())):
            result["warnings"].append(
                f"{sc} at {c}: loadgen + mock used {side:.2f} cores; the load side may limit the throughput"
            )
    probes = [
        r["speed_probe_ms"]
        for per in (result["direct"], (result.get("gateway") or {}).get("scenarios") or {})
        for phases in per.values()
        for r in phases.values()
        if isinstance(r, dict) and r.get("speed_probe_ms")
    ] + _probes(result.get("launches"))
    if probes:
        result["speed_probe_ms"] = {
            "min": min(probes),
            "median": round(statistics.median(probes), 3),
            "max": max(probes),
        }
        if max(probes) > 1.2 * min(probes):
            result["warnings"].append(
                f"the CPU speed probe varied from {min(probes)} to {max(probes)} ms during the run: the host "
                "was busy or throttled for part of it; re-run before trusting a difference"
            )
    result["checks"] = build_checks(result)
    checked = [ch["pass"] for ch in result["checks"] if ch["pass"] is not None]
    result["pass"] = bool(checked) and all(checked)
    result["goals"] = build_goals(result)

    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    print(render(result))
    print(f"\nresults: {args.json}")
    return 1 if args.strict and not result["pass"] else 0


if __name__ == "__main__":
    sys.exit(main())
