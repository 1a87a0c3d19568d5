"""The last line of defence for secrets: every Alpaca secret key and database password recon is
given is registered as its configuration is read, and `scrub` takes each of them out of any text
before that text leaves the process — printed, logged, drawn on the console or written to a
report or the journal. Code never puts a secret in a message; this catches the day it does."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable
from dataclasses import fields
from typing import Any
from urllib.parse import quote

REDACTED = "[redacted]"
# A secret with whitespace or control characters in it (refused as configuration, but registered
# before it is refused) may be shown cut at those characters, one piece per line; pieces this
# long are taken out on their own too. Shorter ones would take ordinary words with them.
SHORTEST_PIECE = 6
_SEPARATORS = re.compile(r"[\s\x00-\x1f\x7f-\x9f]+")

_lock = threading.Lock()
_registered: set[str] = set()
_spellings: set[str] = set()
# Every spelling as one pattern, compiled by the first scrub after a registration: a fleet's
# accounts register their secrets one after another, and compiling the pattern again for each
# would cost the fleet's start time growing with the square of its accounts.
_pattern: re.Pattern[str] | None = None


def register(*secrets: str | None) -> None:
    """Remember these values (empty ones and None are ignored) so that `scrub` hides them from
    now on, in every thread. Registering a value twice is harmless."""
    global _pattern
    new = {secret for secret in secrets if secret} - _registered
    if not new:
        return
    with _lock:
        _registered.update(new)
        _spellings.update(form for secret in new for form in _forms(secret) if form)
        _pattern = None


def scrub(text: str) -> str:
    """`text` with every registered secret, however it is spelled there, as `[redacted]`."""
    pattern = _current_pattern()
    if pattern is None or not text:
        return text
    return pattern.sub(REDACTED, text)


def holds_secret(text: str) -> bool:
    pattern = _current_pattern()
    return pattern is not None and pattern.search(text) is not None


def _current_pattern() -> re.Pattern[str] | None:
    """The pattern of every spelling registered so far; None while nothing is."""
    global _pattern
    pattern = _pattern
    if pattern is not None or not _spellings:
        return pattern
    with _lock:
        if _pattern is None:
            # Longest first, so a secret's escaped spelling goes whole rather than a piece of it.
            alternatives = sorted(_spellings, key=lambda form: (-len(form), form))
            _pattern = re.compile("|".join(map(re.escape, alternatives)))
        return _pattern


def scrub_json(value: Any) -> Any:
    """A JSON-able value with every string in it, keys included, scrubbed: what `json.dumps` of
    it writes then holds no secret, and stays valid JSON whatever a secret looks like."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {scrub_json(key): scrub_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [scrub_json(item) for item in value]
    return value


def dumps(value: Any, **options: Any) -> str:
    """`json.dumps`, scrubbed. A large run's object is walked only when its text holds a
    secret, which it should never do."""
    text = json.dumps(value, **options)
    if not holds_secret(text):
        return text
    return json.dumps(scrub_json(value), **options)


def dataclass_repr(instance: Any, **masked: str) -> str:
    """A dataclass's repr with the named fields shown as the given text instead of their value:
    a database URL without its password, say. Textual's crash screen prints the locals of every
    frame, so a repr is output too."""
    shown = (
        f"{field.name}={masked[field.name]!r}"
        if field.name in masked
        else f"{field.name}={getattr(instance, field.name)!r}"
        for field in fields(instance)
        if field.repr
    )
    return f"{type(instance).__name__}({', '.join(shown)})"


def _forms(secret: str) -> Iterable[str]:
    """The ways a secret may be spelled in a message: as it is, trimmed, escaped as Python's
    repr and JSON write it, percent-encoded as in a URL, and cut at its whitespace."""
    yield secret
    yield secret.strip()
    yield repr(secret)[1:-1]
    yield ascii(secret)[1:-1]
    yield json.dumps(secret)[1:-1]
    yield json.dumps(secret, ensure_ascii=False)[1:-1]
    yield quote(secret, safe="")
    yield quote(secret)
    yield from (piece for piece in _SEPARATORS.split(secret) if len(piece) >= SHORTEST_PIECE)
