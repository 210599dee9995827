"""The spend ledger: one log row per call, running totals per subject, daily aggregates, and when totals
were last reset. Totals and aggregates have a row per writer (`shard`) that readers sum.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Frozen copies of the column types in tables.py as of this revision (a migration never imports the
# live schema): exact decimals are text on SQLite, whose NUMERIC goes through a float.
MONEY = sa.Numeric().with_variant(sa.Text(), "sqlite")
TIME = sa.DateTime(timezone=True)
CALLERS = ("key_hash", "user_id", "team_id", "organization_id", "end_user")
TOKENS = ("prompt_tokens", "completion_tokens", "cached_tokens", "cache_creation_tokens", "reasoning_tokens")


def _counts(*names: str, kind: type[sa.Integer] = sa.BigInteger) -> list[sa.Column]:
    return [sa.Column(name, kind(), nullable=False) for name in names]


def upgrade() -> None:
    op.create_table(
        "spend_logs",
        sa.Column("request_id", sa.String(), nullable=False),
        sa.Column("call_type", sa.String(), nullable=False),
        sa.Column("started_at", TIME, nullable=False),
        sa.Column("ended_at", TIME, nullable=False),
        sa.Column("model_group", sa.String(), nullable=False),
        sa.Column("key_hash", sa.String(64)),
        sa.Column("key_alias", sa.String()),
        sa.Column("key_name", sa.String()),
        sa.Column("user_id", sa.String()),
        sa.Column("team_id", sa.String()),
        sa.Column("organization_id", sa.String()),
        sa.Column("end_user", sa.String()),
        sa.Column("deployment_id", sa.String()),
        sa.Column("provider", sa.String()),
        sa.Column("upstream_model", sa.String()),
        *_counts(*TOKENS, kind=sa.Integer),
        sa.Column("cost", MONEY),
        sa.Column("input_cost", MONEY),
        sa.Column("output_cost", MONEY),
        sa.Column("estimated", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("error_type", sa.String()),
        sa.Column("status_code", sa.Integer()),
        *_counts("retries", "fallbacks", kind=sa.Integer),
        sa.Column("time_to_first_token", sa.Float()),
        sa.Column("cache_hit", sa.Boolean(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("messages", sa.JSON(none_as_null=True)),
        sa.Column("response", sa.JSON(none_as_null=True)),
        sa.PrimaryKeyConstraint("request_id", name="pk_spend_logs"),
    )
    op.create_index("ix_spend_logs_started_at", "spend_logs", ["started_at"])
    for column in CALLERS:
        # Partial: a call without a key, team, ... (most are without several) updates no entry there.
        present = sa.text(f"{column} IS NOT NULL")
        op.create_index(
            f"ix_spend_logs_{column}_started_at",
            "spend_logs",
            [column, "started_at"],
            sqlite_where=present,
            postgresql_where=present,
        )

    op.create_table(
        "spend_totals",
        sa.Column("subject", sa.String(), nullable=False),
        sa.Column("shard", sa.String(), nullable=False),
        sa.Column("spend", MONEY, nullable=False),
        *_counts("tokens", "requests"),
        sa.PrimaryKeyConstraint("subject", "shard", name="pk_spend_totals"),
    )

    key = (
        "key_hash",
        "team_id",
        "organization_id",
        "user_id",
        "end_user",
        "model_group",
        "provider",
        "shard",
    )
    op.create_table(
        "spend_daily",
        sa.Column("day", sa.Date(), nullable=False),
        *(sa.Column(name, sa.String(), nullable=False) for name in key),
        sa.Column("spend", MONEY, nullable=False),
        *_counts(*TOKENS, "requests", "successes", "failures"),
        sa.PrimaryKeyConstraint("day", *key, name="pk_spend_daily"),
    )

    op.create_table(
        "spend_resets",
        sa.Column("scope", sa.String(), nullable=False),
        sa.Column("reset_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("scope", name="pk_spend_resets"),
    )


def downgrade() -> None:
    op.drop_table("spend_resets")
    op.drop_table("spend_daily")
    op.drop_table("spend_totals")
    for column in reversed(CALLERS):
        op.drop_index(f"ix_spend_logs_{column}_started_at", table_name="spend_logs")
    op.drop_index("ix_spend_logs_started_at", table_name="spend_logs")
    op.drop_table("spend_logs")
