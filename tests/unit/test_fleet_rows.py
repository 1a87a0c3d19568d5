"""What the fleet screen says of an account, cell by cell."""

from console.screens.fleet import COLUMNS, AccountState, account_row, fleet_totals
from engine.reconcile.result import RunResult


def cells(state: AccountState) -> dict[str, tuple[str, str]]:
    row = account_row(state)
    return {
        column: (cell.plain, str(cell.style)) for column, cell in zip(COLUMNS, row, strict=True)
    }


def state(**changes: object) -> AccountState:
    fields: dict[str, object] = {
        "name": "alpha",
        "paper": True,
        "positions": 3,
        "protected": 3,
        "last_run": None,
        "guard": "",
        "now": "idle",
        "trouble": False,
    }
    fields.update(changes)
    return AccountState(**fields)  # type: ignore[arg-type]


def test_an_account_not_yet_read_shows_what_is_not_known() -> None:
    shown = cells(state(paper=None, positions=None, protected=0, now="connecting"))
    assert shown["mode"][0] == shown["positions"][0] == shown["protected"][0] == "…"
    assert shown["last run"][0] == shown["guard"][0] == "—"
    assert shown["now"] == ("connecting", "")


def test_a_position_without_cover_turns_the_protected_count_red() -> None:
    assert cells(state(protected=3))["protected"] == ("3 of 3", "green")
    assert cells(state(protected=2))["protected"] == ("2 of 3", "bold red")


def test_a_live_account_is_marked_and_trouble_is_red() -> None:
    shown = cells(state(paper=False, now="could not start: ALPHA_KEY_ID must be set", trouble=True))
    assert shown["mode"] == (" LIVE ", "bold white on red")
    assert shown["now"] == ("could not start: ALPHA_KEY_ID must be set", "bold red")


def test_the_last_run_says_how_it_ended() -> None:
    clean = RunResult(run_id="r1", dry_run=False)
    aborted = RunResult(run_id="r2", dry_run=False, aborted="broker unreachable")
    assert cells(state(last_run=clean))["last run"] == ("exit 0 · r1", "green")
    assert cells(state(last_run=aborted))["last run"] == ("aborted, exit 2", "bold red")


def test_a_guard_watching_reads_plain_and_one_that_stopped_reads_yellow() -> None:
    assert cells(state(guard="watching, stream up"))["guard"] == ("watching, stream up", "")
    assert cells(state(guard="stopped: database gone"))["guard"] == (
        "stopped: database gone",
        "yellow",
    )


def test_the_totals_count_the_bare_positions_of_the_accounts_read() -> None:
    states = [
        state(positions=3, protected=2),
        state(positions=4, protected=4),
        state(positions=None),
    ]
    assert fleet_totals(states).plain == "2 of 3 accounts read · 7 positions · 1 unprotected"
    assert fleet_totals(states[1:]).plain == "1 of 2 accounts read · 4 positions · all protected"
