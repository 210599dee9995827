"""Alembic's entry point: runs migrations on the connection adapters.persistence.migrate hands over."""

from __future__ import annotations

from alembic import context

from adapters.persistence.tables import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, compare_type=True)
# The caller holds the transaction (and the migration lock) and commits it: one transaction for all.
with context.begin_transaction():
    context.run_migrations()
