"""Typed errors at the broker boundary; each renders as one line an operator can act on."""

from __future__ import annotations


class BrokerError(Exception):
    """Anything that went wrong talking to the broker."""


class BrokerUnreachable(BrokerError):
    """The broker did not answer usefully after every retry: timeouts, dropped connections,
    429 or 5xx answers."""

    def __init__(self, operation: str, attempts: int, cause: str) -> None:
        super().__init__(
            f"broker unreachable: {operation} failed after {attempts} attempts ({cause})"
        )
        self.operation = operation
        self.attempts = attempts
        self.cause = cause


class BrokerRejected(BrokerError):
    """The broker answered and said no (4xx), with Alpaca's code and message."""

    def __init__(self, status_code: int, code: int | None, message: str) -> None:
        super().__init__(
            f"broker rejected the request (HTTP {status_code}, code {code}): {message}"
        )
        self.status_code = status_code
        self.code = code
        self.message = message


class OrderNotFound(BrokerRejected):
    """The broker knows no order by that id or client_order_id (404)."""


class AmbiguousSubmit(BrokerError):
    """A submission whose outcome is unknown (timeout, 5xx, dropped connection): the order may or
    may not exist. Look it up by `client_order_id` before sending anything again."""

    def __init__(self, client_order_id: str, cause: str) -> None:
        super().__init__(
            f"submission of {client_order_id} is ambiguous ({cause}); "
            "look it up by client_order_id before resubmitting"
        )
        self.client_order_id = client_order_id
        self.cause = cause


class RequestNotSendable(BrokerError):
    """The request could not be sent at all: a header (the key pair) or the URL holds what HTTP
    cannot carry. Nothing reached the broker, and another try would fail the same way. The
    message is fixed: the HTTP library's own quotes the header's value, which is the secret."""


class MalformedBrokerResponse(BrokerError):
    """The broker answered something recon cannot read: a missing field, a bad number."""


class UnknownOrderStatus(MalformedBrokerResponse):
    """The broker reported an order status outside Alpaca's 18."""

    def __init__(self, order_id: str, status: str) -> None:
        super().__init__(f"order {order_id} has unknown broker status {status!r}")
        self.order_id = order_id
        self.status = status


class StreamUnavailable(BrokerError):
    """The trade_updates stream could not be had: unreachable, or refused (Alpaca allows one
    stream per account, so another session holding it is a refusal)."""
