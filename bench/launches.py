"""The scenarios that need gateway launches (or processes) of their own, for issue 18's goals: `features`,
`start-50`, `workers-2` and `library`. bench/run.py runs them after the measured launch; each writes its
config, database and gateway log under bench/results/<scenario>/. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bench.config50 import config50
from bench.processes import (
    ROOT,
    gateway_config,
    gateway_environment,
    generate_key,
    memory_mb,
    pin,
    server_stats,
    settled_memory_mb,
    speed_probe,
    start_gateway,
    start_helper,
    stop_process,
    wait_ready,
)

LAUNCHES = {
    "features": "chat with every feature on, against chat on a bare launch",
    "start-50": "start with 50 deployments over 10 providers, and with the embedded default",
    "workers-2": "chat throughput with --workers 2 against one worker",
    "library": "the library: import time and RSS, chat() CPU",
}
WORKERS_1 = re.compile(r"--workers(?:\s+|=)1\b")


@dataclass
class Bench:
    """What every launch needs from the orchestrator."""

    args: argparse.Namespace
    phase: Callable[..., dict]
    """bench.run.Load.phase: (port, scenario, concurrency, duration, server_pid, label) -> its result."""
    keys: dict[str, str]
    """bench.run.Load.keys: scenario -> the bearer key its loadgen sends."""
    template: str
    upstream_port: int
    port: int
    results: Path
    gw_cpus: set[int] | None
    all_cpus: set[int]
    env: dict[str, str] | None
    """The measured launch's environment (--observability)."""
    probes: list[float] = field(default_factory=list)
    """Speed probes taken outside the phases (start-50, library), for the run's min/median/max."""

    @property
    def concurrency(self) -> int:
        return self.args.concurrency

    def directory(self, name: str) -> Path:
        """bench/results/<name>/, emptied of a previous run's database."""
        path = self.results / name
        path.mkdir(parents=True, exist_ok=True)
        for stale in [*path.glob("*.db*"), *path.glob("switchyard-journal*")]:
            if stale.is_file():
                stale.unlink()
        return path

    def launch(
        self,
        directory: Path,
        config: Path | None,
        *,
        env: dict[str, str] | None,
        cpus: set[int] | None,
        gateway_cmd: str | None = None,
    ) -> tuple[subprocess.Popen, float]:
        """The gateway on `config` (None: the embedded default), its log appended to directory/gateway.log."""
        template = gateway_cmd or self.args.gateway_cmd
        if config is None:
            template = template.replace("--config {config}", "")
        cmd = shlex.split(template.format(config=config, host="127.0.0.1", port=self.port))
        with open(directory / "gateway.log", "a") as log:
            log.write(f"===== launch: {shlex.join(cmd)}\n")
            log.flush()
            return start_gateway(cmd, self.port, self.args.health_path, cpus, log, self.args.startup_timeout,
                                 env, cwd=directory)  # fmt: skip

    def measure(self, scenario: str, proc: subprocess.Popen, label: str) -> dict:
        """One throughput phase (concurrency N) and the gateway's memory after it."""
        c = f"c{self.concurrency}"
        result = {c: self.phase(self.port, scenario, self.concurrency, self.args.duration, proc.pid, label)}
        result["memory_after"] = memory_mb(proc.pid)
        return result


def run_features(bench: Bench) -> dict:
    """`chat` on a bare launch (master key; no access log, metrics or tracing), then, back to back, chat
    with every feature on: a virtual key with rate limits and budgets, the access log at info, metrics,
    traces exported to a local OTLP sink (the spend ledger is always on)."""
    c = f"c{bench.concurrency}"
    found: dict[str, Any] = {}
    bare_dir = bench.directory("bare")
    (bare_dir / "config.yaml").write_text(gateway_config(bench.template, bench.upstream_port, "off"))
    proc, secs = bench.launch(bare_dir, bare_dir / "config.yaml", env=gateway_environment("off", None),
                              cpus=bench.gw_cpus)  # fmt: skip
    try:
        found["bare"] = {"startup_s": round(secs, 4), **bench.measure("chat", proc, "bare")}
    finally:
        stop_process(proc)

    on_dir = bench.directory("features")
    (on_dir / "config.yaml").write_text(gateway_config(bench.template, bench.upstream_port, "on"))
    sink, sink_port = start_helper("bench.otlp_sink", 0, bench.all_cpus - (bench.gw_cpus or set()) or None,
                                   on_dir / "otlp_sink.log")  # fmt: skip
    try:
        proc, secs = bench.launch(on_dir, on_dir / "config.yaml", env=gateway_environment("on", sink_port),
                                  cpus=bench.gw_cpus)  # fmt: skip
        try:
            bench.keys["features"] = generate_key(bench.port, bench.args.api_key, budgeted=True)
            found["features"] = {"startup_s": round(secs, 4), **bench.measure("features", proc, "on")}
        finally:
            stop_process(proc)  # it exports the spans it still holds as it stops
        found["otlp_sink"] = server_stats(sink_port)
    finally:
        stop_process(sink)
    found["access_log_lines"] = _access_lines(on_dir / "gateway.log")
    on = found["features"][c].get("server_cpu_ms_per_request")
    off = found["bare"][c].get("server_cpu_ms_per_request")
    found["cpu_ratio"] = round(on / off, 3) if on and off else None
    return found


def run_start_50(bench: Bench) -> dict:
    """Start to healthy (median of --startup-runs launches, the first with a fresh database) and RSS after
    the last start: with the generated 50-deployment config, and with the embedded default config."""
    found: dict[str, Any] = {}
    big = bench.directory("start-50")
    config = big / "config.yaml"
    config.write_text(yaml.safe_dump(config50(bench.upstream_port, bench.args.api_key), sort_keys=False))
    found["deployments_50"] = {"config": str(config), **_time_starts(bench, big, config)}
    if "--config {config}" in bench.args.gateway_cmd:
        found["embedded_default"] = _time_starts(bench, bench.directory("start-default"), None)
    else:
        found["embedded_default"] = {"error": "the gateway command has no `--config {config}` to leave out"}
    return found


def _time_starts(bench: Bench, directory: Path, config: Path | None) -> dict:
    bench.probes.append(speed_probe(bench.gw_cpus))
    times, memory = [], {}
    for i in range(max(1, bench.args.startup_runs)):
        proc, secs = bench.launch(directory, config, env=bench.env, cpus=bench.gw_cpus)
        try:
            times.append(secs)
            if i == bench.args.startup_runs - 1:
                memory = settled_memory_mb(proc.pid)
            else:
                wait_ready(bench.port)  # the first creates the database: the measured one finds it
        finally:
            stop_process(proc)
        time.sleep(0.3)
    label = "embedded default" if config is None else config.parent.name
    print(f"  start   {label}: {[round(t, 3) for t in times]} s, RSS {memory.get('rss_mb')} MB",
          file=sys.stderr, flush=True)  # fmt: skip
    return {
        "startup_s": [round(t, 4) for t in times],
        "startup_s_median": round(statistics.median(times), 4),
        "memory_after_start": memory,
        "speed_probe_ms": bench.probes[-1],
    }


def run_workers_2(bench: Bench) -> dict:
    """chat at concurrency N on one worker pinned as the measured launch, then, back to back, on
    `--workers 2` with the gateway allowed on every CPU (the load side stays on its own)."""
    if not WORKERS_1.search(bench.args.gateway_cmd):
        return {"error": "the gateway command has no `--workers 1` to replace"}
    c = f"c{bench.concurrency}"
    directory = bench.directory("workers-2")
    config = directory / "config.yaml"
    config.write_text(gateway_config(bench.template, bench.upstream_port, bench.args.observability))
    found: dict[str, Any] = {"gateway_cpus_2_workers": sorted(bench.all_cpus)}
    for name, cmd, cpus in (
        ("one_worker", bench.args.gateway_cmd, bench.gw_cpus),
        ("two_workers", WORKERS_1.sub("--workers 2", bench.args.gateway_cmd), bench.all_cpus),
    ):
        proc, secs = bench.launch(directory, config, env=bench.env, cpus=cpus, gateway_cmd=cmd)
        try:
            found[name] = {
                "startup_s": round(secs, 4),
                **bench.measure("chat", proc, name.replace("_", "-")[:7]),
            }
        finally:
            stop_process(proc)
        time.sleep(0.3)
    one, two = found["one_worker"][c].get("rps"), found["two_workers"][c].get("rps")
    found["rps_ratio"] = round(two / one, 3) if one and two else None
    return found


def run_library(bench: Bench) -> dict:
    """`from switchyard import Switchyard` in --startup-runs fresh processes (time and RSS, medians), then
    chat() calls one after the other in one more against the mock (process CPU per call), on the gateway's
    CPU, with the bare config (metrics off) and environment (no tracing, logs at warning)."""
    directory = bench.directory("library")
    config = directory / "config.yaml"
    config.write_text(gateway_config(bench.template, bench.upstream_port, "off"))
    env = gateway_environment("off", None)
    bench.probes.append(speed_probe(bench.gw_cpus))
    imports = [_probe(["import"], bench, env) for _ in range(max(1, bench.args.startup_runs))]
    calls = max(200, int(bench.args.duration * 500))
    chat = _probe(["chat", "--config", str(config), "--calls", str(calls)], bench, env)
    ok = [r for r in imports if "import_s" in r]
    found = {
        "import_s": [r["import_s"] for r in ok],
        "import_s_median": statistics.median(r["import_s"] for r in ok) if ok else None,
        "import_rss_mb": [r["rss_mb"] for r in ok],
        "import_rss_mb_median": statistics.median(r["rss_mb"] for r in ok) if ok else None,
        "chat": chat,
        "speed_probe_ms": bench.probes[-1],
        "errors": [r["error"] for r in [*imports, chat] if "error" in r],
    }
    print(f"  library import {found['import_s']} s, RSS {found['import_rss_mb']} MB; chat CPU "
          f"{chat.get('cpu_ms_per_call')} ms/call", file=sys.stderr, flush=True)  # fmt: skip
    return found


def _probe(what: list[str], bench: Bench, env: dict[str, str] | None) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "bench.library_probe", *what],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=120 + bench.args.duration * 10,
        preexec_fn=pin(bench.gw_cpus),
        check=False,
    )
    if out.returncode != 0:
        return {"error": (out.stderr.decode(errors="replace").strip().splitlines() or ["?"])[-1]}
    return json.loads(out.stdout)


def _access_lines(log: Path) -> int:
    text = log.read_text(errors="replace") if log.exists() else ""
    return sum(1 for line in text.splitlines() if '"event":"call"' in line.replace(" ", ""))


RUNNERS: dict[str, Callable[[Bench], dict]] = {
    "features": run_features,
    "start-50": run_start_50,
    "workers-2": run_workers_2,
    "library": run_library,
}
