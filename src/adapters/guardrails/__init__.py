"""Guardrail adapters: the built-in checks and the services a guardrail may call."""

from __future__ import annotations

from typing import Any

import httpx

from ports.guardrail import GuardrailUnavailable


async def post_json(
    client: httpx.AsyncClient, url: str, body: Any, headers: dict[str, str], timeout: float, service: str
) -> Any:
    """A guardrail service's JSON answer to `body`; GuardrailUnavailable (naming `service`, never the
    text) when it cannot be had: no answer in time, no connection, an error status, unreadable JSON."""
    try:
        response = await client.post(url, json=body, headers=headers, timeout=timeout)
    except httpx.TimeoutException as exc:
        raise GuardrailUnavailable(f"{service} did not answer within {timeout:g}s") from exc
    except httpx.HTTPError as exc:
        raise GuardrailUnavailable(f"{service} unreachable ({type(exc).__name__})") from exc
    if not response.is_success:
        raise GuardrailUnavailable(f"{service} answered HTTP {response.status_code}")
    try:
        return response.json()
    except (ValueError, UnicodeDecodeError) as exc:
        raise GuardrailUnavailable(f"{service} answered with unreadable JSON") from exc
