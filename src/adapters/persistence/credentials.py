"""Stored deployments' credentials encrypted at rest: sealed on their way into a row, opened on their way
out."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from domain.deployments import SECRET_PARAMS
from ports.credential_cipher import CredentialCipher, CredentialUnreadable, is_sealed

Row = Mapping[str, Any]


def _context(model_id: str, name: str) -> str:
    return f"deployments/{model_id}/litellm_params.{name}"


def credential_names(params: Mapping[str, Any]) -> list[str]:
    return [name for name, value in params.items() if name in SECRET_PARAMS and value is not None]


class CredentialColumns:
    """The credential params (`domain.deployments.SECRET_PARAMS`) of a deployment row. Each is sealed on
    its own (as JSON text, so that `vertex_credentials` given as an object comes back one), bound to its
    model and field. Without a cipher (no salt key and no master key) they are kept as given; a value
    kept before encryption was on is read as it is and sealed on the record's next write."""

    def __init__(self, cipher: CredentialCipher | None) -> None:
        self._cipher = cipher

    def sealed_row(self, row: dict[str, Any]) -> dict[str, Any]:
        cipher, params = self._cipher, row["litellm_params"]
        if cipher is None:
            return row
        model_id = row["model_id"]
        sealed = {
            name: cipher.encrypt(json.dumps(params[name]), _context(model_id, name))
            for name in credential_names(params)
        }
        return row | {"litellm_params": params | sealed}

    def opened_row(self, row: Row) -> dict[str, Any]:
        """The row with its credentials in the clear, and under `unreadable` those that could not be
        opened (left out of the params)."""
        params = dict(row["litellm_params"])
        unreadable = []
        for name in credential_names(params):
            if not is_sealed(params[name]):
                continue
            try:
                params[name] = self._open(row["model_id"], name, params[name])
            except CredentialUnreadable:
                del params[name]
                unreadable.append(name)
        return {**row, "litellm_params": params, "unreadable": tuple(unreadable)}

    def _open(self, model_id: str, name: str, sealed: str) -> Any:
        if self._cipher is None:
            raise CredentialUnreadable(f"{_context(model_id, name)}: no salt key to open it with")
        return json.loads(self._cipher.decrypt(sealed, _context(model_id, name)))
