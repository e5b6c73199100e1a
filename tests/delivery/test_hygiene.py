"""Subscriber hygiene as delivery sees it: one reader per address, and no mail after a stop.

The import itself is tested with the content package; these tests follow
addresses through imports, sends, bounces and unsubscribes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from broadsheet.cli import cli
from broadsheet.config import Settings
from broadsheet.content.subscribers import import_subscribers, normalise_email
from broadsheet.emails.delivery.sender import send_edition
from broadsheet.model import SendState, SubscriberStatus
from broadsheet.store import Store
from tests.delivery.helpers import SmtpServer, maildir_recipients, save_edition, smtp_config

pytestmark = pytest.mark.usefixtures("secret_env")


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BROADSHEET_SECRET", "hygiene-secret")


def _csv(folder: Path, rows: list[str]) -> Path:
    path = folder / "subscribers.csv"
    path.write_text("email,name,language,frequency,topics\n" + "\n".join(rows) + "\n", "utf-8")
    return path


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("  Anna@Example.ORG ", "anna@example.org"),
        ("anna@EXAMPLE.org", "anna@example.org"),
        ("ivan@пример.рф", "ivan@xn--e1afmkfd.xn--p1ai"),
        ("Ivan@XN--E1AFMKFD.XN--P1AI", "ivan@xn--e1afmkfd.xn--p1ai"),
    ],
)
def test_addresses_are_normalised(given: str, stored: str) -> None:
    assert normalise_email(given) == stored


@pytest.mark.parametrize(
    "bad", ["anna", "anna@", "anna@example", "a b@example.org", "anna@example.org\r\nBcc: x@y.z"]
)
def test_bad_addresses_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        normalise_email(bad)


def test_spellings_of_one_address_are_one_subscriber_and_get_one_copy(
    settings: Settings, store: Store, fixed_now: datetime, tmp_path: Path
) -> None:
    csv = _csv(
        tmp_path,
        [
            "Anna@Example.org,Anna,en,weekly,",
            "anna@example.ORG,Anna K.,en,weekly,",
            " ANNA@EXAMPLE.ORG ,Anna Karenina,en,weekly,",
            "ivan@пример.рф,Ivan,en,weekly,",
            "IVAN@xn--e1afmkfd.xn--p1ai,Ivan,en,weekly,",
        ],
    )
    report = import_subscribers(store, settings, csv, now=fixed_now)
    assert sorted(report.added) == ["anna@example.org", "ivan@xn--e1afmkfd.xn--p1ai"]
    assert len(report.warnings) == 3  # each later spelling is reported, and wins
    with store.read() as tx:
        anna = tx.subscribers.by_email("anna@example.org")
    assert anna is not None and anna.name == "Anna Karenina"
    save_edition(store, now=fixed_now)
    assert send_edition(store, settings, "weekly-en-2026-11-23", now=fixed_now).sent == 2
    assert maildir_recipients(settings.delivery.maildir) == {
        "anna@example.org": 1,
        "ivan@xn--e1afmkfd.xn--p1ai": 1,
    }


def test_bounced_and_unsubscribed_stay_so_through_imports(
    make_settings: Callable[..., Settings],
    smtp_server: SmtpServer,
    fixed_now: datetime,
    tmp_path: Path,
) -> None:
    settings = make_settings(smtp_config(smtp_server.port))
    store = Store.open(settings.store.url)
    try:
        rows = [
            "keep@example.org,Keep,en,weekly,",
            "bounce@example.org,Bounce,en,weekly,",
            "leave@example.org,Leave,en,weekly,",
        ]
        assert import_subscribers(store, settings, _csv(tmp_path, rows), now=fixed_now).ok
        smtp_server.handler.refuse = {
            "bounce@example.org": "550 5.1.1 <bounce@example.org>: mailbox unavailable"
        }
        save_edition(store, now=fixed_now)
        first = send_edition(store, settings, "weekly-en-2026-11-23", now=fixed_now)
        assert (first.sent, first.bounced) == (2, 1)
        with store.write() as tx:
            leave = tx.subscribers.by_email("leave@example.org")
            assert leave is not None
            tx.subscribers.set_status(leave.id, SubscriberStatus.UNSUBSCRIBED, now=fixed_now)
        # A later import lists them all again, in other spellings, with new details.
        again_rows = [
            "KEEP@example.org,Keep,en,weekly,",
            "Bounce@Example.org,Bounce Again,en,daily,",
            "leave@EXAMPLE.org,Leave Again,en,weekly,",
        ]
        later = fixed_now + timedelta(days=7)
        again = import_subscribers(store, settings, _csv(tmp_path, again_rows), now=later)
        assert sorted(again.skipped) == ["bounce@example.org", "leave@example.org"]
        assert again.unchanged == ["keep@example.org"]
        with store.read() as tx:
            bounce = tx.subscribers.by_email("bounce@example.org")
            gone = tx.subscribers.by_email("leave@example.org")
        assert bounce is not None and bounce.status is SubscriberStatus.BOUNCED
        assert bounce.name == "Bounce" and bounce.frequency == "weekly"
        assert gone is not None and gone.status is SubscriberStatus.UNSUBSCRIBED
        # Nor does the command line bring them back.
        result = CliRunner().invoke(
            cli, ["subscribers", "add", "bounce@example.org", "--config", str(settings.path)]
        )
        assert "skipped: bounce@example.org" in result.output
        smtp_server.handler.refuse = {}
        save_edition(store, now=later, edition_id="weekly-en-2026-11-30")
        second = send_edition(store, settings, "weekly-en-2026-11-30", now=later)
        assert second.sent == 1
        # leave@ had the first edition, before unsubscribing; bounce@ had none.
        assert smtp_server.handler.per_recipient() == {
            "keep@example.org": 2,
            "leave@example.org": 1,
        }
        with store.read() as tx:
            assert tx.ledger.counts("weekly-en-2026-11-30")[SendState.SENT] == 1
    finally:
        store.close()
