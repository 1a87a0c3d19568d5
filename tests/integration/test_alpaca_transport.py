"""What can go wrong below the broker's answer — a header that cannot be sent, a body cut short
or undecodable, a transport error that escapes requests — becomes one of the adapter's typed
errors, never a traceback, and never quotes the key pair."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import urllib3.exceptions

from engine.broker.alpaca import MAX_CONCURRENT_REQUESTS, AlpacaBroker
from engine.broker.errors import BrokerUnreachable, RequestNotSendable
from engine.simulator.runner import Simulator
from tests.integration.conftest import FAST_RETRIES, TEST_TIMEOUT_SECONDS

SECRET = "adapter-secret-never-quoted-0042"


def broker_at(base_url: str, *, key_id: str = "PKTRANSPORT0007Q", secret: str = SECRET) -> Any:
    return AlpacaBroker(
        key_id=key_id,
        secret_key=secret,
        base_url=base_url,
        timeout_seconds=TEST_TIMEOUT_SECONDS,
        rate_limit_per_minute=10_000,
        retry_policy=FAST_RETRIES,
    )


@asynccontextmanager
async def answering(raw: bytes) -> AsyncIterator[str]:
    """An HTTP server that reads a request and answers every one with `raw`, then hangs up."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(raw)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}"


@pytest.mark.parametrize(
    "stray", ["\r", "\n", " leading", "€"], ids=["carriage-return", "newline", "space", "euro"]
)
async def test_a_secret_http_cannot_carry_is_a_fixed_line_and_nothing_is_sent(
    simulator: Simulator, stray: str
) -> None:
    secret = stray + SECRET if stray.startswith(" ") else SECRET + stray
    broker = broker_at(simulator.url, key_id=simulator.key_id, secret=secret)
    try:
        with pytest.raises(RequestNotSendable) as refused:
            await broker.get_account()
    finally:
        await broker.close()
    said = str(refused.value)
    assert said.startswith("get account: the key pair cannot be sent as an HTTP header")
    assert SECRET not in said and SECRET not in repr(refused.value)
    assert len(simulator.requests) == 0  # not retried: it cannot go better


@pytest.mark.parametrize(
    "raw",
    [
        # A chunked body whose chunk size is not a number: requests' ChunkedEncodingError.
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        # A body said to be gzip that is not: requests' ContentDecodingError.
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 9\r\n\r\nnot gzip!",
    ],
    ids=["chunked-encoding", "content-decoding"],
)
async def test_a_garbled_body_is_retried_then_unreachable_not_a_traceback(raw: bytes) -> None:
    async with answering(raw) as url:
        broker = broker_at(url)
        try:
            with pytest.raises(BrokerUnreachable) as failed:
                await broker.get_account()
        finally:
            await broker.close()
    assert failed.value.attempts == FAST_RETRIES.attempts
    assert SECRET not in str(failed.value)


@pytest.mark.parametrize(
    "escaped",
    [urllib3.exceptions.ProtocolError("connection broken"), urllib3.exceptions.DecodeError()],
    ids=["protocol", "decode"],
)
async def test_a_transport_error_that_escapes_requests_is_retried_too(
    simulator: Simulator, escaped: Exception, monkeypatch: pytest.MonkeyPatch
) -> None:
    """urllib3's errors are meant to reach recon wrapped in requests' own; some do not."""
    broker = broker_at(simulator.url, key_id=simulator.key_id, secret=simulator.secret_key)

    def send(*_args: object, **_kwargs: object) -> None:
        raise escaped

    monkeypatch.setattr(broker._client._session, "send", send)
    try:
        with pytest.raises(BrokerUnreachable, match=type(escaped).__name__):
            await broker.get_account()
    finally:
        await broker.close()


async def test_the_adapter_and_its_stream_show_no_secret_in_their_repr(
    simulator: Simulator,
) -> None:
    broker = broker_at(simulator.url, key_id=simulator.key_id, secret=simulator.secret_key)
    try:
        updates = await broker.open_trade_updates()
        try:
            assert simulator.secret_key not in repr(broker) + repr(updates)
            assert simulator.secret_key not in repr(vars(broker)) + repr(vars(updates))
        finally:
            await updates.close()
    finally:
        await broker.close()


async def test_the_broker_is_reached_through_the_proxy_the_environment_names(
    simulator: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read once, when the adapter is made: the host below exists only behind the proxy."""
    monkeypatch.setenv("HTTP_PROXY", simulator.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    assert await account_number_at("http://alpaca.invalid", simulator) == "PA3SIMRECON1"
    assert simulator.requests.count("GET", "/v2/account") == 1


async def test_a_broker_the_environment_exempts_from_its_proxy_is_reached_directly(
    simulator: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    assert await account_number_at(simulator.url, simulator) == "PA3SIMRECON1"


async def account_number_at(base_url: str, simulator: Simulator) -> str:
    """The account an adapter made for `base_url`, with the simulator's key pair, reads."""
    broker = broker_at(base_url, key_id=simulator.key_id, secret=simulator.secret_key)
    try:
        account = await broker.get_account()
    finally:
        await broker.close()
    return account.account_number


async def test_an_account_never_has_more_requests_waiting_on_the_broker_than_its_cap(
    simulator: Simulator,
) -> None:
    """Twice the cap asked at once: they go together, a wave of at most the cap at a time."""
    simulator.latency = 0.2  # long enough for a whole wave to be waiting at once
    broker = broker_at(simulator.url, key_id=simulator.key_id, secret=simulator.secret_key)
    try:
        await asyncio.gather(*(broker.get_clock() for _ in range(2 * MAX_CONCURRENT_REQUESTS)))
    finally:
        await broker.close()
    assert MAX_CONCURRENT_REQUESTS // 2 < simulator.requests.most_at_once <= MAX_CONCURRENT_REQUESTS
