"""LiteLLM's management API: one controller per resource, over `application.management`."""

from __future__ import annotations

from litestar import Controller

from adapters.http.controllers.management.budgets import BudgetController
from adapters.http.controllers.management.customers import CustomerController
from adapters.http.controllers.management.invitations import InvitationController
from adapters.http.controllers.management.keys import KeyController
from adapters.http.controllers.management.organizations import OrganizationController
from adapters.http.controllers.management.teams import TeamController
from adapters.http.controllers.management.users import UserController

management_controllers: list[type[Controller]] = [
    KeyController,
    TeamController,
    UserController,
    OrganizationController,
    CustomerController,
    BudgetController,
    InvitationController,
]
"""Mount these with a `management` dependency providing `application.management.Management`."""
