"""Configuration is validated once; every mistake is one clear line and the secret never shows."""

from decimal import Decimal

import pytest

from engine.config import ConfigError, load_config, mask_key_id

SECRET = "sEcReTvAlUe-do-not-print"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    for name in (
        "APCA_API_KEY_ID",
        "APCA_API_SECRET_KEY",
        "APCA_API_BASE_URL",
        "RECON_DB_URL",
        "RECON_EMERGENCY_STOP_PCT",
        "RECON_MAX_DAILY_LOSS_PCT",
        "RECON_CONSECUTIVE_LOSS_PAUSE",
        "RECON_RATE_LIMIT_PER_MINUTE",
        "RECON_HTTP_TIMEOUT_SECONDS",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RECON_DB_URL", f"sqlite:///{tmp_path}/recon.db")


def test_defaults_are_the_spec_defaults() -> None:
    config = load_config()
    assert config.broker_url == "https://paper-api.alpaca.markets"
    assert config.emergency_stop_pct == Decimal("0.02")
    assert config.max_daily_loss_pct == Decimal("0.03")
    assert config.consecutive_loss_pause == 3
    assert config.rate_limit_per_minute == 200


def test_missing_key_is_one_clear_line() -> None:
    with pytest.raises(ConfigError, match="APCA_API_KEY_ID and APCA_API_SECRET_KEY") as caught:
        load_config().require_credentials()
    assert "\n" not in str(caught.value)


def test_flag_overrides_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECON_EMERGENCY_STOP_PCT", "0.03")
    assert load_config().emergency_stop_pct == Decimal("0.03")
    assert load_config(stop_pct="0.05").emergency_stop_pct == Decimal("0.05")


@pytest.mark.parametrize("stop_pct", ["0.004", "0.11", "-1", "abc", "NaN"])
def test_out_of_bounds_stop_pct_is_refused(stop_pct: str) -> None:
    with pytest.raises(ConfigError, match=r"RECON_EMERGENCY_STOP_PCT \(--stop-pct\)"):
        load_config(stop_pct=stop_pct)


@pytest.mark.parametrize("url", ["paper-api.alpaca.markets", "ftp://example.com", "http://"])
def test_bad_broker_url_is_refused(url: str) -> None:
    with pytest.raises(ConfigError, match="APCA_API_BASE_URL"):
        load_config(broker_url=url)


def test_trailing_v2_is_accepted_and_stripped() -> None:
    config = load_config(broker_url="https://paper-api.alpaca.markets/v2/")
    assert config.broker_url == "https://paper-api.alpaca.markets"


def test_key_id_is_masked() -> None:
    assert mask_key_id("PKABCDEFGHIJ7Q") == "PK…7Q"


def test_secret_never_appears_in_config_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APCA_API_KEY_ID", "PKABCDEFGHIJ7Q")
    monkeypatch.setenv("APCA_API_SECRET_KEY", SECRET)
    config = load_config()
    assert SECRET not in repr(config)
    assert SECRET not in str(config)
    assert config.require_credentials()[1].get_secret_value() == SECRET


def test_non_numeric_rate_limit_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECON_RATE_LIMIT_PER_MINUTE", "lots")
    with pytest.raises(ConfigError, match="RECON_RATE_LIMIT_PER_MINUTE"):
        load_config()
