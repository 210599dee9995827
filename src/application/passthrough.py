"""Pass-through calls: a provider's own API relayed under the caller's virtual key, with the provider
credential injected, the caller's limits applied and one spend record per call."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass

from application.access import Gatekeeper, Ticket
from application.metering import Metering
from application.passthrough_usage import UsageTap, model_of
from domain.access import Principal
from domain.deployments import Deployment
from domain.errors import AuthenticationError, BadRequestError
from domain.passthrough import (
    PROVIDER_ROUTES,
    Headers,
    RelayReply,
    RelayRequest,
    outgoing_headers,
    returned_headers,
    upstream_url,
)
from ports.clock import Clock
from ports.passthrough import PassThrough


@dataclass(frozen=True, slots=True)
class Target:
    """Where one provider's pass-through calls go, and with which credential."""

    provider: str
    base: str
    credential: str
    deployment: Deployment


@dataclass(frozen=True, slots=True)
class PassThroughCall:
    provider: str
    method: str
    path: str
    """The provider's own path, from its host root."""
    query: str
    headers: Headers
    body: bytes


@dataclass(frozen=True, slots=True)
class Relayed:
    status: int
    headers: Headers
    body: AsyncIterator[bytes]
    """Yields the upstream's bytes as they come; the call is metered and released once it ends."""


def target_for(provider: str, deployments: Iterable[Deployment], environ: Mapping[str, str]) -> Target:
    """The `use_in_pass_through` deployment's api_base and key, else `<PROVIDER>_API_BASE` and the
    provider's key variable, else its public endpoint. 401 naming what is missing when no key is set (the
    caller's key is never sent in its place); 400 when there is no endpoint to send to."""
    route = PROVIDER_ROUTES[provider]
    chosen = next((d for d in deployments if d.provider == provider and d.use_in_pass_through), None)
    base = (chosen.api_base if chosen else None) or environ.get(route.base_env) or route.public_base
    key = chosen.credentials.api_key if chosen else None
    credential = key.value if key is not None else environ.get(route.key_env)
    if not credential:
        raise AuthenticationError(
            f"No {provider} credential for pass-through: set {route.key_env} or an api_key on a "
            f"{provider} deployment with use_in_pass_through: true.",
            code="passthrough_credential_missing",
        )
    if not base:
        raise BadRequestError(
            f"No {provider} endpoint for pass-through: set {route.base_env} or an api_base on a "
            f"{provider} deployment with use_in_pass_through: true.",
            code="passthrough_endpoint_missing",
        )
    placeholder = Deployment(
        id=f"passthrough-{provider}", model_name=provider, provider=provider, upstream_model=""
    )
    return Target(provider, base, credential, chosen or placeholder)


class PassThroughCalls:
    """Relays each call to its provider's target, admitted through the Gatekeeper against the model it
    names (or the caller's own limits when it names none)."""

    def __init__(
        self,
        *,
        relay: PassThrough,
        gatekeeper: Gatekeeper,
        metering: Metering,
        deployments: Callable[[], Iterable[Deployment]],
        environ: Mapping[str, str],
        clock: Clock,
    ) -> None:
        self._relay = relay
        self._gatekeeper = gatekeeper
        self._metering = metering
        self._deployments = deployments
        self._environ = environ
        self._clock = clock

    async def call(self, principal: Principal, call: PassThroughCall, *, call_id: str) -> Relayed:
        deployments = list(self._deployments())
        target = target_for(call.provider, deployments, self._environ)
        model = model_of(call.path, call.body)
        ticket = await self._gatekeeper.admit(principal, model, call_id=call_id)
        started = self._clock.now()
        request = RelayRequest(
            call.method,
            upstream_url(target.base, call.path, call.query),
            outgoing_headers(call.headers, PROVIDER_ROUTES[call.provider].key_header, target.credential),
            call.body,
            target.deployment.limits.timeout,
        )
        try:
            reply = await self._relay.open(request)
        except BaseException:
            ticket.release()
            raise
        priced = _priced(target, model, deployments)
        return Relayed(
            reply.status,
            returned_headers(reply.headers),
            self._metered(reply, ticket, priced, call, started, call_id, model),
        )

    async def _metered(
        self,
        reply: RelayReply,
        ticket: Ticket,
        deployment: Deployment,
        call: PassThroughCall,
        started: float,
        call_id: str,
        model: str | None,
    ) -> AsyncIterator[bytes]:
        content_type = next((v for n, v in reply.headers if n.lower() == "content-type"), "")
        tap = UsageTap(content_type.lower())
        status = reply.status
        try:
            async for chunk in reply.body:
                tap.feed(chunk)
                yield chunk
        except BaseException:
            status = 499 if status < 400 else status
            raise
        finally:
            await reply.close()
            usage = tap.usage()
            metered = await self._metering.relayed(
                call_id=call_id,
                call_type=f"passthrough.{call.provider}",
                model=model or call.provider,
                caller=ticket.caller,
                deployment=deployment,
                usage=usage,
                started_at=started,
                status_code=status,
            )
            ticket.release(usage.total_tokens if usage is not None else 0, metered.total)


def _priced(target: Target, model: str | None, deployments: list[Deployment]) -> Deployment:
    """The deployment a call is priced as: the configured one serving `model` upstream (its config prices
    first), else the model at the catalog's prices."""
    if model is None or model == target.deployment.upstream_model:
        return target.deployment
    for deployment in deployments:
        if deployment.provider == target.provider and deployment.upstream_model == model:
            return deployment
    return Deployment(
        id=target.deployment.id,
        model_name=model,
        provider=target.provider,
        upstream_model=model,
    )
