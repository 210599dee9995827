"""Access on the request path: who is calling (master key, virtual key or JWT), what they may use, and
how fast they may go."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import hmac
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from application.budgets import BudgetGuard, BudgetHold
from application.identity_cache import IdentityCache
from application.sign_in_throttle import SignInThrottle
from domain.access import (
    MASTER,
    Principal,
    Via,
    attached_guardrails,
    check_key_usable,
    check_principal_usable,
    require_cache_controls,
    require_guardrails_choosable,
    require_model,
    require_route,
)
from domain.completions import CompletionChunk, CompletionRequest, Usage
from domain.embeddings import EmbeddingRequest
from domain.errors import AuthenticationError, PermissionDeniedError, RateLimitError
from domain.frozen import frozen
from domain.identity import EndUser, Role
from domain.images import ImageRequest
from domain.moderation import ModerationRequest
from domain.rate_limits import Admission, Limit, Quota, quotas_for
from domain.rerank import RerankRequest
from domain.spend import ANONYMOUS, Caller
from ports.clock import Clock
from ports.llm_provider import ChunkStream, StreamWrapper
from ports.rate_limiter import LimiterUnavailable, RateLimiter
from ports.token_verifier import TokenVerifier, looks_like_jwt


def hash_key(secret: str) -> str:
    """How a virtual key is stored and looked up: the SHA-256 hex digest of the secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


@frozen
class JwtClaims:
    """Which claims of a JWT name the caller (LiteLLM's `litellm_jwtauth` settings)."""

    user_id_field: str = "sub"
    team_id_field: str | None = None
    org_id_field: str | None = None
    end_user_id_field: str | None = None
    roles_field: str | None = None
    """A claim holding a role name or a list of them (mapped through `role_mappings` when given)."""
    role_mappings: Mapping[str, Role] = dataclasses.field(default_factory=dict)
    admin_scope: str = "litellm_proxy_admin"
    """A token whose `scope` claim includes this acts as proxy_admin."""

    def role(self, claims: Mapping[str, Any], fallback: Role) -> Role:
        scopes = claims.get("scope", "")
        scopes = scopes.split() if isinstance(scopes, str) else list(scopes or ())
        if self.admin_scope in scopes:
            return Role.PROXY_ADMIN
        named = claims.get(self.roles_field) if self.roles_field else None
        names = [named] if isinstance(named, str) else list(named or ())
        roles = [self.role_mappings.get(n) or _role(n) for n in names if isinstance(n, str)]
        found = [r for r in roles if r is not None]
        return max(found, key=lambda r: r.rank) if found else fallback


def _role(name: str) -> Role | None:
    try:
        return Role(name)
    except ValueError:
        return None


def _claim(claims: Mapping[str, Any], field: str | None) -> str | None:
    if not field:
        return None
    value = claims.get(field)
    if isinstance(value, list):
        value = value[0] if value else None
    return str(value) if value not in (None, "") else None


@frozen
class LimitsLeft:
    """What a rate-limited caller has left in the current window (the tightest of its quotas)."""

    limit_requests: int | None
    remaining_requests: int | None
    limit_tokens: int | None
    remaining_tokens: int | None
    reset_seconds: float


def limits_left(admission: Admission) -> LimitsLeft | None:
    requests = [(u.quota.rpm - u.requests, u.quota.rpm) for u in admission.usage if u.quota.rpm is not None]
    tokens = [(u.quota.tpm - u.tokens, u.quota.tpm) for u in admission.usage if u.quota.tpm is not None]
    if not requests and not tokens:
        return None
    left_requests, limit_requests = min(requests) if requests else (None, None)
    left_tokens, limit_tokens = min(tokens) if tokens else (None, None)
    return LimitsLeft(
        limit_requests,
        max(left_requests, 0) if left_requests is not None else None,
        limit_tokens,
        max(left_tokens, 0) if left_tokens is not None else None,
        admission.reset_seconds,
    )


class Ticket:
    """One admitted call: its rate-limit standing, its budget reservation, who it is charged to, and the
    release owed once it ends."""

    __slots__ = ("_gatekeeper", "_hold", "_quotas", "_released", "admission", "caller")

    def __init__(
        self,
        gatekeeper: Gatekeeper | None,
        quotas: Sequence[Quota],
        admission: Admission | None,
        hold: BudgetHold | None = None,
        caller: Caller = ANONYMOUS,
    ):
        self._gatekeeper = gatekeeper
        self._quotas = quotas
        self._hold = hold
        self.admission = admission
        self.caller = caller
        self._released = not quotas and hold is None

    def limits_left(self) -> LimitsLeft | None:
        return limits_left(self.admission) if self.admission is not None else None

    def release(self, tokens: int = 0, cost: Decimal | None = None) -> None:
        """Frees the call's slots, charges its tokens and settles its budget reservation to `cost`, off
        the request path; only the first call counts."""
        if self._released or self._gatekeeper is None:
            return
        self._released = True
        self._gatekeeper._release_soon(self._quotas, tokens, self._hold, cost)

    def guard(self, stream: ChunkStream) -> ChunkStream:
        """The stream, releasing this ticket with the stream's usage and cost once it ends, however it
        ends."""
        return stream if self._released else _ReleasingStream(stream, self)


def _tokens(usage: Usage | None) -> int:
    return usage.total_tokens if usage is not None else 0


class _ReleasingStream(StreamWrapper):
    def __init__(self, inner: ChunkStream, ticket: Ticket) -> None:
        super().__init__(inner)
        self._ticket = ticket

    async def batches(self) -> AsyncIterator[Sequence[CompletionChunk]]:
        try:
            async for batch in self._inner.batches():
                yield batch
        finally:
            self._ticket.release(_tokens(self._inner.usage), self._inner.cost)

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            self._ticket.release(_tokens(self._inner.usage), self._inner.cost)


class Gatekeeper:
    """Authenticates each request and admits each call against the caller's model list and rate limits."""

    def __init__(
        self,
        *,
        identities: IdentityCache,
        limiter: RateLimiter,
        clock: Clock,
        master_key: str | None,
        verifier: TokenVerifier | None = None,
        claims: JwtClaims | None = None,
        access_groups: Callable[[], Mapping[str, frozenset[str]]] = dict,
        budgets: BudgetGuard | None = None,
    ) -> None:
        self._identities = identities
        self._budgets = budgets
        self._limiter = limiter
        # Counters in this process answer at once: releases one after another, not a task each.
        self._in_process = limiter.in_process and (budgets is None or budgets.reservations.in_process)
        self._clock = clock
        self._master_key = master_key.encode() if master_key else None
        self._verifier = verifier
        self._claims = claims or JwtClaims()
        self._access_groups = access_groups
        self._pending: list[_Release] = []
        self._releaser: asyncio.Task[None] | None = None
        self._terms: dict[tuple[int, str | None], tuple[Principal, Caller, tuple[Quota, ...]]] = {}
        self._hashes: dict[str, str] = {}
        self.sign_ins = SignInThrottle(limiter=limiter, clock=clock)
        """The console's failed sign-ins, counted by the same limiter."""

    @property
    def identities(self) -> IdentityCache:
        return self._identities

    async def authenticate(self, secret: str, path: str) -> Principal:
        """The caller presenting `secret` (a master key, a virtual key or a JWT) on route `path`.
        401 for anything not a valid, usable credential; 403 for a route the key may not call."""
        if self._master_key is not None and hmac.compare_digest(secret.encode(), self._master_key):
            return MASTER
        if self._verifier is not None and looks_like_jwt(secret):
            principal = await self._from_claims(await self._verifier.verify(secret))
            check_principal_usable(principal)
        else:
            principal = await self.key_holder(self._hash_of(secret))
        require_route(principal, path)
        return principal

    def _hash_of(self, secret: str) -> str:
        """`hash_key(secret)`, remembered for the keys presented lately: a client sends the same key on
        every call, and its SHA-256 cost 2 us of each (bounded, as the identity cache's entries are, so
        a stream of made-up keys only churns it)."""
        found = self._hashes.get(secret)
        if found is None:
            if len(self._hashes) >= _KEPT:
                self._hashes.clear()
            found = self._hashes[secret] = hash_key(secret)
        return found

    async def key_holder(self, key_hash: str) -> Principal:
        """The caller holding the virtual key stored under `key_hash` (the admin console's session keeps
        the hash, never the secret): 401 when the key is unknown, blocked or expired, or its user, team
        or organization is blocked."""
        principal = await self._identities.principal_for_key(key_hash)
        if principal is None or principal.key is None:
            raise AuthenticationError("Invalid API key.", code="invalid_api_key")
        check_key_usable(principal.key, datetime.fromtimestamp(self._clock.now(), UTC))
        check_principal_usable(principal)
        return principal

    async def console_user(self, user_id: str) -> Principal:
        """The user a console session signed in with a password, an invitation or SSO (the session keeps
        the id), with the role their record has now: 401 when the user is gone or blocked."""
        records = await self._identities.records(user_id, None, None)
        if records.user is None:
            raise AuthenticationError(f"User {user_id} no longer exists.", code="invalid_user")
        principal = Principal(
            via=Via.CONSOLE,
            role=records.user.user_role,
            user=records.user,
            organization=records.organization,
            budgets=records.budgets,
            user_id=user_id,
            organization_id=records.user.organization_id,
        )
        check_principal_usable(principal)
        return principal

    async def admit(
        self,
        principal: Principal,
        model: str | None,
        end_user: str | None = None,
        *,
        request: CompletionRequest
        | EmbeddingRequest
        | ModerationRequest
        | RerankRequest
        | ImageRequest
        | None = None,
        call_id: str = "",
    ) -> Ticket:
        """Admits one call to `model` (a public name) for `end_user` (the request's `user` field): 403
        when the model is not the caller's to use or the end user is blocked, 400 (budget_exceeded)
        naming a spent budget, 429 naming the limit when a quota is spent, 403 naming a cache control
        the key may not use. With `request`, its estimated cost is reserved against every budget above
        the caller (under `call_id`). Without a `model` (a pass-through call naming none), only the
        caller's own limits apply."""
        if model is not None:
            require_model(principal, model, self._access_groups())
        key = principal.key
        if key is not None and key.allowed_cache_controls and request is not None:
            require_cache_controls(key.allowed_cache_controls, request.controls)
        if request is not None and principal.key is not None:
            require_guardrails_choosable(principal, request.controls, request.metadata)
        if end_user:
            principal = await self._with_end_user(principal, end_user)
            caller, quotas = caller_of(principal, end_user), quotas_for(principal, model)
        else:
            caller, quotas = self._terms_of(principal, model)
        hold = None
        if self._budgets is not None and request is not None:
            hold = await self._budgets.reserve(principal, request, call_id)
        if not quotas:
            return Ticket(self if hold is not None else None, (), None, hold, caller)
        try:
            admission = await self._limiter.acquire(quotas, self._clock.now())
        except BaseException:
            self._settle_soon(hold)
            raise
        if not admission.admitted:
            self._settle_soon(hold)
            raise _refusal(admission)
        return Ticket(self, quotas, admission, hold, caller)

    def _terms_of(self, principal: Principal, model: str | None) -> tuple[Caller, tuple[Quota, ...]]:
        """Whom a call is charged to and the quotas it counts against, kept per principal object and
        model (the identity cache hands out the same Principal until the caller's records change): they
        were built again on every call."""
        found = self._terms.get((id(principal), model))
        if found is not None and found[0] is principal:
            return found[1], found[2]
        caller, quotas = caller_of(principal, None), quotas_for(principal, model)
        if len(self._terms) >= _KEPT:
            self._terms.clear()
        self._terms[(id(principal), model)] = (principal, caller, quotas)
        return caller, quotas

    async def check_model(self, principal: Principal, model: str) -> None:
        """403 unless the caller may use `model` (for a route that calls no model, such as counting)."""
        require_model(principal, model, self._access_groups())

    async def drain(self) -> None:
        """Waits for the releases still owed (at shutdown)."""
        while self._releaser is not None:
            await asyncio.shield(self._releaser)

    async def _with_end_user(self, principal: Principal, user_id: str) -> Principal:
        found, budgets = await self._identities.end_user(user_id)
        if found is None:
            return principal
        if found.blocked:
            raise PermissionDeniedError(
                f"End user {user_id} is blocked.", code="end_user_blocked", param="user"
            )
        return dataclasses.replace(principal, end_user=found, budgets={**principal.budgets, **budgets})

    async def _from_claims(self, claims: Mapping[str, Any]) -> Principal:
        user_id = _claim(claims, self._claims.user_id_field)
        team_id = _claim(claims, self._claims.team_id_field)
        org_id = _claim(claims, self._claims.org_id_field)
        records = await self._identities.records(user_id, team_id, org_id)
        fallback = records.user.user_role if records.user is not None else Role.INTERNAL_USER
        end_user_id = _claim(claims, self._claims.end_user_id_field)
        end_user = None
        budgets = dict(records.budgets)
        if end_user_id:
            end_user, end_user_budgets = await self._identities.end_user(end_user_id)
            end_user = end_user or EndUser(end_user_id)
            budgets.update(end_user_budgets)
        return Principal(
            via=Via.JWT,
            role=self._claims.role(claims, fallback),
            user=records.user,
            team=records.team,
            organization=records.organization,
            end_user=end_user,
            budgets=budgets,
            user_id=user_id,
            team_id=team_id,
            organization_id=records.organization.organization_id if records.organization else org_id,
        )

    def _settle_soon(self, hold: BudgetHold | None) -> None:
        if hold is not None:
            self._release_soon((), 0, hold, None)

    def _release_soon(
        self, quotas: Sequence[Quota], tokens: int, hold: BudgetHold | None, cost: Decimal | None
    ) -> None:
        # One task releases whatever is owed, all at once: a task per call would cost more than the
        # release itself with counters in process.
        self._pending.append(_Release(quotas, tokens, hold, cost))
        if self._releaser is None:
            self._releaser = asyncio.get_running_loop().create_task(self._release_pending())

    async def _release_pending(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                if len(batch) == 1:
                    await self._release(batch[0])
                elif self._in_process:
                    for owed in batch:
                        with contextlib.suppress(Exception):  # as gather's return_exceptions below
                            await self._release(owed)
                else:
                    await asyncio.gather(*(self._release(owed) for owed in batch), return_exceptions=True)
        finally:
            self._releaser = None

    async def _release(self, owed: _Release) -> None:
        # A release the counters cannot take is lost: slots and holds expire by themselves (the ports'
        # contracts).
        if owed.quotas:
            with contextlib.suppress(LimiterUnavailable):
                await self._limiter.release(owed.quotas, owed.tokens, self._clock.now())
        if owed.hold is not None and self._budgets is not None:
            await self._budgets.settle(owed.hold, owed.cost)


@frozen
class _Release:
    quotas: Sequence[Quota]
    tokens: int
    hold: BudgetHold | None
    cost: Decimal | None


_KEPT = 4096
"""Entries of the gatekeeper's cache of callers and quotas before it starts afresh."""


def caller_of(principal: Principal, end_user: str | None) -> Caller:
    """Who a call is charged to in the ledger."""
    key = principal.key
    return Caller(
        key_hash=key.token if key is not None else None,
        key_alias=key.key_alias if key is not None else None,
        key_name=key.key_name if key is not None else None,
        user_id=principal.user_id,
        team_id=principal.team_id,
        organization_id=principal.organization_id,
        end_user=end_user or (principal.end_user.user_id if principal.end_user is not None else None),
        guardrails=attached_guardrails(principal),
    )


def _refusal(admission: Admission) -> RateLimitError:
    quota = admission.refused_by
    assert quota is not None and admission.refused_limit is not None
    limit = admission.refused_limit
    value = {Limit.REQUESTS: quota.rpm, Limit.TOKENS: quota.tpm, Limit.PARALLEL: quota.max_parallel}[limit]
    what = {
        Limit.REQUESTS: f"{value} requests per minute",
        Limit.TOKENS: f"{value} tokens per minute",
        Limit.PARALLEL: f"{value} parallel requests",
    }[limit]
    return RateLimitError(
        f"Rate limit exceeded: {quota.label} {limit.value} of {what} reached. "
        f"Retry after {max(1, round(admission.retry_after()))}s.",
        retry_after=admission.retry_after(),
        param=limit.value,
    )
