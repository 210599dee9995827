"""Stored responses to their rows and back, by hand: what the SQL and the in-memory stores both keep."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

from domain.responses import ResponseOwner, ResponseStatus, StoredResponse

Row = Mapping[str, Any]

MAX_CHAIN = 10_000
"""The most responses `chain` walks back: a guard against a runaway chain, far beyond any conversation."""

_STDLIB = " "
"""Marks JSON text written by the standard library (JSON allows leading whitespace)."""


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def encoded(value: Any) -> str:
    """`value` as JSON text, key order kept. orjson writes it, except what orjson refuses (integers beyond
    64 bits, nesting deeper than 255): the standard library writes those, marked so that `decoded` reads
    them back with the standard library too (orjson would read such an integer as a float)."""
    try:
        return orjson.dumps(value, default=_plain).decode()
    except orjson.JSONEncodeError:
        # ASCII escapes keep lone surrogates, which UTF-8 (and so the database) cannot hold.
        return _STDLIB + json.dumps(value, default=_plain, allow_nan=False, separators=(",", ":"))


def decoded(text: str) -> Any:
    return json.loads(text) if text.startswith(_STDLIB) else orjson.loads(text)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def response_row(response: StoredResponse) -> dict[str, Any]:
    return {
        "id": response.id,
        "owner_key": response.owner.key,
        "owner_team_id": response.owner.team_id,
        "created_at": _utc(response.created_at),
        "expires_at": _utc(response.expires_at),
        "status": ResponseStatus(response.status).value,
        "model": response.model,
        "previous_response_id": response.previous_response_id,
        "deployment_id": response.deployment_id,
        "native": response.native,
        "input_items": encoded(response.input_items),
        "body": encoded(response.body),
    }


def stored_response(row: Row) -> StoredResponse:
    return StoredResponse(
        id=row["id"],
        owner=ResponseOwner(row["owner_key"], row["owner_team_id"]),
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        status=ResponseStatus(row["status"]),
        model=row["model"],
        input_items=tuple(decoded(row["input_items"])),
        body=decoded(row["body"]),
        previous_response_id=row["previous_response_id"],
        deployment_id=row["deployment_id"],
        native=bool(row["native"]),
    )


def chain_rows(id: str, lookup: Callable[[str], Row | None]) -> list[Row]:
    """The rows of `id` and its ancestors, oldest first: stops at a missing ancestor, at a cycle and after
    `MAX_CHAIN` rows."""
    found: list[Row] = []
    seen: set[str] = set()
    current: str | None = id
    while current is not None and current not in seen and len(found) < MAX_CHAIN:
        row = lookup(current)
        if row is None:
            break
        seen.add(current)
        found.append(row)
        current = row["previous_response_id"]
    found.reverse()
    return found
