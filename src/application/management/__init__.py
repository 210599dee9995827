"""The management API's use cases (LiteLLM's keys, teams, users, organizations, customers, budgets),
each checking the caller's role and scope and writing every change to the audit log."""

from __future__ import annotations

from collections.abc import Callable

from application.management.budgets import Budgets
from application.management.end_users import EndUsers
from application.management.invitations import Invitations
from application.management.keys import Issued, Keys, new_secret
from application.management.organizations import Organizations, OrganizationView
from application.management.service import Page
from application.management.teams import Joined, Teams, TeamView
from application.management.users import NewUser, Users, UserView
from application.spend_totals import SpendLookup
from domain.frozen import frozen
from ports.clock import Clock
from ports.password_hasher import PasswordHasher
from ports.unit_of_work import UnitOfWork

__all__ = [
    "Budgets",
    "EndUsers",
    "Invitations",
    "Issued",
    "Joined",
    "Keys",
    "Management",
    "NewUser",
    "OrganizationView",
    "Organizations",
    "Page",
    "TeamView",
    "Teams",
    "UserView",
    "Users",
]


def _nothing() -> None:
    return None


@frozen
class Management:
    """Every management use case, over one store."""

    keys: Keys
    teams: Teams
    users: Users
    organizations: Organizations
    end_users: EndUsers
    budgets: Budgets
    invitations: Invitations

    @classmethod
    def build(
        cls,
        *,
        uow: Callable[[], UnitOfWork],
        clock: Clock,
        on_change: Callable[[], None] = _nothing,
        secret: Callable[[], str] = new_secret,
        spend: SpendLookup | None = None,
        passwords: PasswordHasher | None = None,
    ) -> Management:
        """`on_change` runs after every commit that changed identity records; `secret` makes new keys;
        `spend` fills what records show they spent from the ledger; `passwords` hashes the console
        passwords users are given (without it, setting one is refused)."""
        common = {"uow": uow, "clock": clock, "on_change": on_change, "spend": spend}
        keys = Keys(**common, secret=secret)
        users = Users(**common, keys=keys, passwords=passwords)
        return cls(
            keys=keys,
            teams=Teams(**common),
            users=users,
            organizations=Organizations(**common),
            end_users=EndUsers(**common),
            budgets=Budgets(**common),
            invitations=Invitations(uow=uow, clock=clock, on_change=on_change, users=users),
        )
