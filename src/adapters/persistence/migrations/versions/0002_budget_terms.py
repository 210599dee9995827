"""Every budget-bearing record keeps the same budget terms: soft budget, per-model budgets and when its
window resets on teams, users, organizations and end users too (keys had the first two).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

MONEY = sa.Numeric().with_variant(sa.Text(), "sqlite")
TIME = sa.DateTime(timezone=True)

_NEW = {
    "keys": ("budget_reset_at",),
    "teams": ("soft_budget", "model_max_budget", "budget_reset_at"),
    "users": ("soft_budget", "model_max_budget", "budget_reset_at"),
    "organizations": ("soft_budget", "model_max_budget", "budget_reset_at"),
    "end_users": ("soft_budget", "model_max_budget", "budget_reset_at"),
}


def _column(name: str) -> sa.Column:
    if name == "soft_budget":
        return sa.Column(name, MONEY)
    if name == "model_max_budget":
        return sa.Column(name, sa.JSON(), nullable=False, server_default=sa.text("'{}'"))
    return sa.Column(name, TIME)


def upgrade() -> None:
    for table, columns in _NEW.items():
        with op.batch_alter_table(table) as batch:
            for name in columns:
                batch.add_column(_column(name))


def downgrade() -> None:
    for table, columns in _NEW.items():
        with op.batch_alter_table(table) as batch:
            for name in reversed(columns):
                batch.drop_column(name)
