"""The port for relaying a provider's own API call as it is."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from domain.deployments import Deployment
from domain.passthrough import RelayReply, RelayRequest


class PassThrough(ABC):
    """Sends one request upstream exactly as given (method, URL, headers, body) and hands back the
    answer as soon as its status and headers arrive, whatever the status: the body is read as it comes,
    never buffered whole. The caller must `close` the reply. Raises `APIConnectionError` when the
    upstream cannot be reached and `TimeoutError` when it does not answer within `request.timeout`;
    a failure while the body streams ends the body's iteration with one of the same errors."""

    @abstractmethod
    async def open(self, request: RelayRequest) -> RelayReply: ...


class PassThroughSigner(ABC):
    """For a provider whose calls carry no static key (Vertex AI's OAuth token, Bedrock's SigV4
    signature): where a call goes and the credential it carries, made per call from the deployment."""

    provider: ClassVar[str]

    @abstractmethod
    async def sign(self, request: RelayRequest, deployment: Deployment) -> RelayRequest:
        """`request` with its URL (given as the provider's path and query, from its host root) made
        absolute and its credential added. Raises `AuthenticationError` when the deployment's credentials
        do not work."""


class ReplyFraming(ABC):
    """A binary framing some providers stream their replies in (AWS's event stream), read beside the relay
    so that a pass-through call's usage can be found in its events. One per reply; it keeps the bytes of
    an event cut between two reads until the rest arrives."""

    content_type: ClassVar[str]
    """The reply content type this framing decodes."""

    @abstractmethod
    def events(self, chunk: bytes) -> list[bytes]:
        """The JSON documents of the events `chunk` completed, unwrapped from their envelopes, in order.
        Raises `ValueError` when the bytes are not well-framed (the relay goes on; the usage is lost)."""
