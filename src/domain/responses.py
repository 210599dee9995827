"""Responses-API responses the gateway keeps: the conversation state behind `previous_response_id`.

Items and response bodies are kept in the Responses wire format, as mappings the domain does not look
into (like `NativeRequest.body`): what the gateway keeps is exactly what the client sent and got, and the
format adapter alone reads them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

from domain.access import Principal
from domain.frozen import frozen

Item = Mapping[str, Any]
"""One Responses-API item (a `message`, `function_call`, `function_call_output`, `reasoning`, ...) or
response object, in its wire form."""


class ResponseStatus(StrEnum):
    QUEUED = "queued"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"
    INCOMPLETE = "incomplete"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self not in (ResponseStatus.QUEUED, ResponseStatus.IN_PROGRESS)


@frozen
class ResponseOwner:
    """Who may read a stored response: the key that created it, or a key of that key's team. `key` is the
    virtual key's token (its SHA-256); None for the master key, a JWT, or a gateway without auth."""

    key: str | None = None
    team_id: str | None = None

    @classmethod
    def of(cls, principal: Principal) -> ResponseOwner:
        key = principal.key
        return cls(key.token if key is not None else None, principal.team_id)

    def admits(self, principal: Principal) -> bool:
        if principal.reads_everything:
            return True
        key = principal.key
        if key is not None and self.key is not None and key.token == self.key:
            return True
        return self.team_id is not None and principal.team_id == self.team_id


@frozen
class StoredResponse:
    """One response as the gateway keeps it (`store: true`), with the input items it answered."""

    id: str
    owner: ResponseOwner
    created_at: datetime
    expires_at: datetime
    status: ResponseStatus
    model: str
    """The model as the client named it."""
    input_items: tuple[Item, ...]
    """The request's own input, as items each with an id (a string input is one user message)."""
    body: Item
    """The response object as the client was answered (for a background call: as it stands)."""
    previous_response_id: str | None = None
    deployment_id: str | None = None
    """The deployment that answered, once one has."""
    native: bool = False
    """Answered by a deployment speaking the Responses API itself: its items carry the upstream's ids."""

    @property
    def output(self) -> tuple[Item, ...]:
        return tuple(self.body.get("output") or ())

    @property
    def background(self) -> bool:
        return bool(self.body.get("background"))

    def expired(self, now: datetime) -> bool:
        return now >= self.expires_at

    def with_status(self, status: ResponseStatus) -> StoredResponse:
        """The record at another status; the response object says it too, as the wire format does."""
        return dataclasses.replace(self, status=status, body={**self.body, "status": status.value})


def conversation(chain: Iterable[StoredResponse]) -> tuple[Item, ...]:
    """The items of a chain of responses (oldest first) as one conversation: each response's input,
    then its output. Instructions are not part of it: as on OpenAI, each call gives its own."""
    items: list[Item] = []
    for response in chain:
        items.extend(response.input_items)
        items.extend(response.output)
    return tuple(items)
