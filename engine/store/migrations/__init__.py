"""Alembic migrations of recon's schema, run programmatically by `engine.store.schema`."""
