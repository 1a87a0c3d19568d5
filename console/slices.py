"""Long work on the event loop, a slice at a time: a frame gets through between slices.

Turning a 50,000-order book into lines is a second of pure Python. In a thread it would share
the interpreter lock with the screen and halve the speed of every frame drawn meanwhile; done
here in slices of a few milliseconds, no frame waits for more than one slice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from typing import TypeVar

Item = TypeVar("Item")
Made = TypeVar("Made")

PER_SLICE = 500  # about 3 ms of lines, or of measuring them


async def slices(items: Sequence[Item]) -> AsyncIterator[Sequence[Item]]:
    """`items` a slice at a time, yielding to the event loop before each slice after the
    first."""
    for start in range(0, len(items), PER_SLICE):
        if start:
            await asyncio.sleep(0)
        yield items[start : start + PER_SLICE]


async def made_in_slices(make: Callable[[Item], Made], items: Sequence[Item]) -> list[Made]:
    made: list[Made] = []
    async for part in slices(items):
        made.extend(make(item) for item in part)
    return made
