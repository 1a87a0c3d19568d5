"""How recon retries a broker read: which failures are worth another try, and how long to wait."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import (
    AsyncRetrying,
    RetryError,
    retry_if_exception_type,
    stop_after_attempt,
    wait_chain,
    wait_fixed,
    wait_random,
)

from engine.broker.errors import BrokerUnreachable

T = TypeVar("T")


class TransientFailure(Exception):
    """A failure another attempt may cure: a timeout, a dropped connection, 429 or 5xx."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Waits between attempts; one more attempt than there are waits. Jitter spreads retries
    from concurrent calls so they do not hit the broker in lockstep."""

    delays: tuple[float, ...] = (1.0, 2.0, 4.0)
    jitter: float = 0.25

    @property
    def attempts(self) -> int:
        return len(self.delays) + 1


async def with_retries(operation: str, policy: RetryPolicy, call: Callable[[], Awaitable[T]]) -> T:
    """Run `call`, retrying `TransientFailure`; after the last attempt, `BrokerUnreachable`."""
    retrying = AsyncRetrying(
        stop=stop_after_attempt(policy.attempts),
        wait=wait_chain(*(wait_fixed(delay) for delay in policy.delays))
        + wait_random(0, policy.jitter),
        retry=retry_if_exception_type(TransientFailure),
    )
    try:
        async for attempt in retrying:
            with attempt:
                return await call()
    except RetryError as exc:
        last = exc.last_attempt.exception()
        raise BrokerUnreachable(operation, policy.attempts, str(last)) from last
    raise AssertionError("tenacity ended without a result or an error")  # pragma: no cover
