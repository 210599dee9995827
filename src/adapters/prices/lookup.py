"""`python -m adapters.prices.lookup`: genai-prices' prices for the models named on stdin, JSON on stdout.

Run by GenaiPricesCatalog in a child process, so that genai-prices' data never loads into the gateway.
Request: `{"snapshot": path or null, "models": [[genai-prices provider id, [model ids to try]], ...]}`.
Answer: `{"source": "...", "prices": [prices as adapters.prices.wire gives them, or null, ...]}`, one entry
per requested model, in order.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

import genai_prices
from genai_prices import data_snapshot, types

from adapters.prices.wire import to_wire
from domain.pricing import ModelPrices

# genai-prices' price keys (USD per million tokens) behind each of ours; the first one set wins.
_PER_MTOK = (
    ("input", ("input_mtok",)),
    ("output", ("output_mtok",)),
    ("cache_read", ("cache_read_mtok",)),
    ("cache_write", ("cache_write_mtok", "cache_write_5m_mtok")),  # Anthropic's default TTL is 5 min
    ("reasoning", ("output_reasoning_mtok",)),
)
_TIERED = frozenset({"input", "output", "cache_read", "cache_write"})
_DAY_MINUTES = 24 * 60


def read_snapshot(data: bytes) -> list[types.Provider]:
    """Providers from genai-prices' update data (what `UpdatePrices` fetches); ValueError when it is not."""
    raw = json.loads(data)
    if not isinstance(raw, list) or not raw:
        raise ValueError("expected a non-empty list of providers")
    try:
        # genai-prices parses its update data with this one function; it has no public name for it.
        return types._providers_from_raw(raw)
    except Exception as exc:  # malformed parts fail in pydantic, in asserts, in next(): all mean "not data"
        raise ValueError(str(exc) or type(exc).__name__) from exc


def load_snapshot(path: Path | None) -> tuple[data_snapshot.DataSnapshot, str]:
    """The data at `path` when it is there and reads well, else the bundled data; and where they came from."""
    bundled = f"genai-prices {genai_prices.__version__} bundled data"
    if path is None or not path.is_file():
        return data_snapshot.get_snapshot(), bundled
    try:
        providers = read_snapshot(path.read_bytes())
    except (OSError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return data_snapshot.get_snapshot(), f"{bundled} ({path} is unreadable: {reason})"
    saved = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    snapshot = data_snapshot.DataSnapshot(providers, from_auto_update=True)
    return snapshot, f"genai-prices data from {path}, saved {saved:%Y-%m-%d %H:%M} UTC"


def prices_of(
    snapshot: data_snapshot.DataSnapshot, provider: str, model_ids: Sequence[str], now: datetime
) -> ModelPrices | None:
    """The prices in force at `now` of the first of `model_ids` the provider has; None when none is known
    or none has a token or per-call price."""
    for model_id in model_ids:
        try:
            _, model = snapshot.find_provider_model(model_id, None, provider, None)
        except LookupError:
            continue
        try:
            return _converted(_in_force(model, now))
        except ValueError:  # a negative or infinite price: bad data, not a price to charge
            return None
    return None


def _in_force(model: types.ModelInfo, now: datetime) -> types.ModelPrice:
    """Of prices that change on a date, the latest whose date has come. Prices by time of day (DeepSeek's
    off-peak hours) cannot hold for a catalog read once at start, so the one charged for most of the day
    stands for all of it."""
    if isinstance(model.prices, types.ModelPrice):
        return model.prices
    for conditional in reversed(model.prices):
        constraint = conditional.constraint
        if (
            constraint is None
            or (isinstance(constraint, types.StartDateConstraint) and constraint.active(now))
            or (isinstance(constraint, types.TimeOfDateConstraint) and _most_of_the_day(constraint))
        ):
            return conditional.prices
    return model.prices[0].prices


def _most_of_the_day(window: types.TimeOfDateConstraint) -> bool:
    return (_minute(window.end_time) - _minute(window.start_time)) % _DAY_MINUTES > _DAY_MINUTES // 2


def _minute(at: time) -> int:
    offset = at.utcoffset()
    return at.hour * 60 + at.minute - (int(offset.total_seconds()) // 60 if offset else 0)


def _converted(price: types.ModelPrice) -> ModelPrices | None:
    """genai-prices' per-million-token prices as ours per token. A tiered price gives the base price and
    the first tier's (one long-context threshold per model: the input price's, else the first met)."""
    found: dict[str, Decimal | types.TieredPrices] = {}
    for name, keys in _PER_MTOK:
        value = next((v for key in keys if (v := getattr(price, key, None)) is not None), None)
        if isinstance(value, Decimal | types.TieredPrices):
            found[name] = value
    firsts = {
        name: value.tiers[0]
        for name, value in found.items()
        if isinstance(value, types.TieredPrices) and value.tiers and name in _TIERED
    }
    threshold = firsts["input"].start if "input" in firsts else next((t.start for t in firsts.values()), None)
    values: dict[str, Any] = {}
    for name, value in found.items():
        if isinstance(value, types.TieredPrices):
            values[name] = _per_token(value.base)
            first = firsts.get(name)
            if first is not None and first.start == threshold:
                values[f"{name}_above_tier"] = _per_token(first.price)
                values["tier_threshold"] = threshold
        else:
            values[name] = _per_token(value)
    per_request = getattr(price, "requests_kcount", None)
    if isinstance(per_request, types.TieredPrices):
        per_request = per_request.base
    if isinstance(per_request, Decimal):
        values["per_request"] = per_request.scaleb(-3)  # priced per thousand calls
    return ModelPrices(**values) if values else None


def _per_token(per_million: Decimal) -> Decimal:
    return per_million.scaleb(-6)  # exact: only the exponent moves


def main() -> int:
    request = json.load(sys.stdin)
    snapshot, source = load_snapshot(Path(request["snapshot"]) if request.get("snapshot") else None)
    now = datetime.now(UTC)
    answers = []
    for provider, model_ids in request["models"]:
        prices = prices_of(snapshot, provider, model_ids, now)
        answers.append(None if prices is None else to_wire(prices))
    json.dump({"source": source, "prices": answers}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
