"""The tables behind the unit of work (private to this adapter; migrations/ creates them)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Dialect,
    Float,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    TypeDecorator,
)
from sqlalchemy.types import TypeEngine


class Money(TypeDecorator[Decimal]):
    """Exact decimals: NUMERIC on PostgreSQL; text on SQLite, whose NUMERIC goes through a float."""

    impl = Numeric
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(Text())
        return dialect.type_descriptor(Numeric(asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None or dialect.name != "sqlite":
            return value
        return str(Decimal(value))

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(value)


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes both ways: SQLite keeps no zone, so one is attached on the way out (and a naive
    datetime saved is taken to be UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _audit_columns() -> list[Column[Any]]:
    return [
        Column("created_at", UtcDateTime()),
        Column("updated_at", UtcDateTime()),
        Column("created_by", String()),
        Column("updated_by", String()),
    ]


def _budget_terms() -> list[Column[Any]]:
    """The columns of `domain.budgets.BudgetTerms`, which every budget-bearing record keeps."""
    return [
        Column("max_budget", Money()),
        Column("soft_budget", Money()),
        Column("budget_duration", String()),
        Column("budget_id", String(), index=True),
        Column("model_max_budget", JSON(), nullable=False),
        Column("spend", Money(), nullable=False),
        Column("budget_reset_at", UtcDateTime()),
    ]


def _budget_columns() -> list[Column[Any]]:
    return [
        Column("models", JSON(), nullable=False),
        *_budget_terms(),
        Column("limits", JSON(), nullable=False),
        Column("blocked", Boolean(), nullable=False),
        Column("metadata", JSON(), nullable=False),
    ]


keys = Table(
    "keys",
    metadata,
    Column("token", String(64), primary_key=True),
    Column("key_name", String(), nullable=False),
    Column("key_alias", String(), unique=True),  # NULLs never collide, in both databases
    Column("user_id", String(), index=True),
    Column("team_id", String(), index=True),
    Column("organization_id", String(), index=True),
    Column("allowed_routes", JSON(), nullable=False),
    Column("allowed_cache_controls", JSON(), nullable=False),
    Column("expires", UtcDateTime()),
    Column("tags", JSON(), nullable=False),
    *_budget_columns(),
    *_audit_columns(),
)

teams = Table(
    "teams",
    metadata,
    Column("team_id", String(), primary_key=True),
    Column("team_alias", String(), index=True),
    Column("organization_id", String(), index=True),
    Column("tags", JSON(), nullable=False),
    *_budget_columns(),
    *_audit_columns(),
)


def _members(name: str, owner: str) -> Table:
    """Members in the order they were given (`position`), so they come back as the same tuple."""
    return Table(
        name,
        metadata,
        Column(owner, String(), primary_key=True),
        Column("position", Integer(), primary_key=True, autoincrement=False),
        Column("user_id", String(), nullable=False, index=True),
        Column("role", String(), nullable=False),
        Column("user_email", String()),
    )


team_members = _members("team_members", "team_id")

users = Table(
    "users",
    metadata,
    Column("user_id", String(), primary_key=True),
    Column("user_email", String(), index=True),
    Column("user_alias", String()),
    Column("user_role", String(), nullable=False),
    Column("organization_id", String(), index=True),
    *_budget_columns(),
    *_audit_columns(),
    Column("password_hash", String()),
)

invitations = Table(
    "invitations",
    metadata,
    Column("id", String(), primary_key=True),
    Column("user_id", String(), nullable=False, index=True),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("is_accepted", Boolean(), nullable=False),
    Column("accepted_at", UtcDateTime()),
    *_audit_columns(),
)

organizations = Table(
    "organizations",
    metadata,
    Column("organization_id", String(), primary_key=True),
    Column("organization_alias", String(), index=True),
    Column("tags", JSON(), nullable=False),
    *_budget_columns(),
    *_audit_columns(),
)

organization_members = _members("organization_members", "organization_id")

end_users = Table(
    "end_users",
    metadata,
    Column("user_id", String(), primary_key=True),
    Column("alias", String(), index=True),
    Column("blocked", Boolean(), nullable=False),
    *_budget_terms(),
    Column("limits", JSON(), nullable=False),
    Column("allowed_model_region", String()),
    Column("default_model", String()),
    Column("metadata", JSON(), nullable=False),
    Column("created_at", UtcDateTime()),
    Column("updated_at", UtcDateTime()),
)

budgets = Table(
    "budgets",
    metadata,
    Column("budget_id", String(), primary_key=True),
    Column("max_budget", Money()),
    Column("soft_budget", Money()),
    Column("budget_duration", String()),
    Column("limits", JSON(), nullable=False),
    Column("model_max_budget", JSON(), nullable=False),
    Column("budget_reset_at", UtcDateTime()),
    *_audit_columns(),
)

deployments = Table(
    "deployments",
    metadata,
    Column("model_id", String(), primary_key=True),
    Column("model_name", String(), nullable=False, index=True),
    Column("litellm_params", JSON(), nullable=False),
    Column("model_info", JSON(), nullable=False),
    *_audit_columns(),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", String(), primary_key=True),
    Column("at", UtcDateTime(), nullable=False, index=True),
    Column("actor", String(), nullable=False),
    Column("action", String(), nullable=False),
    Column("table_name", String(), nullable=False),
    Column("object_id", String(), nullable=False),
    Column("before", JSON(none_as_null=True)),
    Column("after", JSON(none_as_null=True)),
    Index(None, "table_name", "object_id"),
)

change_stamps = Table(
    "change_stamps",
    metadata,
    Column("topic", String(), primary_key=True),
    Column("stamp", BigInteger(), nullable=False),
)


# The spend ledger's tables (adapters/persistence/spend_ledger.py). Totals and daily aggregates are kept in
# rows per writer (`shard`) so that instances never wait on each other's row locks; readers sum the shards.
# Key columns of spend_daily hold '' for "none": a NULL would never match in the primary key or an upsert.

spend_logs = Table(
    "spend_logs",
    metadata,
    Column("request_id", String(), primary_key=True),
    Column("call_type", String(), nullable=False),
    Column("started_at", UtcDateTime(), nullable=False, index=True),
    Column("ended_at", UtcDateTime(), nullable=False),
    Column("model_group", String(), nullable=False),
    Column("key_hash", String(64)),
    Column("key_alias", String()),
    Column("key_name", String()),
    Column("user_id", String()),
    Column("team_id", String()),
    Column("organization_id", String()),
    Column("end_user", String()),
    Column("deployment_id", String()),
    Column("provider", String()),
    Column("upstream_model", String()),
    Column("prompt_tokens", Integer(), nullable=False),
    Column("completion_tokens", Integer(), nullable=False),
    Column("cached_tokens", Integer(), nullable=False),
    Column("cache_creation_tokens", Integer(), nullable=False),
    Column("reasoning_tokens", Integer(), nullable=False),
    Column("cost", Money()),
    Column("input_cost", Money()),
    Column("output_cost", Money()),
    Column("estimated", Boolean(), nullable=False),
    Column("status", String(), nullable=False),
    Column("error_type", String()),
    Column("status_code", Integer()),
    Column("retries", Integer(), nullable=False),
    Column("fallbacks", Integer(), nullable=False),
    Column("time_to_first_token", Float()),
    Column("upstream_seconds", Float()),
    Column("cache_hit", Boolean(), nullable=False),
    Column("tags", JSON(), nullable=False),
    Column("metadata", JSON(), nullable=False),
    Column("messages", JSON(none_as_null=True)),
    Column("response", JSON(none_as_null=True)),
    # Every caller filter of the log (and spend_since) reads one caller's records in a time window. The
    # migration makes these indexes partial (WHERE <column> IS NOT NULL: a call without a key, team, ...
    # updates no entry in that one); the dialect options that say so are left out here, as naming
    # PostgreSQL's would load its dialect (5 MB) into an SQLite gateway.
    *(
        Index(None, column, "started_at")
        for column in ("key_hash", "user_id", "team_id", "organization_id", "end_user")
    ),
)

spend_totals = Table(
    "spend_totals",
    metadata,
    Column("subject", String(), primary_key=True),
    Column("shard", String(), primary_key=True),
    Column("spend", Money(), nullable=False),
    Column("tokens", BigInteger(), nullable=False),
    Column("requests", BigInteger(), nullable=False),
)

SPEND_DAILY_KEY = (
    "day",
    "key_hash",
    "team_id",
    "organization_id",
    "user_id",
    "end_user",
    "model_group",
    "provider",
    "shard",
)

spend_daily = Table(
    "spend_daily",
    metadata,
    Column("day", Date(), primary_key=True),
    *(Column(name, String(), primary_key=True) for name in SPEND_DAILY_KEY[1:]),
    Column("spend", Money(), nullable=False),
    Column("prompt_tokens", BigInteger(), nullable=False),
    Column("completion_tokens", BigInteger(), nullable=False),
    Column("cached_tokens", BigInteger(), nullable=False),
    Column("cache_creation_tokens", BigInteger(), nullable=False),
    Column("reasoning_tokens", BigInteger(), nullable=False),
    Column("requests", BigInteger(), nullable=False),
    Column("successes", BigInteger(), nullable=False),
    Column("failures", BigInteger(), nullable=False),
)

spend_resets = Table(
    "spend_resets",
    metadata,
    Column("scope", String(), primary_key=True),
    Column("reset_at", UtcDateTime(), nullable=False),
)


# Stored Responses-API responses (adapters/persistence/response_store.py). Items and bodies are JSON text
# that response_rows.py writes and reads with orjson: exact and fast for bodies of hundreds of KB, where
# `jsonb` would reorder keys and `json` would go through the standard library's slower encoder.
responses = Table(
    "responses",
    metadata,
    Column("id", String(), primary_key=True),
    Column("owner_key", String(64)),
    Column("owner_team_id", String()),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False, index=True),
    Column("status", String(), nullable=False),
    Column("model", String(), nullable=False),
    Column("previous_response_id", String()),
    Column("deployment_id", String()),
    Column("native", Boolean(), nullable=False),
    Column("input_items", Text(), nullable=False),
    Column("body", Text(), nullable=False),
)
