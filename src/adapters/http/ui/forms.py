"""A console form's texts read into the values the management use cases take, and stored values shown
back as text, one way for every page (a refused value's error names the field the form shows it by)."""

from __future__ import annotations

from decimal import Decimal

from litestar.datastructures import FormMultiDict

from domain.errors import BadRequestError


def form_text(form: FormMultiDict, name: str) -> str:
    """Field `name` as typed, trimmed ("" when the form does not have it)."""
    return str(form.get(name) or "").strip()


def whole_number(text: str, name: str) -> int | None:
    """A count or limit typed into field `name`; None when left empty."""
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise BadRequestError(f"{name} must be a whole number, got {text!r}.", param=name) from None


def comma_list(text: str) -> list[str]:
    """A comma-separated field (model names, tags) as its non-empty items."""
    return [item for item in (part.strip() for part in text.split(",")) if item]


def plain(amount: Decimal) -> str:
    """An exact amount as typed back into a form: no exponent, no trailing zeros."""
    return f"{amount.normalize():f}"
