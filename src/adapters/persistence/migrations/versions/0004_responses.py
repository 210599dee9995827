"""Stored Responses-API responses (`store: true`): the state behind `previous_response_id`, purged by
expiry. Items and bodies are JSON text.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "responses",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("owner_key", sa.String(64)),
        sa.Column("owner_team_id", sa.String()),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("expires_at", TIME, nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("model", sa.String(), nullable=False),
        sa.Column("previous_response_id", sa.String()),
        sa.Column("deployment_id", sa.String()),
        sa.Column("native", sa.Boolean(), nullable=False),
        sa.Column("input_items", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_responses"),
    )
    op.create_index("ix_responses_expires_at", "responses", ["expires_at"])
    if op.get_context().dialect.name == "postgresql":
        # Bodies of hundreds of KB: lz4 stores one about three times faster than the default pglz. Only
        # PostgreSQL 14+ built with lz4 has it; elsewhere the default stays.
        op.execute(
            "DO $$ BEGIN EXECUTE 'ALTER TABLE responses"
            " ALTER COLUMN input_items SET COMPRESSION lz4, ALTER COLUMN body SET COMPRESSION lz4';"
            " EXCEPTION WHEN feature_not_supported OR syntax_error THEN NULL; END $$"
        )


def downgrade() -> None:
    op.drop_index("ix_responses_expires_at", table_name="responses")
    op.drop_table("responses")
