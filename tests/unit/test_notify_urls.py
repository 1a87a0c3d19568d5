"""Notify URLs as the operator gives them: split as apprise's own lists are, refused without
being quoted when apprise cannot send to them, and hidden — whole and by their tokens — from
everything recon says."""

import pytest

from engine import secrets
from engine.errors import UsageError
from engine.watch.notify import checked_notify_urls, split_notify_urls

SLACK = "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#ops"


def test_urls_are_split_at_spaces_and_at_commas_before_the_next_url() -> None:
    text = "json://127.0.0.1:9000/a, ntfy://ntfy.sh/desk\tmailtos://u:p@x.com?to=a@x.com,b@x.com"
    assert split_notify_urls(text) == [
        "json://127.0.0.1:9000/a",
        "ntfy://ntfy.sh/desk",
        "mailtos://u:p@x.com?to=a@x.com,b@x.com",
    ]


def test_a_webhooks_tokens_are_hidden_wherever_a_library_quotes_them() -> None:
    checked_notify_urls([SLACK], setting="--notify")
    said = (
        "HTTPSConnectionPool(host='hooks.slack.com', port=443): Max retries exceeded with url: "
        "/services/T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ"
    )
    scrubbed = secrets.scrub(said)
    assert "TIiajkdnlazkcOXrIdevi7FQ" not in scrubbed and "T1JJ3T3L2" not in scrubbed
    assert "hooks.slack.com" in scrubbed  # the host is no secret, and says where it went


def test_a_password_and_a_token_in_the_query_are_hidden_and_short_options_are_not() -> None:
    url = "json://recon:pw-0451-desk@127.0.0.1:9000/hook?token=tk-9q8w7e6r&method=POST"
    checked_notify_urls([url], setting="RECON_NOTIFY_URLS")
    scrubbed = secrets.scrub("auth pw-0451-desk token tk-9q8w7e6r via POST to 127.0.0.1")
    assert scrubbed == "auth [redacted] token [redacted] via POST to 127.0.0.1"


@pytest.mark.parametrize(
    ("url", "shown"),
    [("foo://tok-8832-secret", "(foo://…)"), ("tok-8832-secret", "(not a URL)")],
)
def test_a_url_apprise_cannot_send_to_is_refused_naming_its_place_never_its_parts(
    url: str, shown: str
) -> None:
    with pytest.raises(UsageError) as refused:
        checked_notify_urls(["json://127.0.0.1:9000/a", url], setting="--notify")
    assert str(refused.value).startswith(f"--notify: apprise cannot send to notify URL 2 {shown}")
    assert "tok-8832-secret" not in str(refused.value)
    assert secrets.scrub(url) == secrets.REDACTED
