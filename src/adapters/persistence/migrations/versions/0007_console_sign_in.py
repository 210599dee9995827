"""Console sign-in without a key: a user's password hash, and invitation links.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TIME = sa.DateTime(timezone=True)  # a frozen copy of tables.py's UtcDateTime, as 0001 explains


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("password_hash", sa.String(), nullable=True))
    op.create_table(
        "invitations",
        sa.Column("id", sa.String(), primary_key=True),
        sa.Column("user_id", sa.String(), nullable=False),
        sa.Column("expires_at", TIME, nullable=False),
        sa.Column("is_accepted", sa.Boolean(), nullable=False),
        sa.Column("accepted_at", TIME),
        sa.Column("created_at", TIME),
        sa.Column("updated_at", TIME),
        sa.Column("created_by", sa.String()),
        sa.Column("updated_by", sa.String()),
    )
    op.create_index("ix_invitations_user_id", "invitations", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_invitations_user_id", table_name="invitations")
    op.drop_table("invitations")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("password_hash")
