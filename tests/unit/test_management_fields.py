"""Management request fields turned into domain values, and records turned into the audit log's JSON."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from application.management.budgets import moment
from application.management.fields import (
    amounts,
    assign,
    count,
    counts,
    duration,
    flag,
    jsonable,
    mapping,
    money,
    names,
    required_text,
    role,
    text,
)
from domain.budgets import BudgetTerms
from domain.errors import BadRequestError
from domain.identity import RateLimits, Role, Team, VirtualKey


@pytest.mark.parametrize(
    ("convert", "value", "expected"),
    [
        (money, 0.1, Decimal("0.1")),
        (money, "2.50", Decimal("2.50")),
        (money, 3, Decimal(3)),
        (money, None, None),
        (count, 7, 7),
        (counts, {"gpt-x": 5}, {"gpt-x": 5}),
        (counts, None, {}),
        (amounts, {"gpt-x": 1.5, "gpt-y": {"max_budget": 2}}, {"gpt-x": Decimal("1.5"), "gpt-y": Decimal(2)}),
        (names, ["a", "b", "a"], ("a", "b")),
        (names, None, ()),
        (flag, None, False),
        (mapping, None, {}),
        (duration, "1mo", "1mo"),
        (role, "org_admin", Role.ORG_ADMIN),
        (text, None, None),
        (moment, "2024-01-02T03:04:05Z", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        (moment, "2024-01-02T03:04:05", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
    ],
)
def test_fields_convert_to_domain_values(convert: Any, value: Any, expected: Any) -> None:
    assert convert(value, "f") == expected


@pytest.mark.parametrize(
    ("convert", "value"),
    [
        (money, True),
        (money, "lots"),
        (money, float("inf")),
        (money, -1),
        (money, [1]),
        (count, 1.5),
        (count, True),
        (count, -1),
        (counts, [1]),
        (counts, {"gpt-x": None}),
        (amounts, "x"),
        (amounts, {"gpt-x": -2}),
        (names, "a"),
        (names, [1]),
        (flag, "yes"),
        (mapping, []),
        (duration, "a while"),
        (role, "emperor"),
        (text, 5),
        (required_text, ""),
        (moment, "yesterday"),
    ],
)
def test_a_malformed_field_is_a_400_naming_it(convert: Any, value: Any) -> None:
    with pytest.raises(BadRequestError) as refused:
        convert(value, "the_field")
    assert refused.value.param is not None and refused.value.param.startswith("the_field")


def test_assigning_fields_gathers_the_limits_and_refuses_unknown_fields() -> None:
    team = assign(
        Team("red", limits=RateLimits(rpm_limit=1)),
        {"team_alias": "Red", "tpm_limit": 5},
        {"team_alias": text},
    )
    assert (team.team_alias, team.limits.rpm_limit, team.limits.tpm_limit) == ("Red", 1, 5)
    with pytest.raises(BadRequestError) as refused:
        assign(team, {"colour": "red"}, {"team_alias": text})
    assert refused.value.param == "colour"
    assert assign(team, {}, {}) is team


def test_the_audit_log_gets_records_as_plain_json() -> None:
    key = VirtualKey(
        "a" * 64,
        "sk-...abcd",
        budget=BudgetTerms(max_budget=Decimal("1.5"), model_max_budget={"m": Decimal(2)}),
        tags=("x",),
        created_at=datetime(2024, 1, 1, tzinfo=UTC),
    )
    found = jsonable(key)
    assert found["budget"]["max_budget"] == 1.5 and found["budget"]["model_max_budget"] == {"m": 2.0}
    assert found["tags"] == ["x"]
    assert found["created_at"] == "2024-01-01T00:00:00+00:00" and found["limits"]["model_rpm_limit"] == {}
    assert jsonable(Role.ORG_ADMIN) == "org_admin"
