"""The collector around a book's drawing: none runs while it is drawn, what is alive after is
set aside, and what died in cycles after being set aside is reclaimed at the next reclaim."""

import gc
import weakref
from collections.abc import Iterator

import pytest

from console.collector import DrawingCollector


class Row:
    """A passing object that dies in a cycle, as the screen's cached rows do."""

    def __init__(self) -> None:
        self.itself = self


@pytest.fixture(autouse=True)
def nothing_left_frozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()
    gc.enable()


def test_no_collection_runs_while_a_book_is_drawn_and_what_is_drawn_is_set_aside() -> None:
    collector = DrawingCollector(reclaim_every=50)
    with collector.held():
        assert not gc.isenabled()
        book = [Row() for _ in range(10)]
    assert gc.isenabled()
    assert gc.get_freeze_count() >= len(book)


def test_a_cycle_that_died_after_it_was_set_aside_is_freed_at_the_reclaim() -> None:
    collector = DrawingCollector(reclaim_every=3)
    passing = Row()
    gone = weakref.ref(passing)
    with collector.held():
        pass
    del passing
    gc.collect()
    assert gone() is not None  # set aside: no collection frees it
    with collector.held():
        pass
    assert gone() is not None
    with collector.held():  # the third drawing reclaims
        pass
    assert gone() is None
