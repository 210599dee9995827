"""The benchmark's processes: starting and stopping them, their CPU and memory from /proc, the gateway's
environment and config per observability mode, and the CPU speed probe (used by bench/run.py and
bench/launches.py)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
HOST = "127.0.0.1"


# --- /proc helpers ---------------------------------------------------------------------------------
def _stat_fields(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    return data[data.rfind(b")") + 2 :].decode().split()  # fields from `state` (field 3) on


def process_tree(root: int) -> list[int]:
    """root and all its descendants (uvicorn workers, multiprocessing helpers...)."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        fields = _stat_fields(int(name))
        if fields:
            children.setdefault(int(fields[1]), []).append(int(name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, ()))
    return out


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime (all threads) summed over the processes, from /proc/<pid>/stat."""
    ticks = 0
    for pid in pids:
        fields = _stat_fields(pid)
        if fields:
            ticks += int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5)
    return ticks / CLK_TCK


def settle(pids: list[int], interval: float = 0.2, idle_share: float = 0.1, limit: float = 20.0) -> float:
    """Waits until the processes' CPU use falls to idle (under `idle_share` of a core over two intervals
    in a row): the work a load left behind (the spend ledger catching up with its journal, a cache's
    stores, ...) is part of what its calls cost. Seconds waited (at most `limit`)."""
    started = time.monotonic()
    last, quiet = cpu_seconds(pids), 0
    while quiet < 2 and time.monotonic() - started < limit:
        time.sleep(interval)
        now = cpu_seconds(pids)
        quiet = quiet + 1 if now - last <= idle_share * interval else 0
        last = now
    return time.monotonic() - started


def _status_kb(pid: int, key: str, path: str = "status") -> int:
    try:
        with open(f"/proc/{pid}/{path}") as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def memory_mb(root: int) -> dict:
    pids = process_tree(root)
    rss = sum(_status_kb(p, "VmRSS:") for p in pids)
    pss = sum(_status_kb(p, "Pss:", "smaps_rollup") for p in pids)
    return {
        "rss_mb": round(rss / 1024, 1),
        "pss_mb": round(pss / 1024, 1) if pss else None,
        "processes": len(pids),
    }


def settled_memory_mb(root: int, *, at_most: float = 5.0, step: float = 0.25) -> dict:
    """`memory_mb` once the start has settled: the tree back to one process (the price lookup's child
    gone) and its RSS steady over one `step` (the work a start leaves for after it answers, such as
    loading the database driver, done), or after `at_most` seconds."""
    deadline = time.monotonic() + at_most
    last = memory_mb(root)
    while time.monotonic() < deadline:
        time.sleep(step)
        now = memory_mb(root)
        if now["processes"] == 1 and abs(now["rss_mb"] - last["rss_mb"]) < 0.5:
            return now
        last = now
    return last


def wait_ready(port: int, timeout: float = 15.0) -> None:
    """Until `/health/readiness` answers 200: the database opened (and, on a fresh file, created and
    migrated), which a start does in the background once it answers. A launch stopped before that would
    leave the migration to the next one."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if http_get(port, "/health/readiness", timeout=2.0)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.02)


def compile_bytecode(source: Path) -> None:
    """Writes the bytecode of `source` (as an installed package has it): with PYTHONDONTWRITEBYTECODE
    set, as on this machine, a start would otherwise compile every module from source (~0.3 s)."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(source)], check=True)


# --- processes ---------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def pin(cpus: set[int] | None):  # type: ignore[no-untyped-def]
    if not cpus:
        return None
    return lambda: os.sched_setaffinity(0, cpus)


def stop_process(proc: subprocess.Popen, timeout: float = 5.0) -> None:
    """SIGTERM the process group we created for proc (start_new_session), SIGKILL it if it lingers."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


def start_helper(module: str, port: int, cpus: set[int] | None, log: Path) -> tuple[subprocess.Popen, int]:
    """A server of the bench (the mock upstream, the OTLP sink) in its own process on `cpus`; it prints
    `READY <port>` once listening."""
    proc = subprocess.Popen(
        [sys.executable, "-m", module, "--host", HOST, "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=open(log, "w"),  # noqa: SIM115 - the child owns it
        preexec_fn=pin(cpus),
        start_new_session=True,
    )
    ready, _, _ = select.select([proc.stdout], [], [], 15)
    line = proc.stdout.readline().decode() if ready else ""
    if not line.startswith("READY"):
        stop_process(proc)
        raise SystemExit(f"{module} did not start; see {log}")
    return proc, int(line.split()[1])


def http_get(port: int, path: str, timeout: float = 1.0) -> tuple[int, bytes]:
    with socket.create_connection((HOST, port), timeout=timeout) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    status = int(data[9:12]) if data.startswith(b"HTTP/") else 0
    return status, data.partition(b"\r\n\r\n")[2]


def start_gateway(
    cmd: list[str],
    port: int,
    health: str,
    cpus: set[int] | None,
    log: IO,
    timeout: float,
    env: dict[str, str] | None = None,
    cwd: Path = ROOT,
) -> tuple[subprocess.Popen, float]:
    """Launch and poll `health` every 5 ms; seconds from launch to the first 200."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        cwd=cwd,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=pin(cpus),
        start_new_session=True,
    )
    while True:
        try:
            status, _ = http_get(port, health, timeout=2.0)
            if status == 200:
                return proc, time.perf_counter() - t0
        except OSError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(f"gateway exited with code {proc.returncode} before it was healthy")
        if time.perf_counter() - t0 > timeout:
            stop_process(proc)
            raise RuntimeError(f"gateway not healthy after {timeout:.0f}s")
        time.sleep(0.005)


def generate_key(port: int, master_key: str, *, budgeted: bool = False, guarded: bool = False) -> str:
    """A virtual key for the `keyed` scenario: a model list and limits far above what a run reaches, so
    every call pays for the checks and none is refused. `budgeted` (the `budgeted` scenario) adds a
    budget, a per-model budget and a daily window, far above what a run spends; `guarded` (the `guarded`
    scenario) the config's two guardrails."""
    body: dict[str, object] = {
        "models": ["bench-chat"],
        "rpm_limit": 100_000_000,
        "tpm_limit": 100_000_000_000,
        "max_parallel_requests": 10_000,
        "key_alias": f"bench-{os.getpid()}-{time.time_ns()}",
    }
    if budgeted:
        body.update(max_budget=1_000_000, budget_duration="1d", model_max_budget={"bench-chat": 1_000_000})
    if guarded:
        body["guardrails"] = ["bench-pii", "bench-secrets"]
    request = urllib.request.Request(
        f"http://{HOST}:{port}/key/generate",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {master_key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())["key"]


def server_stats(port: int) -> dict | None:
    """What a bench server (the mock upstream, the OTLP sink) says it has served: its GET /__stats."""
    try:
        status, body = http_get(port, "/__stats")
        return json.loads(body) if status == 200 else None
    except (OSError, ValueError):
        return None


def upstream_requests(port: int) -> int | None:
    stats = server_stats(port)
    return stats.get("requests") if stats else None


# --- observability ------------------------------------------------------------------------------------
OBSERVABILITY = {
    "default": "as configured: access log at info, metrics on, tracing only if OTEL_* is set",
    "off": "logs at warning so no access log, metrics off, no tracing",
    "on": "access log at info, metrics on, traces over OTLP http/protobuf to a local sink",
}


def gateway_environment(mode: str, sink_port: int | None) -> dict[str, str] | None:
    """The gateway's environment for `--observability` (None: this process's, as it is)."""
    if mode == "default":
        return None
    env = {name: value for name, value in os.environ.items() if not name.startswith("OTEL_")}
    env["SWITCHYARD_LOG_LEVEL"] = "info" if mode == "on" else "warning"
    if mode == "on":
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = f"http://{HOST}:{sink_port}"
        env["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf"
        env["OTEL_SERVICE_NAME"] = "switchyard-bench"
    return env


def gateway_config(template: str, upstream_port: int, mode: str) -> str:
    """The config template with the mock's port, and `general_settings.metrics: false` when off."""
    text = re.sub(r"(api_base:\s*https?://[^:/\s]+:)\d+", rf"\g<1>{upstream_port}", template)
    if mode != "off":
        return text
    import yaml  # the gateway's dependency: only this mode needs it

    config = yaml.safe_load(text) or {}
    config["general_settings"] = {**(config.get("general_settings") or {}), "metrics": False}
    return yaml.safe_dump(config, sort_keys=False)


def cached_config(text: str) -> str:
    """The gateway's config with the response cache on (in memory, entries without a ttl)."""
    import yaml  # the gateway's dependency: only the cached scenarios need it

    config = yaml.safe_load(text) or {}
    settings = config.get("litellm_settings") or {}
    config["litellm_settings"] = {**settings, "cache": True, "cache_params": {"type": "local"}}
    return yaml.safe_dump(config, sort_keys=False)


# --- CPU speed probe ---------------------------------------------------------------------------------
_PROBE_DOC = {
    "model": "bench-chat",
    "messages": [{"role": "user", "content": "What is the capital of France? " * 4}] * 4,
    "temperature": 0.2,
    "choices": [{"index": i, "delta": {"content": "token"}, "finish_reason": None} for i in range(8)],
}


def speed_probe(cpus: set[int] | None) -> float:
    """ms for a fixed pure-Python workload (JSON round trips) on `cpus`, best of 5.

    A shared or throttled host makes the gateway slower without any change in its code; this number moves
    with it, so runs (and phases within a run) can be compared for the speed of the CPU they had.
    """
    before = os.sched_getaffinity(0)
    if cpus:
        os.sched_setaffinity(0, cpus)
    try:
        best = float("inf")
        for _ in range(5):
            t = time.perf_counter()
            for _ in range(200):
                json.loads(json.dumps(_PROBE_DOC))
            best = min(best, time.perf_counter() - t)
    finally:
        os.sched_setaffinity(0, before)
    return round(best * 1000, 3)
