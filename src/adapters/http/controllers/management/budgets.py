"""/budget/*: budgets as objects of their own."""

from __future__ import annotations

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency

from adapters.http.controllers.management import render
from adapters.http.controllers.management.requests import answer, read_body
from adapters.http.controllers.management.schemas import BudgetFields, BudgetIds, BudgetRef, UpdateBudget
from adapters.http.principal import principal_of
from application.management import Management


class BudgetController(Controller):
    path = "/budget"

    @post("/new", status_code=200)
    async def new(self, request: Request, management: NamedDependency[Management]) -> Response:
        body = await read_body(request, BudgetFields)
        return answer(render.budget(await management.budgets.new(principal_of(request), body.fields())))

    @post("/update", status_code=200)
    async def update(self, request: Request, management: NamedDependency[Management]) -> Response:
        body = await read_body(request, UpdateBudget)
        budget = await management.budgets.update(
            principal_of(request), body.budget_id, body.fields(drop={"budget_id"})
        )
        return answer(render.budget(budget))

    @post("/delete", status_code=200)
    async def delete(self, request: Request, management: NamedDependency[Management]) -> Response:
        body = await read_body(request, BudgetRef)
        return answer(render.budget(await management.budgets.delete(principal_of(request), body.id)))

    @post("/info", status_code=200)
    async def info(self, request: Request, management: NamedDependency[Management]) -> Response:
        body = await read_body(request, BudgetIds)
        return answer(
            [render.budget(b) for b in await management.budgets.info(principal_of(request), body.budgets)]
        )

    @get("/list")
    async def list_budgets(self, request: Request, management: NamedDependency[Management]) -> Response:
        return answer([render.budget(b) for b in await management.budgets.list(principal_of(request))])
