"""Structured logging for every command: one event name and key=value fields on stderr, with
any field that looks like a credential redacted, and every registered secret scrubbed from every
field, before it is written."""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

from engine import secrets

REDACTED = secrets.REDACTED
_SECRET_MARKERS = ("secret", "password", "token")


def redact_secrets(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """A last line of defence: code never logs a secret, and if it ever tried, this hides it."""
    for key in event:
        if any(marker in key.lower() for marker in _SECRET_MARKERS):
            event[key] = REDACTED
    return event


def scrub_secrets(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Whatever a field is called, a registered secret in it is not written: an error's text
    can quote a request, headers and all."""
    for key, value in event.items():
        if key != "exc_info":  # the renderer formats it, through `scrubbed_traceback`
            event[key] = _scrubbed(value)
    return event


def _scrubbed(value: Any) -> Any:
    if isinstance(value, str):
        return secrets.scrub(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, dict):
        return {key: _scrubbed(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_scrubbed(item) for item in value]
    # Anything else is written as its str or repr, which may hold what a string field would.
    if secrets.holds_secret(str(value)) or secrets.holds_secret(repr(value)):
        return secrets.scrub(str(value))
    return value


def scrubbed_traceback(out: TextIO, exc_info: structlog.typing.ExcInfo) -> None:
    """A logged exception's traceback, plain (a rich one prints each frame's locals) and
    scrubbed: its text quotes whatever the failing code held."""
    text = io.StringIO()
    structlog.dev.plain_traceback(text, exc_info)
    out.write(secrets.scrub(text.getvalue()))


def configure_logging(
    *, json_lines: bool = False, level: int = logging.INFO, to: TextIO | None = None
) -> None:
    """Log lines to `to` (stderr by default): a console, which owns the terminal, sends them
    to a file."""
    out = to or sys.stderr
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if json_lines
        else structlog.dev.ConsoleRenderer(
            colors=out.isatty(), exception_formatter=scrubbed_traceback
        )
    )
    # JSON lines carry an exception as text, formatted here so that it is scrubbed too.
    exceptions = [structlog.processors.format_exc_info] if json_lines else []
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            *exceptions,
            redact_secrets,
            scrub_secrets,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )
