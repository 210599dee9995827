"""The Customers page (/ui/customers): the end users /customer/list shows, one customer's budget, spend
and limits as /customer/info shows them, and changes through the use cases behind /customer/new,
/customer/update, /customer/delete and /customer/block."""

from __future__ import annotations

from typing import Any

from litestar import Request

from adapters.http.ui.directory import BlockablePages, RecordForm
from adapters.http.ui.pages import PREFIX, Visit
from application.management import Management
from domain.identity import EndUser

_REGIONS = [("", "any region"), ("eu", "eu"), ("us", "us")]


class CustomersPage(BlockablePages):
    path = f"{PREFIX}/customers"
    template = "customers"
    form = RecordForm(texts=("alias", "default_model"), choices=("allowed_model_region",), ids=("user_id",))

    async def listing(self, request: Request, visit: Visit, management: Management) -> dict[str, Any]:
        return {"customers": await management.end_users.list(visit.principal), "regions": _REGIONS}

    async def create(self, visit: Visit, management: Management, fields: dict[str, Any]) -> str:
        return (await management.end_users.new(visit.principal, fields)).user_id

    async def read(
        self, visit: Visit, management: Management, record_id: str
    ) -> tuple[EndUser, dict[str, Any]]:
        customer = await management.end_users.info(visit.principal, record_id)
        return customer, {"customer": customer, "regions": _REGIONS}

    async def change(
        self, visit: Visit, management: Management, record_id: str, fields: dict[str, Any]
    ) -> None:
        await management.end_users.update(visit.principal, record_id, fields)

    async def remove(self, visit: Visit, management: Management, record_id: str) -> None:
        await management.end_users.delete(visit.principal, [record_id])

    async def set_blocked(self, visit: Visit, management: Management, record_id: str, blocked: bool) -> None:
        await management.end_users.block(visit.principal, [record_id], blocked)
