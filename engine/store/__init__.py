"""The local database shared with the trading engine, and recon's journal in it."""

from engine.store.database import (
    create_engine,
    database_label,
    default_db_url,
    normalize_db_url,
    session_factory,
)
from engine.store.errors import (
    ConcurrentChange,
    CorruptRow,
    SchemaNotReady,
    StoreConfigError,
    StoreError,
)
from engine.store.schema import SchemaReport, init_schema, require_current_schema

__all__ = [
    "ConcurrentChange",
    "CorruptRow",
    "SchemaNotReady",
    "SchemaReport",
    "StoreConfigError",
    "StoreError",
    "create_engine",
    "database_label",
    "default_db_url",
    "init_schema",
    "normalize_db_url",
    "require_current_schema",
    "session_factory",
]
