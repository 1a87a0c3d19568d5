"""How long the guard waits before asking for the trade stream again, and that nothing going
wrong with the stream ends the guard's listening for good."""

import pytest
from structlog.testing import capture_logs

from engine.broker.errors import StreamUnavailable
from engine.broker.trade_updates import TradeUpdates
from engine.reconcile.events import Event, GuardStreamStatus
from engine.reconcile.stream_watch import LONGEST_RETRY_SECONDS, StreamWatch, retry_delay
from tests.clock import FakeClock


@pytest.mark.parametrize(("attempt", "expected"), [(0, 1.0), (1, 2.0), (3, 8.0), (6, 60.0)])
def test_retries_double_from_a_second_up_to_a_minute(attempt: int, expected: float) -> None:
    assert retry_delay(attempt, jitter=1.0) == expected


def test_jitter_shortens_a_wait_by_at_most_half() -> None:
    assert retry_delay(20, jitter=0.5) == LONGEST_RETRY_SECONDS / 2


class Enough(Exception):
    """Ends a watch that would otherwise run until cancelled."""


class EndingClock(FakeClock):
    """Ends the watch as it goes to sleep for the `pauses`-th time."""

    def __init__(self, pauses: int) -> None:
        super().__init__()
        self._left = pauses

    async def sleep(self, seconds: float) -> None:
        self._left -= 1
        if self._left == 0:
            raise Enough


class BrokerWithABuggyStream:
    """Opening its stream fails with an error of recon's own first, then as a refusal."""

    def __init__(self) -> None:
        self.opened = 0

    async def open_trade_updates(self) -> TradeUpdates:
        self.opened += 1
        if self.opened == 1:
            raise KeyError("a bug while connecting")
        raise StreamUnavailable("trade_updates stream unavailable: refused")


async def test_a_fault_opening_the_stream_is_logged_in_full_and_tried_again() -> None:
    broker = BrokerWithABuggyStream()
    statuses: list[Event] = []
    clock = EndingClock(pauses=2)
    watch = StreamWatch(
        broker,  # type: ignore[arg-type]  # only its stream is asked for
        on_change=lambda: None,
        emit=statuses.append,
        clock=clock,
        jitter=lambda: 1.0,
    )
    with capture_logs() as logs, pytest.raises(Enough):
        await watch.run()
    assert broker.opened == 2
    assert [status.detail for status in statuses if isinstance(status, GuardStreamStatus)] == [
        "trade_updates stream failed; polling, next try in 1s",
        "trade_updates stream unavailable: refused; polling, next try in 2s",
    ]
    [failed] = [entry for entry in logs if entry["event"] == "guard_stream_failed"]
    assert failed["exc_info"] is True
