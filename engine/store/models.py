"""The tables: `order_state`, `order_event` and `trade` exactly as SPEC §2 (shared with the
trading engine, which inserts naming only those columns), and recon's journal, `recon_run` and
`recon_action`."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, ForeignKey, Index, Integer, Text, UniqueConstraint, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from engine.store.types import DecimalText, UtcTimestamp


class Base(DeclarativeBase):
    pass


# The trading engine's tables, never altered by recon. The engine inserts naming only SPEC
# columns, so any column ever added to them needs a server default.
SPEC_TABLES = ("order_state", "order_event", "trade")


class OrderStateRow(Base):
    __tablename__ = "order_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    local_id: Mapped[str] = mapped_column(Text, unique=True)
    broker_id: Mapped[str | None] = mapped_column(Text, index=True)
    client_order_id: Mapped[str | None] = mapped_column(Text, unique=True)
    correlation_id: Mapped[str] = mapped_column(Text, index=True)
    symbol: Mapped[str] = mapped_column(Text, index=True)
    side: Mapped[str] = mapped_column(Text)
    order_type: Mapped[str] = mapped_column(Text)
    order_role: Mapped[str] = mapped_column(Text)
    strategy: Mapped[str | None] = mapped_column(Text)
    qty_requested: Mapped[Decimal] = mapped_column(DecimalText)
    qty_filled: Mapped[Decimal] = mapped_column(DecimalText, server_default=text("'0'"))
    avg_fill_price: Mapped[Decimal | None] = mapped_column(DecimalText)
    stop_price: Mapped[Decimal | None] = mapped_column(DecimalText)
    limit_price: Mapped[Decimal | None] = mapped_column(DecimalText)
    state: Mapped[str] = mapped_column(Text, index=True)
    parent_id: Mapped[str | None] = mapped_column(Text)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcTimestamp)
    updated_at: Mapped[datetime] = mapped_column(UtcTimestamp)


class OrderEventRow(Base):
    __tablename__ = "order_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_local_id: Mapped[str] = mapped_column(Text, index=True)
    event_type: Mapped[str] = mapped_column(Text)
    old_state: Mapped[str | None] = mapped_column(Text)
    new_state: Mapped[str | None] = mapped_column(Text)
    qty_filled: Mapped[Decimal | None] = mapped_column(DecimalText)
    fill_price: Mapped[Decimal | None] = mapped_column(DecimalText)
    broker_id: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[str | None] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(UtcTimestamp)


class TradeRow(Base):
    __tablename__ = "trade"
    __table_args__ = (Index("ix_trade_exit_at", "exit_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trade_id: Mapped[str] = mapped_column(Text, unique=True)
    correlation_id: Mapped[str] = mapped_column(Text)
    symbol: Mapped[str] = mapped_column(Text)
    side: Mapped[str] = mapped_column(Text)
    qty: Mapped[Decimal] = mapped_column(DecimalText)
    entry_price: Mapped[Decimal] = mapped_column(DecimalText)
    exit_price: Mapped[Decimal] = mapped_column(DecimalText)
    entry_at: Mapped[datetime] = mapped_column(UtcTimestamp)
    exit_at: Mapped[datetime] = mapped_column(UtcTimestamp)
    pnl: Mapped[Decimal] = mapped_column(DecimalText)
    pnl_pct: Mapped[Decimal] = mapped_column(DecimalText)
    strategy: Mapped[str | None] = mapped_column(Text)
    duration_seconds: Mapped[int] = mapped_column(Integer)
    commission: Mapped[Decimal] = mapped_column(DecimalText, server_default=text("'0'"))


class ReconRun(Base):
    """One reconciliation: who ran it, against which account, and how it ended."""

    __tablename__ = "recon_run"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(Text, unique=True)
    started_at: Mapped[datetime] = mapped_column(UtcTimestamp)
    finished_at: Mapped[datetime | None] = mapped_column(UtcTimestamp)
    outcome: Mapped[str | None] = mapped_column(Text)
    operator: Mapped[str] = mapped_column(Text)
    account_number: Mapped[str] = mapped_column(Text)
    paper: Mapped[bool] = mapped_column(Boolean)
    dry_run: Mapped[bool] = mapped_column(Boolean)
    summary_json: Mapped[str | None] = mapped_column(Text)


class ReconAction(Base):
    """One planned action of a run, with the operator's decision and what came of it."""

    __tablename__ = "recon_action"
    __table_args__ = (UniqueConstraint("run_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("recon_run.run_id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    phase: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text)
    symbol: Mapped[str] = mapped_column(Text)
    target: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    needs_decision: Mapped[bool] = mapped_column(Boolean)
    decision: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None] = mapped_column(UtcTimestamp)
    outcome: Mapped[str | None] = mapped_column(Text)
    outcome_detail: Mapped[str | None] = mapped_column(Text)
    finished_at: Mapped[datetime | None] = mapped_column(UtcTimestamp)
