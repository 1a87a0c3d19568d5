"""How long the guard waits before asking for the trade stream again."""

import pytest

from engine.reconcile.stream_watch import LONGEST_RETRY_SECONDS, retry_delay


@pytest.mark.parametrize(("attempt", "expected"), [(0, 1.0), (1, 2.0), (3, 8.0), (6, 60.0)])
def test_retries_double_from_a_second_up_to_a_minute(attempt: int, expected: float) -> None:
    assert retry_delay(attempt, jitter=1.0) == expected


def test_jitter_shortens_a_wait_by_at_most_half() -> None:
    assert retry_delay(20, jitter=0.5) == LONGEST_RETRY_SECONDS / 2
