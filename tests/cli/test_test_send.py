"""`broadsheet send EDITION --to ADDRESS [--as EMAIL]`: a test send outside the ledger."""

from __future__ import annotations

import mailbox
from datetime import datetime
from email import message_from_bytes
from email.header import decode_header, make_header

import pytest
from click.testing import CliRunner

from broadsheet.cli import cli
from broadsheet.config import Settings
from broadsheet.emails import send_test
from broadsheet.model import SendState
from broadsheet.store import Store
from tests.delivery.helpers import add_subscribers, maildir_recipients, save_edition

EDITION = "weekly-en-2026-11-23"


@pytest.fixture
def ready(
    settings: Settings, store: Store, fixed_now: datetime, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    monkeypatch.setenv("BROADSHEET_SECRET", "cli-secret")
    save_edition(store, now=fixed_now)
    add_subscribers(store, 5, now=fixed_now)
    return settings


def _ledger(store: Store) -> dict[SendState, int]:
    with store.read() as tx:
        return dict(tx.ledger.counts(EDITION))


def _messages(settings: Settings) -> list[mailbox.MaildirMessage]:
    box = mailbox.Maildir(settings.delivery.maildir, create=False)
    return list(box)


def test_test_send_reaches_only_the_given_addresses(
    ready: Settings, store: Store, fixed_now: datetime
) -> None:
    before = _ledger(store)
    result = CliRunner().invoke(
        cli,
        [
            "send",
            EDITION,
            "--to",
            "editor@example.net",
            "--to",
            "desk@example.net",
            "--as",
            "reader3@example.org",
            "--transport",
            "maildir",
            "--config",
            str(ready.path),
            "--at",
            "2026-11-23T07:00:00+03:00",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "test send as reader3@example.org" in result.stdout
    assert maildir_recipients(ready.delivery.maildir) == {
        "editor@example.net": 1,
        "desk@example.net": 1,
    }
    for message in _messages(ready):
        subject = str(make_header(decode_header(message["Subject"])))
        assert subject == "[Test] Test Weekly: the week in brief"
        body = message_from_bytes(message.as_bytes())
        text = next(p for p in body.walk() if p.get_content_type() == "text/plain")
        payload = text.get_payload(decode=True)
        assert isinstance(payload, bytes)
        assert "Reader 3" in payload.decode()  # personalised as reader3
    assert _ledger(store) == before  # nothing queued, nothing counted as sent

    # The real send afterwards still reaches every subscriber exactly once.
    result = CliRunner().invoke(cli, ["send", EDITION, "--config", str(ready.path)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"{EDITION}: 5 sent,")
    recipients = maildir_recipients(ready.delivery.maildir)
    assert {k: v for k, v in recipients.items() if k.endswith("@example.org")} == {
        f"reader{i}@example.org": 1 for i in range(5)
    }
    real = [m for m in _messages(ready) if str(m["Delivered-To"]).endswith("@example.org")]
    test_ids = {m["Message-ID"] for m in _messages(ready)} - {m["Message-ID"] for m in real}
    assert len(test_ids) == 2  # the tests had Message-IDs of their own


def test_neutral_reader_and_errors(ready: Settings, store: Store, fixed_now: datetime) -> None:
    report = send_test(store, ready, EDITION, to=["editor@example.net"], now=fixed_now)
    assert report.as_email is None and [a for a, _ in report.delivered] == ["editor@example.net"]
    (message,) = _messages(ready)
    assert "Reader" not in message.as_bytes().decode("ascii", "replace")
    assert _ledger(store)[SendState.SENT] == 0

    runner = CliRunner()
    result = runner.invoke(
        cli,
        ["send", EDITION, "--to", "a@example.net", "--as", "nobody@example.org"]
        + ["--config", str(ready.path)],
    )
    assert result.exit_code == 1 and "no subscriber has this address" in result.stderr
    result = runner.invoke(
        cli, ["send", EDITION, "--as", "reader1@example.org", "--config", str(ready.path)]
    )
    assert result.exit_code == 2 and "--as goes with --to" in result.stderr
    result = runner.invoke(
        cli, ["send", "weekly-en-1999-01-01", "--to", "a@example.net", "--config", str(ready.path)]
    )
    assert result.exit_code == 1 and "no edition" in result.stderr
