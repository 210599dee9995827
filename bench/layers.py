"""Where one call's CPU goes in the gateway, by layer: `.venv/bin/python -m bench.layers [--scenario chat]`.

Starts bench/mock_upstream.py and the gateway (`switchyard serve` on bench/config.yaml with the mock's port,
as bench/run.py does, with its helpers), warms up, then drives about `--calls` calls of a scenario with
bench/loadgen.py (at `--concurrency`, 1 by default: one call's cost, not the throughput) while a sampling
profiler watches the gateway, and charges the samples' CPU to layers by module path (bench/layers_table.py:
HTTP server and event loop, framework, body parse, domain objects, access, routing, upstream client,
response parse, render, ledger, metrics, tracing, logging, gc...). Prints ms per call and share per layer,
the cross-check against the gateway's CPU per call from /proc (utime + stime of its process tree over the
phase / calls, as the bench measures it), the top 15 functions by self time, and writes the whole report
to bench/results/layers-<scenario>.json.

The profiler, by default, runs inside the gateway: bench/layers_launcher.py starts `switchyard.cli.main`
with a sampler driven by a timer on the main thread's CPU clock (so idle time is never sampled; see that
module for how samples are weighted and what it leaves out). `--py-spy PATH` (or `--py-spy auto`: on PATH
or in the venv) samples from outside instead (`py-spy record -f raw`, idle samples excluded); it needs
ptrace and reading the target's memory, which some sandboxes refuse.

Examples:
  .venv/bin/python -m bench.layers                         # chat, ~20,000 calls at concurrency 1
  .venv/bin/python -m bench.layers --scenario stream --calls 5000
  .venv/bin/python -m bench.layers --concurrency 32 --calls 60000 --json bench/results/layers-chat-c32.json
  .venv/bin/python -m bench.layers --scenario keyed --observability off --json /tmp/keyed.json

Each run empties and uses its own directory (config, SQLite ledger, journal, logs): `bench/results/layers`
unless `--work DIR` names another, which runs at the same time need.
Idle time is not CPU and is not in the table: the line "main thread idle" gives its share of the wall.
Before the profiled phase, a phase of the same load runs unprofiled, so the report also shows what the
profiler itself cost (the two /proc figures). Compare runs at similar speed-probe values (printed before
and after), or compare shares, which move less than milliseconds on this shared host.
Scenarios: those of bench/loadgen.py (`keyed`, `budgeted` and `guarded` get their virtual key made, as in
bench/run.py; `chat-cached` runs on a config with the cache on, warmed first).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from bench.layers_launcher import INTERVAL_ENV, OUT_ENV
from bench.layers_table import breakdown, parse_py_spy, render
from bench.loadgen import SCENARIOS
from bench.processes import (
    HOST,
    OBSERVABILITY,
    cached_config,
    cpu_seconds,
    free_port,
    gateway_config,
    gateway_environment,
    generate_key,
    http_get,
    process_tree,
    speed_probe,
    start_gateway,
    start_helper,
    stop_process,
)
from bench.run import BENCH, CACHED_SCENARIOS, RESULTS, Load, warm_cache

HEALTH = "/health/liveliness"
WORK = RESULTS / "layers"
"""The profiled gateway's config, its SQLite ledger, logs and raw samples: a directory of its own, so that
bench/run.py's runs beside it share nothing."""


def _py_spy(choice: str | None) -> str | None:
    if choice in (None, "", "no"):
        return None
    if choice != "auto":
        return choice
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


def _pinning(args: argparse.Namespace) -> tuple[set[int] | None, set[int] | None]:
    allowed = sorted(os.sched_getaffinity(0))
    if args.no_pin or len(allowed) < 2:
        return None, None
    gw = {int(c) for c in args.gateway_cpus.split(",")} if args.gateway_cpus else {allowed[0]}
    load = (
        {int(c) for c in args.load_cpus.split(",")} if args.load_cpus else (set(allowed) - gw or set(allowed))
    )
    os.sched_setaffinity(0, load)
    return gw, load


def _gateway_command(args: argparse.Namespace, config: Path, port: int, in_process: bool) -> list[str]:
    tail = ["serve", "--config", str(config), "--host", HOST, "--port", str(port), "--workers", "1"]
    if in_process:
        return [sys.executable, "-m", "bench.layers_launcher", *tail]
    switchyard = Path(sys.executable).parent / "switchyard"
    return [str(switchyard) if switchyard.exists() else "switchyard", *tail]


def _signal_and_wait(pid: int, port: int, sig: int, out: Path | None, timeout: float = 10.0) -> None:
    """Sends `sig` and pokes the gateway (a GET, so its loop runs Python and the handler runs); with
    `out`, waits for that file to appear."""
    os.kill(pid, sig)
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(OSError):
            http_get(port, HEALTH)
        if out is None or out.exists() or time.monotonic() > deadline:
            return
        time.sleep(0.05)


def profile(args: argparse.Namespace) -> dict:
    gw_cpus, load_cpus = _pinning(args)
    spy = _py_spy(args.py_spy)
    scenario = args.scenario
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)  # a fresh ledger (SQLite, journal) beside the config, as run.py
    work.mkdir(parents=True)
    out = work / f"{scenario}.samples.json"
    mock = gateway = sink = None
    log = open(work / "gateway.log", "w")  # noqa: SIM115
    try:
        mock, up_port = start_helper("bench.mock_upstream", 0, load_cpus, work / "mock_upstream.log")
        port = free_port()
        config = work / "config.yaml"
        text = gateway_config(Path(args.config).read_text(), up_port, args.observability)
        config.write_text(cached_config(text) if scenario in CACHED_SCENARIOS else text)
        sink_port = None
        if args.observability == "on":  # traces go over OTLP to a local sink, as bench.run's
            sink, sink_port = start_helper("bench.otlp_sink", 0, load_cpus, work / "otlp_sink.log")
        env = dict(gateway_environment(args.observability, sink_port) or os.environ)
        env.update({OUT_ENV: str(out), INTERVAL_ENV: str(args.interval_ms / 1000)})
        cmd = _gateway_command(args, config, port, in_process=spy is None)
        log.write(f"===== {shlex.join(cmd)}\n")
        log.flush()
        gateway, _ = start_gateway(cmd, port, HEALTH, gw_cpus, log, 60.0, env)
        load_args = argparse.Namespace(api_key=args.api_key, warmup=0, upstream_port_actual=up_port)
        load = Load(load_args, load_cpus, gw_cpus, mock.pid)
        if scenario in ("keyed", "budgeted", "guarded"):
            load.keys[scenario] = generate_key(port, args.api_key, budgeted=scenario == "budgeted",
                                               guarded=scenario == "guarded")  # fmt: skip
        if scenario in CACHED_SCENARIOS:
            warm_cache(port, args.api_key, scenario, up_port)
        warm = load.loadgen(port, scenario, args.concurrency, args.warmup, False)
        rps = warm.get("rps") or 100.0
        duration = min(args.max_duration, max(2.0, args.calls / rps))
        probe_before = speed_probe(gw_cpus)
        pids = process_tree(gateway.pid)
        # The same load without the profiler, just before: what sampling itself costs the gateway.
        cpu0 = cpu_seconds(pids)
        plain = load.loadgen(port, scenario, args.concurrency, min(10.0, duration / 2), False)
        plain_cpu = cpu_seconds(pids) - cpu0
        plain_ms = plain_cpu / plain["requests"] * 1000 if plain.get("requests") else None
        if plain.get("rps"):  # a warmer rate than the warm-up's, for `--calls`
            duration = min(args.max_duration, max(2.0, args.calls / plain["rps"]))
        spy_proc = None
        if spy:
            spy_out = work / f"{scenario}.py-spy.txt"
            spy_cmd = [spy, "record", "-p", str(gateway.pid), "-f", "raw", "-r", str(args.py_spy_rate),
                       "-d", str(int(duration + 2)), "-o", str(spy_out), "--nonblocking"]  # fmt: skip
            spy_proc = subprocess.Popen(spy_cmd, stdout=subprocess.DEVNULL, stderr=log)
            time.sleep(1.0)  # py-spy attaches
        else:
            _signal_and_wait(gateway.pid, port, signal.SIGUSR1, None)
        cpu0 = cpu_seconds(pids)
        res = load.loadgen(port, scenario, args.concurrency, duration, False)
        cpu1 = cpu_seconds(pids)
        if spy_proc is not None:
            spy_proc.wait(duration + 30)
            if not spy_out.exists():
                raise SystemExit(
                    f"py-spy wrote no samples (see {work / 'gateway.log'}): try without --py-spy"
                )
            samples = {"sampler": "py-spy", "stacks": parse_py_spy(spy_out.read_text(), args.py_spy_rate)}
        else:
            _signal_and_wait(gateway.pid, port, signal.SIGUSR2, out)
            samples = json.loads(out.read_text())
        probe_after = speed_probe(gw_cpus)
    finally:
        if gateway is not None:
            stop_process(gateway)
        if mock is not None:
            stop_process(mock)
        if sink is not None:
            stop_process(sink)
        log.close()
    report = _report(args, res, samples, cpu1 - cpu0, (probe_before, probe_after))
    report["cross_check"]["unprofiled_proc_ms_per_call"] = None if plain_ms is None else round(plain_ms, 4)
    return report


def _report(args: argparse.Namespace, res: dict, samples: dict, proc_cpu: float, probes: tuple) -> dict:
    calls = res.get("requests") or 0
    bad = sum((res.get("errors") or {}).values()) + (res.get("invalid") or 0)

    def per_call(seconds: float | None) -> float | None:
        return None if seconds is None or not calls else round(seconds / calls * 1000, 4)

    others = samples.get("other_threads") or []
    wall = samples.get("wall_s")
    main_cpu = samples.get("main_cpu_s")
    return {
        "scenario": args.scenario,
        "concurrency": args.concurrency,
        "calls": calls,
        "errors": bad,
        "rps": res.get("rps"),
        "latency_ms": res.get("latency_ms"),
        "observability": args.observability,
        "sampler": samples.get("sampler"),
        "samples": samples.get("samples") or sum(s.get("samples", 0) for s in samples["stacks"]),
        "speed_probe_ms": {"before": probes[0], "after": probes[1]},
        "breakdown": breakdown(samples["stacks"], samples.get("gc_s") or 0.0, calls),
        "cross_check": {
            "proc_ms_per_call": per_call(proc_cpu),
            "main_thread_ms_per_call": per_call(main_cpu),
            "other_threads_ms_per_call": per_call(sum(t["cpu_s"] for t in others)) if others else None,
            "other_threads": [t for t in others if t["cpu_s"] > 0],
            "sampler_overhead_ms_per_call": per_call(samples.get("sampler_overhead_s")),
            "idle_share": round(1 - main_cpu / wall, 4) if wall and main_cpu is not None else None,
        },
        "gc_collections_per_1000_calls": (
            [round(n / calls * 1000, 2) for n in samples["gc_collections"]]
            if calls and samples.get("gc_collections")
            else None
        ),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.layers", description=__doc__.split("\n\n", 1)[0])
    p.add_argument("--scenario", default="chat", choices=sorted(SCENARIOS))
    p.add_argument(
        "--calls", type=int, default=20_000, help="about this many calls are profiled (default 20000)"
    )
    p.add_argument(
        "--max-duration", type=float, default=60.0, help="seconds the profiled phase lasts at most"
    )
    p.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up, not profiled (default 2)")
    p.add_argument("--concurrency", type=int, default=1)
    p.add_argument("--interval-ms", type=float, default=1.0,
                   help="the in-process sampler's timer, in ms of the main thread's CPU (the kernel's tick "
                        "bounds it: ~4 ms at HZ=250)")  # fmt: skip
    p.add_argument("--py-spy", help="sample with this py-spy binary instead ('auto': on PATH or in the venv)")
    p.add_argument("--py-spy-rate", type=int, default=1000, help="py-spy samples per second (default 1000)")
    p.add_argument("--observability", choices=tuple(OBSERVABILITY), default="default",
                   help="as bench/run.py's: default (access log at info, metrics on), off, or on (traces "
                        "exported over OTLP to a local sink too: with `--scenario budgeted`, bench.run's "
                        "`features`)")  # fmt: skip
    p.add_argument(
        "--config", default=str(BENCH / "config.yaml"), help="config template (upstream port rewritten)"
    )
    p.add_argument("--api-key", default="sk-bench-master")
    p.add_argument("--gateway-cpus", help="CPUs for the gateway (default: the first allowed one)")
    p.add_argument("--load-cpus", help="CPUs for loadgen + mock upstream (default: the others)")
    p.add_argument("--no-pin", action="store_true", help="do not pin CPU affinity")
    p.add_argument("--json", help="where to write the report (default: bench/results/layers-<scenario>.json)")
    p.add_argument("--work", default=str(WORK),
                   help=f"the run's own directory (config, ledger, logs), emptied first (default {WORK}); "
                        "give each of runs at the same time its own")  # fmt: skip
    args = p.parse_args(argv)
    report = profile(args)
    path = Path(args.json or RESULTS / f"layers-{args.scenario}.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    lat = report.get("latency_ms") or {}
    print(
        f"{report['scenario']} at concurrency {report['concurrency']}: {report['calls']} calls "
        f"({report['errors']} failed), {report['rps'] or 0:.0f} rps, "
        f"p50 {lat.get('p50', float('nan')):.3f} ms; "
        f"sampler {report['sampler']}, {report['samples']} samples; speed probe "
        f"{report['speed_probe_ms']['before']} / {report['speed_probe_ms']['after']} ms (before / after)\n"
    )
    print(render(report))
    print(f"\nreport: {path}")
    return 1 if report["errors"] or not report["calls"] else 0


if __name__ == "__main__":
    sys.exit(main())
