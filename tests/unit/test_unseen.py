"""A closed account's screen gets everything it missed, in order, when it opens; a quiet
book's consecutive re-reads wait as one."""

from collections.abc import Callable

from console.unseen import Unseen


def says(line: str) -> Callable[[list[str]], None]:
    """A change that writes `line` on a screen that is a list of lines."""
    return lambda screen: screen.append(line)


def test_changes_are_drawn_in_order_once() -> None:
    unseen: Unseen[list[str]] = Unseen()
    for line in ("run started", "AAPL stop placed", "run finished"):
        unseen.keep(says(line))
    screen: list[str] = []
    unseen.draw_on(screen)
    unseen.draw_on(screen)
    assert screen == ["run started", "AAPL stop placed", "run finished"]
    assert len(unseen) == 0


def test_consecutive_reads_of_a_quiet_book_wait_as_the_newest() -> None:
    unseen: Unseen[list[str]] = Unseen()
    for n in range(1_000):  # four hours of a guard's sweeps
        unseen.keep(says(f"read {n}"), superseded_by_next="read")
    assert len(unseen) == 1
    screen: list[str] = []
    unseen.draw_on(screen)
    assert screen == ["read 999"]


def test_news_between_two_reads_keeps_both_reads_and_the_news() -> None:
    unseen: Unseen[list[str]] = Unseen()
    unseen.keep(says("read 1"), superseded_by_next="read")
    unseen.keep(says("AAPL stop replaced"))
    unseen.keep(says("read 2"), superseded_by_next="read")
    unseen.keep(says("read 3"), superseded_by_next="read")
    screen: list[str] = []
    unseen.draw_on(screen)
    assert screen == ["read 1", "AAPL stop replaced", "read 3"]
