"""The local database shared with the trading engine and recon's journal in it, without schema
creation (`engine.store.schema`, which loads Alembic, is imported only where it is needed)."""

from engine.store import journal, queries
from engine.store.database import (
    create_engine,
    database_label,
    default_db_url,
    normalize_db_url,
    session_factory,
)
from engine.store.errors import (
    PASSING_FAULTS,
    ConcurrentChange,
    CorruptRow,
    DatabaseLocked,
    DatabaseUnreachable,
    SchemaNotReady,
    StoreConfigError,
    StoreError,
)
from engine.store.faults import typed_store_errors
from engine.store.journal import (
    JournaledAction,
    PlannedActionRecord,
    UnfinishedRun,
    close_unfinished_run,
    find_unfinished_runs,
    finish_run,
    load_run_actions,
    record_decision,
    record_outcome,
    record_planned_actions,
    start_run,
)
from engine.store.queries import (
    OrderTerms,
    apply_state_change,
    insert_order,
    insert_trade,
    load_open_orders,
    load_orders_linked_to,
    load_round_trips,
    load_trades_between,
)
from engine.store.revision import SCHEMA_REVISION, require_current_schema, schema_is_current
from engine.store.types import CorruptValue, DecimalText, UtcTimestamp

__all__ = [
    "PASSING_FAULTS",
    "SCHEMA_REVISION",
    "ConcurrentChange",
    "CorruptRow",
    "CorruptValue",
    "DatabaseLocked",
    "DatabaseUnreachable",
    "DecimalText",
    "JournaledAction",
    "OrderTerms",
    "PlannedActionRecord",
    "SchemaNotReady",
    "StoreConfigError",
    "StoreError",
    "UnfinishedRun",
    "UtcTimestamp",
    "apply_state_change",
    "close_unfinished_run",
    "create_engine",
    "database_label",
    "default_db_url",
    "find_unfinished_runs",
    "finish_run",
    "insert_order",
    "insert_trade",
    "journal",
    "load_open_orders",
    "load_orders_linked_to",
    "load_round_trips",
    "load_run_actions",
    "load_trades_between",
    "normalize_db_url",
    "queries",
    "record_decision",
    "record_outcome",
    "record_planned_actions",
    "require_current_schema",
    "schema_is_current",
    "session_factory",
    "start_run",
    "typed_store_errors",
]
