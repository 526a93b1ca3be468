"""Alembic migrations of the catalogue database (run by catalog.db.migrate)."""
