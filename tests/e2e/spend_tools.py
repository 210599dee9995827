"""Helpers of the money tests: a gateway process the test may kill, a TCP proxy the test may cut, and the
ledger read straight from the database."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import yaml

from adapters.persistence.database import Database
from domain.spend import SpendLogQuery, SpendRecord
from tests.e2e.conftest import free_port, wait_healthy


class Gateway:
    """`switchyard serve` in its own process, which a test may stop gently or kill outright."""

    def __init__(self, config: dict, directory: Path, environment: dict[str, str] | None = None) -> None:
        path = directory / "config.yaml"
        path.write_text(yaml.safe_dump(config))
        env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
        for name in ("SWITCHYARD_MASTER_KEY", "REDIS_URL", "DATABASE_URL", "SWITCHYARD_REDIS_PREFIX"):
            env.pop(name, None)
        env.update(environment or {})
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "switchyard.cli", "serve", "--config", str(path), "--host", "127.0.0.1",
             "--port", str(self.port)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        wait_healthy(self.url, self.process)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=15)


@contextmanager
def gateway(config: dict, directory: Path, environment: dict[str, str] | None = None) -> Iterator[Gateway]:
    started = Gateway(config, directory, environment)
    try:
        yield started
    finally:
        started.stop()


def ledger_records(database_url: str, **filters: object) -> list[SpendRecord]:
    """Every spend record the database holds (matching `filters`), read with the ledger adapter."""

    async def read() -> list[SpendRecord]:
        database = Database.open(database_url, pool_size=1)
        try:
            query = SpendLogQuery(limit=100_000, **filters)  # type: ignore[arg-type]
            return await database.spend_ledger("reader").logs(query)
        finally:
            await database.close()

    return asyncio.run(read())


class CuttableProxy:
    """A TCP proxy to `target` whose connections the test can cut, and whose port refuses new ones while
    cut: a database outage, as the gateway sees it."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._open = threading.Event()
        self._open.set()
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._listen()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _listen(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        listener.settimeout(0.1)
        self._listener = listener

    def _accept(self) -> None:
        while True:
            listener = self._listener
            if listener is None:
                return
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                if not self._open.wait(0.1):
                    continue
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(source, sink), daemon=True).start()

    def cut(self) -> None:
        """Closes every connection and refuses new ones."""
        self._open.clear()
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        with self._lock:
            for sock in self._sockets:
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._sockets.clear()

    def restore(self) -> None:
        self._listen()
        self._open.set()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.cut()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (source, sink):
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
