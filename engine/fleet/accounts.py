"""The fleet file (SPEC §1): TOML, one `[[account]]` table per account, every key required. A
fleet file never holds a secret, only the names of the environment variables that do, and one that
anyone but its owner can change is refused. Anything wrong with it — not UTF-8, not TOML, a key
missing or unusable — is one line naming the file, the line and the key."""

from __future__ import annotations

import os
import re
import stat
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from engine import secrets
from engine.config import (
    Config,
    ConfigError,
    checked_key,
    checked_secret,
    load_config,
    validated_broker_url,
    validated_db_url,
)
from engine.domain import brief
from engine.store.database import without_password

KEYS = ("name", "key_id_env", "secret_key_env", "base_url", "db")
WRITABLE_BY_OTHERS = stat.S_IWGRP | stat.S_IWOTH
NAME = re.compile(r"[a-z0-9_-]+")
VARIABLE = re.compile(r"[A-Z_][A-Z0-9_]*")
# What Alpaca's key ids look like (PK… paper, AK… live): a value of this shape is a key pasted
# where the name of its variable belongs.
KEY_ID = re.compile(r"[PAC]K[A-Z0-9]{14,}")


class FleetFileError(ConfigError):
    """The fleet file cannot be used; its one line names the file, the line and the key."""


@dataclass(frozen=True, slots=True)
class FleetAccount:
    name: str
    key_id_env: str
    secret_key_env: str
    base_url: str
    db: str

    def config(self, environ: Mapping[str, str] = os.environ) -> Config:
        """This account's configuration: its key pair from the variables the file names, the
        tunables from the environment as `recon reconcile` reads them."""
        key_id, secret = environ.get(self.key_id_env), environ.get(self.secret_key_env)
        if not key_id or not secret:
            missing = (self.key_id_env,) * (not key_id) + (self.secret_key_env,) * (not secret)
            raise ConfigError(f"{' and '.join(missing)} must be set for account {self.name}")
        secret = checked_secret(self.secret_key_env, secret)
        key_id = checked_key(self.key_id_env, key_id)
        base = load_config(broker_url=self.base_url, db_url=self.db)
        return replace(base, key_id=key_id, secret_key=SecretStr(secret))

    def __repr__(self) -> str:
        return secrets.dataclass_repr(self, db=without_password(self.db))


def load_fleet(path: Path) -> list[FleetAccount]:
    text = _fleet_text(path)
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise FleetFileError(f"{path}: not TOML: {exc}") from None
    except (ValueError, RecursionError):  # tomllib's own limits: huge integers, deep arrays
        raise FleetFileError(
            f"{path}: not TOML recon can read (a value too long or too deep)"
        ) from None
    lines = _Lines(path, text)
    unknown = sorted(set(document) - {"account"})
    if unknown:
        raise lines.error(None, unknown[0], "is not a fleet file key (only [[account]] tables)")
    tables = document.get("account")
    if not isinstance(tables, list) or not tables:
        raise FleetFileError(f"{path}: no [[account]] tables")
    accounts = [_account(lines, n, table) for n, table in enumerate(tables)]
    seen: dict[str, int] = {}
    for n, account in enumerate(accounts):
        if account.name in seen:
            raise lines.error(n, "name", f"{account.name!r} names two accounts")
        seen[account.name] = n
    return accounts


def _fleet_text(path: Path) -> str:
    """The file's text, once it is known to be its owner's alone to change. It names the
    variables whose keys recon sends to the base_url it lists, so anyone who can write it can
    have them sent anywhere: refused, as ssh refuses a config file others can write. Checked on
    the open file itself, so it cannot be swapped between the check and the read."""
    try:
        with path.open("rb") as file:
            status = os.fstat(file.fileno())
            _refuse_if_others_can_write(path, status)
            data = file.read()
    except OSError as exc:
        raise FleetFileError(f"{path}: cannot read the fleet file: {exc.strerror}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise FleetFileError(f"{path}:{line}: not UTF-8 text (TOML is UTF-8)") from None


def _refuse_if_others_can_write(path: Path, status: os.stat_result) -> None:
    mode = stat.S_IMODE(status.st_mode)
    if mode & WRITABLE_BY_OTHERS:
        raise FleetFileError(
            f"{path}: writable by group or others (mode {mode:04o}); it names the keys recon "
            f"sends to its base_url, so only its owner may change it: chmod go-w {path}"
        )
    owner = status.st_uid
    # Windows has no owners to compare; root owning an operator's file is as good as theirs.
    if hasattr(os, "getuid") and owner not in (os.getuid(), 0):
        raise FleetFileError(
            f"{path}: owned by user id {owner}, not by you; it names the keys recon sends to "
            "its base_url, so only you (or root) may own it"
        )


def _account(lines: _Lines, n: int, table: Any) -> FleetAccount:
    if not isinstance(table, dict):
        raise lines.error(n, None, "is not a table")
    unknown = sorted(set(table) - set(KEYS))
    if unknown:
        raise lines.error(n, unknown[0], f"is not an account key (the keys: {', '.join(KEYS)})")
    for key in KEYS:
        if key not in table:
            raise lines.error(n, None, f"has no {key} (every account needs {', '.join(KEYS)})")
        if not isinstance(table[key], str) or not table[key].strip():
            raise lines.error(n, key, "must be a non-empty string")
        if not table[key].isprintable():  # control characters, or an escaped lone surrogate
            raise lines.error(n, key, "must be printable text")
    if not NAME.fullmatch(table["name"]):
        raise lines.error(n, "name", f"{table['name']!r} must be lowercase letters, digits, - or _")
    for key in ("key_id_env", "secret_key_env"):
        value = table[key]
        if KEY_ID.fullmatch(value) or not VARIABLE.fullmatch(value):
            raise lines.error(
                n,
                key,
                "must name an environment variable, not hold the key: a fleet file never "
                "holds a secret",
            )
    return FleetAccount(
        name=table["name"],
        key_id_env=table["key_id_env"],
        secret_key_env=table["secret_key_env"],
        base_url=_checked(lines, n, "base_url", table["base_url"], validated_broker_url),
        db=_checked(lines, n, "db", table["db"], validated_db_url),
    )


def _checked(lines: _Lines, n: int, key: str, value: str, validate: Callable[..., str]) -> str:
    try:
        return validate(value, setting=key)
    except ConfigError as exc:  # its message begins with the key, which the line gives too
        raise lines.error(n, key, str(exc).removeprefix(f"{key} ")) from None
    except ValueError:  # urllib's own complaint, about an unclosed [IPv6 address, say
        raise lines.error(n, key, "is not a URL") from None


class _Lines:
    """Where in the file an account, or one of its keys, is written: tomllib keeps no positions,
    so the text is read for them."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.text_lines = text.splitlines()
        self.headers = [
            number
            for number, line in enumerate(self.text_lines, start=1)
            if re.match(r"\s*\[\[\s*account\s*\]\]", line)
        ]

    def error(self, account: int | None, key: str | None, problem: str) -> FleetFileError:
        start = self.headers[account] if account is not None and account < len(self.headers) else 1
        end = (
            self.headers[account + 1]
            if account is not None and account + 1 < len(self.headers)
            else len(self.text_lines) + 1
        )
        line = start
        if key is not None:
            written = re.compile(rf"\s*\"?{re.escape(key)}\"?\s*=")
            line = next(
                (
                    number
                    for number in range(start, end)
                    if written.match(self.text_lines[number - 1])
                ),
                start,
            )
        where = f"{self.path}:{line}"
        if key is None:
            return FleetFileError(f"{where}: account {problem}")
        # A key is the file's to spell: quoted if it holds what a line cannot show.
        named = key if key.isprintable() else repr(key)
        return FleetFileError(f"{where}: {brief(named)} {problem}")
