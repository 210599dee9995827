"""The server's process shares one malloc arena among its threads (glibc), whatever threads it starts."""

from __future__ import annotations

import ctypes
import subprocess
import sys
from pathlib import Path

import pytest

_SRC = Path(__file__).resolve().parents[2] / "src"

_PROGRAM = """
import ctypes, sys, threading
sys.path.insert(0, {src!r})
if {limited}:
    from switchyard.server import _one_malloc_arena
    _one_malloc_arena()
kept = []
def allocate():
    kept.append([bytearray(100_000) for _ in range(20)])
threads = [threading.Thread(target=allocate) for _ in range(4)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
ctypes.CDLL(None).malloc_stats()
"""


def _arenas(limited: bool) -> int:
    program = _PROGRAM.format(src=str(_SRC), limited=limited)
    command = [sys.executable, "-c", program]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    return sum(1 for line in done.stderr.splitlines() if line.startswith("Arena "))


@pytest.mark.skipif(not hasattr(ctypes.CDLL(None), "malloc_stats"), reason="glibc's malloc only")
def test_threads_allocating_share_the_one_arena_of_the_process() -> None:
    assert _arenas(limited=False) > 1  # glibc's own default: an arena per allocating thread
    assert _arenas(limited=True) == 1
