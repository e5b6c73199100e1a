"""One-off campaigns: built from Markdown, sent once to their audience, kept in the archive.

Real SQLite store, real Maildir, the real command line.
"""

from __future__ import annotations

import mailbox
from collections.abc import Callable
from datetime import datetime
from email.utils import getaddresses
from pathlib import Path

import pytest
from click.testing import CliRunner

from broadsheet.cli import cli
from broadsheet.config import Settings
from broadsheet.model import Frequency
from broadsheet.store import Store
from tests.conftest import BASE_CONFIG
from tests.delivery.helpers import add_subscribers

CAMPAIGN = """\
---
subject: Our year-end appeal
preheader: Three things your support paid for
language: en
audience:
  frequency: weekly
  topics: [Science]
{send_at}---
Dear reader, this year **you** paid for [our reporting](/en/reports/).

<script>alert(1)</script>
"""


@pytest.fixture
def maildir_settings(make_settings: Callable[..., Settings], any_store_url: str) -> Settings:
    """The small publication on each store backend, delivering into a Maildir."""
    base = BASE_CONFIG.replace('url = "sqlite:///broadsheet.db"', f'url = "{any_store_url}"')
    return make_settings('[delivery]\ntransport = "maildir"\nmaildir = "outbox"\n', base=base)


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def recipients(settings: Settings) -> list[str]:
    folder = settings.delivery.maildir
    if not (folder / "new").is_dir():
        return []
    box = mailbox.Maildir(folder, create=False)
    return sorted(getaddresses([m["To"]])[0][1].lower() for m in box)


def readers(store: Store, now: datetime) -> None:
    """Who is there: the audience (weekly en, Science or no topics) and others."""
    add_subscribers(store, 2, now=now, prefix="weekly")
    add_subscribers(store, 1, now=now, topics=("Science",), prefix="science")
    add_subscribers(store, 1, now=now, topics=("Sport",), prefix="sport")
    add_subscribers(store, 1, now=now, frequency=Frequency.DAILY, prefix="daily")
    add_subscribers(store, 1, now=now, language="ru", prefix="russian")


AUDIENCE = [
    "science0@example.org",
    "weekly0@example.org",
    "weekly1@example.org",
]


def write(folder: Path, send_at: str = "", name: str = "year-end appeal.md") -> Path:
    path = folder / name
    path.write_text(CAMPAIGN.format(send_at=send_at), encoding="utf-8")
    return path


def test_build_then_send_reaches_its_audience_once(
    maildir_settings: Settings, tmp_path: Path, fixed_now: datetime
) -> None:
    settings = maildir_settings
    config = str(settings.path)
    store = Store.open(settings.store.url)
    try:
        readers(store, fixed_now)
    finally:
        store.close()
    path = write(tmp_path)
    at = fixed_now.isoformat()
    code, out = invoke("campaign", "build", str(path), "--config", config, "--at", at)
    assert code == 0, out
    identifier = out.split(":")[0]
    assert identifier == "campaign-en-2026-11-23-year-end-appeal"
    assert "built" in out
    # Built twice: the same id, not rebuilt (even a day later).
    code, again = invoke(
        "campaign", "build", str(path), "--config", config, "--at", "2026-11-24T10:00:00+03:00"
    )
    assert code == 0, again
    assert again.startswith(f"{identifier}: exists (unchanged)")

    folder = settings.emails.out / "en" / identifier
    html = (folder / "email.html").read_text(encoding="utf-8")
    assert "<strong>you</strong>" in html
    assert "https://news.example/en/reports/" in html
    assert "<script" not in html and "alert(1)" not in html
    assert "Keep us independent" in html  # the donation block
    assert "Unsubscribe" in html  # the footer
    assert "Dear reader" in (folder / "email.txt").read_text(encoding="utf-8")
    archive = (settings.emails.out / "en" / "index.html").read_text(encoding="utf-8")
    assert "Our year-end appeal" in archive
    assert f"{identifier}/" in archive

    for _ in range(2):
        code, out = invoke("send", identifier, "--config", config, "--at", at)
        assert code == 0, out
    assert recipients(settings) == AUDIENCE


@pytest.mark.parametrize(
    ("front", "where"),
    [
        ("subject: ''\nlanguage: en\n", ":2: subject: is empty"),
        ("subject: Hi\nlanguage: de\n", ":3: language: 'de' is not one of"),
        ("subject: Hi\nlanguage: en\nsend_at: next friday\n", ":4: send_at: expected an ISO"),
        ("subject: Hi\nlanguage: en\naudience:\n  frequency: monthly\n", ":4: audience.frequency"),
        ("subject: Hi\nlanguage: en\naudience:\n  donors: donors\n", "not supported yet"),
        ("language: en\n", "subject: missing"),
    ],
)
def test_bad_campaigns_name_file_line_and_field(
    settings: Settings, tmp_path: Path, front: str, where: str
) -> None:
    path = tmp_path / "bad.md"
    path.write_text(f"---\n{front}---\nBody.\n", encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["campaign", "build", str(path), "--config", str(settings.path)]
    )
    assert result.exit_code != 0
    assert where in result.output, result.output
    assert "bad.md" in result.output


def campaign_recipients(settings: Settings) -> list[str]:
    """Recipients of the campaign's messages (not of any edition), one entry per message."""
    folder = settings.delivery.maildir
    if not (folder / "new").is_dir():
        return []
    box = mailbox.Maildir(folder, create=False)
    return sorted(
        getaddresses([m["To"]])[0][1].lower()
        for m in box
        if str(m["Message-ID"]).startswith("<campaign-")
    )


def test_send_at_is_sent_by_the_scheduler_once_to_its_audience(
    maildir_settings: Settings, tmp_path: Path, fixed_now: datetime
) -> None:
    settings = maildir_settings
    config = str(settings.path)
    store = Store.open(settings.store.url)
    try:
        readers(store, fixed_now)
    finally:
        store.close()
    # Naive: read in site.timezone (Europe/Moscow).
    path = write(tmp_path, send_at="send_at: 2026-11-25T12:00:00\n")
    code, out = invoke(
        "campaign", "build", str(path), "--config", config, "--at", "2026-11-24T09:00:00+03:00"
    )
    assert code == 0, out
    identifier = "campaign-en-2026-11-25-year-end-appeal"
    assert out.startswith(f"{identifier}: built"), out
    assert "2026-11-25T12:00:00+03:00" in out

    # Before its time: nothing; status shows when it goes.
    code, out = invoke("run", "--config", config, "--at", "2026-11-25T11:59:00+03:00")
    assert code == 0, out
    assert campaign_recipients(settings) == []
    code, out = invoke("status", "--config", config, "--at", "2026-11-25T11:59:00+03:00")
    assert code == 0, out
    assert "campaign:" in out
    assert "12:00" in out

    # Two runs after its time: one message per reader of its audience.
    for at in ("2026-11-25T12:00:30+03:00", "2026-11-25T12:10:00+03:00"):
        code, out = invoke("run", "--config", config, "--at", at)
        assert code == 0, out
    assert campaign_recipients(settings) == AUDIENCE
    code, out = invoke("status", "--config", config, "--at", "2026-11-25T12:11:00+03:00")
    assert code == 0, out
    assert "ok" in out

    archive = (settings.emails.out / "en" / "index.html").read_text(encoding="utf-8")
    assert "Our year-end appeal" in archive
    assert (settings.emails.out / "en" / identifier / "index.html").is_file()


def test_any_frequency_without_topics_reaches_every_reader_of_its_language(
    maildir_settings: Settings, tmp_path: Path, fixed_now: datetime
) -> None:
    settings = maildir_settings
    config = str(settings.path)
    store = Store.open(settings.store.url)
    try:
        readers(store, fixed_now)
    finally:
        store.close()
    path = tmp_path / "news.md"
    path.write_text("---\nsubject: Breaking\nlanguage: en\n---\nNews.\n", encoding="utf-8")
    code, out = invoke("campaign", "build", str(path), "--config", config)
    assert code == 0, out
    identifier = out.split(":")[0]
    code, out = invoke("send", identifier, "--config", config)
    assert code == 0, out
    assert campaign_recipients(settings) == [
        "daily0@example.org",
        "science0@example.org",
        "sport0@example.org",
        "weekly0@example.org",
        "weekly1@example.org",
    ]


def test_a_changed_file_keeps_the_built_campaign_and_says_so(
    settings: Settings, tmp_path: Path
) -> None:
    config = str(settings.path)
    path = write(tmp_path)
    code, out = invoke("campaign", "build", str(path), "--config", config)
    assert code == 0, out
    identifier = out.split(":")[0]
    manifest = (settings.emails.out / "en" / identifier / "edition.json").read_text("utf-8")
    assert '"kind": "campaign"' in manifest
    path.write_text(CAMPAIGN.format(send_at="").replace("year-end", "new"), encoding="utf-8")
    result = CliRunner().invoke(cli, ["campaign", "build", str(path), "--config", config])
    assert result.exit_code == 0
    assert result.output.startswith(f"{identifier}: exists (unchanged)")
    assert "changed since" in result.output


def test_a_scheduled_campaign_cancelled_before_it_starts_is_never_sent(
    maildir_settings: Settings, tmp_path: Path, fixed_now: datetime
) -> None:
    settings = maildir_settings
    config = str(settings.path)
    store = Store.open(settings.store.url)
    try:
        readers(store, fixed_now)
    finally:
        store.close()
    path = write(tmp_path, send_at="send_at: 2026-11-25T12:00:00\n")
    code, out = invoke(
        "campaign", "build", str(path), "--config", config, "--at", "2026-11-24T09:00:00+03:00"
    )
    assert code == 0, out
    identifier = "campaign-en-2026-11-25-year-end-appeal"

    code, out = invoke(
        "send", identifier, "--cancel", "--config", config, "--at", "2026-11-24T10:00:00+03:00"
    )
    assert code == 0, out
    assert f"{identifier}: cancelled; 0 sent before" in out
    assert "its scheduled send at 2026-11-25 12:00 MSK will not happen" in out

    for at in ("2026-11-25T12:00:30+03:00", "2026-11-25T12:10:00+03:00"):
        code, out = invoke("run", "--config", config, "--at", at)
        assert code == 0, out
        assert "campaign:" not in out
    assert campaign_recipients(settings) == []
    code, out = invoke("status", "--config", config, "--at", "2026-11-25T12:11:00+03:00")
    assert code == 0, out
    assert "Held editions" in out and "cancelled" in out
    assert "campaign:" not in out  # no longer a job
    code, out = invoke("send", identifier, "--config", config)
    assert code != 0 and "was cancelled" in out
    assert campaign_recipients(settings) == []
