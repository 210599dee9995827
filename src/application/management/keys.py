"""Virtual keys: issue, change, read, list, delete, regenerate, block."""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from application.access import hash_key
from application.management.authority import (
    Reach,
    bound_grant,
    check_key_placement,
    check_manage_key,
    may_read_key,
    refuse,
    require_admin,
)
from application.management.fields import TERM_FIELDS, Convert, Fields, flag, mapping, names, text
from application.management.service import ManagementService, Page, paging, reach_of, require_budget
from application.spend_totals import SpendLookup
from domain.access import TEAM_MODELS, Principal, model_in
from domain.caching import CONTROL_NAMES
from domain.errors import BadRequestError, ConflictError, NotFoundError
from domain.frozen import frozen
from domain.identity import Team, User, VirtualKey, parse_duration
from ports.clock import Clock
from ports.unit_of_work import UnitOfWork


def cache_controls(value: Any, param: str) -> tuple[str, ...]:
    """Cache control names (`no-cache`, ...; underscores read as dashes), each one the gateway knows."""
    found = tuple(dict.fromkeys(name.replace("_", "-") for name in names(value, param)))
    for name in found:
        if name not in CONTROL_NAMES:
            raise BadRequestError(
                f"{param}: unknown cache control {name!r}; use {', '.join(CONTROL_NAMES)}", param=param
            )
    return found


KEY_FIELDS: dict[str, Convert] = {
    "key_alias": text,
    "user_id": text,
    "team_id": text,
    "organization_id": text,
    "models": names,
    "allowed_routes": names,
    "allowed_cache_controls": cache_controls,
    "tags": names,
    **TERM_FIELDS,
    "metadata": mapping,
    "blocked": flag,
}
"""What a key request may set, by LiteLLM's names (the rate limits besides)."""

_PLACEMENT = ("user_id", "team_id", "organization_id")


def new_secret() -> str:
    return "sk-" + secrets.token_urlsafe(32)


def abbreviation(secret: str) -> str:
    """How a key is shown once its secret is gone (`sk-...abcd`), as LiteLLM names it."""
    return f"sk-...{secret[-4:]}"


def token_of(ref: str) -> str:
    """A key as a request names it: the secret (`sk-...`) or the stored hash, as LiteLLM accepts both."""
    return hash_key(ref) if ref.startswith("sk-") else ref


def shown(ref: str) -> str:
    """A key reference fit for a message: never the whole secret."""
    return abbreviation(ref) if ref.startswith("sk-") else ref


@frozen
class Issued:
    """A key just made, with its secret: the only time the secret exists outside the caller's hands."""

    key: VirtualKey
    secret: str


class Keys(ManagementService):
    def __init__(
        self,
        *,
        uow: Callable[[], UnitOfWork],
        clock: Clock,
        on_change: Callable[[], None],
        secret: Callable[[], str] = new_secret,
        spend: SpendLookup | None = None,
    ) -> None:
        super().__init__(uow=uow, clock=clock, on_change=on_change, spend=spend)
        self._secret = secret

    async def generate(self, principal: Principal, fields: Fields) -> Issued:
        """A new key: for the caller itself unless an admin says otherwise; with no more rights than the
        caller holds. An admin may choose the secret (`key`, starting with `sk-`)."""
        async with self._uow() as uow:
            issued = await self.mint(uow, principal, await reach_of(uow, principal), fields)
            await self.commit(uow)
        return issued

    async def mint(self, uow: UnitOfWork, principal: Principal, reach: Reach, fields: Fields) -> Issued:
        """Makes and records a key within `uow`, without committing (user creation shares it)."""
        wanted = dict(fields)
        custom = wanted.pop("key", None)
        lifetime = wanted.pop("duration", None)
        if custom is not None:
            require_admin(principal, "choose a key's secret")
            if not isinstance(custom, str) or not custom.startswith("sk-") or len(custom) < 8:
                raise BadRequestError(
                    "key must be a string starting with 'sk-' (8 characters or more)", param="key"
                )
        if not principal.is_admin and wanted.get("user_id") is None:
            wanted["user_id"] = reach.user_id
        wanted = bound_grant(principal, wanted, inherit=True)
        secret = custom or self._secret()
        key = self.made(VirtualKey, principal, token=hash_key(secret), key_name=abbreviation(secret))
        key = self.assigned(key, wanted, KEY_FIELDS)
        key = dataclasses.replace(key, expires=_expiry(lifetime, self.now()))
        key = await self._placed(uow, principal, reach, key)
        await _require_free_alias(uow, key)
        await uow.keys.add(key)
        await self.audit(uow, principal, "created", "key", key.token, after=key)
        return Issued(key, secret)

    async def update(self, principal: Principal, ref: str, fields: Fields) -> VirtualKey:
        async with self._uow() as uow:
            reach = await reach_of(uow, principal)
            before = await _get(uow, ref)
            team, owner = await _context(uow, before)
            check_manage_key(reach, before, team, owner, "update")
            if "blocked" in fields and bool(fields["blocked"]) != before.blocked:
                _check_blocking(reach, before, team, owner, bool(fields["blocked"]))
            key = self._changed(principal, before, fields)
            key = await self._replaced(uow, principal, reach, before, key)
            await uow.keys.update(key)
            await self.audit(uow, principal, "updated", "key", key.token, before=before, after=key)
            await self.commit(uow)
        return key

    async def regenerate(self, principal: Principal, ref: str, fields: Fields) -> Issued:
        """A new secret for the same key record and settings (changed by `fields` if given); the old
        secret stops working at once. An admin may choose the new secret (`new_key`)."""
        wanted = dict(fields)
        wanted.pop("key", None)  # the key being regenerated, as LiteLLM's body repeats it
        custom = wanted.pop("new_key", None)
        if custom is not None:
            require_admin(principal, "choose a key's secret")
            if not isinstance(custom, str) or not custom.startswith("sk-"):
                raise BadRequestError("new_key must be a string starting with 'sk-'", param="new_key")
        async with self._uow() as uow:
            reach = await reach_of(uow, principal)
            before = await _get(uow, ref)
            team, owner = await _context(uow, before)
            check_manage_key(reach, before, team, owner, "regenerate")
            secret = custom or self._secret()
            key = self._changed(principal, before, wanted)
            key = dataclasses.replace(key, token=hash_key(secret), key_name=abbreviation(secret))
            await uow.keys.delete(before.token)
            key = await self._replaced(uow, principal, reach, before, key)
            await uow.keys.add(key)
            await self.audit(uow, principal, "regenerated", "key", key.token, before=before, after=key)
            await self.commit(uow)
        return Issued(key, secret)

    async def info(self, principal: Principal, ref: str | None) -> VirtualKey:
        """A key by secret or hash; with no reference, the caller's own key."""
        if ref is None:
            if principal.key is None:
                raise BadRequestError("key is required: this credential is not a virtual key", param="key")
            ref = principal.key.token
        async with self._uow() as uow:
            reach = await reach_of(uow, principal)
            key = await _get(uow, ref)
            if not may_read_key(reach, key, *await _context(uow, key)):
                refuse(f"You may not read key {key.key_alias or key.key_name}.", param="key")
        [key] = await self.with_spend([key])
        return key

    async def list(
        self,
        principal: Principal,
        *,
        user_id: str | None = None,
        team_id: str | None = None,
        organization_id: str | None = None,
        key_alias: str | None = None,
        page: int = 1,
        size: int = 10,
    ) -> Page[VirtualKey]:
        """The keys matching the filters that the caller may see: every key for admins and viewers; for
        others their own, or a team's or organization's they administer (a team member sees its own
        keys in that team)."""
        offset, limit = paging(page, size)
        where = {
            n: v
            for n, v in (
                ("user_id", user_id),
                ("team_id", team_id),
                ("organization_id", organization_id),
                ("key_alias", key_alias),
            )
            if v
        }
        async with self._uow() as uow:
            if not principal.reads_everything:
                where = await _visible(uow, await reach_of(uow, principal), where)
            total = await uow.keys.count(where)
            found = await uow.keys.list(where, offset=offset, limit=limit)
        return Page(tuple(await self.with_spend(found)), total, page, size)

    async def delete(
        self, principal: Principal, refs: Sequence[str] = (), aliases: Sequence[str] = ()
    ) -> list[str]:
        """Deletes every named key or none: each must exist and be the caller's to manage."""
        if not refs and not aliases:
            raise BadRequestError("Name the keys to delete in keys or key_aliases", param="keys")
        async with self._uow() as uow:
            reach = await reach_of(uow, principal)
            targets = [await _get(uow, ref, param="keys") for ref in refs]
            for alias in aliases:
                found = await uow.keys.list({"key_alias": alias}, limit=1)
                if not found:
                    raise NotFoundError(f"No key has the alias {alias!r}", param="key_aliases")
                targets.append(found[0])
            for key in targets:
                check_manage_key(reach, key, *await _context(uow, key), "delete")
            for key in {k.token: k for k in targets}.values():
                await uow.keys.delete(key.token)
                await self.audit(uow, principal, "deleted", "key", key.token, before=key)
            await self.commit(uow)
        return [*refs, *aliases]

    async def block(self, principal: Principal, ref: str, blocked: bool) -> VirtualKey:
        async with self._uow() as uow:
            reach = await reach_of(uow, principal)
            before = await _get(uow, ref)
            team, owner = await _context(uow, before)
            check_manage_key(reach, before, team, owner, "block" if blocked else "unblock")
            _check_blocking(reach, before, team, owner, blocked)
            key = self.touched(before, principal, blocked=blocked)
            await uow.keys.update(key)
            action = "blocked" if blocked else "unblocked"
            await self.audit(uow, principal, action, "key", key.token, before=before, after=key)
            await self.commit(uow)
        return key

    def _changed(self, principal: Principal, before: VirtualKey, fields: Fields) -> VirtualKey:
        wanted = bound_grant(principal, fields, inherit=False)
        key = self.assigned(before, wanted, KEY_FIELDS, ignore=frozenset({"duration"}))
        if "duration" in wanted:
            key = dataclasses.replace(key, expires=_expiry(wanted["duration"], self.now()))
        return self.touched(key, principal)

    async def _replaced(
        self, uow: UnitOfWork, principal: Principal, reach: Reach, before: VirtualKey, key: VirtualKey
    ) -> VirtualKey:
        """A changed key checked again where it changed: its placement, budget and alias."""
        if any(getattr(key, n) != getattr(before, n) for n in _PLACEMENT) or key.models != before.models:
            key = await self._placed(uow, principal, reach, key)
        else:
            await require_budget(uow, key, before)
        if key.key_alias != before.key_alias:
            await _require_free_alias(uow, key)
        return key

    async def _placed(
        self, uow: UnitOfWork, principal: Principal, reach: Reach, key: VirtualKey
    ) -> VirtualKey:
        """The key with its organization filled from its team, once its team, user, organization, models
        and budget are known to exist and to be the caller's to use. The user a key names is created
        when missing, as LiteLLM does."""
        team = await uow.teams.get(key.team_id) if key.team_id else None
        if key.team_id and team is None:
            raise BadRequestError(f"team_id {key.team_id!r} names no team", param="team_id")
        organization_id = key.organization_id
        if team is not None and team.organization_id:
            if organization_id and organization_id != team.organization_id:
                raise BadRequestError(
                    f"Team {team.team_id} belongs to organization {team.organization_id}, "
                    f"not {organization_id}",
                    param="organization_id",
                )
            organization_id = team.organization_id
        if organization_id and await uow.organizations.get(organization_id) is None:
            raise BadRequestError(
                f"organization_id {organization_id!r} names no organization", param="organization_id"
            )
        owner = await uow.users.get(key.user_id) if key.user_id else None
        check_key_placement(
            reach, user_id=key.user_id, team=team, owner=owner, organization_id=organization_id
        )
        if team is not None and team.models:
            for model in key.models:
                if model != TEAM_MODELS and not model_in(model, team.models, {}):
                    raise BadRequestError(
                        f"Team {team.team_id} may not use model '{model}', so neither may its keys",
                        param="models",
                    )
        await require_budget(uow, key)
        if key.user_id and owner is None:
            user = self.made(User, principal, user_id=key.user_id, organization_id=organization_id)
            await uow.users.add(user)
            await self.audit(uow, principal, "created", "user", user.user_id, after=user)
        return dataclasses.replace(key, organization_id=organization_id)


def _check_blocking(
    reach: Reach, key: VirtualKey, team: Team | None, owner: User | None, blocked: bool
) -> None:
    """A key's holder may block it, but only an admin of it may unblock it (or block another's)."""
    principal = reach.principal
    if principal.is_admin or (blocked and reach.user_id is not None and key.user_id == reach.user_id):
        return
    if (team is not None and reach.administers_team(team)) or reach.administers_organization(
        key.organization_id
    ):
        return
    if owner is not None and reach.administers_user(owner):
        return
    refuse(
        f"You may not {'block' if blocked else 'unblock'} key {key.key_alias or key.key_name}.",
        param="blocked",
    )


def _expiry(lifetime: Any, now: datetime) -> datetime | None:
    if lifetime is None:
        return None
    return now + parse_duration(lifetime, param="duration")


async def _get(uow: UnitOfWork, ref: Any, *, param: str = "key") -> VirtualKey:
    if not isinstance(ref, str) or not ref:
        raise BadRequestError(f"{param} must name a key (its secret or its hash)", param=param)
    key = await uow.keys.get(token_of(ref))
    if key is None:
        raise NotFoundError(f"Key {shown(ref)} not found", param=param)
    return key


async def _context(uow: UnitOfWork, key: VirtualKey) -> tuple[Team | None, User | None]:
    team = await uow.teams.get(key.team_id) if key.team_id else None
    owner = await uow.users.get(key.user_id) if key.user_id else None
    return team, owner


async def _require_free_alias(uow: UnitOfWork, key: VirtualKey) -> None:
    if key.key_alias is None:
        return
    taken = await uow.keys.list({"key_alias": key.key_alias}, limit=2)
    if any(other.token != key.token for other in taken):
        raise ConflictError(f"A key with the alias {key.key_alias!r} already exists", param="key_alias")


async def _visible(uow: UnitOfWork, reach: Reach, where: dict[str, str]) -> dict[str, str]:
    """The filters narrowed to what a caller who is not an admin may list, or a 403."""
    if "team_id" in where:
        team = await uow.teams.get(where["team_id"])
        if team is not None and reach.administers_team(team):
            return where
        if team is not None and team.team_id in reach.team_ids() and reach.user_id:
            return {**where, "user_id": reach.user_id}
        refuse(f"You may not list the keys of team {where['team_id']}.", param="team_id")
    if "organization_id" in where:
        if reach.administers_organization(where["organization_id"]):
            return where
        refuse(
            f"You may not list the keys of organization {where['organization_id']}.", param="organization_id"
        )
    wanted = where.get("user_id")
    if wanted and wanted != reach.user_id:
        user = await uow.users.get(wanted)
        if user is None or not reach.administers_user(user):
            refuse(f"You may not list the keys of user {wanted}.", param="user_id")
        return where
    if reach.user_id is None:
        refuse("This credential names no user, so it has no keys to list; ask with team_id.")
    return {**where, "user_id": reach.user_id}
