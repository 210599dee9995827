"""The workers' own listening sockets (`serve --workers N`): connections spread, the address guarded."""

from __future__ import annotations

import pickle
import socket

import pytest

from switchyard.listeners import WorkerListeners, reserve, spreads_connections

pytestmark = pytest.mark.skipif(not spreads_connections(), reason="SO_REUSEPORT spreads them on Linux only")

HOST = "127.0.0.1"


def _listening(listeners: WorkerListeners) -> socket.socket:
    (sock,) = list(listeners)
    sock.listen(128)
    sock.setblocking(False)
    return sock


def _accepted(sock: socket.socket) -> int:
    count = 0
    while True:
        try:
            conn, _ = sock.accept()
        except BlockingIOError:
            return count
        conn.close()
        count += 1


def test_the_workers_each_get_a_share_of_a_burst_of_connections() -> None:
    with reserve(HOST, 0) as held:
        port = held.getsockname()[1]
        listeners = WorkerListeners(HOST, port)
        # What each worker gets: the object unpickled, as uvicorn's spawned workers receive it.
        workers = [_listening(pickle.loads(pickle.dumps(listeners))) for _ in range(2)]
        clients = [socket.create_connection((HOST, port)) for _ in range(64)]
        try:
            counts = [_accepted(sock) for sock in workers]
        finally:
            for sock in [*clients, *workers]:
                sock.close()

    # A shared socket would give them all to whichever worker woke first; hashing over two sockets gives
    # each about half (all 64 to one of them: a chance of 2 in 2**64).
    assert sum(counts) == 64
    assert min(counts) > 0


def test_a_worker_binds_its_socket_once_and_ships_none() -> None:
    with reserve(HOST, 0) as held:
        listeners = WorkerListeners(HOST, held.getsockname()[1])
        first = list(listeners)
        shipped = list(pickle.loads(pickle.dumps(listeners)))
        try:
            assert list(listeners) == first  # uvicorn iterates again for its messages and its shutdown
            assert shipped[0].fileno() != first[0].fileno()  # the next worker's copy binds its own
        finally:
            for sock in [*first, *shipped]:
                sock.close()


def test_an_address_something_listens_on_is_refused() -> None:
    with socket.socket() as other:
        other.bind((HOST, 0))
        other.listen()
        with pytest.raises(OSError):
            reserve(HOST, other.getsockname()[1]).close()


def test_a_reserved_port_of_zero_is_a_real_port() -> None:
    with reserve(HOST, 0) as held:
        assert held.getsockname()[1] > 0
