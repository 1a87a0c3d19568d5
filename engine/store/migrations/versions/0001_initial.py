"""The SPEC §2 tables and recon's journal.

The trading engine may have created its three tables itself before recon ever ran, so each
table and index is created only if missing; the engine's rows are never touched.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())

    if "order_state" not in existing:
        op.create_table(
            "order_state",
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("local_id", sa.Text, nullable=False, unique=True),
            sa.Column("broker_id", sa.Text),
            sa.Column("client_order_id", sa.Text, unique=True),
            sa.Column("correlation_id", sa.Text, nullable=False),
            sa.Column("symbol", sa.Text, nullable=False),
            sa.Column("side", sa.Text, nullable=False),
            sa.Column("order_type", sa.Text, nullable=False),
            sa.Column("order_role", sa.Text, nullable=False),
            sa.Column("strategy", sa.Text),
            sa.Column("qty_requested", sa.Text, nullable=False),
            sa.Column("qty_filled", sa.Text, nullable=False, server_default=sa.text("'0'")),
            sa.Column("avg_fill_price", sa.Text),
            sa.Column("stop_price", sa.Text),
            sa.Column("limit_price", sa.Text),
            sa.Column("state", sa.Text, nullable=False),
            sa.Column("parent_id", sa.Text),
            sa.Column("last_error", sa.Text),
            sa.Column("created_at", sa.Text, nullable=False),
            sa.Column("updated_at", sa.Text, nullable=False),
        )
    if "order_event" not in existing:
        op.create_table(
            "order_event",
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("order_local_id", sa.Text, nullable=False),
            sa.Column("event_type", sa.Text, nullable=False),
            sa.Column("old_state", sa.Text),
            sa.Column("new_state", sa.Text),
            sa.Column("qty_filled", sa.Text),
            sa.Column("fill_price", sa.Text),
            sa.Column("broker_id", sa.Text),
            sa.Column("detail", sa.Text),
            sa.Column("recorded_at", sa.Text, nullable=False),
        )
    if "trade" not in existing:
        op.create_table(
            "trade",
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("trade_id", sa.Text, nullable=False, unique=True),
            sa.Column("correlation_id", sa.Text, nullable=False),
            sa.Column("symbol", sa.Text, nullable=False),
            sa.Column("side", sa.Text, nullable=False),
            sa.Column("qty", sa.Text, nullable=False),
            sa.Column("entry_price", sa.Text, nullable=False),
            sa.Column("exit_price", sa.Text, nullable=False),
            sa.Column("entry_at", sa.Text, nullable=False),
            sa.Column("exit_at", sa.Text, nullable=False),
            sa.Column("pnl", sa.Text, nullable=False),
            sa.Column("pnl_pct", sa.Text, nullable=False),
            sa.Column("strategy", sa.Text),
            sa.Column("duration_seconds", sa.Integer, nullable=False),
            sa.Column("commission", sa.Text, nullable=False, server_default=sa.text("'0'")),
        )
    if "recon_run" not in existing:
        op.create_table(
            "recon_run",
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("run_id", sa.Text, nullable=False, unique=True),
            sa.Column("started_at", sa.Text, nullable=False),
            sa.Column("finished_at", sa.Text),
            sa.Column("outcome", sa.Text),
            sa.Column("operator", sa.Text, nullable=False),
            sa.Column("account_number", sa.Text, nullable=False),
            sa.Column("paper", sa.Boolean, nullable=False),
            sa.Column("dry_run", sa.Boolean, nullable=False),
            sa.Column("summary_json", sa.Text),
        )
    if "recon_action" not in existing:
        op.create_table(
            "recon_action",
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("run_id", sa.Text, sa.ForeignKey("recon_run.run_id"), nullable=False),
            sa.Column("seq", sa.Integer, nullable=False),
            sa.Column("phase", sa.Text, nullable=False),
            sa.Column("kind", sa.Text, nullable=False),
            sa.Column("symbol", sa.Text, nullable=False),
            sa.Column("target", sa.Text, nullable=False),
            sa.Column("reason", sa.Text, nullable=False),
            sa.Column("needs_decision", sa.Boolean, nullable=False),
            sa.Column("decision", sa.Text),
            sa.Column("decided_by", sa.Text),
            sa.Column("decided_at", sa.Text),
            sa.Column("outcome", sa.Text),
            sa.Column("outcome_detail", sa.Text),
            sa.Column("finished_at", sa.Text),
            sa.UniqueConstraint("run_id", "seq"),
        )
    indexes = [
        ("ix_order_state_broker_id", "order_state", ["broker_id"]),
        ("ix_order_state_correlation_id", "order_state", ["correlation_id"]),
        ("ix_order_state_symbol", "order_state", ["symbol"]),
        ("ix_order_state_state", "order_state", ["state"]),
        ("ix_order_event_order_local_id", "order_event", ["order_local_id"]),
        ("ix_trade_exit_at", "trade", ["exit_at"]),
        ("ix_recon_action_run_id", "recon_action", ["run_id"]),
    ]
    for name, table, columns in indexes:
        op.create_index(name, table, columns, if_not_exists=True)


def downgrade() -> None:
    # Only recon's own tables: the trading engine's are not recon's to drop.
    op.drop_table("recon_action")
    op.drop_table("recon_run")
