"""A start leaves the database to the background: its location is known without SQLAlchemy, and a server
stopped while SQLAlchemy still loads lets go of it at once."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from adapters.persistence.location import sqlite_file
from bootstrap.resources import in_daemon_thread


@pytest.mark.parametrize(
    "url",
    [
        "sqlite+aiosqlite:///switchyard.db",
        "sqlite+aiosqlite:////var/lib/switchyard/switchyard.db",
        "sqlite:///relative/dir/gateway.db?timeout=5",
        "sqlite+aiosqlite:////tmp/with%20space.db",
        "sqlite+aiosqlite://",
        "sqlite+aiosqlite:///:memory:",
        "postgresql+asyncpg://postgres@127.0.0.1:5432/test",
    ],
)
def test_the_sqlite_file_is_read_from_a_url_as_sqlalchemy_reads_it(url: str) -> None:
    parsed = make_url(url)
    read = parsed.database if parsed.get_backend_name() == "sqlite" else None
    assert sqlite_file(url) == (Path(read) if read not in (None, "", ":memory:") else None)


async def test_work_in_a_daemon_thread_hands_back_its_result_or_its_error() -> None:
    assert await in_daemon_thread(int, "7") == 7
    with pytest.raises(ValueError):
        await in_daemon_thread(int, "seven")


def _stop_early(tmp_path: Path, work: float, linger: float) -> subprocess.CompletedProcess[str]:
    """A process whose event loop gives up on `work` seconds of background work after 0.05 s, then
    lingers `linger` seconds after its loop closed."""
    script = tmp_path / "stop.py"
    script.write_text(
        "import asyncio, time\n"
        "from bootstrap.resources import in_daemon_thread\n"
        "async def main():\n"
        f"    task = asyncio.create_task(in_daemon_thread(time.sleep, {work}))\n"
        "    await asyncio.sleep(0.05)\n"
        "    task.cancel()\n"
        "    try:\n"
        "        await task\n"
        "    except asyncio.CancelledError:\n"
        "        print('cancelled')\n"
        "asyncio.run(main())\n"
        f"time.sleep({linger})\n"
    )
    return subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=50, check=True
    )


def test_a_process_stopped_while_background_work_runs_exits_without_waiting_for_it(tmp_path: Path) -> None:
    started = time.monotonic()
    done = _stop_early(tmp_path, work=60, linger=0)
    assert done.stdout.strip() == "cancelled"
    assert time.monotonic() - started < 20  # the work would hold it 60 s


def test_background_work_that_ends_after_its_loop_closed_goes_nowhere_quietly(tmp_path: Path) -> None:
    done = _stop_early(tmp_path, work=0.3, linger=1)
    assert done.stdout.strip() == "cancelled"
    assert done.stderr == ""
