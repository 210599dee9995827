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
