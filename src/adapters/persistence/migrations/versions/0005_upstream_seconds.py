"""The spend log keeps how long each call waited on its upstreams, so its overhead can be told apart.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("spend_logs") as batch:
        batch.add_column(sa.Column("upstream_seconds", sa.Float()))


def downgrade() -> None:
    with op.batch_alter_table("spend_logs") as batch:
        batch.drop_column("upstream_seconds")
