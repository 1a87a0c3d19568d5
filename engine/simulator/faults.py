"""Fault injection for the simulator: answer with an error status, answer late or once a test
lets the request go, apply a request and lose the answer, drop the connection, rewrite an answer
or replace its body with any text — each for the next N matching requests — plus a latency
added to every request and a log of what was asked."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class FaultKind(StrEnum):
    STATUS = "status"  # answer `status` without doing anything
    DELAY = "delay"  # wait `delay` seconds, then answer normally
    LOSE_ANSWER = "lose_answer"  # do it, then drop the connection: accepted but answer lost
    DROP_CONNECTION = "drop_connection"  # drop the connection without doing anything
    REWRITE = "rewrite"  # do it, then pass the JSON answer through `rewrite`
    # Do it, then answer `body` as the JSON text, however unreadable: an answer nested past
    # parsing, or with a number no parser converts, which no rewrite of a value could write.
    RAW_BODY = "raw_body"
    HOLD = "hold"  # wait until the test sets `released`, then answer normally


@dataclass
class Fault:
    """Applies to requests whose method matches (`*` for any) and whose path starts with
    `path` — a prefix, so `/v2/orders` also spoils `/v2/orders/{id}` and
    `/v2/orders:by_client_order_id`; `exact=True` spoils only `path` itself. `times` is how
    many requests it spoils, None for every one. The first matching fault wins."""

    kind: FaultKind
    path: str = "/v2/"
    method: str = "*"
    times: int | None = 1
    status: int = 500
    delay: float = 0.0
    rewrite: Callable[[Any], Any] | None = None
    body: str = ""
    exact: bool = False
    released: threading.Event | None = None
    # What a STATUS fault below 500 (and not 429) says, as Alpaca's message would.
    message: str = "injected fault"

    def __post_init__(self) -> None:
        self.kind = FaultKind(self.kind)  # "status" reads as FaultKind.STATUS
        self.method = self.method.upper()
        if self.kind is FaultKind.HOLD and self.released is None:
            raise ValueError("a held request needs the event that releases it")

    def matches(self, method: str, path: str) -> bool:
        if self.method not in ("*", method):
            return False
        return path == self.path if self.exact else path.startswith(self.path)


@dataclass(frozen=True, slots=True)
class LoggedRequest:
    """One request as it arrived at the account its key id names, before its secret was
    checked, latency or faults: `at` is the book's clock."""

    method: str
    path: str
    query: str
    at: datetime


@dataclass
class Faults:
    _active: list[Fault] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._active.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._active.clear()

    def take(self, method: str, path: str) -> Fault | None:
        """The first fault for this request, counting it used."""
        with self._lock:
            for fault in self._active:
                if fault.matches(method, path):
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            self._active.remove(fault)
                    return fault
        return None


@dataclass
class RequestLog:
    """Every request an account was sent, and the most it was answering at once."""

    most_at_once: int = 0
    _entries: list[LoggedRequest] = field(default_factory=list)
    _answering: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, entry: LoggedRequest) -> None:
        with self._lock:
            self._entries.append(entry)

    @contextmanager
    def answering(self) -> Iterator[None]:
        """A request being answered: from its arrival until its answer is made."""
        with self._lock:
            self._answering += 1
            self.most_at_once = max(self.most_at_once, self._answering)
        try:
            yield
        finally:
            with self._lock:
                self._answering -= 1

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def entries(self) -> list[LoggedRequest]:
        with self._lock:
            return list(self._entries)

    def count(self, method: str, path_prefix: str = "/v2/") -> int:
        return sum(
            1 for e in self.entries() if e.method == method and e.path.startswith(path_prefix)
        )

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.most_at_once = self._answering
