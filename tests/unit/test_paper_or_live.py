"""Paper or live is what the account Alpaca answers with says, never a guess from the host."""

import pytest

from tests.factories import make_account


@pytest.mark.parametrize(
    ("account_number", "paper"),
    [
        ("PA3SIMRECON1", True),  # Alpaca numbers its paper accounts PA…
        ("PA2RXK7YQ0DZ", True),
        ("912345678", False),  # a live account, however it is reached
        ("", False),  # unproven is live
        ("pa3simrecon1", False),
    ],
)
def test_an_account_is_paper_only_where_its_number_says_so(
    account_number: str, paper: bool
) -> None:
    assert make_account(account_number=account_number).is_paper is paper
