"""The fleet file: every account's keys checked, and anything wrong one line naming the file,
the line and the key."""

from pathlib import Path

import pytest

from engine.config import ConfigError
from engine.fleet.accounts import FleetAccount, FleetFileError, load_fleet

ALPHA = (
    '[[account]]\nname = "alpha"\nkey_id_env = "ALPHA_KEY_ID"\n'
    'secret_key_env = "ALPHA_SECRET_KEY"\nbase_url = "https://paper-api.alpaca.markets/v2"\n'
    'db = "sqlite:///alpha.db"\n'
)


def written(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "fleet.toml"
    path.write_text(text)
    return path


def test_a_good_fleet_file_reads_as_its_accounts(tmp_path: Path) -> None:
    bravo = ALPHA.replace("alpha", "bravo").replace("ALPHA", "BRAVO")
    accounts = load_fleet(written(tmp_path, ALPHA + "\n" + bravo))
    assert [account.name for account in accounts] == ["alpha", "bravo"]
    assert accounts[0].base_url == "https://paper-api.alpaca.markets"
    assert accounts[1].db == "sqlite+aiosqlite:///bravo.db"


@pytest.mark.parametrize(
    ("text", "line", "complaint"),
    [
        (ALPHA + "\n" + ALPHA, 9, "name 'alpha' names two accounts"),
        (ALPHA.replace('db = "sqlite:///alpha.db"\n', ""), 1, "account has no db"),
        (ALPHA + 'colour = "red"\n', 7, "colour is not an account key"),
        (ALPHA.replace('"ALPHA_SECRET_KEY"', '"hunter2-secret"'), 4, "secret_key_env must name"),
        (ALPHA.replace('name = "alpha"', 'name = "Alpha Desk"'), 2, "name 'Alpha Desk' must be"),
        (ALPHA.replace("https://paper-api.alpaca.markets/v2", "ftp://x"), 5, "base_url must be"),
        (ALPHA.replace("sqlite:///alpha.db", "nonsense"), 6, "db is not a database URL"),
        ('title = "desk"\n' + ALPHA, 1, "title is not a fleet file key"),
    ],
)
def test_a_bad_fleet_file_is_one_line_naming_its_line_and_key(
    tmp_path: Path, text: str, line: int, complaint: str
) -> None:
    path = written(tmp_path, text)
    with pytest.raises(FleetFileError) as refused:
        load_fleet(path)
    message = str(refused.value)
    assert message.startswith(f"{path}:{line}: {complaint}"), message
    assert "\n" not in message and "hunter2" not in message


def test_a_file_that_is_not_toml_says_where(tmp_path: Path) -> None:
    with pytest.raises(FleetFileError, match=r"fleet.toml: not TOML: .*line 2"):
        load_fleet(written(tmp_path, '[[account]]\nname = "alpha\n'))


def test_an_accounts_key_pair_comes_from_the_variables_the_file_names() -> None:
    account = FleetAccount("alpha", "ALPHA_KEY_ID", "ALPHA_SECRET_KEY", "http://x", "sqlite://")
    config = account.config({"ALPHA_KEY_ID": "PKALPHA", "ALPHA_SECRET_KEY": "s3cret"})
    assert config.key_id == "PKALPHA" and config.secret_key is not None
    assert config.secret_key.get_secret_value() == "s3cret"
    with pytest.raises(ConfigError, match="ALPHA_SECRET_KEY must be set for account alpha"):
        account.config({"ALPHA_KEY_ID": "PKALPHA"})


def test_a_fleet_file_that_is_not_there_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(FleetFileError, match=r"fleet.toml: cannot read the fleet file: No such"):
        load_fleet(tmp_path / "fleet.toml")
