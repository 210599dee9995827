"""What the Teams, Users, Organizations and Customers pages share: one controller shape (a list with a
create form, a detail page with an edit form, delete; optionally block and members), their forms read
into the fields the management use cases take (by the API's names, so that a use case's error lands next
to its field), and a record's stored values shown back in its edit form."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from enum import Enum
from functools import partial
from typing import Any, ClassVar
from urllib.parse import quote

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import FormMultiDict
from litestar.di import NamedDependency
from litestar.params import FromPath

from adapters.http.controllers.management.requests import query
from adapters.http.ui.forms import comma_list, form_text, plain, whole_number
from adapters.http.ui.pages import Visit, go_to, render, submit_form
from application.management import Management

BUDGET_FIELDS = ("max_budget", "soft_budget", "budget_duration")
"""Given to the use case as typed: it reads the amounts and the duration and names the field it refuses."""

LIMIT_FIELDS = ("rpm_limit", "tpm_limit", "max_parallel_requests")


@dataclasses.dataclass(frozen=True, slots=True)
class RecordForm:
    """The fields of one kind of record's create and edit forms: `texts` as typed, `lists` comma
    separated (e.g. models), `choices` from a select; every form also carries the budget and limits."""

    texts: tuple[str, ...] = ()
    lists: tuple[str, ...] = ()
    choices: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()
    """Texts a new record may be given (its id) but an edit never changes."""

    def read(self, form: FormMultiDict, *, editing: bool) -> dict[str, Any]:
        """The submitted fields for the use case. A new record gets only the fields typed in; an edited
        one gets every field, an emptied one as None (which clears it, as in the API)."""
        fields: dict[str, Any] = {}
        for name in (*self.texts, *self.choices, *BUDGET_FIELDS):
            fields[name] = form_text(form, name) or None
        for name in self.lists:
            fields[name] = comma_list(form_text(form, name)) or None
        for name in LIMIT_FIELDS:
            fields[name] = whole_number(form_text(form, name), name)
        if editing:
            return fields
        fields |= {name: form_text(form, name) or None for name in self.ids}
        return {name: value for name, value in fields.items() if value is not None}

    def values(self, record: Any) -> dict[str, str]:
        """The edit form's initial values: what `record` holds now."""
        shown = {name: _shown(getattr(record, name)) for name in (*self.texts, *self.choices)}
        shown |= {name: ", ".join(getattr(record, name)) for name in self.lists}
        shown |= {name: _shown(getattr(record.budget, name)) for name in BUDGET_FIELDS}
        shown |= {name: _shown(getattr(record.limits, name)) for name in LIMIT_FIELDS}
        return shown


def _shown(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return plain(value)
    return str(value.value if isinstance(value, Enum) else value)


def filters(request: Request, names: tuple[str, ...]) -> dict[str, str]:
    """The list filters given in the query (by the list API's names), empty ones left out."""
    return {name: value for name in names if (value := query(request, name))}


def member(form: FormMultiDict) -> dict[str, str]:
    """A member to add (`{"user_id" | "user_email", "role"}`, as /team/member_add takes one): by id when
    one is given, else by email."""
    found = {"role": form_text(form, "member.role")}
    for name in ("user_id", "user_email"):
        if text := form_text(form, f"member.{name}"):
            found[name] = text
    return found


def page(
    request: Request,
    visit: Visit,
    template: str,
    context: Mapping[str, Any],
    values: Mapping[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
) -> Response:
    """A page with one form: `values` typed or stored, and `errors` by field (a 400 when there are any)."""
    full = {**context, "values": values or {}, "errors": errors or {}}
    return render(request, template, full, visit=visit, status=400 if errors else 200)


Apply = Callable[[FormMultiDict], Awaitable[object]]


class RecordPages(Controller):
    """The routes of one kind of record under `path`: the list (`<template>.html`) with its create form,
    the record (`<template>_detail.html`) with its edit form, and delete. A subclass says how each goes
    through the record's use cases, always as the visitor, so the API's role rules apply."""

    template: ClassVar[str]
    form: ClassVar[RecordForm]

    async def listing(self, request: Request, visit: Visit, management: Management) -> dict[str, Any]:
        """The list page's context (what the list use case answers the visitor)."""
        raise NotImplementedError

    async def create(self, visit: Visit, management: Management, fields: dict[str, Any]) -> str:
        """Makes the record the create form describes; answers its id."""
        raise NotImplementedError

    async def read(self, visit: Visit, management: Management, record_id: str) -> tuple[Any, dict[str, Any]]:
        """The record (None when there is none to edit) and its page's context, as its info use case
        answers the visitor."""
        raise NotImplementedError

    async def change(
        self, visit: Visit, management: Management, record_id: str, fields: dict[str, Any]
    ) -> None:
        raise NotImplementedError

    async def remove(self, visit: Visit, management: Management, record_id: str) -> None:
        raise NotImplementedError

    @get("/")
    async def index(
        self, request: Request, visit: NamedDependency[Visit], management: NamedDependency[Management]
    ) -> Response:
        return await self.list_page(request, visit, management)

    @post("/", status_code=303)
    async def add(
        self, request: Request, visit: NamedDependency[Visit], management: NamedDependency[Management]
    ) -> Response:
        async def apply(form: FormMultiDict) -> Response:
            record_id = await self.create(visit, management, self.form.read(form, editing=False))
            return go_to(self.record_path(record_id))

        again = partial(self.list_page, request, visit, management)
        return await submit_form(request, apply, then=self.path, again=again)

    @get("/{record_id:str}")
    async def detail(
        self,
        request: Request,
        visit: NamedDependency[Visit],
        record_id: FromPath[str],
        management: NamedDependency[Management],
    ) -> Response:
        return await self.detail_page(request, visit, management, record_id)

    @post("/{record_id:str}", status_code=303)
    async def update(
        self,
        request: Request,
        visit: NamedDependency[Visit],
        record_id: FromPath[str],
        management: NamedDependency[Management],
    ) -> Response:
        async def apply(form: FormMultiDict) -> None:
            await self.change(visit, management, record_id, self.form.read(form, editing=True))

        return await self.submit_on_record(request, visit, management, record_id, apply)

    @post("/{record_id:str}/delete", status_code=303)
    async def delete(
        self,
        request: Request,
        visit: NamedDependency[Visit],
        record_id: FromPath[str],
        management: NamedDependency[Management],
    ) -> Response:
        async def apply(_: FormMultiDict) -> None:
            await self.remove(visit, management, record_id)

        again = partial(self.detail_page, request, visit, management, record_id)
        return await submit_form(request, apply, then=self.path, again=again)

    def record_path(self, record_id: str) -> str:
        return f"{self.path}/{quote(record_id, safe='')}"

    def submit_on_record(
        self, request: Request, visit: Visit, management: Management, record_id: str, apply: Apply
    ) -> Awaitable[Response]:
        """A form of the record's page: back to the page, or the page again with the error."""
        again = partial(self.detail_page, request, visit, management, record_id)
        return submit_form(request, apply, then=self.record_path(record_id), again=again)

    async def list_page(
        self,
        request: Request,
        visit: Visit,
        management: Management,
        values: Mapping[str, Any] | None = None,
        errors: Mapping[str, str] | None = None,
    ) -> Response:
        context = await self.listing(request, visit, management)
        return page(request, visit, f"{self.template}.html", context, values, errors)

    async def detail_page(
        self,
        request: Request,
        visit: Visit,
        management: Management,
        record_id: str,
        values: Mapping[str, Any] | None = None,
        errors: Mapping[str, str] | None = None,
    ) -> Response:
        """The record; its edit form shows the stored values, or what was typed in a form just refused."""
        record, context = await self.read(visit, management, record_id)
        shown = {**(self.form.values(record) if record is not None else {}), **(values or {})}
        return page(request, visit, f"{self.template}_detail.html", context, shown, errors)


class BlockablePages(RecordPages):
    """Record pages with block and unblock buttons."""

    async def set_blocked(self, visit: Visit, management: Management, record_id: str, blocked: bool) -> None:
        raise NotImplementedError

    @post("/{record_id:str}/block", status_code=303)
    async def block(
        self, visit: NamedDependency[Visit], record_id: FromPath[str], management: NamedDependency[Management]
    ) -> Response:
        await self.set_blocked(visit, management, record_id, True)
        return go_to(self.record_path(record_id))

    @post("/{record_id:str}/unblock", status_code=303)
    async def unblock(
        self, visit: NamedDependency[Visit], record_id: FromPath[str], management: NamedDependency[Management]
    ) -> Response:
        await self.set_blocked(visit, management, record_id, False)
        return go_to(self.record_path(record_id))


class MemberPages(RecordPages):
    """Record pages with an add-member form (user id or email, and a role)."""

    async def add_member(
        self, visit: Visit, management: Management, record_id: str, member: dict[str, str]
    ) -> None:
        raise NotImplementedError

    @post("/{record_id:str}/members", status_code=303)
    async def member_add(
        self,
        request: Request,
        visit: NamedDependency[Visit],
        record_id: FromPath[str],
        management: NamedDependency[Management],
    ) -> Response:
        async def apply(form: FormMultiDict) -> None:
            await self.add_member(visit, management, record_id, member(form))

        return await self.submit_on_record(request, visit, management, record_id, apply)
