"""Speech as the caller gets it: its audio passed through, the call recorded and metered once it ends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from application.metering import CallMeter
from domain.completions import Usage
from domain.deployments import Deployment
from domain.errors import ClientClosedRequestError, SwitchyardError

if TYPE_CHECKING:
    from application.completions import Completions


class MeteredAudio(AsyncIterator[bytes]):
    """Passes the upstream's audio through and records the call once, when the audio ends however it
    ends: whole, failed upstream (that error), or closed before its end because the caller left (a 499,
    which is no fault of the deployment's). Its upstream seconds cover the opening and every read. The
    input's characters are billed whatever the ending: the upstream took them all when it accepted the
    call. Closing it (`aclose`) closes the upstream's reply, and records the call if nothing did."""

    def __init__(
        self,
        audio: AsyncIterator[bytes],
        owner: Completions,
        *,
        call_id: str,
        call_type: str,
        deployment: Deployment,
        started: float,
        opened_in: float,
        usage: Usage,
        meter: CallMeter | None,
    ) -> None:
        self._audio = audio
        self._owner = owner
        self._call_id = call_id
        self._call_type = call_type
        self._deployment = deployment
        self._started = started
        self._upstream = opened_in
        """Seconds waited on the upstream: opening, then each read."""
        self._usage = usage
        self._meter = meter
        self._retries = 0
        self._fallbacks = 0
        self._ended = False

    def routed(self, retries: int, fallbacks: int) -> None:
        self._retries, self._fallbacks = retries, fallbacks

    def __aiter__(self) -> MeteredAudio:
        return self

    async def __anext__(self) -> bytes:
        clock = self._owner.clock
        asked = clock.monotonic()
        try:
            piece = await anext(self._audio)
        except StopAsyncIteration:
            self._upstream += clock.monotonic() - asked
            await self._finish(None)
            raise
        except SwitchyardError as exc:
            self._upstream += clock.monotonic() - asked
            deployment = self._deployment
            await self._finish(
                exc.at(provider=deployment.provider, model=deployment.model_name, deployment=deployment.id)
            )
            raise
        self._upstream += clock.monotonic() - asked
        return piece

    async def aclose(self) -> None:
        try:
            await self._audio.aclose()  # type: ignore[attr-defined]
        finally:
            await self._finish(ClientClosedRequestError("The caller left before the audio ended."))

    async def _finish(self, error: SwitchyardError | None) -> None:
        if self._ended:
            return
        self._ended = True
        owner, deployment, usage = self._owner, self._deployment, self._usage
        owner.record(self._call_id, self._call_type, deployment, self._started, usage, error)
        upstream_failure = None if isinstance(error, ClientClosedRequestError) else error
        await owner.stream_ended(deployment, self._started, usage, upstream_failure)
        metering, meter = owner.metering, self._meter
        if metering is None or meter is None:
            return
        if error is None:
            await metering.succeeded(
                meter, deployment, usage, retries=self._retries, fallbacks=self._fallbacks,
                upstream_seconds=self._upstream,
            )  # fmt: skip
        else:
            await metering.failed(meter, error, deployment, usage, upstream_seconds=self._upstream)
