"""Secrets (SPEC §1): a key pair that could not be Alpaca's is refused when read, naming the
variable and never the value; plain http:// goes nowhere but this machine; every secret read is
scrubbed from what recon says, however it is spelled there; and reprs hide them."""

import io
import json
import logging
from pathlib import Path
from urllib.parse import quote

import pytest
import structlog

from engine import secrets
from engine.config import ConfigError, load_config
from engine.errors import first_line
from engine.fleet.accounts import FleetAccount
from engine.logging import scrub_secrets, scrubbed_traceback
from engine.reconcile.service import service_from_config

SECRET = "unit-secret-Zq8wYv3nPk"
PASSWORD = "Db-pa55-Hx7t"
PG_URL = f"postgresql://ops:{PASSWORD}@db.example.com/recon"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("APCA_API_KEY_ID", "APCA_API_SECRET_KEY", "APCA_API_BASE_URL", "RECON_DB_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RECON_DB_URL", f"sqlite:///{tmp_path}/recon.db")


def with_key_pair(monkeypatch: pytest.MonkeyPatch, key_id: str, secret: str) -> None:
    monkeypatch.setenv("APCA_API_KEY_ID", key_id)
    monkeypatch.setenv("APCA_API_SECRET_KEY", secret)


# Refused when read ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stray", "named"),
    [
        ("\r", "a carriage return"),
        ("\n", "a line break"),
        ("\t", "a tab"),
        (" ", "a space"),
        ("\x1b", "whitespace or a control character"),
        ("\u00a0", "whitespace or a control character"),
        ("é", "not ASCII"),
    ],
    ids=["cr", "lf", "tab", "space", "escape", "nbsp", "non-ascii"],
)
@pytest.mark.parametrize("variable", ["APCA_API_KEY_ID", "APCA_API_SECRET_KEY"])
def test_a_key_pair_with_a_stray_character_is_refused_naming_only_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, stray: str, named: str
) -> None:
    with_key_pair(monkeypatch, "PKUNITTEST0007Q", SECRET)
    bad = f"UNIT{stray}VALUE-0042"
    monkeypatch.setenv(variable, bad)
    with pytest.raises(ConfigError) as refused:
        load_config()
    said = str(refused.value)
    assert said.startswith(f"{variable} contains") and named in said
    assert "\n" not in said
    assert "VALUE-0042" not in said


def test_a_fleet_accounts_key_pair_is_refused_naming_its_variable() -> None:
    account = FleetAccount("alpha", "ALPHA_KEY_ID", "ALPHA_SECRET_KEY", "https://x", "sqlite://")
    with pytest.raises(ConfigError, match=r"^ALPHA_SECRET_KEY contains a carriage return") as no:
        account.config({"ALPHA_KEY_ID": "PKALPHA", "ALPHA_SECRET_KEY": f"{SECRET}\r"})
    assert SECRET not in str(no.value)
    with pytest.raises(ConfigError, match=r"^ALPHA_KEY_ID contains a space"):
        account.config({"ALPHA_KEY_ID": "PK ALPHA", "ALPHA_SECRET_KEY": SECRET})


@pytest.mark.parametrize(
    "url", ["http://paper-api.alpaca.markets", "http://10.1.2.3:8080", "http://[2001:db8::1]"]
)
def test_plain_http_to_another_machine_is_refused(url: str) -> None:
    with pytest.raises(ConfigError, match=r"^APCA_API_BASE_URL \(--broker-url\) must use https"):
        load_config(broker_url=url)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8123",
        "http://127.9.9.9",
        "http://localhost:8123",
        "http://LOCALHOST",
        "http://[::1]:8123",
        "https://broker.example.com",
    ],
)
def test_plain_http_to_this_machine_and_https_anywhere_are_accepted(url: str) -> None:
    assert load_config(broker_url=url).broker_url == url.rstrip("/")


def test_a_fleet_file_refuses_plain_http_to_another_machine(tmp_path: Path) -> None:
    from engine.fleet.accounts import FleetFileError, load_fleet

    path = tmp_path / "fleet.toml"
    path.write_text(
        '[[account]]\nname = "alpha"\nkey_id_env = "ALPHA_KEY_ID"\n'
        'secret_key_env = "ALPHA_SECRET_KEY"\nbase_url = "http://broker.example.com"\n'
        'db = "sqlite:///x.db"\n'
    )
    path.chmod(0o600)  # a fleet file others can write is refused before its URLs are read
    with pytest.raises(FleetFileError, match=r"fleet.toml:5: base_url must use https://"):
        load_fleet(path)


# Scrubbed from what recon says --------------------------------------------------------------


def test_every_spelling_of_a_registered_secret_is_scrubbed() -> None:
    odd = 'unit-odd"secret\\é€\r'
    secrets.register(odd)
    spellings = {
        "as it is": odd,
        "trimmed": odd.strip(),
        "repr": repr(odd),
        "ascii": ascii(odd),
        "json": json.dumps(odd),
        "json, unicode": json.dumps(odd, ensure_ascii=False),
        "in a url": quote(odd, safe=""),
        "cut at its control character": 'unit-odd"secret\\é€',
    }
    for how, spelled in spellings.items():
        said = secrets.scrub(f"before {spelled} after")
        assert "unit-odd" not in said and "[redacted]" in said, how
        assert said.startswith("before ") and said.endswith(" after"), how
    assert secrets.scrub("nothing to hide here") == "nothing to hide here"


def test_a_secret_registered_after_a_scrub_is_scrubbed_from_then_on() -> None:
    """The scrubber's pattern is made by the first scrub after a registration, not by each one:
    a later registration is never left out of it."""
    first, second = "unit-first-Qx81", "unit-second-Lw27"
    secrets.register(first)
    assert secrets.scrub(f"{first} {second}") == f"[redacted] {second}"
    secrets.register(second)
    assert secrets.scrub(f"{first} {second}") == "[redacted] [redacted]"
    assert secrets.holds_secret(second)


def test_scrubbed_json_stays_json_whatever_the_secret_looks_like() -> None:
    odd = 'unit-json"},{"'
    secrets.register(odd)
    text = secrets.dumps({"errors": [f"refused: {odd}"], odd: 1, "qty": 10})
    assert json.loads(text) == {"errors": ["refused: [redacted]"], "[redacted]": 1, "qty": 10}
    assert secrets.dumps({"qty": 10}) == json.dumps({"qty": 10})


def test_the_key_pair_and_the_database_password_are_registered_when_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with_key_pair(monkeypatch, "PKUNITTEST0007Q", SECRET)
    load_config(db_url=PG_URL)
    said = first_line(RuntimeError(f"header {SECRET!r}, url {PG_URL}\nsecond line"))
    assert said == "header '[redacted]', url postgresql://ops:[redacted]@db.example.com/recon"


def test_a_fleet_accounts_secret_is_registered_when_read() -> None:
    fleet_secret = "unit-fleet-secret-Rt5u"
    account = FleetAccount("alpha", "ALPHA_KEY_ID", "ALPHA_SECRET_KEY", "https://x", "sqlite://")
    account.config({"ALPHA_KEY_ID": "PKALPHA", "ALPHA_SECRET_KEY": fleet_secret})
    assert secrets.scrub(f"quoted {fleet_secret}") == "quoted [redacted]"


def test_every_log_field_is_scrubbed_whatever_it_is_called() -> None:
    secrets.register(SECRET)

    class Quoting:
        def __repr__(self) -> str:
            return f"Quoting({SECRET})"

    event = scrub_secrets(
        None,
        "error",
        {
            "event": f"failed {SECRET}",
            "error": f"HTTP 403: {SECRET}",
            "found": [f"a {SECRET}", {"nested": SECRET}],
            "thing": Quoting(),
            "count": 3,
        },
    )
    assert SECRET not in repr(event)
    assert event["error"] == "HTTP 403: [redacted]" and event["count"] == 3


def test_a_logged_traceback_is_scrubbed() -> None:
    secrets.register(SECRET)
    try:
        raise ValueError(f"header value {SECRET!r}")
    except ValueError as exc:
        out = io.StringIO()
        scrubbed_traceback(out, (type(exc), exc, exc.__traceback__))
    assert "ValueError: header value '[redacted]'" in out.getvalue()
    assert SECRET not in out.getvalue()


def test_the_configured_log_lines_hold_no_secret(capsys: pytest.CaptureFixture[str]) -> None:
    from engine.logging import configure_logging

    secrets.register(SECRET)
    try:
        for json_lines in (True, False):
            configure_logging(json_lines=json_lines, level=logging.INFO)
            log = structlog.get_logger("test")
            log.warning("broker_said", detail=f"no: {SECRET}")
            try:
                raise RuntimeError(SECRET)
            except RuntimeError:
                log.error("failed", exc_info=True)
        said = capsys.readouterr()
    finally:
        structlog.reset_defaults()
    assert SECRET not in said.out + said.err
    assert "[redacted]" in said.err


# Reprs hide them ----------------------------------------------------------------------------


def test_reprs_hide_the_secret_and_the_database_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with_key_pair(monkeypatch, "PKUNITTEST0007Q", SECRET)
    config = load_config(db_url=PG_URL)
    service = service_from_config(config)
    account = FleetAccount("alpha", "ALPHA_KEY_ID", "ALPHA_SECRET_KEY", "https://x", PG_URL)
    shown = repr(config) + repr(service) + repr(service.broker) + repr(account) + str(service)
    assert SECRET not in shown and PASSWORD not in shown
    assert "ops:***@db.example.com/recon" in repr(config)
    assert "ops:***@db.example.com/recon" in repr(service)
    assert "ops:***@db.example.com/recon" in repr(account)
    assert service.broker.secret_key.get_secret_value() == SECRET
