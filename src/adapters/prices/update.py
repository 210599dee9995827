"""`switchyard prices update`: genai-prices' newer data, fetched and checked, then saved for the lookup."""

from __future__ import annotations

import os
from pathlib import Path

import httpx

from adapters.prices.lookup import read_snapshot


class UpdateFailed(Exception):
    """The newer data could not be fetched, was not genai-prices data, or could not be saved."""


def default_url() -> str:
    """Where genai-prices itself fetches its updates (`genai_prices.UpdatePrices`)."""
    from genai_prices.update_prices import DEFAULT_UPDATE_URL

    return DEFAULT_UPDATE_URL


def update_snapshot(path: Path, url: str, *, timeout: float = 30.0) -> int:
    """Fetches `url`, checks it parses as genai-prices data and replaces `path` with it in one step (a
    reader never sees half a file). Returns how many providers it holds; raises UpdateFailed."""
    try:
        response = httpx.get(url, timeout=httpx.Timeout(timeout, connect=5.0), follow_redirects=True)
        response.raise_for_status()
    except httpx.HTTPStatusError as exc:
        raise UpdateFailed(f"{url} answered {exc.response.status_code}") from exc
    except httpx.HTTPError as exc:
        raise UpdateFailed(f"cannot fetch {url}: {_one_line(exc)}") from exc
    try:
        providers = read_snapshot(response.content)
    except ValueError as exc:
        raise UpdateFailed(f"{url} did not send genai-prices data: {_one_line(exc)}") from exc
    partial = path.with_name(f".{path.name}.partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial.write_bytes(response.content)
        os.replace(partial, path)
    except OSError as exc:
        raise UpdateFailed(f"cannot save {path}: {exc.strerror or exc}") from exc
    return len(providers)


def _one_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
