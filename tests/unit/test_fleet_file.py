"""The fleet file: every account's keys checked, and anything wrong one line naming the file,
the line and the key."""

import os
from pathlib import Path

import pytest

from engine.config import ConfigError
from engine.fleet.accounts import FleetAccount, FleetFileError, load_fleet

ALPHA = (
    '[[account]]\nname = "alpha"\nkey_id_env = "ALPHA_KEY_ID"\n'
    'secret_key_env = "ALPHA_SECRET_KEY"\nbase_url = "https://paper-api.alpaca.markets/v2"\n'
    'db = "sqlite:///alpha.db"\n'
)


def written(tmp_path: Path, text: str, *, mode: int = 0o600) -> Path:
    path = tmp_path / "fleet.toml"
    path.write_text(text)
    path.chmod(mode)  # whatever the umask
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
    account = FleetAccount("alpha", "ALPHA_KEY_ID", "ALPHA_SECRET_KEY", "https://x", "sqlite://")
    config = account.config({"ALPHA_KEY_ID": "PKALPHA", "ALPHA_SECRET_KEY": "s3cret"})
    assert config.key_id == "PKALPHA" and config.secret_key is not None
    assert config.secret_key.get_secret_value() == "s3cret"
    with pytest.raises(ConfigError, match="ALPHA_SECRET_KEY must be set for account alpha"):
        account.config({"ALPHA_KEY_ID": "PKALPHA"})


def test_a_fleet_file_that_is_not_there_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(FleetFileError, match=r"fleet.toml: cannot read the fleet file: No such"):
        load_fleet(tmp_path / "fleet.toml")


@pytest.mark.parametrize("mode", [0o620, 0o602, 0o660, 0o777], ids=oct)
def test_a_fleet_file_others_can_write_is_refused_naming_its_mode(
    tmp_path: Path, mode: int
) -> None:
    path = written(tmp_path, ALPHA, mode=mode)
    with pytest.raises(FleetFileError) as refused:
        load_fleet(path)
    message = str(refused.value)
    assert message.startswith(f"{path}: writable by group or others (mode 0{mode:o});"), message
    assert "\n" not in message


@pytest.mark.parametrize("mode", [0o600, 0o400, 0o644], ids=oct)
def test_a_fleet_file_only_its_owner_can_write_is_read(tmp_path: Path, mode: int) -> None:
    assert [account.name for account in load_fleet(written(tmp_path, ALPHA, mode=mode))] == [
        "alpha"
    ]


def test_a_fleet_file_owned_by_someone_else_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = written(tmp_path, ALPHA)
    owner = os.getuid()
    monkeypatch.setattr(os, "getuid", lambda: owner + 1 if owner else 4242)
    if owner == 0:  # root's file is taken as anyone's; make it someone else's
        os.chown(path, 4243, -1)
    with pytest.raises(FleetFileError, match=r"fleet.toml: owned by user id \d+, not by you"):
        load_fleet(path)


def test_a_fleet_file_that_is_not_utf8_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "fleet.toml"
    path.write_bytes(ALPHA.encode() + b'\n[[account]]\nname = "br\xe9vo"\n')
    path.chmod(0o600)
    with pytest.raises(FleetFileError, match=r"fleet.toml:9: not UTF-8 text"):
        load_fleet(path)


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("a = " + "[" * 5_000 + "]" * 5_000, "not TOML recon can read"),
        ("a = " + "1" * 10_000, "not TOML recon can read"),
        (ALPHA.replace('"alpha"', '"al\\u0007pha"'), "name must be printable text"),
        ('"ti\\ntle" = 1\n' + ALPHA, "'ti\\ntle' is not a fleet file key"),
    ],
    ids=["arrays-nested-5000-deep", "int-of-10000-digits", "bell-in-a-name", "newline-in-a-key"],
)
def test_a_hostile_fleet_file_is_one_line(tmp_path: Path, text: str, complaint: str) -> None:
    with pytest.raises(FleetFileError) as refused:
        load_fleet(written(tmp_path, text))
    message = str(refused.value)
    assert complaint in message and "\n" not in message, message
