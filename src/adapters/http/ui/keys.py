"""The Keys page (/ui/keys): virtual keys listed and filtered as GET /key/list lists them; made, changed,
blocked, unblocked, regenerated and deleted through the same use cases as /key/generate, /key/update,
/key/block, /key/unblock, /key/regenerate and /key/delete, with the visitor's principal.

A key is named in URLs by its stored hash, never by its secret; a new secret is rendered once, on the
answer to the form that made it, and is never stored or shown again."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import FormMultiDict
from litestar.di import NamedDependency
from litestar.params import FromPath

from adapters.http.controllers.management.requests import query_int
from adapters.http.ui.directory import page
from adapters.http.ui.forms import comma_list, form_text, plain, whole_number
from adapters.http.ui.pages import PREFIX, Visit, go_to, page_links, render, submit_form
from application.management import Issued, Management
from application.management.fields import money
from domain.errors import BadRequestError
from domain.identity import VirtualKey

_PAGE = f"{PREFIX}/keys"
_FILTERS = ("user_id", "team_id", "organization_id", "key_alias")
_PAGE_SIZE = 10
"""As GET /key/list pages by default."""


def _text(text: str, _: str) -> str:
    return text


def _json_object(text: str, field: str) -> dict[str, Any]:
    try:
        found = json.loads(text)
    except ValueError as error:
        raise BadRequestError(f"{field} must be JSON: {error}.", param=field) from None
    if not isinstance(found, dict):
        raise BadRequestError(f'{field} must be a JSON object, like {{"team": "search"}}.', param=field)
    return found


_FORM: dict[str, Callable[[str, str], Any]] = {
    "key_alias": _text,
    "models": lambda text, _: comma_list(text),
    "team_id": _text,
    "user_id": _text,
    "max_budget": money,
    "budget_duration": _text,
    "rpm_limit": whole_number,
    "tpm_limit": whole_number,
    "max_parallel_requests": whole_number,
    "metadata": _json_object,
}
"""The form's fields by the names /key/generate and /key/update take (and name in their errors), each
read from its text; an empty field is "no value". `duration` is apart: it sets a new expiry."""

_EMPTY: dict[str, Any] = {"models": [], "metadata": {}}
"""What an empty field means where it is not None."""


def _submitted(form: FormMultiDict) -> dict[str, Any]:
    """Every field of the form as the use case takes it (a number field that is not one is a 400)."""
    found: dict[str, Any] = {}
    for name, read in _FORM.items():
        text = form_text(form, name)
        found[name] = read(text, name) if text else _EMPTY.get(name)
    return found


def _duration(form: FormMultiDict) -> dict[str, str]:
    text = form_text(form, "duration")
    return {"duration": text} if text else {}


def _settings(key: VirtualKey) -> dict[str, Any]:
    """A key's settings as the form's fields hold them once read."""
    return {
        "key_alias": key.key_alias,
        "models": list(key.models),
        "team_id": key.team_id,
        "user_id": key.user_id,
        "max_budget": key.budget.max_budget,
        "budget_duration": key.budget.budget_duration,
        "rpm_limit": key.limits.rpm_limit,
        "tpm_limit": key.limits.tpm_limit,
        "max_parallel_requests": key.limits.max_parallel_requests,
        "metadata": dict(key.metadata),
    }


def _as_text(value: Any) -> str:
    if value is None or value == [] or value == {}:
        return ""
    if isinstance(value, list):
        return ", ".join(value)
    if isinstance(value, dict):
        return json.dumps(value)
    if isinstance(value, Decimal):
        return plain(value)
    return str(value)


def _usd(amount: Decimal) -> str:
    return f"${plain(amount.quantize(Decimal('0.000001')))}"


@dataclasses.dataclass(frozen=True, slots=True)
class KeyRow:
    """One key as the list shows it."""

    key: VirtualKey

    @property
    def name(self) -> str:
        return self.key.key_alias or self.key.key_name

    @property
    def spend(self) -> str:
        budget = self.key.budget.max_budget
        spent = _usd(self.key.budget.spend)
        return f"{spent} of {_usd(budget)}" if budget is not None else f"{spent} (no budget)"

    @property
    def spent_share(self) -> float | None:
        """The share of the budget spent (for a meter), None without a budget."""
        budget = self.key.budget.max_budget
        return float(min(self.key.budget.spend / budget, Decimal(1))) if budget else None

    @property
    def limits(self) -> str:
        limits = self.key.limits
        shown = [
            f"{value} {unit}"
            for value, unit in (
                (limits.rpm_limit, "rpm"),
                (limits.tpm_limit, "tpm"),
                (limits.max_parallel_requests, "parallel"),
            )
            if value is not None
        ]
        return ", ".join(shown) or "none"

    @property
    def expires(self) -> str:
        return f"{self.key.expires:%Y-%m-%d %H:%M} UTC" if self.key.expires else "never"


class KeysPage(Controller):
    path = _PAGE

    @get("/")
    async def index(
        self, request: Request, visit: NamedDependency[Visit], management: NamedDependency[Management]
    ) -> Response:
        return await _list_page(request, visit, management)

    @post("/", status_code=200)
    async def create(
        self, request: Request, visit: NamedDependency[Visit], management: NamedDependency[Management]
    ) -> Response:
        async def apply(form: FormMultiDict) -> Response:
            wanted = {n: v for n, v in _submitted(form).items() if v is not None and v != _EMPTY.get(n)}
            issued = await management.keys.generate(visit.principal, {**wanted, **_duration(form)})
            return _secret_page(request, visit, issued, "Key created")

        async def again(form: FormMultiDict, errors: Mapping[str, str]) -> Response:
            return await _list_page(request, visit, management, form, errors)

        return await submit_form(request, apply, then=_PAGE, again=again)

    @get("/{token:str}/edit")
    async def edit(
        self,
        request: Request,
        visit: NamedDependency[Visit],
        token: FromPath[str],
        management: NamedDependency[Management],
    ) -> Response:
        key = await management.keys.info(visit.principal, token)
        values = {name: _as_text(value) for name, value in _settings(key).items()}
        return _edit_page(request, visit, key, values)

    @post("/{token:str}", status_code=303)
    async def update(
        self,
        request: Request,
        visit: NamedDependency[Visit],
        token: FromPath[str],
        management: NamedDependency[Management],
    ) -> Response:
        key = await management.keys.info(visit.principal, token)

        async def apply(form: FormMultiDict) -> None:
            """Sends only what changed: a field left as it was is not the visitor's to set again."""
            stored = _settings(key)
            changed = {n: v for n, v in _submitted(form).items() if v != stored[n]}
            await management.keys.update(visit.principal, token, {**changed, **_duration(form)})

        async def again(form: FormMultiDict, errors: Mapping[str, str]) -> Response:
            return _edit_page(request, visit, key, form, errors)

        return await submit_form(request, apply, then=_PAGE, again=again)

    @post("/{token:str}/block", status_code=303)
    async def block(
        self, visit: NamedDependency[Visit], token: FromPath[str], management: NamedDependency[Management]
    ) -> Response:
        await management.keys.block(visit.principal, token, True)
        return go_to(_PAGE)

    @post("/{token:str}/unblock", status_code=303)
    async def unblock(
        self, visit: NamedDependency[Visit], token: FromPath[str], management: NamedDependency[Management]
    ) -> Response:
        await management.keys.block(visit.principal, token, False)
        return go_to(_PAGE)

    @post("/{token:str}/regenerate", status_code=200)
    async def regenerate(
        self,
        request: Request,
        visit: NamedDependency[Visit],
        token: FromPath[str],
        management: NamedDependency[Management],
    ) -> Response:
        issued = await management.keys.regenerate(visit.principal, token, {})
        return _secret_page(request, visit, issued, "Key regenerated")

    @get("/{token:str}/delete")
    async def confirm_delete(
        self,
        request: Request,
        visit: NamedDependency[Visit],
        token: FromPath[str],
        management: NamedDependency[Management],
    ) -> Response:
        """The confirm step, a page of its own so that it works without JavaScript."""
        key = await management.keys.info(visit.principal, token)
        return render(request, "keys_delete.html", {"row": KeyRow(key)}, visit=visit)

    @post("/{token:str}/delete", status_code=303)
    async def delete(
        self, visit: NamedDependency[Visit], token: FromPath[str], management: NamedDependency[Management]
    ) -> Response:
        await management.keys.delete(visit.principal, [token])
        return go_to(_PAGE)


async def _list_page(
    request: Request,
    visit: Visit,
    management: Management,
    values: Mapping[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
) -> Response:
    filters = {name: request.query_params.get(name) or None for name in _FILTERS}
    found = await management.keys.list(
        visit.principal,
        **filters,
        page=query_int(request, "page", 1),
        size=_PAGE_SIZE,
    )
    context = {
        "rows": [KeyRow(key) for key in found.items],
        "found": found,
        "filters": {name: value or "" for name, value in filters.items()},
        "pages": page_links(_PAGE, found.page, found.pages, filters),
    }
    return page(request, visit, "keys.html", context, values, errors)


def _edit_page(
    request: Request,
    visit: Visit,
    key: VirtualKey,
    values: Mapping[str, Any],
    errors: Mapping[str, str] | None = None,
) -> Response:
    return page(request, visit, "keys_edit.html", {"row": KeyRow(key), "editing": True}, values, errors)


def _secret_page(request: Request, visit: Visit, issued: Issued, title: str) -> Response:
    """The one page that shows a secret: never cached, and kept out of htmx's history (the template's
    hx-history="false"); the address shown is the list's, so going back or reloading shows no secret."""
    context = {"title": title, "row": KeyRow(issued.key), "secret": issued.secret}
    response = render(request, "keys_secret.html", context, visit=visit)
    response.headers.update({"cache-control": "no-store", "hx-push-url": _PAGE})
    return response
