"""`switchyard` with an in-process CPU sampler (bench/layers.py): `python -m bench.layers_launcher serve ...`.

The sampler is armed by SIGUSR1 and stopped by SIGUSR2, which also writes what it saw as JSON to the path in
SWITCHYARD_LAYERS_OUT. While armed, a POSIX timer on the main thread's own CPU clock (timer_create through
ctypes; the kernel checks CPU timers at its tick, so ~250 samples per CPU second here) raises SIGPROF, and
the Python handler, which runs in the main thread at the next bytecode, records the main thread's stack.
Each sample is weighted by the main thread's CPU since the previous one (its CPU clock), so the weights add
up to the main thread's CPU while armed, idle time (the loop waiting in epoll) is never sampled, and the
handler's own CPU is left out and reported apart. Time in the garbage collector is measured by gc.callbacks
on the same clock and taken out of the sample it fell in. Other threads (aiosqlite's, the exporters') are
not sampled: their CPU is read from /proc per thread. Without timer_create, ITIMER_PROF (the process's CPU,
all threads) drives the samples instead.
Nothing here touches src/: the gateway runs unchanged, from `switchyard.cli.main`.
"""

from __future__ import annotations

import ctypes
import gc
import json
import os
import signal
import sys
import threading
import time

OUT_ENV = "SWITCHYARD_LAYERS_OUT"
INTERVAL_ENV = "SWITCHYARD_LAYERS_INTERVAL_S"
CLK_TCK = os.sysconf("SC_CLK_TCK")


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


class _Sigevent(ctypes.Structure):  # Linux's struct sigevent: 64 bytes, SIGEV_SIGNAL needs the first three
    _fields_ = [
        ("sigev_value", ctypes.c_void_p),
        ("sigev_signo", ctypes.c_int),
        ("sigev_notify", ctypes.c_int),
        ("_rest", ctypes.c_int * 12),
    ]


def _thread_cpu() -> dict[int, list]:
    """tid -> [name, CPU seconds] for every thread of this process, from /proc/self/task."""
    names = {t.native_id: t.name for t in threading.enumerate()}
    found: dict[int, list] = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat", "rb") as f:
                fields = f.read().rpartition(b")")[2].split()
            with open(f"/proc/self/task/{tid}/comm") as f:
                comm = f.read().strip()
        except OSError:
            continue
        cpu = (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime: fields 14 and 15 of proc(5)
        found[int(tid)] = [names.get(int(tid), comm), cpu]
    return found


class Sampler:
    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.main = threading.main_thread()
        self.clock = time.pthread_getcpuclockid(self.main.ident)
        self.timer: ctypes.c_void_p | None = None
        self.armed = False
        self.libc = ctypes.CDLL(None, use_errno=True)
        self._reset()
        gc.callbacks.append(self._on_gc)

    def _reset(self) -> None:
        self.stacks: dict[tuple, list] = {}  # code objects, innermost first -> [cpu seconds, samples]
        self.gc_s = 0.0
        self.gc_runs = [0, 0, 0]
        self._gc_start: float | None = None
        self._gc_seen = 0.0
        self.overhead_s = 0.0
        self.samples = 0

    def _now(self) -> float:
        return time.clock_gettime(self.clock)

    def _on_gc(self, phase: str, info: dict) -> None:
        if not self.armed or threading.current_thread() is not self.main:
            return
        if phase == "start":
            self._gc_start = self._now()
        elif self._gc_start is not None:
            self.gc_s += self._now() - self._gc_start
            self.gc_runs[info["generation"]] += 1
            self._gc_start = None

    def _on_tick(self, signum: int, frame) -> None:  # type: ignore[no-untyped-def]
        now = self._now()
        if not self.armed or frame.f_code is _GC_CALLBACK:
            # Inside the collector's callback the collection is not yet counted: this CPU is left for
            # the next sample, from which the collection's time is then taken out.
            return
        cpu = now - self._last - (self.gc_s - self._gc_seen)  # the collector's share is counted apart
        self._gc_seen = self.gc_s
        codes = []
        while frame is not None:
            codes.append(frame.f_code)
            frame = frame.f_back
        slot = self.stacks.setdefault(tuple(codes), [0.0, 0])
        slot[0] += max(cpu, 0.0)
        slot[1] += 1
        self.samples += 1
        self._last = self._now()
        self.overhead_s += self._last - now

    def start(self, *_: object) -> None:
        self._reset()
        self.mode = "thread-cpu-timer"
        signal.signal(signal.SIGPROF, self._on_tick)
        self._t0_wall, self._t0_cpu, self._t0_threads = time.perf_counter(), self._now(), _thread_cpu()
        self._last = self._t0_cpu
        self.armed = True
        if not self._arm_thread_timer():
            self.mode = "itimer-prof"
            signal.setitimer(signal.ITIMER_PROF, self.interval, self.interval)

    def _arm_thread_timer(self) -> bool:
        event = _Sigevent(sigev_signo=signal.SIGPROF, sigev_notify=0)  # SIGEV_SIGNAL
        timer = ctypes.c_void_p()
        libc = self.libc
        if libc.timer_create(ctypes.c_int(self.clock), ctypes.byref(event), ctypes.byref(timer)) != 0:
            return False
        ns = max(1, int(self.interval * 1e9))
        spec = _Itimerspec(_Timespec(ns // 10**9, ns % 10**9), _Timespec(ns // 10**9, ns % 10**9))
        if libc.timer_settime(timer, 0, ctypes.byref(spec), None) != 0:
            libc.timer_delete(timer)
            return False
        self.timer = timer
        return True

    def stop(self, *_: object) -> None:
        if not self.armed:
            return
        if self.timer is not None:
            self.libc.timer_delete(self.timer)
            self.timer = None
        else:
            signal.setitimer(signal.ITIMER_PROF, 0, 0)
        self.armed = False
        signal.signal(signal.SIGPROF, signal.SIG_IGN)  # a late expiry must not end the process
        wall, cpu = time.perf_counter() - self._t0_wall, self._now() - self._t0_cpu
        self.dump(wall, cpu, _thread_cpu())

    def dump(self, wall: float, main_cpu: float, threads: dict[int, list]) -> None:
        before = self._t0_threads
        main_tid = self.main.native_id
        others = [
            {"tid": tid, "name": name, "cpu_s": round(cpu - before.get(tid, [name, 0.0])[1], 4)}
            for tid, (name, cpu) in sorted(threads.items())
            if tid != main_tid
        ]
        stacks = [
            {"frames": [_frame(code) for code in reversed(codes)], "cpu_s": cpu, "samples": n}
            for codes, (cpu, n) in self.stacks.items()
        ]
        result = {
            "sampler": self.mode,
            "interval_s": self.interval,
            "wall_s": wall,
            "main_cpu_s": main_cpu,
            "sampled_cpu_s": sum(s["cpu_s"] for s in stacks),
            "sampler_overhead_s": self.overhead_s,
            "gc_s": self.gc_s,
            "gc_collections": self.gc_runs,
            "samples": self.samples,
            "other_threads": others,
            "stacks": stacks,
        }
        path = os.environ[OUT_ENV]
        with open(path + ".tmp", "w") as f:
            json.dump(result, f)
        os.replace(path + ".tmp", path)


_GC_CALLBACK = Sampler._on_gc.__code__


def _frame(code) -> str:  # type: ignore[no-untyped-def]
    """py-spy's spelling of a frame: `function (path:line)`."""
    return f"{code.co_qualname} ({code.co_filename}:{code.co_firstlineno})"


def main() -> int:
    sampler = Sampler(float(os.environ.get(INTERVAL_ENV, "0.001")))
    signal.signal(signal.SIGUSR1, sampler.start)
    signal.signal(signal.SIGUSR2, sampler.stop)
    from switchyard.cli import main as switchyard

    return switchyard(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
