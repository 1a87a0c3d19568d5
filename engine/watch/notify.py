"""Alerts to the operator's apprise URLs: each URL's secret parts registered with the scrubber
before anything can fail and show them, every message sent off the event loop and in order, and
a failure to send logged once, never in protection's way."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from urllib.parse import parse_qsl, unquote, urlsplit

import apprise
import structlog

from engine import secrets
from engine.errors import UsageError, first_line
from engine.watch.alerts import AccountLabel, Alert, message

log = structlog.get_logger("recon.notify")

# How long a command's end waits for its last alerts to go out before it exits anyway.
DRAIN_SECONDS = 30.0
# Where a URL's pieces part, in apprise's own spelling of it and in the operator's.
_URL_PIECES = re.compile(r"[/:@?&=#]+")
# How URLs are separated in RECON_NOTIFY_URLS: whitespace, or a comma before the next URL's
# scheme (a comma inside a URL, as in a list of e-mail recipients, stays with it).
_URL_SEPARATORS = re.compile(r"\s+|,\s*(?=[A-Za-z][A-Za-z0-9+.-]*://)")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")


def split_notify_urls(text: str) -> list[str]:
    """The URLs of RECON_NOTIFY_URLS, separated by spaces or commas as apprise's own list is."""
    return [url.strip(",") for url in _URL_SEPARATORS.split(text) if url.strip(",")]


def checked_notify_urls(urls: Iterable[str], *, setting: str) -> tuple[str, ...]:
    """The URLs, each registered with the scrubber — whole and its secret parts — and refused,
    naming only its place and scheme, if apprise cannot send to it."""
    _keep_apprise_quiet()
    checked = []
    for place, url in enumerate(urls, start=1):
        secrets.register(url)
        service = apprise.Apprise.instantiate(url)
        if service is None:
            scheme = _SCHEME.match(url)
            shown = f"{scheme.group(1)}://…" if scheme else "not a URL"
            raise UsageError(
                f"{setting}: apprise cannot send to notify URL {place} ({shown}); see apprise's "
                "list of services for how that URL is written"
            )
        plain: str = service.url(privacy=False)  # type: ignore[no-untyped-call]
        masked: str = service.url(privacy=True)  # type: ignore[no-untyped-call]
        secrets.register(*_secret_parts(url, plain, masked))
        checked.append(url)
    return tuple(checked)


def _secret_parts(url: str, plain: str, masked: str) -> set[str]:
    """What of `url` a message must never show, beyond the URL whole: the pieces apprise masks
    when it prints the URL itself (a webhook's tokens, a bot's key, a password), wherever the
    operator wrote them, and its long query values (a token given as `?token=…`), which no
    plugin is asked to mask. A short query value is left alone: a token is long, and a value
    like `yes` would take ordinary words with it."""
    parts = {
        unquote(mine)
        for mine, theirs in zip(_URL_PIECES.split(plain), _URL_PIECES.split(masked), strict=False)
        if mine != theirs and (mine in url or unquote(mine) in url)
    }
    parts.update(
        value for _, value in parse_qsl(urlsplit(url).query) if len(value) >= secrets.SHORTEST_PIECE
    )
    return {part for part in parts if part}


@cache
def _keep_apprise_quiet() -> None:
    """apprise logs through the standard library, which would write to stderr unscrubbed: its
    lines go to the failure recon logs instead, and nowhere else."""
    apprise_log = apprise.logger
    apprise_log.addHandler(_APPRISE_SAID)
    apprise_log.propagate = False


class _AppriseSaid(logging.Handler):
    """What apprise warned of during the send under way, for the line that reports it."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


_APPRISE_SAID = _AppriseSaid()
# One send at a time in the whole process, so what apprise said belongs to the send it reports.
_sending = threading.Lock()


@dataclass(frozen=True, slots=True)
class Message:
    alert: Alert
    account: AccountLabel


class Notifier:
    """The process's one way out to the notify URLs, shared by every account of a fleet. `send`
    never waits: messages are queued and a worker hands each to apprise in a thread."""

    def __init__(self, urls: Iterable[str]) -> None:
        _keep_apprise_quiet()
        self._apprise = apprise.Apprise()
        for url in urls:
            self._apprise.add(url)
        self._queue: asyncio.Queue[Message] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None

    def send(self, alert: Alert, account: AccountLabel) -> None:
        self._queue.put_nowait(Message(alert, account))
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._deliver())

    async def drain(self, seconds: float = DRAIN_SECONDS) -> None:
        """Wait for the queued messages to go, at most `seconds`, then stop the worker."""
        if self._worker is None:
            return
        try:
            await asyncio.wait_for(self._queue.join(), seconds)
        except TimeoutError:
            log.warning("notify_unfinished", unsent=self._queue.qsize(), waited_seconds=seconds)
        self._worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._worker

    async def _deliver(self) -> None:
        while True:
            sent = await self._queue.get()
            try:
                trouble = await asyncio.to_thread(self._post, sent)
                fields = {
                    "condition": str(sent.alert.condition),
                    "state": "raised" if sent.alert.raised else "cleared",
                    "account": sent.account.number,
                    "symbols": ",".join(sent.alert.symbols),
                }
                if trouble is None:
                    log.info("notify_sent", **fields)
                else:
                    log.warning("notify_failed", error=trouble, **fields)
            finally:
                self._queue.task_done()

    def _post(self, sent: Message) -> str | None:
        """Hand one message to apprise; why it failed, or None once every URL took it."""
        kind = apprise.NotifyType.FAILURE if sent.alert.raised else apprise.NotifyType.SUCCESS
        with _sending:
            _APPRISE_SAID.lines.clear()
            try:
                title, body = message(sent.alert, sent.account)
                delivered = bool(
                    self._apprise.notify(
                        body=secrets.scrub(body), title=secrets.scrub(title), notify_type=kind
                    )
                )
            except Exception as exc:  # a plugin's fault, or recon's: reported, and the worker
                return first_line(exc)  # lives on for the next alert
            said = list(_APPRISE_SAID.lines)
        if delivered:
            return None
        return secrets.scrub("; ".join(said) or "apprise could not deliver it")
