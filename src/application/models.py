"""Deployments added, changed and removed through the management API, served live by every instance
next to those of the config file."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from domain.access import Principal
from domain.deployments import SECRET_PARAMS, Deployment, DeploymentRecord
from domain.errors import BadRequestError, NotFoundError, PermissionDeniedError
from domain.identity import AuditEntry
from ports.clock import Clock
from ports.unit_of_work import MODELS, UnitOfWork


def public_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """`litellm_params` as they may be shown or audited: credentials masked."""
    return {name: ("****" if name in SECRET_PARAMS and value else value) for name, value in params.items()}


class ModelRegistry:
    """The deployments of the config file plus those stored in the database.

    `parse` turns a stored record into a deployment exactly as the config file's entries are (a
    BadRequestError naming the field when it cannot); `activate` makes a set of deployments the served
    ones (catalog and provider adapters). Config deployments cannot be changed here: they belong to the
    file."""

    def __init__(
        self,
        *,
        uow: Callable[[], UnitOfWork],
        clock: Clock,
        configured: Sequence[Deployment],
        parse: Callable[[DeploymentRecord], Deployment],
        activate: Callable[[Sequence[Deployment]], None],
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._configured = tuple(configured)
        self._configured_ids = {d.id for d in configured}
        self._parse = parse
        self._activate = activate
        self._stamp: int | None = None
        self._stored: dict[str, DeploymentRecord] = {}
        self.broken: dict[str, str] = {}
        """Stored deployments that no longer parse (an environment variable gone, say), with why: not
        served, and shown by the readiness check."""

    def record(self, model_id: str) -> DeploymentRecord | None:
        """The stored record of a served deployment (None for one of the config file)."""
        return self._stored.get(model_id)

    async def load(self) -> None:
        """Reads every stored deployment and serves them with the configured ones."""
        async with self._uow() as uow:
            stamp = (await uow.stamps()).get(MODELS, 0)
            records = await uow.deployments.list(limit=None)
        self._stamp = stamp
        self._serve(records)

    async def poll(self, stamps: Mapping[str, int] | None = None) -> bool:
        """Reloads when another instance changed the stored deployments (`stamps` read already, or read
        now); says whether it did."""
        if stamps is None:
            async with self._uow() as uow:
                stamps = await uow.stamps()
        stamp = stamps.get(MODELS, 0)
        if stamp == self._stamp:
            return False
        await self.load()
        return True

    async def add(
        self, principal: Principal, model_name: str, params: Mapping[str, Any], info: Mapping[str, Any]
    ) -> Deployment:
        _require_admin(principal)
        model_id = str(info.get("id") or uuid.uuid4())
        if model_id in self._configured_ids:
            raise BadRequestError(
                f"Model id '{model_id}' is taken by a deployment of the config file.", param="model_info.id"
            )
        now = self._now()
        record = DeploymentRecord(
            model_id,
            model_name,
            dict(params),
            {**info, "id": model_id},
            now,
            now,
            principal.actor,
            principal.actor,
        )
        deployment = self._parse(record)
        async with self._uow() as uow:
            await uow.deployments.add(record)
            await uow.audit.append(self._audit(principal, "created", model_id, None, record))
            await uow.commit()
        await self.load()
        return deployment

    async def update(
        self,
        principal: Principal,
        model_id: str,
        *,
        model_name: str | None = None,
        params: Mapping[str, Any] | None = None,
        info: Mapping[str, Any] | None = None,
    ) -> Deployment:
        """Changes a stored deployment; given params and info are merged into the stored ones."""
        _require_admin(principal)
        self._require_stored(model_id)
        async with self._uow() as uow:
            before = await uow.deployments.get(model_id)
            if before is None:
                raise NotFoundError(f"No model with id '{model_id}'.", param="id")
            after = dataclasses.replace(
                before,
                model_name=model_name or before.model_name,
                litellm_params={**before.litellm_params, **(params or {})},
                model_info={**before.model_info, **(info or {}), "id": model_id},
                updated_at=self._now(),
                updated_by=principal.actor,
                unreadable=tuple(name for name in before.unreadable if name not in (params or {})),
            )
            _require_readable(after)
            deployment = self._parse(after)
            await uow.deployments.update(after)
            await uow.audit.append(self._audit(principal, "updated", model_id, before, after))
            await uow.commit()
        await self.load()
        return deployment

    async def delete(self, principal: Principal, model_id: str) -> None:
        _require_admin(principal)
        self._require_stored(model_id)
        async with self._uow() as uow:
            before = await uow.deployments.get(model_id)
            if before is None or not await uow.deployments.delete(model_id):
                raise NotFoundError(f"No model with id '{model_id}'.", param="id")
            await uow.audit.append(self._audit(principal, "deleted", model_id, before, None))
            await uow.commit()
        await self.load()

    def reconfigure(
        self, configured: Sequence[Deployment], parse: Callable[[DeploymentRecord], Deployment]
    ) -> None:
        """Serves a new version of the config file's deployments (a secret they name was rotated), the
        stored ones parsed again with `parse` (which sees the same rotation)."""
        self._configured = tuple(configured)
        self._configured_ids = {d.id for d in configured}
        self._parse = parse
        self._serve(tuple(self._stored.values()))

    def _require_stored(self, model_id: str) -> None:
        if model_id in self._configured_ids:
            raise BadRequestError(
                f"Model '{model_id}' is defined in the config file; change it there.", param="id"
            )

    def _serve(self, records: Sequence[DeploymentRecord]) -> None:
        served = list(self._configured)
        self._stored = {}
        self.broken = {}
        for record in records:
            if record.model_id in self._configured_ids:
                continue
            if record.unreadable:
                self.broken[record.model_id] = _unreadable_message(record)
                continue
            try:
                served.append(self._parse(record))
            except BadRequestError as exc:
                self.broken[record.model_id] = exc.message
                continue
            self._stored[record.model_id] = record
        self._activate(served)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock.now(), UTC)

    def _audit(
        self,
        principal: Principal,
        action: str,
        model_id: str,
        before: DeploymentRecord | None,
        after: DeploymentRecord | None,
    ) -> AuditEntry:
        return AuditEntry(
            id=str(uuid.uuid4()),
            at=self._now(),
            actor=principal.actor,
            action=action,
            table="model",
            object_id=model_id,
            before=_shown(before),
            after=_shown(after),
        )


def _shown(record: DeploymentRecord | None) -> dict[str, Any] | None:
    if record is None:
        return None
    return {
        "model_id": record.model_id,
        "model_name": record.model_name,
        "litellm_params": public_params(record.litellm_params),
        "model_info": dict(record.model_info),
    }


def _unreadable_message(record: DeploymentRecord) -> str:
    names = ", ".join(f"litellm_params.{name}" for name in record.unreadable)
    return (
        f"{names} cannot be decrypted: stored under another salt key (SWITCHYARD_SALT_KEY, LITELLM_SALT_KEY"
        " or the master key) than this gateway's, or altered; restore that key or send the value again"
    )


def _require_readable(record: DeploymentRecord) -> None:
    """A record whose stored credentials could not be decrypted is written only once they are all
    given again: writing it as it is would drop them."""
    if record.unreadable:
        raise BadRequestError(
            f"Model '{record.model_id}': {_unreadable_message(record)}.",
            param=f"litellm_params.{record.unreadable[0]}",
        )


def _require_admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise PermissionDeniedError(
            "Only a proxy admin may add, change or delete models.", code="not_allowed"
        )
