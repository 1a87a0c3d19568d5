"""The line at the top: which account, which key, paper or live, market, database."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class AccountBar(Static):
    def show(
        self,
        *,
        account: str,
        masked_key_id: str,
        paper: bool,
        market_open: bool | None,
        database: str,
    ) -> None:
        line = Text()
        line.append(
            " PAPER " if paper else " LIVE — REAL MONEY ",
            style="bold black on green" if paper else "bold white on red",
        )
        line.append(f"  account {account}", style="bold")
        line.append(f"   key {masked_key_id}")
        market = "unknown" if market_open is None else ("open" if market_open else "closed")
        line.append(f"   market {market}")
        line.append(f"   db {database}", style="dim")
        self.set_class(not paper, "-live")
        self.update(line)
