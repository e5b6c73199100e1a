"""What comes back, end to end: a real Postfix bounces, a real Dovecot serves the bounces.

An edition goes through Postfix (private instance, tests/inbound/mailservers.py)
to 20 addresses of its own domain; 5 of them name no one. Postfix accepts all
20 during the SMTP conversation (``local_recipient_maps =``), so the send
sees 20 deliveries and every subscriber stays active; its local delivery
agent then bounces the 5, and the delivery status notifications Postfix
writes go to each message's own return path, ``bounces+TOKEN@news.example``,
which ``recipient_delimiter = +`` delivers to the ``bounces`` Maildir.
Dovecot serves that Maildir over IMAP, and ``broadsheet inbox imap://…``
reads it: exactly those 5 are bounced, and a second run changes nothing.
Every step is the real program: ``broadsheet`` in its own process, Postfix's
own DSNs, Dovecot's IMAP.
"""

from __future__ import annotations

import csv
import io
import mailbox
import subprocess
from collections.abc import Callable, Iterator
from datetime import datetime
from email.utils import parseaddr
from pathlib import Path

import pytest

from broadsheet.config import Settings
from broadsheet.store import Store
from tests.delivery.helpers import cli_command, cli_env, save_edition, smtp_config
from tests.inbound.mailservers import (
    DOMAIN,
    Postfix,
    mail_root,
    running_dovecot,
    running_postfix,
)

pytestmark = pytest.mark.slow

PASSWORD_ENV = "BROADSHEET_TEST_IMAP_PASSWORD"
EDITION = "weekly-en-2026-11-23"
READERS = [f"reader{number:02}" for number in range(1, 16)]
GHOSTS = [f"ghost{number:02}" for number in range(1, 6)]
AT = "2026-11-23T09:00:00+03:00"


@pytest.fixture
def mail_folder() -> Iterator[Path]:
    with mail_root() as root:
        yield root


@pytest.fixture
def postfix(mail_folder: Path) -> Iterator[Postfix]:
    with running_postfix(mail_folder, READERS) as server:
        yield server


def broadsheet(settings: Settings, *args: str, password: str = "") -> str:
    """Run ``broadsheet ARGS`` in its own process; its standard output."""
    done = subprocess.run(
        cli_command("--config", str(settings.path), *args),
        env=cli_env(**{PASSWORD_ENV: password}),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, f"broadsheet {' '.join(args)}:\n{done.stdout}{done.stderr}"
    return done.stdout


def statuses(settings: Settings) -> dict[str, str]:
    """Each address and its status, from ``broadsheet subscribers list --csv``."""
    shown = broadsheet(settings, "subscribers", "list", "--csv")
    return {row["email"]: row["status"] for row in csv.DictReader(io.StringIO(shown))}


def test_postfix_bounces_come_back_through_dovecot(
    make_settings: Callable[..., Settings], postfix: Postfix, mail_folder: Path, fixed_now: datetime
) -> None:
    settings = make_settings(
        smtp_config(postfix.port)
        + f"""
[inbound]
bounce_address = "bounces@{DOMAIN}"
password_env = "{PASSWORD_ENV}"
"""
    )
    addresses = [f"{name}@{DOMAIN}" for name in READERS + GHOSTS]
    people = settings.path.parent / "subscribers.csv"
    people.write_text(
        "email,name,language,frequency,topics\n"
        + "".join(f"{address},,en,weekly,\n" for address in addresses)
    )
    broadsheet(settings, "subscribers", "import", str(people), "--at", AT)
    store = Store.open(settings.store.url)
    try:
        save_edition(store, now=fixed_now, edition_id=EDITION)
    finally:
        store.close()

    broadsheet(settings, "send", EDITION, "--at", AT)
    # Postfix took all 20: nobody is bounced by the send itself.
    assert statuses(settings) == dict.fromkeys(addresses, "active")
    postfix.wait_until_delivered()
    for name in READERS:
        (delivered,) = mailbox.Maildir(postfix.maildir(name), create=False)
        assert parseaddr(str(delivered["To"]))[1] == f"{name}@{DOMAIN}"
    dsns = list(mailbox.Maildir(postfix.maildir("bounces"), create=False))
    assert len(dsns) == 5, postfix.log_text()
    # Postfix's own reports, each to the return path of the message it bounces.
    assert all(dsn.get_content_type() == "multipart/report" for dsn in dsns)
    assert all(str(dsn["To"]).startswith("bounces+") for dsn in dsns)
    assert "status=bounced (unknown user" in postfix.log_text()
    assert statuses(settings) == dict.fromkeys(addresses, "active")

    with running_dovecot(mail_folder / "dovecot", postfix.maildir("bounces")) as dovecot:
        first = broadsheet(settings, "inbox", dovecot.url(), "--at", AT, password=dovecot.password)
        assert "5 read: bounces 5" in first
        after = statuses(settings)
        assert {a for a, status in after.items() if status == "bounced"} == {
            f"{name}@{DOMAIN}" for name in GHOSTS
        }
        assert {a for a, status in after.items() if status == "active"} == {
            f"{name}@{DOMAIN}" for name in READERS
        }

        # Again, the URL now from [inbound] mailbox (the table ends the file).
        with settings.path.open("a") as toml:
            toml.write(f'mailbox = "{dovecot.url()}"\n')
        second = broadsheet(settings, "inbox", "--at", AT, password=dovecot.password)
        assert second.startswith("0 read")
        assert statuses(settings) == after
    # Filed, not deleted: the five reports sit in the bounces folder, none in INBOX.
    filed = mailbox.Maildir(postfix.maildir("bounces"), create=False)
    assert len(filed) == 0
    assert len(filed.get_folder("bounces")) == 5
