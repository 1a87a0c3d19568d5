"""Keeps the trade_updates stream open for the guard: reconnects with backoff and jitter, asks
for the whole book to be re-read after every (re)connect, since missed events are not replayed,
and lets a refused stream (Alpaca allows one per account) leave the guard to its sweeps rather
than spin."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable
from typing import TYPE_CHECKING

import structlog

from engine.broker.errors import StreamUnavailable
from engine.broker.protocol import Broker
from engine.clock import SYSTEM_CLOCK, Clock
from engine.reconcile.events import GuardStreamStatus, Listener

if TYPE_CHECKING:
    from engine.broker.trade_updates import TradeUpdates

log = structlog.get_logger("recon.guard")

FIRST_RETRY_SECONDS = 1.0
LONGEST_RETRY_SECONDS = 60.0


def retry_delay(attempt: int, jitter: float) -> float:
    """Doubling from a second up to a minute, each scaled by `jitter` in [0.5, 1): many guards
    reconnecting after one outage do not all knock at once."""
    return min(LONGEST_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2.0**attempt) * jitter


class StreamWatch:
    def __init__(
        self,
        broker: Broker,
        *,
        on_change: Callable[[], None],
        emit: Listener,
        clock: Clock = SYSTEM_CLOCK,
        jitter: Callable[[], float] = lambda: random.uniform(0.5, 1.0),
    ) -> None:
        self._broker = broker
        self._on_change = on_change
        self._emit = emit
        self._clock = clock
        self._jitter = jitter
        self.updates: TradeUpdates | None = None  # the live connection, for confirmations

    async def run(self) -> None:
        """Until cancelled. A stream refused, dropped, or failing in recon's own code is tried
        again after a pause; the guard's sweeps carry on meanwhile."""
        attempt = 0
        while True:
            updates = await self._opened(attempt)
            if updates is None:
                attempt += 1
                continue
            attempt = 0
            self.updates = updates
            self._say(GuardStreamStatus(True, "trade_updates stream up"))
            self._on_change()  # whatever happened while it was down, the sweep now reads
            try:
                await self._relay(updates)
            except Exception:  # a fault of recon's own: logged in full, then reconnected
                log.exception("guard_stream_failed")
            finally:
                self.updates = None
                await updates.close()
            delay = retry_delay(0, self._jitter())
            self._say(
                GuardStreamStatus(False, f"stream dropped; polling, reconnecting in {delay:.1f}s")
            )
            await self._clock.sleep(delay)

    async def _opened(self, attempt: int) -> TradeUpdates | None:
        """A new connection; or None, said and waited out, when none can be had."""
        try:
            return await self._broker.open_trade_updates()
        except StreamUnavailable as exc:
            trouble = str(exc)
        except Exception:
            # Not the broker's refusal but a fault of recon's own: logged in full, and tried
            # again as a refusal is, so the guard never stops listening for good.
            log.exception("guard_stream_failed")
            trouble = "trade_updates stream failed"
        delay = retry_delay(attempt, self._jitter())
        self._say(GuardStreamStatus(False, f"{trouble}; polling, next try in {delay:.0f}s"))
        await self._clock.sleep(delay)
        return None

    async def _relay(self, updates: TradeUpdates) -> None:
        """Pass each update on until the broker closes the connection."""
        ended = asyncio.create_task(updates.ended())
        try:
            while not ended.done():
                heard = asyncio.create_task(updates.changed.wait())
                await asyncio.wait({heard, ended}, return_when=asyncio.FIRST_COMPLETED)
                heard.cancel()
                if updates.changed.is_set():
                    updates.changed.clear()
                    self._on_change()
        finally:
            ended.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ended

    def _say(self, status: GuardStreamStatus) -> None:
        log.info("guard_stream", up=status.up, detail=status.detail)
        self._emit(status)
