"""The library's cost, measured in a fresh process (the `library` scenario of bench/run.py):

    python -m bench.library_probe import                      # {"import_s": .., "rss_mb": ..}
    python -m bench.library_probe chat --config C --calls N   # {"cpu_ms_per_call": .., ...}

`import` times `from switchyard import Switchyard` (the statement alone, not the interpreter's start) and
reads the process's VmRSS right after it. `chat` builds the library from a config (bench-chat at the mock
upstream), makes --warmup calls, then --calls calls one after the other, and divides the process's CPU
(all threads: the spend writer's too) over them by the calls.
"""

from __future__ import annotations

import argparse
import json
import sys
import time


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        kb = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    return round(kb / 1024, 1)


def measure_import() -> dict:
    t0 = time.perf_counter()
    from switchyard import Switchyard  # noqa: F401 - what is measured

    return {"import_s": round(time.perf_counter() - t0, 4), "rss_mb": _rss_mb()}


async def measure_chat(config: str, calls: int, warmup: int) -> dict:
    from bench.loadgen import CHAT_BODY
    from switchyard import Switchyard

    async with Switchyard.from_config(config) as gateway:
        for _ in range(warmup):
            await gateway.chat(**CHAT_BODY)
        cpu0, t0 = time.process_time(), time.perf_counter()
        for _ in range(calls):
            reply = await gateway.chat(**CHAT_BODY)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - t0
    return {
        "calls": calls,
        "cpu_ms_per_call": round(cpu / calls * 1000, 4),
        "wall_ms_per_call": round(wall / calls * 1000, 4),
        "rss_mb": _rss_mb(),
        "reply": reply.choices[0].message.content[:60],
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    p.add_argument("what", choices=["import", "chat"])
    p.add_argument("--config", help="chat: the gateway config (bench-chat pointing at the mock)")
    p.add_argument("--calls", type=int, default=2000)
    p.add_argument("--warmup", type=int, default=200)
    args = p.parse_args(argv)
    if args.what == "import":
        result = measure_import()
    else:
        import asyncio  # not before the import is measured: the library's own import pays for it

        result = asyncio.run(measure_chat(args.config, args.calls, args.warmup))
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
