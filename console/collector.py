"""The cycle collector around the drawing of a large book.

A 10,000-order book is hundreds of thousands of objects: the engine's diff and the tables'
lines. A collection that walks them holds every thread, the screen's too, for 0.1 s and more;
so none runs while a book is drawn, and once it is drawn `gc.freeze()` sets everything alive
aside, where no automatic collection looks again.

What is alive at that moment includes the screen's own passing state — the rows Textual keeps
drawn for the screen, the compositor's map of it — and some of that dies later in reference
cycles which, set aside, nothing frees: about a thousand objects, 0.1 MB, a drawing. So once
every `RECLAIM_EVERY` drawings the set-aside heap is collected whole before it is set aside
again: one pause in that many drawings (0.1–0.3 s at 10,000 orders), where freezing alone
would grow by a megabyte every ten."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

RECLAIM_EVERY = 50


class DrawingCollector:
    """Held around each drawing of a book; counts them to know when to reclaim. The collector
    is the process's, so every screen draws through the one below."""

    def __init__(self, reclaim_every: int = RECLAIM_EVERY) -> None:
        self._reclaim_every = reclaim_every
        self._drawings = 0

    @contextmanager
    def held(self) -> Iterator[None]:
        gc.disable()
        try:
            yield
        finally:
            self._drawings += 1
            if self._drawings % self._reclaim_every == 0:
                gc.unfreeze()
                gc.collect()
            gc.freeze()
            gc.enable()


DRAWING_COLLECTOR = DrawingCollector()
