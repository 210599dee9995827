"""Invitation links (LiteLLM's /invitation/*): an admin invites an existing user, who opens the link
once, within seven days, to set a console password and sign in."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from application.management.authority import require_admin
from application.management.service import ManagementService, new_id
from application.management.users import Users
from domain.access import Principal, Via
from domain.errors import BadRequestError, NotFoundError
from domain.identity import Invitation, User
from ports.clock import Clock
from ports.unit_of_work import UnitOfWork

LIFETIME = timedelta(days=7)
"""How long a link works, as LiteLLM's (management_helpers/user_invitation.py)."""

_GONE = "This invitation link is unknown, already used or expired; ask an admin for a new one."


class Invitations(ManagementService):
    def __init__(
        self, *, uow: Callable[[], UnitOfWork], clock: Clock, on_change: Callable[[], None], users: Users
    ) -> None:
        super().__init__(uow=uow, clock=clock, on_change=on_change)
        self._users = users

    async def new(self, principal: Principal, user_id: str | None) -> Invitation:
        """A link for `user_id` (who must exist), usable once until seven days from now."""
        require_admin(principal, "create invitation links")
        if not user_id:
            raise BadRequestError("user_id is required", param="user_id")
        async with self._uow() as uow:
            if await uow.users.get(user_id) is None:
                raise BadRequestError(
                    f"user_id names no user: {user_id}; create it with /user/new first", param="user_id"
                )
            invitation = self.made(
                Invitation, principal, id=new_id(), user_id=user_id, expires_at=self.now() + LIFETIME
            )
            await uow.invitations.add(invitation)
            await self.audit(uow, principal, "created", "invitation", invitation.id, after=invitation)
            await self.commit(uow)
        return invitation

    async def info(self, principal: Principal, invitation_id: str | None) -> Invitation:
        require_admin(principal, "read invitation links")
        async with self._uow() as uow:
            return await _found(uow, invitation_id)

    async def delete(self, principal: Principal, invitation_id: str | None) -> Invitation:
        """Revokes a link; answers what it was, as LiteLLM does."""
        require_admin(principal, "delete invitation links")
        async with self._uow() as uow:
            invitation = await _found(uow, invitation_id)
            await uow.invitations.delete(invitation.id)
            await self.audit(uow, principal, "deleted", "invitation", invitation.id, before=invitation)
            await self.commit(uow)
        return invitation

    async def invited(self, invitation_id: str) -> User:
        """Whom a link invites, while it is usable (the link itself is the credential): 404 otherwise."""
        async with self._uow() as uow:
            _, user = await self._usable(uow, invitation_id)
        return user

    async def accept(self, invitation_id: str, password: str) -> User:
        """Spends the link: the invited user's password becomes `password`, in one transaction with the
        link marked accepted, so a second use (even a concurrent one) finds it used."""
        hashed = await self._users.hashed(password)
        async with self._uow() as uow:
            invitation, before = await self._usable(uow, invitation_id)
            invitee = Principal(via=Via.CONSOLE, role=before.user_role, user=before, user_id=before.user_id)
            used = self.touched(invitation, invitee, is_accepted=True, accepted_at=self.now())
            user = self.touched(before, invitee, password_hash=hashed)
            await uow.invitations.update(used)
            await uow.users.update(user)
            await self.audit(uow, invitee, "accepted", "invitation", used.id, before=invitation, after=used)
            await self.audit(uow, invitee, "password_set", "user", user.user_id, before=before, after=user)
            await self.commit(uow)
        return user

    async def _usable(self, uow: UnitOfWork, invitation_id: str) -> tuple[Invitation, User]:
        invitation = await uow.invitations.get(invitation_id) if invitation_id else None
        user = await uow.users.get(invitation.user_id) if invitation is not None else None
        if invitation is None or user is None or not invitation.usable(self.now()):
            raise NotFoundError(_GONE, param="invitation_id")
        return invitation, user


async def _found(uow: UnitOfWork, invitation_id: str | None) -> Invitation:
    if not invitation_id:
        raise BadRequestError("invitation_id is required", param="invitation_id")
    invitation = await uow.invitations.get(invitation_id)
    if invitation is None:
        raise NotFoundError(f"Invitation {invitation_id} not found", param="invitation_id")
    return invitation
