"""Alembic migrations of the persistence adapter's tables (run through adapters.persistence.migrate)."""
