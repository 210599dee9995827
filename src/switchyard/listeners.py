"""The listening sockets of `switchyard serve --workers N`: a socket per worker, the kernel spreading the
connections over them.

uvicorn's own way binds one socket in the serving process and every worker accepts from it. A worker that
wakes takes every connection waiting, so a burst of new connections (a client's pool opening, a load
balancer reconnecting) lands mostly on one worker, and it keeps them: the benchmark's 32 keep-alive
connections were seen split 30 to 2, 24 to 8 and 15 to 17 in three runs, and two workers answered fewer
requests per second than one. With SO_REUSEPORT each worker listens on a socket of its own on the same
address and the kernel hashes each new connection to one of them, which is what nginx's `reuseport` and
gunicorn's `reuse_port` do.

The serving process binds the address first without listening on it: the port is taken at once (an address
in use fails there, before any worker starts), a port of 0 becomes a real one the workers share, and no
other program can take the address while a worker restarts. Linux only: elsewhere SO_REUSEPORT does not
spread connections, and uvicorn's shared socket is used.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator


def spreads_connections() -> bool:
    """Whether this system spreads connections over sockets sharing a port (Linux's SO_REUSEPORT)."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def reserve(host: str, port: int) -> socket.socket:
    """A socket bound to the address, not listening: it holds the port for the workers' own sockets.
    Raises OSError when the address is in use or can't be bound.

    SO_REUSEPORT would let this bind beside any program of the same user already listening there (a
    second gateway started by mistake would quietly take half of the first one's connections), so the
    address is first bound as a plain socket would bind it, which fails where anything listens."""
    with _plain(host, port) as probe:
        probe.bind((host, port))
        port = probe.getsockname()[1]
    return _bound(host, port)


class WorkerListeners:
    """What uvicorn hands each worker process to serve on, in place of its list of shared sockets.

    uvicorn pickles the list into every worker it spawns (at start, and for a worker that replaces one
    that died) and the worker iterates it to listen. This one carries only the address: the first
    iteration in a worker binds that worker's own socket, later ones (uvicorn's start message, its
    shutdown) see the same socket."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._sockets: list[socket.socket] = []

    def __iter__(self) -> Iterator[socket.socket]:
        if not self._sockets:
            self._sockets.append(_bound(self.host, self.port))
        return iter(self._sockets)

    def __getstate__(self) -> dict[str, object]:
        return {"host": self.host, "port": self.port, "_sockets": []}  # a worker binds its own


def _plain(host: str, port: int) -> socket.socket:
    """A TCP socket for the host's family, as uvicorn makes it (SO_REUSEADDR: a port whose last
    connections are still in TIME_WAIT can be bound again)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET  # as uvicorn reads a host
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    return sock


def _bound(host: str, port: int) -> socket.socket:
    sock = _plain(host, port)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    return sock
