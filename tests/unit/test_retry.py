"""Broker reads are retried on transient failures only, then reported unreachable."""

import pytest

from engine.broker.errors import BrokerRejected, BrokerUnreachable
from engine.broker.retry import RetryPolicy, TransientFailure, with_retries

FAST = RetryPolicy(delays=(0.0, 0.0, 0.0), jitter=0.0)


class FlakyCall:
    def __init__(self, failures: list[Exception]) -> None:
        self.failures = failures
        self.calls = 0

    async def __call__(self) -> str:  # a callable object, not a coroutine function
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "answer"


def test_spec_policy_is_three_waits_of_1_2_4_seconds() -> None:
    assert RetryPolicy().delays == (1.0, 2.0, 4.0)
    assert RetryPolicy().attempts == 4


async def test_transient_failures_are_retried_until_success() -> None:
    call = FlakyCall([TransientFailure("429"), TransientFailure("503")])
    assert await with_retries("get account", FAST, call) == "answer"
    assert call.calls == 3


async def test_persistent_failure_becomes_unreachable_naming_the_operation() -> None:
    call = FlakyCall([TransientFailure("timeout")] * 10)
    with pytest.raises(BrokerUnreachable, match="get account failed after 4 attempts") as caught:
        await with_retries("get account", FAST, call)
    assert call.calls == 4
    assert caught.value.cause == "timeout"


async def test_a_rejection_is_not_retried() -> None:
    call = FlakyCall([BrokerRejected(403, 40310000, "forbidden")])
    with pytest.raises(BrokerRejected):
        await with_retries("get account", FAST, call)
    assert call.calls == 1
