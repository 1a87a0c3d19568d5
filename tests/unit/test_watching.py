"""The listener the engine is given: its log hears every event first, and alerts and metrics
beside it can fail without the engine — protecting the book at that moment — ever hearing of
it."""

from engine.reconcile.events import Event, GuardCheckFailed
from engine.watch.watching import listening


def test_a_watcher_that_fails_is_logged_and_the_engine_never_hears_of_it() -> None:
    logged: list[Event] = []
    after: list[Event] = []

    def broken(event: Event) -> None:
        raise RuntimeError("a bug in a watcher")

    emit = listening(logged.append, broken, after.append)
    emit(GuardCheckFailed("timed out"))
    assert logged == [GuardCheckFailed("timed out")]
    assert after == [GuardCheckFailed("timed out")]


def test_with_nothing_to_watch_the_log_is_the_listener_itself() -> None:
    logged: list[Event] = []
    assert listening(logged.append) == logged.append
