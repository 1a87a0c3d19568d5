"""Textual messages carrying the engine's news into the app."""

from __future__ import annotations

from textual.message import Message

from engine.reconcile.events import Event
from engine.reconcile.result import RunResult


class EngineEvent(Message):
    """One event published by a running reconciliation."""

    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event


class PreviewReady(Message):
    """A dry run finished: the diff and the plan to draw."""

    def __init__(self, result: RunResult) -> None:
        super().__init__()
        self.result = result


class RunFinished(Message):
    def __init__(self, result: RunResult) -> None:
        super().__init__()
        self.result = result
