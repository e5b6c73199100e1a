"""`broadsheet inbox` in a real process: a Maildir, standard input, a store that is down."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest

from broadsheet.config import Settings
from broadsheet.emails.inbound import Incoming, process
from broadsheet.emails.inbound.maildir import MaildirMailbox
from broadsheet.model import SubscriberStatus
from tests.conftest import BASE_CONFIG
from tests.delivery.helpers import cli_command, cli_env
from tests.failing_stores import database_cut_off
from tests.inbound import messages
from tests.inbound.helpers import Publication, publication

READER = "reader0@example.org"


def run_cli(pub: Publication, *args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    env = cli_env()
    env.pop("BROADSHEET_SECRET", None)  # the store keeps the secret the messages were signed with
    return subprocess.run(
        cli_command("--config", str(pub.settings.path), *args, "--at", "2026-11-24T09:00:00Z"),
        input=stdin,
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def pub(
    make_settings: Callable[..., Settings], tmp_path: Path, fixed_now: datetime
) -> Iterator[Publication]:
    made = publication(make_settings, tmp_path, fixed_now, extra='mailbox = "Maildir"\n')
    yield made
    made.store.close()


def test_a_maildir_by_argument_and_by_setting(pub: Publication) -> None:
    sent = pub.send("weekly-en-2026-11-23")
    pub.deliver(messages.dsn(to=sent[READER].return_path, recipient=READER))
    pub.deliver(messages.plain(subject="Thanks!", message_id="<t@mail.example>"))
    done = run_cli(pub, "inbox", str(pub.inbox))
    assert done.returncode == 0, done.stderr
    assert b"2 read: bounces 1, human 1" in done.stdout
    assert {s.status for s in pub.subscriptions(READER)} == {SubscriberStatus.BOUNCED}
    # Dovecot's Maildir++ layout: a dot folder with its marker file.
    assert (pub.inbox / ".bounces" / "maildirfolder").exists()
    pub.deliver(messages.plain(subject="Out of office", message_id="<o@mail.example>"))
    again = run_cli(pub, "inbox")  # [inbound] mailbox, relative to the configuration
    assert again.returncode == 0, again.stderr
    assert b"1 read: auto-replies 1" in again.stdout


def test_standard_input_with_the_envelope_recipient(pub: Publication) -> None:
    sent = pub.send("weekly-en-2026-11-23")
    # The DSN's headers name only the plain address: the token comes from the envelope.
    raw = messages.dsn(to="bounces@news.example", recipient=READER)
    done = run_cli(pub, "inbox", "-", "--recipient", sent[READER].return_path, stdin=raw)
    assert done.returncode == 0, done.stderr
    assert {s.status for s in pub.subscriptions(READER)} == {SubscriberStatus.BOUNCED}
    # A copy is kept in [inbound] mailbox's folder, since a pipe cannot move what it read.
    assert len(pub.folder("bounces")) == 1
    # The same message again (the mail server retried): nothing changes, exit 0.
    again = run_cli(pub, "inbox", "-", "--recipient", sent[READER].return_path, stdin=raw)
    assert again.returncode == 0, again.stderr


def test_standard_input_exits_75_when_the_store_is_away(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings(
        base=BASE_CONFIG.replace(
            'url = "sqlite:///broadsheet.db"', 'url = "sqlite:///missing/folder/broadsheet.db"'
        )
    )
    env = cli_env()
    for args in (["inbox", "-"], ["inbox", "-", "--recipient", "bounces+x@news.example"]):
        done = subprocess.run(
            cli_command("--config", str(settings.path), *args),
            input=messages.dsn(to="bounces@news.example", recipient=READER),
            env=env,
            capture_output=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 75, done.stderr
        assert b"Traceback" not in done.stderr
        assert b"error:" in done.stderr
    empty = subprocess.run(
        cli_command("--config", str(settings.path), "inbox", "-"),
        input=b"",
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert empty.returncode == 75


def test_without_source_or_mailbox_is_a_usage_error(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings()
    done = subprocess.run(
        cli_command("--config", str(settings.path), "inbox"),
        env=cli_env(),
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert b"[inbound] mailbox" in done.stderr
    missing = subprocess.run(
        cli_command("--config", str(settings.path), "inbox", str(tmp_path / "nothing")),
        env=cli_env(),
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert missing.returncode == 1 and b"not a Maildir" in missing.stderr


class CuttingMailbox(MaildirMailbox):
    """A Maildir whose store goes away once the pass has started reading."""

    def __init__(self, path: Path, url: str) -> None:
        super().__init__(path)
        self.url = url
        self.cut = contextlib.ExitStack()

    def messages(self) -> Iterator[Incoming]:
        listed = list(super().messages())
        self.cut.enter_context(database_cut_off(self.url))
        yield from listed


@pytest.mark.postgres
def test_a_message_stays_when_the_store_goes_away(
    make_settings: Callable[..., Settings], tmp_path: Path, fixed_now: datetime, pg_url: str
) -> None:
    pub = publication(make_settings, tmp_path, fixed_now, store_url=pg_url)
    try:
        sent = pub.send("weekly-en-2026-11-23")
        for number in range(2):
            pub.deliver(
                messages.dsn(
                    to=sent[READER].return_path,
                    recipient=READER,
                    message_id=f"<gone-{number}@mx>",
                )
            )
        cutting = CuttingMailbox(pub.inbox, pg_url)
        with cutting.cut:
            summary = process(cutting, pub.settings, pub.store, now=fixed_now)
        # The batch's transaction failed: both stay, each named in a log line.
        assert summary.left == 2 and summary.filed == {}
        assert "left in place" in summary.problems[0]
        assert len(pub.waiting()) == 2
        # Back again: the next pass acts on both.
        again = pub.run()
        assert again.filed == {"bounces": 2}
        assert {s.status for s in pub.subscriptions(READER)} == {SubscriberStatus.BOUNCED}
    finally:
        pub.store.close()


@pytest.mark.postgres
def test_policies_on_postgresql(
    make_settings: Callable[..., Settings], tmp_path: Path, fixed_now: datetime, pg_url: str
) -> None:
    pub = publication(make_settings, tmp_path, fixed_now, store_url=pg_url)
    try:
        sent = pub.send("weekly-en-2026-11-23")
        pub.deliver(messages.arf(original=sent[READER].data))
        pub.deliver(messages.dsn(to=sent["reader1@example.org"].return_path, recipient="r1"))
        assert pub.run().filed == {"bounces": 1, "complaints": 1}
        assert {s.status for s in pub.subscriptions(READER)} == {SubscriberStatus.UNSUBSCRIBED}
        assert {s.status for s in pub.subscriptions("reader1@example.org")} == {
            SubscriberStatus.BOUNCED
        }
    finally:
        pub.store.close()
