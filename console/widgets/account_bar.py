"""The line at the top: which account, which key, paper or live, market, database — and, in red,
an account the broker refuses orders on."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class AccountBar(Static):
    def show(
        self,
        *,
        account: str,
        masked_key_id: str,
        paper: bool | None,
        market_open: bool | None,
        database: str,
        order_refusal: str | None = None,
    ) -> None:
        """`paper` as the broker's account says; None before it has been read, which is
        treated as live. `order_refusal` names the flag on which the broker refuses orders."""
        line = Text()
        if paper:
            line.append(" PAPER ", style="bold black on green")
        else:
            shown = " LIVE — REAL MONEY " if paper is False else " NOT YET READ: TREATED AS LIVE "
            line.append(shown, style="bold white on red")
        line.append(f"  account {account}", style="bold")
        line.append(f"   key {masked_key_id}")
        market = "unknown" if market_open is None else ("open" if market_open else "closed")
        line.append(f"   market {market}")
        line.append(f"   db {database}", style="dim")
        if order_refusal is not None:
            line.append(f"   ORDERS REFUSED: {order_refusal} ", style="bold white on red")
        self.set_class(not paper, "-live")
        self.update(line)
