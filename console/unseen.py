"""What an account's screen would have drawn while it was closed, kept in order until it opens.
A guard left alone re-reads the book every few seconds for hours: consecutive reads of a quiet
book keep only the newest, so a closed account's wait stays as small as its news."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

S = TypeVar("S")


class Unseen(Generic[S]):
    def __init__(self) -> None:
        self._changes: list[tuple[str, Callable[[S], None]]] = []

    def __len__(self) -> int:
        return len(self._changes)

    def keep(self, change: Callable[[S], None], *, superseded_by_next: str = "") -> None:
        """`change` waits its turn; one marked with a kind is replaced by the next change of
        that kind if nothing came between them."""
        if superseded_by_next and self._changes and self._changes[-1][0] == superseded_by_next:
            self._changes[-1] = (superseded_by_next, change)
        else:
            self._changes.append((superseded_by_next, change))

    def draw_on(self, screen: S) -> None:
        """Everything kept, in order, onto the screen now open; nothing is kept after."""
        changes, self._changes = self._changes, []
        for _, change in changes:
            change(screen)
