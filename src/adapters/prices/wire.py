"""ModelPrices as the lookup subprocess sends them: JSON, each price a decimal string so that none rounds."""

from __future__ import annotations

import dataclasses
from decimal import Decimal, InvalidOperation
from typing import Any

from domain.pricing import ModelPrices

_FIELDS = frozenset(field.name for field in dataclasses.fields(ModelPrices))


def to_wire(prices: ModelPrices) -> dict[str, str | int]:
    """The prices that are set: `tier_threshold` as a number, each price in fixed-point notation."""
    out: dict[str, str | int] = {}
    for name in _FIELDS:
        value = getattr(prices, name)
        if isinstance(value, Decimal):
            out[name] = format(value, "f")
        elif value is not None:
            out[name] = value
    return out


def from_wire(data: Any) -> ModelPrices:
    """The ModelPrices `to_wire` gave; ValueError for anything else."""
    if not isinstance(data, dict) or not data.keys() <= _FIELDS:
        raise ValueError(f"not a set of prices: {data!r}")
    values: dict[str, Any] = {}
    for name, value in data.items():
        if name == "tier_threshold":
            if type(value) is not int:
                raise ValueError(f"tier_threshold must be a whole number, not {value!r}")
            values[name] = value
        else:
            if not isinstance(value, str):
                raise ValueError(f"{name} must be a decimal string, not {value!r}")
            try:
                values[name] = Decimal(value)
            except InvalidOperation:
                raise ValueError(f"{name} must be a decimal string, not {value!r}") from None
    return ModelPrices(**values)
