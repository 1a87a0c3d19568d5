"""Each position's protection for one account, the one answer both its fleet row and its screen
read: as the broker last told it, moved on by the stops a run places, and as the run ended."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType

from engine.reconcile.actions import STOP_PLACING_KINDS, Plan
from engine.reconcile.diff import Diff, Protection
from engine.reconcile.events import Event, GuardChecked, SnapshotReady, StopConfirmed, StopSubmitted
from engine.reconcile.result import PositionOutcome

Changed = Callable[[frozenset[str]], None]


class ProtectionBook:
    """Fed every piece of the account's news, screen open or not; tells `changed` which
    positions' protection moved, so a table recolours those rows and no others."""

    def __init__(self, changed: Changed = lambda symbols: None) -> None:
        self._changed = changed
        self._by_symbol: dict[str, Protection] = {}
        self._tally: Counter[Protection] = Counter()
        self._stops_planned: Counter[str] = Counter()
        self._stops_confirmed: Counter[str] = Counter()

    # What it is told -----------------------------------------------------------------------

    def hear(self, event: Event) -> None:
        match event:
            case SnapshotReady(diff, plan):
                self.read(diff, plan)
            case GuardChecked(diff, _, _):
                self.read(diff)
            case StopSubmitted(symbol, _, _):
                if self._by_symbol.get(symbol) is Protection.UNPROTECTED:
                    self._set({symbol: Protection.STOP_PENDING})
            case StopConfirmed(symbol, _, _) if symbol in self._by_symbol:
                # A position needing two stops is not protected by the first one confirmed.
                self._stops_confirmed[symbol] += 1
                if self._stops_confirmed[symbol] >= self._stops_planned[symbol]:
                    self._set({symbol: Protection.PROTECTED})

    def read(self, diff: Diff, plan: Plan | None = None) -> None:
        """The broker's word, replacing every position's; a position it no longer lists is
        forgotten. With the plan made from the same read, stops are counted against it anew:
        those confirmed before that read are in the diff already."""
        told = {row.symbol: row.protection for row in diff.positions}
        gone = self._by_symbol.keys() - told.keys()
        for symbol in gone:
            self._tally[self._by_symbol.pop(symbol)] -= 1
        if plan is not None:
            self._stops_planned = Counter(
                action.symbol for action in plan.actions if action.kind in STOP_PLACING_KINDS
            )
            self._stops_confirmed.clear()
        self._set(told, also_changed=gone)

    def run_ended(self, positions: Iterable[PositionOutcome]) -> None:
        """How the run left each position it names; one the book does not hold has no row to
        colour, and the next read says whether it is still there."""
        self._set(
            {
                outcome.symbol: (
                    Protection.PROTECTED if outcome.protected else Protection.UNPROTECTED
                )
                for outcome in positions
                if outcome.symbol in self._by_symbol
            }
        )

    # What it answers -----------------------------------------------------------------------

    def protection_of(self, symbol: str) -> Protection | None:
        return self._by_symbol.get(symbol)

    @property
    def by_symbol(self) -> Mapping[str, Protection]:
        return MappingProxyType(self._by_symbol)

    @property
    def positions(self) -> int:
        return len(self._by_symbol)

    @property
    def protected(self) -> int:
        return self._tally[Protection.PROTECTED]

    def _set(self, statuses: Mapping[str, Protection], *, also_changed: Iterable[str] = ()) -> None:
        changed = set(also_changed)
        for symbol, status in statuses.items():
            before = self._by_symbol.get(symbol)
            if before is status:
                continue
            if before is not None:
                self._tally[before] -= 1
            self._tally[status] += 1
            self._by_symbol[symbol] = status
            changed.add(symbol)
        if changed:
            self._changed(frozenset(changed))
