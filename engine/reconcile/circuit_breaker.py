"""The circuit breaker rebuilt from today's closed trades: daily realized P&L against the loss
limit, and the run of consecutive losses against the pause threshold."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from engine.domain import Trade


@dataclass(frozen=True, slots=True)
class CircuitBreakerState:
    paused: bool
    reason: str | None
    daily_realized_pnl: Decimal
    consecutive_losses: int
    daily_loss_limit: Decimal


def rebuild_circuit_breaker(
    trades_today: Iterable[Trade],
    *,
    start_of_day_equity: Decimal,
    max_daily_loss_pct: Decimal,
    consecutive_loss_pause: int,
) -> CircuitBreakerState:
    """Replay the trades in `exit_at` order; a break-even trade counts as a loss, as the
    trading engine counts it."""
    daily_pnl = Decimal("0")
    consecutive_losses = 0
    for trade in sorted(trades_today, key=lambda trade: (trade.exit_at, trade.trade_id)):
        daily_pnl += trade.pnl
        consecutive_losses = consecutive_losses + 1 if trade.pnl <= 0 else 0
    loss_limit = start_of_day_equity * max_daily_loss_pct
    reasons = []
    if -daily_pnl >= loss_limit:
        reasons.append(f"daily loss {-daily_pnl} reached the limit {loss_limit:.2f}")
    if consecutive_losses >= consecutive_loss_pause:
        reasons.append(
            f"{consecutive_losses} consecutive losses (pause at {consecutive_loss_pause})"
        )
    return CircuitBreakerState(
        paused=bool(reasons),
        reason="; ".join(reasons) or None,
        daily_realized_pnl=daily_pnl,
        consecutive_losses=consecutive_losses,
        daily_loss_limit=loss_limit,
    )


def describe(state: CircuitBreakerState) -> str:
    verdict = f"PAUSED — {state.reason}" if state.paused else "ok"
    return (
        f"circuit breaker {verdict} · today's realized P&L {state.daily_realized_pnl} · "
        f"{state.consecutive_losses} consecutive losses"
    )
