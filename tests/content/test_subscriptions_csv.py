"""Several newsletters per address from CSV and the command line, with time zones and events."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner

from broadsheet.cli import cli
from broadsheet.config import Settings
from broadsheet.content.subscribers import import_subscribers
from broadsheet.model import EventKind, Frequency, SubscriberStatus
from broadsheet.store import Store

NOW = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_one_address_on_several_rows_takes_several_newsletters(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    csv = _write(
        tmp_path,
        "readers.csv",
        "email,name,language,frequency,topics,timezone\n"
        "anna@example.org,Anna,en,weekly,,Europe/Berlin\n"
        "Anna@Example.org,Анна,ru,daily,,\n"
        "boris@example.org,Boris,en,daily,,Mars/Olympus\n"
        "anna@example.org,Anna,ru,daily,,Asia/Tokyo\n"
        "carl@example.org,Carl,en,daily,,../../etc/passwd\n"
        "dora@example.org,Dora,en,daily,,\n",
    )
    report = import_subscribers(store, settings, csv, now=NOW, source="readers.csv")
    assert sorted(report.added) == ["anna@example.org", "anna@example.org", "dora@example.org"]
    assert report.warnings == [
        "readers.csv:5: email: anna@example.org (ru daily) is also on line 3; this later row wins"
    ]
    assert [r.split(": ", 2)[:2] for r in report.rejected] == [
        ["readers.csv:4", "timezone"],
        ["readers.csv:6", "timezone"],
    ]
    assert "Mars/Olympus" in report.rejected[0] and "IANA" in report.rejected[0]
    with store.read() as tx:
        anna = tx.subscribers.of_address("anna@example.org")
        history = tx.events.history("anna@example.org")
        assert tx.subscribers.of_address("boris@example.org") == []
    assert [(s.language, s.frequency, s.timezone) for s in anna] == [
        ("en", Frequency.WEEKLY, "Europe/Berlin"),
        ("ru", Frequency.DAILY, "Asia/Tokyo"),
    ]
    assert {s.status for s in anna} == {SubscriberStatus.ACTIVE}
    assert [(e.kind, e.source, e.detail["file"]) for e in history] == [
        (EventKind.IMPORTED, "import", "readers.csv"),
        (EventKind.IMPORTED, "import", "readers.csv"),
    ]
    assert {e.subscriber_id for e in history} == {s.id for s in anna}
    # The same file again changes nothing and records nothing.
    again = import_subscribers(store, settings, csv, now=NOW, source="readers.csv")
    assert sorted(again.unchanged) == ["anna@example.org", "anna@example.org", "dora@example.org"]
    with store.read() as tx:
        assert len(tx.events.history("anna@example.org")) == 2


def test_remove_one_newsletter_or_all_and_show_the_history(
    store: Store, settings: Settings
) -> None:
    config = ["--config", str(settings.path)]
    runner = CliRunner()
    for language, frequency in (("en", "weekly"), ("ru", "daily")):
        added = runner.invoke(
            cli,
            [
                "subscribers", "add", "lee@example.org", "--language", language,
                "--frequency", frequency, "--timezone", "Asia/Yerevan", *config,
            ],
        )  # fmt: skip
        assert added.exit_code == 0, added.output
        assert f"added: lee@example.org ({language} {frequency})" in added.output
    bad = runner.invoke(cli, ["subscribers", "add", "x@example.org", "--timezone", "Nowhere"])
    assert bad.exit_code != 0
    one = runner.invoke(
        cli, ["subscribers", "remove", "lee@example.org", "--language", "en", *config]
    )
    assert one.exit_code == 0 and "unsubscribed: lee@example.org (en weekly)" in one.output
    with store.read() as tx:
        held = {s.language: s.status for s in tx.subscribers.of_address("lee@example.org")}
    assert held == {"en": SubscriberStatus.UNSUBSCRIBED, "ru": SubscriberStatus.ACTIVE}
    listed = runner.invoke(cli, ["subscribers", "list", "--csv", *config])
    assert listed.output.splitlines() == [
        "email,name,language,frequency,topics,status",
        "lee@example.org,,en,weekly,,unsubscribed",
        "lee@example.org,,ru,daily,,active",
    ]
    everything = runner.invoke(cli, ["subscribers", "remove", "lee@example.org", *config])
    assert "unsubscribed: lee@example.org (ru daily)" in everything.output
    assert "lee@example.org (en weekly) was already unsubscribed" in everything.output
    missing = runner.invoke(
        cli, ["subscribers", "remove", "lee@example.org", "--frequency", "weekly",
              "--language", "ru", *config],
    )  # fmt: skip
    assert missing.exit_code == 1 and "to the ru weekly newsletter" in missing.output
    shown = runner.invoke(
        cli, ["subscribers", "show", "lee@example.org", *config], env={"COLUMNS": "200"}
    )
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    start = next(i for i, line in enumerate(lines) if "history" in line)
    events = [line for line in lines[start:] if "command" in line]
    # Oldest first: two additions, then the two unsubscriptions.
    assert ["added" in line for line in events] == [True, True, False, False]
    assert lines.index(next(line for line in lines if "subscriptions" in line)) < start
    assert "Asia/Yerevan" in shown.output and "command" in shown.output
    assert sum("unsubscribed" in line and "command" in line for line in lines) == 2
    nobody = runner.invoke(cli, ["subscribers", "show", "nobody@example.org", *config])
    assert nobody.exit_code == 1 and "no subscriber nobody@example.org" in nobody.output
