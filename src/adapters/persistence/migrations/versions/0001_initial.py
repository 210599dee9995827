"""Identity records, stored deployments, the audit log and the change stamps.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Frozen copies of the column types in tables.py as of this revision (a migration never imports the
# live schema): exact decimals are text on SQLite, whose NUMERIC goes through a float.
MONEY = sa.Numeric().with_variant(sa.Text(), "sqlite")
TIME = sa.DateTime(timezone=True)


def _audit_columns() -> list[sa.Column]:
    return [
        sa.Column("created_at", TIME),
        sa.Column("updated_at", TIME),
        sa.Column("created_by", sa.String()),
        sa.Column("updated_by", sa.String()),
    ]


def _budget_columns() -> list[sa.Column]:
    return [
        sa.Column("models", sa.JSON(), nullable=False),
        sa.Column("max_budget", MONEY),
        sa.Column("budget_duration", sa.String()),
        sa.Column("limits", sa.JSON(), nullable=False),
        sa.Column("budget_id", sa.String()),
        sa.Column("blocked", sa.Boolean(), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("spend", MONEY, nullable=False),
    ]


def _indexes(table: str, *columns: str) -> None:
    for column in columns:
        op.create_index(f"ix_{table}_{column}", table, [column])


def _members(table: str, owner: str) -> None:
    op.create_table(
        table,
        sa.Column(owner, sa.String(), nullable=False),
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("user_id", sa.String(), nullable=False),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("user_email", sa.String()),
        sa.PrimaryKeyConstraint(owner, "position", name=f"pk_{table}"),
    )
    _indexes(table, "user_id")


def upgrade() -> None:
    op.create_table(
        "keys",
        sa.Column("token", sa.String(64), nullable=False),
        sa.Column("key_name", sa.String(), nullable=False),
        sa.Column("key_alias", sa.String()),
        sa.Column("user_id", sa.String()),
        sa.Column("team_id", sa.String()),
        sa.Column("organization_id", sa.String()),
        sa.Column("allowed_routes", sa.JSON(), nullable=False),
        sa.Column("expires", TIME),
        sa.Column("soft_budget", MONEY),
        sa.Column("model_max_budget", sa.JSON(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        *_budget_columns(),
        *_audit_columns(),
        sa.PrimaryKeyConstraint("token", name="pk_keys"),
        sa.UniqueConstraint("key_alias", name="uq_keys_key_alias"),
    )
    _indexes("keys", "user_id", "team_id", "organization_id", "budget_id")

    op.create_table(
        "teams",
        sa.Column("team_id", sa.String(), nullable=False),
        sa.Column("team_alias", sa.String()),
        sa.Column("organization_id", sa.String()),
        sa.Column("tags", sa.JSON(), nullable=False),
        *_budget_columns(),
        *_audit_columns(),
        sa.PrimaryKeyConstraint("team_id", name="pk_teams"),
    )
    _indexes("teams", "team_alias", "organization_id", "budget_id")
    _members("team_members", "team_id")

    op.create_table(
        "users",
        sa.Column("user_id", sa.String(), nullable=False),
        sa.Column("user_email", sa.String()),
        sa.Column("user_alias", sa.String()),
        sa.Column("user_role", sa.String(), nullable=False),
        sa.Column("organization_id", sa.String()),
        *_budget_columns(),
        *_audit_columns(),
        sa.PrimaryKeyConstraint("user_id", name="pk_users"),
    )
    _indexes("users", "user_email", "organization_id", "budget_id")

    op.create_table(
        "organizations",
        sa.Column("organization_id", sa.String(), nullable=False),
        sa.Column("organization_alias", sa.String()),
        sa.Column("tags", sa.JSON(), nullable=False),
        *_budget_columns(),
        *_audit_columns(),
        sa.PrimaryKeyConstraint("organization_id", name="pk_organizations"),
    )
    _indexes("organizations", "organization_alias", "budget_id")
    _members("organization_members", "organization_id")

    op.create_table(
        "end_users",
        sa.Column("user_id", sa.String(), nullable=False),
        sa.Column("alias", sa.String()),
        sa.Column("blocked", sa.Boolean(), nullable=False),
        sa.Column("max_budget", MONEY),
        sa.Column("budget_duration", sa.String()),
        sa.Column("limits", sa.JSON(), nullable=False),
        sa.Column("budget_id", sa.String()),
        sa.Column("allowed_model_region", sa.String()),
        sa.Column("default_model", sa.String()),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("spend", MONEY, nullable=False),
        sa.Column("created_at", TIME),
        sa.Column("updated_at", TIME),
        sa.PrimaryKeyConstraint("user_id", name="pk_end_users"),
    )
    _indexes("end_users", "alias", "budget_id")

    op.create_table(
        "budgets",
        sa.Column("budget_id", sa.String(), nullable=False),
        sa.Column("max_budget", MONEY),
        sa.Column("soft_budget", MONEY),
        sa.Column("budget_duration", sa.String()),
        sa.Column("limits", sa.JSON(), nullable=False),
        sa.Column("model_max_budget", sa.JSON(), nullable=False),
        sa.Column("budget_reset_at", TIME),
        *_audit_columns(),
        sa.PrimaryKeyConstraint("budget_id", name="pk_budgets"),
    )

    op.create_table(
        "deployments",
        sa.Column("model_id", sa.String(), nullable=False),
        sa.Column("model_name", sa.String(), nullable=False),
        sa.Column("litellm_params", sa.JSON(), nullable=False),
        sa.Column("model_info", sa.JSON(), nullable=False),
        *_audit_columns(),
        sa.PrimaryKeyConstraint("model_id", name="pk_deployments"),
    )
    _indexes("deployments", "model_name")

    op.create_table(
        "audit_log",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("table_name", sa.String(), nullable=False),
        sa.Column("object_id", sa.String(), nullable=False),
        sa.Column("before", sa.JSON()),
        sa.Column("after", sa.JSON()),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    _indexes("audit_log", "at")
    op.create_index("ix_audit_log_table_name_object_id", "audit_log", ["table_name", "object_id"])

    stamps = op.create_table(
        "change_stamps",
        sa.Column("topic", sa.String(), nullable=False),
        sa.Column("stamp", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("topic", name="pk_change_stamps"),
    )
    op.bulk_insert(stamps, [{"topic": "identity", "stamp": 0}, {"topic": "models", "stamp": 0}])


def downgrade() -> None:
    for table in (
        "change_stamps",
        "audit_log",
        "deployments",
        "budgets",
        "end_users",
        "organization_members",
        "organizations",
        "users",
        "team_members",
        "teams",
        "keys",
    ):
        op.drop_table(table)
