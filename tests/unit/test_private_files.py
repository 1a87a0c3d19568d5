"""What recon writes stays its operator's: files 0600 and folders 0700, whatever the umask,
and an older open copy is closed."""

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.private_files import private_folder, write_private


@pytest.fixture(autouse=True)
def an_open_umask() -> Iterator[None]:
    before = os.umask(0o022)  # the usual shell's: files 0644, folders 0755
    yield
    os.umask(before)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_report_written_over_an_open_copy_is_the_owners_alone(tmp_path: Path) -> None:
    report = tmp_path / "recon-run-r1.json"
    report.write_text("old")
    assert mode(report) == 0o644
    write_private(report, '{"run_id": "r1"}')
    assert mode(report) == 0o600
    assert report.read_text() == '{"run_id": "r1"}'


def test_recons_folder_is_made_closed_and_closed_if_it_was_open(tmp_path: Path) -> None:
    made = private_folder(tmp_path / "data" / "reports")
    assert mode(made) == 0o700
    opened = tmp_path / "open"
    opened.mkdir()
    assert mode(opened) == 0o755
    assert mode(private_folder(opened)) == 0o700
