"""Pass-through calls: a provider's own API relayed under the caller's virtual key, with the provider
credential injected, the caller's limits applied and one spend record per call."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from decimal import Decimal

from application.access import Gatekeeper, Ticket
from application.metering import Metering
from application.passthrough_usage import UsageTap, header_usage, model_of, stated_cost
from domain.access import Principal, require_passthrough_route
from domain.completions import Usage
from domain.deployments import Deployment
from domain.errors import AuthenticationError, BadRequestError, NotFoundError
from domain.frozen import frozen
from domain.passthrough import (
    CUSTOM,
    PROVIDER_ROUTES,
    CustomRoute,
    Headers,
    RelayReply,
    RelayRequest,
    custom_route_of,
    header,
    outgoing_headers,
    relayed_headers,
    returned_headers,
    upstream_url,
)
from ports.clock import Clock
from ports.passthrough import PassThrough, PassThroughSigner, ReplyFraming


@frozen
class Target:
    """Where one provider's pass-through calls go, and with which credential."""

    provider: str
    base: str
    credential: str
    deployment: Deployment


@frozen
class PassThroughCall:
    provider: str
    method: str
    path: str
    """The provider's own path, from its host root."""
    query: str
    headers: Headers
    body: bytes


@frozen
class Relayed:
    status: int
    headers: Headers
    body: AsyncIterator[bytes]
    """Yields the upstream's bytes as they come."""
    end: Callable[[bool], Awaitable[None]]
    """Closes the upstream reply, meters the call and releases its ticket, once, whether the body was read
    or not (a HEAD, a client gone before the reply started); told whether the client got it whole."""


def target_for(provider: str, deployments: Iterable[Deployment], environ: Mapping[str, str]) -> Target:
    """The `use_in_pass_through` deployment's api_base and key, else `<PROVIDER>_API_BASE` and the
    provider's key variable, else its public endpoint. 401 naming what is missing when no key is set (the
    caller's key is never sent in its place); 400 when there is no endpoint to send to."""
    route = PROVIDER_ROUTES.get(provider)
    if route is None:  # a signed provider whose signer is not configured
        raise NotFoundError(f"No pass-through route serves {provider}.", code="passthrough_route_missing")
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


def signed_target(provider: str, deployments: Iterable[Deployment]) -> Target:
    """The `use_in_pass_through` deployment whose credentials sign the provider's calls; 401 without one."""
    chosen = next((d for d in deployments if d.provider == provider and d.use_in_pass_through), None)
    if chosen is None:
        raise AuthenticationError(
            f"No {provider} credential for pass-through: mark a {provider} deployment with "
            "use_in_pass_through: true to sign its calls with its credentials.",
            code="passthrough_credential_missing",
        )
    return Target(provider, chosen.api_base or "", "", chosen)


class PassThroughCalls:
    """Relays each call to its provider's target (or to the operator's own route's), admitted through the
    Gatekeeper against the model it names (or the caller's own limits when it names none; a route
    needing no key is admitted as is)."""

    def __init__(
        self,
        *,
        relay: PassThrough,
        gatekeeper: Gatekeeper,
        metering: Metering,
        deployments: Callable[[], Iterable[Deployment]],
        environ: Mapping[str, str],
        clock: Clock,
        custom_routes: Sequence[CustomRoute] = (),
        signers: Sequence[PassThroughSigner] = (),
        framings: Mapping[str, Callable[[], ReplyFraming]] | None = None,
    ) -> None:
        """`framings`: by content type, how to read the binary streams some providers answer in."""
        self._relay = relay
        self._gatekeeper = gatekeeper
        self._metering = metering
        self._deployments = deployments
        self._environ = environ
        self._clock = clock
        self._custom = tuple(custom_routes)
        self._signers = {signer.provider: signer for signer in signers}
        self._framings = dict(framings or {})

    async def call(self, principal: Principal, call: PassThroughCall, *, call_id: str) -> Relayed:
        """`call.provider` is `custom` for the operator's own routes, `call.path` then the gateway's."""
        require_passthrough_route(
            principal, call.path if call.provider == CUSTOM else f"/{call.provider}{call.path}"
        )
        deployments = list(self._deployments())
        model = model_of(call.path, call.body)
        if call.provider == CUSTOM:
            route, request, target = self._custom_request(call)
            group = model or route.path
            # The operator's route names no model of ours; one needing no key admits its callers as is.
            admitted = self._gatekeeper.admit(principal, None, call_id=call_id) if route.auth else None
        elif call.provider in self._signers:
            target = signed_target(call.provider, deployments)
            # Its URL and credential are the signer's to make, once the call is admitted.
            request = RelayRequest(
                call.method,
                f"{call.path}?{call.query}" if call.query else call.path,
                relayed_headers(call.headers),
                call.body,
                target.deployment.limits.timeout,
            )
            group = model or call.provider
            admitted = self._gatekeeper.admit(principal, model, call_id=call_id)
        else:
            target = target_for(call.provider, deployments, self._environ)
            request = RelayRequest(
                call.method,
                upstream_url(target.base, call.path, call.query),
                outgoing_headers(call.headers, PROVIDER_ROUTES[call.provider].key_header, target.credential),
                call.body,
                target.deployment.limits.timeout,
            )
            group = model or call.provider
            admitted = self._gatekeeper.admit(principal, model, call_id=call_id)
        ticket = await admitted if admitted is not None else Ticket(None, (), None)
        started = self._clock.now()
        try:
            if (signer := self._signers.get(call.provider)) is not None:
                request = await signer.sign(request, target.deployment)
            reply = await self._relay.open(request)
        except BaseException:
            ticket.release()
            raise
        priced = _priced(target, model, deployments)
        record = functools.partial(self._record, ticket, call, priced, group, started, call_id)
        content_type = header(reply.headers, "content-type").lower()
        framing = self._framings.get(content_type.partition(";")[0].strip())
        metered = _Metered(reply, record, UsageTap(content_type, framing() if framing else None))
        return Relayed(reply.status, returned_headers(reply.headers), metered.chunks(), metered.end)

    def _custom_request(self, call: PassThroughCall) -> tuple[CustomRoute, RelayRequest, Target]:
        found = custom_route_of(self._custom, call.path)
        if found is None:
            raise NotFoundError(
                f"No pass-through route serves {call.path}.", code="passthrough_route_missing"
            )
        route, rest = found
        placeholder = Deployment(
            id=f"passthrough-custom{route.path}", model_name=route.path, provider=CUSTOM, upstream_model=""
        )
        request = RelayRequest(
            call.method,
            route.url(rest, call.query),
            route.outgoing_headers(call.headers),
            call.body,
            placeholder.limits.timeout,
        )
        return route, request, Target(CUSTOM, route.target, "", placeholder)

    async def _record(
        self,
        ticket: Ticket,
        call: PassThroughCall,
        deployment: Deployment,
        model_group: str,
        started: float,
        call_id: str,
        usage: Usage | None,
        stated_cost: Decimal | None,
        status: int,
    ) -> None:
        metered = await self._metering.relayed(
            call_id=call_id,
            call_type=f"passthrough.{call.provider}",
            model=model_group,
            caller=ticket.caller,
            deployment=deployment,
            usage=usage,
            started_at=started,
            status_code=status,
            stated_cost=stated_cost,
        )
        ticket.release(usage.total_tokens if usage is not None else 0, metered.total)


class _Metered:
    """One relayed reply on its way: its usage read as its bytes pass, recorded once when it ends."""

    __slots__ = ("_ended", "_record", "_reply", "_tap")

    def __init__(
        self,
        reply: RelayReply,
        record: Callable[[Usage | None, Decimal | None, int], Awaitable[None]],
        tap: UsageTap,
    ) -> None:
        self._reply = reply
        self._record = record
        self._tap = tap
        self._ended = False

    async def chunks(self) -> AsyncIterator[bytes]:
        async for chunk in self._reply.body:
            # Read once handed on, so that the reply's first byte does not wait for its usage to be
            # parsed; read all the same when the reader stops here.
            try:
                yield chunk
            finally:
                self._tap.feed(chunk)

    async def end(self, whole: bool) -> None:
        if self._ended:
            return
        self._ended = True
        status = self._reply.status if whole or self._reply.status >= 400 else 499
        try:
            await self._reply.close()
        finally:
            headers = self._reply.headers
            await self._record(self._tap.usage() or header_usage(headers), stated_cost(headers), status)


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
