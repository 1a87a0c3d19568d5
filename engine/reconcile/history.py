"""The journal as the run history shows it: each run and guard run, newest first, with how it
ended and what it did, read back from the summary it was journaled with."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engine.reconcile.guard import GUARD_RUN_PREFIX
from engine.reconcile.result import tallies_of
from engine.store.journal import RunRecord

# The history lists this many runs: weeks of restarts, and one query.
HISTORY_RUNS = 200


@dataclass(frozen=True, slots=True)
class RunHistoryEntry:
    run_id: str
    started_at: datetime
    finished_at: datetime | None
    operator: str
    outcome: str  # "exit 0", "interrupted (…)", or "running or killed"
    exit_code: int | None
    tallies: tuple[str, ...]
    summary: dict[str, Any] | None  # the run's JSON report, as `--json` printed it

    @property
    def is_guard_run(self) -> bool:
        return self.run_id.startswith(GUARD_RUN_PREFIX)


def history_entry(record: RunRecord) -> RunHistoryEntry:
    summary: dict[str, Any] | None = None
    tallies: tuple[str, ...] = ()
    if record.summary_json is not None:
        try:
            parsed = json.loads(record.summary_json)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            summary, tallies = parsed, tuple(tallies_of(parsed))
        else:
            tallies = ("its journaled summary is unreadable",)
    exit_code = summary.get("exit_code") if summary else None
    return RunHistoryEntry(
        run_id=record.run_id,
        started_at=record.started_at,
        finished_at=record.finished_at,
        operator=record.operator,
        outcome=record.outcome or "running, or killed before it finished",
        exit_code=exit_code if isinstance(exit_code, int) else None,
        tallies=tallies,
        summary=summary,
    )
