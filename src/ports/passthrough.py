"""The port for relaying a provider's own API call as it is."""

from __future__ import annotations

from abc import ABC, abstractmethod

from domain.passthrough import RelayReply, RelayRequest


class PassThrough(ABC):
    """Sends one request upstream exactly as given (method, URL, headers, body) and hands back the
    answer as soon as its status and headers arrive, whatever the status: the body is read as it comes,
    never buffered whole. The caller must `close` the reply. Raises `APIConnectionError` when the
    upstream cannot be reached and `TimeoutError` when it does not answer within `request.timeout`;
    a failure while the body streams ends the body's iteration with one of the same errors."""

    @abstractmethod
    async def open(self, request: RelayRequest) -> RelayReply: ...
