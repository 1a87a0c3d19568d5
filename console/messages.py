"""Textual messages carrying the engine's news into the app, each from the account it concerns."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message

from engine.reconcile.events import Event
from engine.reconcile.result import RunResult

if TYPE_CHECKING:
    from console.account import AccountConsole


class EngineEvent(Message):
    """One event published by a running reconciliation."""

    def __init__(self, event: Event, account: AccountConsole) -> None:
        super().__init__()
        self.event = event
        self.account = account


class PreviewReady(Message):
    """A dry run finished: the diff and the plan to draw."""

    def __init__(self, result: RunResult, account: AccountConsole) -> None:
        super().__init__()
        self.result = result
        self.account = account


class RunFinished(Message):
    def __init__(self, result: RunResult, account: AccountConsole) -> None:
        super().__init__()
        self.result = result
        self.account = account
