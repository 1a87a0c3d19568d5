"""Settings from the environment and command-line flags, validated once into a frozen `Config`;
anything wrong becomes one `ConfigError` line (exit 64), never a traceback."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from engine import secrets
from engine.errors import UsageError
from engine.reconcile.actions import DEFAULT_CRYPTO_STOP_LIMIT_PCT
from engine.store.database import (
    DB_URL_SETTING,
    database_passwords,
    default_db_url,
    normalize_db_url,
    without_password,
)
from engine.store.errors import StoreConfigError

ALPACA_PAPER_URL = "https://paper-api.alpaca.markets"
ALPACA_PAPER_HOST = "paper-api.alpaca.markets"
BROKER_URL_SETTING = "APCA_API_BASE_URL (--broker-url)"
KEY_ID_SETTING = "APCA_API_KEY_ID"
NOTIFY_URLS_SETTING = "RECON_NOTIFY_URLS"
SECRET_KEY_SETTING = "APCA_API_SECRET_KEY"
# Hosts plain http:// may reach: the secret key never leaves this machine in clear.
LOOPBACK_NAMES = frozenset({"localhost"})
# What an Alpaca key never holds, named for the operator; any other whitespace or control
# character is refused too.
_UNWANTED = (
    ("\r", "a carriage return (was the file saved with Windows line endings?)"),
    ("\n", "a line break"),
    ("\t", "a tab"),
    (" ", "a space"),
)

STOP_PCT_BOUNDS = (Decimal("0.005"), Decimal("0.10"))
# A limit nearer its stop than this rarely fills in the fall that triggers it; one further than
# this is a market order by another name.
CRYPTO_STOP_LIMIT_PCT_BOUNDS = (Decimal("0.001"), Decimal("0.10"))
DAILY_LOSS_PCT_BOUNDS = (Decimal("0.001"), Decimal("0.50"))
RATE_LIMIT_BOUNDS = (1, 10_000)
HTTP_TIMEOUT_BOUNDS = (Decimal("0.1"), Decimal("120"))


class ConfigError(UsageError):
    """Bad configuration; the message is the one line the operator sees."""


class _Environment(BaseSettings):
    """Raw values, named after their environment variables so flags (passed as init kwargs)
    override the environment without alias games."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore")

    apca_api_key_id: str | None = None
    apca_api_secret_key: SecretStr | None = None
    apca_api_base_url: str = ALPACA_PAPER_URL
    recon_db_url: str | None = None
    recon_emergency_stop_pct: str = "0.02"
    recon_crypto_stop_limit_pct: str = str(DEFAULT_CRYPTO_STOP_LIMIT_PCT)
    recon_max_daily_loss_pct: str = "0.03"
    recon_consecutive_loss_pause: int = Field(default=3, ge=1, le=100)
    recon_rate_limit_per_minute: int = 200
    recon_http_timeout_seconds: str = "10"
    recon_notify_urls: str = ""


@dataclass(frozen=True, slots=True)
class Config:
    """Everything a command needs, validated. The secret lives only in `secret_key`, whose
    repr never shows it."""

    key_id: str | None
    secret_key: SecretStr | None
    broker_url: str
    db_url: str
    emergency_stop_pct: Decimal
    crypto_stop_limit_pct: Decimal
    max_daily_loss_pct: Decimal
    consecutive_loss_pause: int
    rate_limit_per_minute: int
    http_timeout_seconds: float

    @property
    def masked_key_id(self) -> str:
        return mask_key_id(self.key_id) if self.key_id else "(no key)"

    def __repr__(self) -> str:
        return secrets.dataclass_repr(self, db_url=without_password(self.db_url))

    def require_credentials(self) -> tuple[str, SecretStr]:
        if not self.key_id or self.secret_key is None or not self.secret_key.get_secret_value():
            raise ConfigError(
                "APCA_API_KEY_ID and APCA_API_SECRET_KEY must both be set "
                "(your Alpaca API key id and secret)"
            )
        return self.key_id, self.secret_key


def mask_key_id(key_id: str) -> str:
    """`PKABCDEFGH7Q` → `PK…7Q`: enough to tell keys apart, not enough to use one."""
    if len(key_id) <= 4:
        return "…"
    return f"{key_id[:2]}…{key_id[-2:]}"


def load_config(
    *,
    broker_url: str | None = None,
    db_url: str | None = None,
    stop_pct: str | None = None,
) -> Config:
    """Read the environment, let the given flags override it, and validate everything once."""
    overrides: dict[str, Any] = {
        name: value
        for name, value in (
            ("apca_api_base_url", broker_url),
            ("recon_db_url", db_url),
            ("recon_emergency_stop_pct", stop_pct),
        )
        if value is not None
    }
    try:
        env = _Environment(**overrides)
    except ValidationError as exc:
        raise ConfigError(_first_error_line(exc)) from None
    secret = env.apca_api_secret_key.get_secret_value() if env.apca_api_secret_key else ""
    secret_key = SecretStr(checked_secret(SECRET_KEY_SETTING, secret)) if secret else None
    return Config(
        key_id=checked_key(KEY_ID_SETTING, env.apca_api_key_id),
        secret_key=secret_key,
        broker_url=validated_broker_url(env.apca_api_base_url),
        db_url=validated_db_url(env.recon_db_url or default_db_url()),
        emergency_stop_pct=_bounded_decimal(
            "RECON_EMERGENCY_STOP_PCT (--stop-pct)", env.recon_emergency_stop_pct, STOP_PCT_BOUNDS
        ),
        crypto_stop_limit_pct=_bounded_decimal(
            "RECON_CRYPTO_STOP_LIMIT_PCT",
            env.recon_crypto_stop_limit_pct,
            CRYPTO_STOP_LIMIT_PCT_BOUNDS,
        ),
        max_daily_loss_pct=_bounded_decimal(
            "RECON_MAX_DAILY_LOSS_PCT", env.recon_max_daily_loss_pct, DAILY_LOSS_PCT_BOUNDS
        ),
        consecutive_loss_pause=env.recon_consecutive_loss_pause,
        rate_limit_per_minute=_bounded_int(
            "RECON_RATE_LIMIT_PER_MINUTE", env.recon_rate_limit_per_minute, RATE_LIMIT_BOUNDS
        ),
        http_timeout_seconds=float(
            _bounded_decimal(
                "RECON_HTTP_TIMEOUT_SECONDS", env.recon_http_timeout_seconds, HTTP_TIMEOUT_BOUNDS
            )
        ),
    )


def load_notify_urls(flags: Sequence[str] | None) -> tuple[str, ...]:
    """The apprise URLs alerts go to: every `--notify` given, else RECON_NOTIFY_URLS (several,
    separated by spaces or commas). Each is registered with the scrubber, since it holds a
    webhook's or a bot's token, and one apprise cannot send to is refused (exit 64) without
    quoting it. Apprise is loaded only when there is a URL to check."""
    if flags:
        urls, setting = list(flags), "--notify"
    else:
        try:
            text = _Environment().recon_notify_urls.strip()
        except ValidationError as exc:
            raise ConfigError(_first_error_line(exc)) from None
        secrets.register(text)  # whole, before it is split: a URL split wrong is still hidden
        urls, setting = [], NOTIFY_URLS_SETTING
        if text:
            from engine.watch.notify import split_notify_urls

            urls = split_notify_urls(text)
    if not urls:
        return ()
    from engine.watch.notify import checked_notify_urls

    return checked_notify_urls(urls, setting=setting)


def checked_key(setting: str, value: str | None) -> str | None:
    """A key id as read from `setting`, None if unset; refused if it could not be what Alpaca
    issued (see `checked_secret`)."""
    if not value:
        return None
    _refuse_unusable_key(setting, value)
    return value


def checked_secret(setting: str, value: str) -> str:
    """A secret key as read from `setting`, registered at once so that nothing recon says can
    show it, then refused if it holds whitespace, a control character or anything not ASCII:
    Alpaca's keys hold none, and a `.env` file saved with Windows line endings gives a stray
    carriage return that would otherwise surface later, inside an HTTP library's error. Never
    stripped silently: the operator should know the file is wrong."""
    secrets.register(value)
    _refuse_unusable_key(setting, value)
    return value


def _refuse_unusable_key(setting: str, value: str) -> None:
    """One line naming the variable and what is wrong with it, never its value."""
    unwanted = next((name for character, name in _UNWANTED if character in value), None)
    if unwanted is None and any(c.isspace() or not c.isprintable() for c in value):
        unwanted = "whitespace or a control character"
    if unwanted is not None:
        raise ConfigError(f"{setting} contains {unwanted}; copy the key again without it")
    if not value.isascii():
        raise ConfigError(
            f"{setting} contains a character that is not ASCII; copy the key again without it"
        )


def validated_broker_url(raw: str, *, setting: str = BROKER_URL_SETTING) -> str:
    """Accept what Alpaca's own tools accept (with or without a trailing `/v2`) and hand
    alpaca-py the bare origin it appends `/v2` to. Plain http:// only to this machine: anywhere
    else the secret key would cross the network in clear."""
    parts = urlsplit(raw.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"{setting} must be an http(s) URL such as {ALPACA_PAPER_URL} (got {raw!r})"
        )
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ConfigError(
            f"{setting} must use https:// for {parts.hostname}: plain http:// would send the "
            "secret key in clear, and is accepted only for this machine (127.0.0.1, ::1, "
            "localhost)"
        )
    path = parts.path.rstrip("/")
    if path.endswith("/v2"):
        path = path[: -len("/v2")]
    return f"{parts.scheme}://{parts.netloc}{path}"


def _is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def validated_db_url(raw: str, *, setting: str = DB_URL_SETTING) -> str:
    """A database URL normalised for its async driver; its password, if it has one, is
    registered so that nothing recon says can show it."""
    secrets.register(*database_passwords(raw))
    try:
        return normalize_db_url(raw, setting=setting)
    except StoreConfigError as exc:
        raise ConfigError(str(exc)) from None


def _bounded_decimal(name: str, raw: str, bounds: tuple[Decimal, Decimal]) -> Decimal:
    low, high = bounds
    try:
        value = Decimal(raw.strip())
    except InvalidOperation:
        raise ConfigError(
            f"{name} must be a number between {low} and {high} (got {raw!r})"
        ) from None
    if not value.is_finite() or not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high} (got {raw})")
    return value


def _bounded_int(name: str, value: int, bounds: tuple[int, int]) -> int:
    low, high = bounds
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high} (got {value})")
    return value


def _first_error_line(exc: ValidationError) -> str:
    error = exc.errors()[0]
    field = str(error["loc"][0]).upper() if error["loc"] else "configuration"
    if "SECRET" in field:
        return f"{field}: {error['msg']}"  # never echo what was given for a secret
    return f"{field}: {error['msg']} (got {error.get('input')!r})"
