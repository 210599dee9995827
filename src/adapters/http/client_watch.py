"""How the server tells a streamed reply that its client left, without a task waiting on `receive()`."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

CLIENT_WATCH = "switchyard.client_watch"
"""The scope key of the request's ClientWatch, where the server provides one."""


class ClientWatch:
    """Calls what is added to it when the client's connection is lost (at once if it already is)."""

    __slots__ = ("_callbacks", "lost")

    def __init__(self) -> None:
        self.lost = False
        self._callbacks: list[Callable[[], object]] = []

    def add(self, callback: Callable[[], object]) -> None:
        if self.lost:
            callback()
        else:
            self._callbacks.append(callback)

    def discard(self, callback: Callable[[], object]) -> None:
        with contextlib.suppress(ValueError):
            self._callbacks.remove(callback)

    def connection_lost(self) -> None:
        self.lost = True
        callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback()
