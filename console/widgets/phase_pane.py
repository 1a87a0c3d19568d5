"""One phase of a run: done of total, elapsed time, the current action, its errors."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from engine.reconcile.actions import Phase
from engine.secrets import scrub

PHASE_TITLES = {
    Phase.FETCH: "Fetch",
    Phase.ORDERS: "Orders",
    Phase.POSITIONS: "Positions",
    Phase.CIRCUIT_BREAKER: "Circuit breaker",
}


class PhasePane(Static):
    done: reactive[int] = reactive(0)
    total: reactive[int] = reactive(0)
    current: reactive[str] = reactive("")
    errors: reactive[int] = reactive(0)
    state: reactive[str] = reactive("waiting")

    def __init__(self, phase: Phase, clock: Callable[[], float], **kwargs: object) -> None:
        super().__init__(id=f"phase-{phase.value}", classes="phase", **kwargs)  # type: ignore[arg-type]
        self.phase = phase
        self._clock = clock
        self._started: float | None = None
        self._finished: float | None = None
        self.border_title = PHASE_TITLES[phase]

    def start(self, total: int) -> None:
        self._started, self._finished = self._clock(), None
        self.total, self.done, self.errors, self.state = total, 0, 0, "running"

    def progress(self, done: int, current: str) -> None:
        self.done, self.current = done, current

    def finish(self, done: int, errors: int) -> None:
        self._finished = self._clock()
        self.done, self.errors, self.state = done, errors, "failed" if errors else "done"
        self.current = ""

    def fail(self, error: str) -> None:
        self.errors += 1
        self.current = scrub(error)

    def render(self) -> Text:
        # Text, not markup: the current action's words and errors come from the broker as they
        # are, brackets and all.
        elapsed = ""
        if self._started is not None:
            end = self._finished if self._finished is not None else self._clock()
            elapsed = f"  {end - self._started:.1f}s"
        line = Text(f"{self.state}  {self.done}/{self.total}{elapsed}")
        if self.errors:
            plural = "s" if self.errors != 1 else ""
            line.append(f"  {self.errors} error{plural}", style="bold red")
        line.append(f"\n{self.current}")
        return line

    def watch_state(self, state: str) -> None:
        self.set_class(state == "running", "-running")
        self.set_class(state == "done", "-done")
        self.set_class(state == "failed", "-failed")
