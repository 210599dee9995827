"""The Models page (/ui/models): every deployment with its live routing state, from the services behind
GET /model/info; stored models added, changed and deleted through the use case behind /model/new,
/model/update and /model/delete. The pattern every console page follows: read through the same
services as the API, write through the same use case with the visitor's principal, and show a use
case's BadRequestError next to the field its `param` names."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import FormMultiDict
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from adapters.http.ui.forms import form_text
from adapters.http.ui.pages import PREFIX, Visit, go_to, render, submit_form
from application.health import DeploymentState, DeploymentStates
from application.models import ModelRegistry
from domain.errors import BadRequestError
from domain.router_state import FailureKind

_PAGE = f"{PREFIX}/models"
_PER_MILLION = Decimal(1_000_000)

# The form's fields, named as the use case names them in its errors. Credentials are write-only: never
# rendered back, and left empty on an edit they keep the stored value.
_TEXT_PARAMS = ("model", "api_base")
_SECRET_PARAMS = ("api_key",)
_INT_PARAMS = ("rpm", "tpm")
_PRICE_INFO = ("input_cost_per_token", "output_cost_per_token")


@dataclasses.dataclass(frozen=True, slots=True)
class ModelRow:
    """One deployment as the page shows it."""

    state: DeploymentState
    stored: bool
    """Added through the API or this page (editable); False for one of the config file."""

    @property
    def status(self) -> str:
        return "healthy" if self.state.healthy else "cooling down"

    @property
    def cooldown_ends(self) -> datetime | None:
        until = self.state.cooling_down_until
        return None if until is None else datetime.fromtimestamp(until, UTC)

    @property
    def why(self) -> str:
        """Why it is cooling down, in words: the failure's kind and status, never its message (an
        upstream's reply may quote a credential), and this minute's failures. Empty when healthy."""
        if self.state.healthy:
            return ""
        reason = self.state.cooldown_reason
        failures = self.state.load.minute_failures
        parts = [f"{_FAILURE_WORDS[reason.kind]} (HTTP {reason.status_code})"] if reason else []
        if failures:
            parts.append(f"{failures} failed call{'s' if failures != 1 else ''} this minute")
        return ", ".join(parts)

    @property
    def input_price(self) -> str:
        return _per_million(self.state.deployment.prices.input)

    @property
    def output_price(self) -> str:
        return _per_million(self.state.deployment.prices.output)


_FAILURE_WORDS = {
    FailureKind.RATE_LIMIT: "rate limited",
    FailureKind.TIMEOUT: "timed out",
    FailureKind.AUTH: "credentials refused",
    FailureKind.NOT_FOUND: "model not found upstream",
    FailureKind.CONNECTION: "upstream unreachable",
    FailureKind.SERVER_ERROR: "upstream server error",
    FailureKind.OTHER: "failed",
}


def _per_million(price: Decimal | None) -> str:
    return "—" if price is None else f"${(price * _PER_MILLION).normalize():f}"


@dataclasses.dataclass(frozen=True, slots=True)
class ModelForm:
    """What the add and edit forms submitted, as the use case takes it."""

    model_name: str | None
    params: dict[str, Any]
    info: dict[str, Any]


def _read_form(form: FormMultiDict) -> ModelForm:
    """The submitted fields that carry a value (an empty field changes nothing on an edit)."""

    def value(name: str) -> str:
        return form_text(form, name)

    params: dict[str, Any] = {}
    for name in (*_TEXT_PARAMS, *_SECRET_PARAMS):
        if text := value(f"litellm_params.{name}"):
            params[name] = text
    for name in _INT_PARAMS:
        if text := value(f"litellm_params.{name}"):
            params[name] = _number(text, f"litellm_params.{name}", int)
    info = {
        name: _number(text, f"model_info.{name}", float)
        for name in _PRICE_INFO
        if (text := value(f"model_info.{name}"))
    }
    return ModelForm(value("model_name") or None, params, info)


def _number(text: str, field: str, kind: type[int] | type[float]) -> int | float:
    try:
        return kind(text)
    except ValueError:
        raise BadRequestError(f"{field} must be a number.", param=field) from None


def _stored_values(registry: ModelRegistry, model_id: str) -> dict[str, Any]:
    """The edit form's initial values: the stored record, credentials left out."""
    record = registry.record(model_id)
    if record is None:
        raise NotFoundException(f"No stored model with id '{model_id}'.")
    values: dict[str, Any] = {"model_name": record.model_name}
    for name in (*_TEXT_PARAMS, *_INT_PARAMS):
        values[f"litellm_params.{name}"] = record.litellm_params.get(name, "")
    for name in _PRICE_INFO:
        values[f"model_info.{name}"] = record.model_info.get(name, "")
    return values


class ModelsPage(Controller):
    path = _PAGE

    @get("/")
    async def index(
        self,
        request: Request,
        visit: NamedDependency[Visit],
        deployment_states: NamedDependency[DeploymentStates],
        models: NamedDependency[ModelRegistry],
    ) -> Response:
        return await _list_page(request, visit, deployment_states, models)

    @post("/", status_code=303)
    async def add(
        self,
        request: Request,
        visit: NamedDependency[Visit],
        deployment_states: NamedDependency[DeploymentStates],
        models: NamedDependency[ModelRegistry],
    ) -> Response:
        async def apply(form: FormMultiDict) -> None:
            submitted = _read_form(form)
            await models.add(visit.principal, submitted.model_name or "", submitted.params, submitted.info)

        async def again(form: FormMultiDict, errors: Mapping[str, str]) -> Response:
            return await _list_page(request, visit, deployment_states, models, form, errors)

        return await submit_form(request, apply, then=_PAGE, again=again)

    @get("/{model_id:str}/edit")
    async def edit(
        self,
        request: Request,
        visit: NamedDependency[Visit],
        model_id: FromPath[str],
        models: NamedDependency[ModelRegistry],
    ) -> Response:
        return _edit_page(request, visit, model_id, _stored_values(models, model_id))

    @post("/{model_id:str}", status_code=303)
    async def update(
        self,
        request: Request,
        visit: NamedDependency[Visit],
        model_id: FromPath[str],
        models: NamedDependency[ModelRegistry],
    ) -> Response:
        async def apply(form: FormMultiDict) -> None:
            submitted = _read_form(form)
            await models.update(
                visit.principal,
                model_id,
                model_name=submitted.model_name,
                params=submitted.params,
                info=submitted.info,
            )

        async def again(form: FormMultiDict, errors: Mapping[str, str]) -> Response:
            return _edit_page(request, visit, model_id, form, errors)

        return await submit_form(request, apply, then=_PAGE, again=again)

    @post("/{model_id:str}/delete", status_code=303)
    async def delete(
        self, visit: NamedDependency[Visit], model_id: FromPath[str], models: NamedDependency[ModelRegistry]
    ) -> Response:
        await models.delete(visit.principal, model_id)
        return go_to(_PAGE)


async def _list_page(
    request: Request,
    visit: Visit,
    states: DeploymentStates,
    registry: ModelRegistry,
    values: Mapping[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
) -> Response:
    rows = [
        ModelRow(state, registry.record(state.deployment.id) is not None) for state in await states.read()
    ]
    context = {"rows": rows, "broken": registry.broken, "values": values or {}, "errors": errors or {}}
    return render(request, "models.html", context, visit=visit, status=400 if errors else 200)


def _edit_page(
    request: Request,
    visit: Visit,
    model_id: str,
    values: Mapping[str, Any],
    errors: Mapping[str, str] | None = None,
) -> Response:
    context = {"model_id": model_id, "values": values, "errors": errors or {}, "editing": True}
    return render(request, "model_edit.html", context, visit=visit, status=400 if errors else 200)
