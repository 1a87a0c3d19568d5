"""What the simulated broker answers instead of doing what was asked: Alpaca's HTTP status, its
error code and its message."""

from __future__ import annotations

# Alpaca's error codes, as its API returns them.
CODE_INVALID_REQUEST = 40010001
CODE_UNAUTHORIZED = 40110000
CODE_FORBIDDEN = 40310000
CODE_NOT_FOUND = 40410000
CODE_UNPROCESSABLE = 42210000
CODE_RATE_LIMITED = 42910000
CODE_INTERNAL = 50010000


class SimulatorRejection(Exception):
    """What Alpaca would answer instead of doing it: an HTTP status, a code and a message, and
    the fields some answers add (a wash trade names the order in the way)."""

    def __init__(
        self, http_status: int, code: int, message: str, details: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.code = code
        self.message = message
        self.details = details or {}


def invalid(message: str) -> SimulatorRejection:
    """A request Alpaca cannot read: a missing, malformed or unsupported field."""
    return SimulatorRejection(422, CODE_INVALID_REQUEST, message)


def unprocessable(message: str) -> SimulatorRejection:
    """A well-formed request whose terms break a trading rule."""
    return SimulatorRejection(422, CODE_UNPROCESSABLE, message)


def forbidden(message: str, **details: str) -> SimulatorRejection:
    """A request the account may not make now: shares held elsewhere, a wash trade."""
    return SimulatorRejection(403, CODE_FORBIDDEN, message, details)


def not_found(message: str = "order not found") -> SimulatorRejection:
    return SimulatorRejection(404, CODE_NOT_FOUND, message)
