"""`suppressions` and `subscribers export|forget` as people type them, against a real store."""

from __future__ import annotations

import csv
import io
import json
import stat
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from broadsheet.cli import cli
from broadsheet.config import Settings
from broadsheet.content.privacy import COLUMNS
from broadsheet.model import EventKind, SubscriberEvent
from broadsheet.store import Store
from broadsheet.store.schema import TABLES, forgotten
from tests.delivery.helpers import add_subscribers, maildir_recipients, save_edition

AT = "2026-11-23T08:00:00+03:00"


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BROADSHEET_SECRET", "privacy-secret")


def run(settings: Settings, *args: str) -> Result:
    return CliRunner().invoke(cli, [*args, "--config", str(settings.path)])


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# --- suppressions ------------------------------------------------------------------


def test_import_normalises_names_bad_rows_and_keeps_the_good(
    settings: Settings, store: Store, tmp_path: Path
) -> None:
    data = _write(
        tmp_path / "blocked.csv",
        "address,reason\n"
        "Anna@Mail.Example,complaint\n"
        "@Bücher.Example,\n"
        "not-an-address,\n"
        "@,\n"
        "boris@mail.example," + "x" * 40 + "\n"
        "@xn--bcher-kva.example,again\n",
    )
    result = run(settings, "suppressions", "import", str(data))
    assert result.exit_code == 1, result.output
    assert "2 added, 0 already listed, 3 rejected" in result.stdout
    assert f"{data}:4: address: 'not-an-address' is neither an address nor a domain" in (
        result.stderr
    )
    assert f"{data}:5: address:" in result.stderr
    assert f"{data}:6: reason: is 40 characters long" in result.stderr
    listing = run(settings, "suppressions", "list", "--csv")
    assert listing.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(listing.stdout)))
    assert [(r["pattern"], r["reason"], r["source"]) for r in rows] == [
        ("@xn--bcher-kva.example", "import", "blocked.csv"),
        ("anna@mail.example", "complaint", "blocked.csv"),
    ]
    again = run(settings, "suppressions", "import", str(data))
    assert "0 added, 2 already listed, 3 rejected" in again.stdout


def test_a_file_without_an_address_column_is_named(
    settings: Settings, store: Store, tmp_path: Path
) -> None:
    data = _write(tmp_path / "wrong.csv", "who,reason\nanna@mail.example,x\n")
    result = run(settings, "suppressions", "import", str(data))
    assert result.exit_code == 1
    assert f"{data}:1: the header lacks email (or address)" in result.stderr


def test_add_remove_and_list(settings: Settings, store: Store) -> None:
    added = run(settings, "suppressions", "add", "Reader@Mail.Example", "@spam.example", "nope")
    assert added.exit_code == 1  # 'nope' is neither
    assert "added: reader@mail.example" in added.stdout
    assert "added: @spam.example" in added.stdout
    assert "error: nope:" in added.stderr
    assert (
        "already listed: @spam.example"
        in run(settings, "suppressions", "add", "@SPAM.example").stdout
    )
    table = CliRunner(env={"COLUMNS": "120"}).invoke(
        cli, ["suppressions", "list", "--config", str(settings.path)]
    )
    assert "@spam.example" in table.stdout and table.stdout.rstrip().endswith("2 suppressed")
    removed = run(settings, "suppressions", "remove", "@spam.example", "@other.example")
    assert removed.exit_code == 1
    assert "removed: @spam.example" in removed.stdout
    assert "@other.example is not on the suppression list" in removed.stderr


def test_subscribers_import_and_add_refuse_suppressed_addresses(
    settings: Settings, store: Store, tmp_path: Path
) -> None:
    assert run(settings, "suppressions", "add", "anna@mail.example", "@spam.example").exit_code == 0
    data = _write(
        tmp_path / "people.csv",
        "email,name\nanna@mail.example,Anna\nboris@spam.example,Boris\ncarl@ok.example,Carl\n",
    )
    result = run(settings, "subscribers", "import", str(data), "--at", AT)
    assert result.exit_code == 0, result.output
    assert "1 added" in result.stdout and "2 refused" in result.stdout
    assert (
        f"refused: {data}:2: email: anna@mail.example: this address is on the suppression list"
    ) in result.stderr
    assert f"refused: {data}:3: email: boris@spam.example: its domain @spam.example" in (
        result.stderr
    )
    added = run(settings, "subscribers", "add", "x@spam.example", "--at", AT)
    assert added.exit_code == 1
    assert "refused: x@spam.example: its domain @spam.example is on the suppression list" in (
        added.stderr
    )
    with store.read() as tx:
        assert [s.email for s in tx.subscribers.listing()] == ["carl@ok.example"]


def test_sending_skips_suppressed_addresses_and_domains(
    settings: Settings, store: Store, fixed_now: datetime
) -> None:
    edition = save_edition(store, now=fixed_now).id
    add_subscribers(store, 4, now=fixed_now)  # reader0..3@example.org
    add_subscribers(store, 2, now=fixed_now, prefix="x")
    with store.write() as tx:
        from broadsheet.store.schema import subscribers

        tx.conn.execute(
            subscribers.update()
            .where(subscribers.c.email.like("x%"))
            .values(email=subscribers.c.email + ".blocked")
        )
    assert run(settings, "suppressions", "add", "reader1@example.org").exit_code == 0
    assert run(settings, "suppressions", "add", "@example.org.blocked").exit_code == 0
    sent = run(settings, "send", edition, "--limit", "2", "--at", AT)
    assert sent.exit_code == 0, sent.output
    # Suppressed after its row was queued: skipped when claimed.
    assert run(settings, "suppressions", "add", "reader3@example.org").exit_code == 0
    assert run(settings, "send", edition, "--at", AT).exit_code == 0
    status = run(settings, "send", "--status", edition)
    rows = {
        line.split("│")[1].strip(): line.split("│")[2].strip()
        for line in status.stdout.splitlines()
        if line.count("│") == 3
    }
    assert rows["suppressed"] == "4", status.stdout
    assert rows["sent"] == "2"
    got = maildir_recipients(settings.delivery.maildir)
    assert set(got) == {"reader0@example.org", "reader2@example.org"}


# --- export ---------------------------------------------------------------------------


def _consenting_history(store: Store, now: datetime) -> None:
    from tests.store.test_privacy import _subscription

    sid = _subscription(store, "anna@mail.example", now=now)
    imported = _subscription(store, "anna@mail.example", now=now, frequency="daily")
    with store.write() as tx:
        tx.events.record(
            SubscriberEvent(
                email="anna@mail.example",
                kind=EventKind.REQUESTED,
                time=now - timedelta(hours=2),
                source="form",
                subscriber_id=sid,
                detail={"wording": "3f2a9c0d11ab", "network": "192.0.2.0/24"},
            )
        )
        tx.events.record(
            SubscriberEvent(
                email="anna@mail.example",
                kind=EventKind.CONFIRMED,
                time=now - timedelta(hours=1),
                source="form",
                subscriber_id=sid,
                detail={"network": "2001:db8:1::/48"},
            )
        )
        tx.events.record(
            SubscriberEvent(
                email="anna@mail.example",
                kind=EventKind.IMPORTED,
                time=now,
                source="import",
                subscriber_id=imported,
                detail={"file": "people.csv", "line": 2},
            )
        )


def test_export_csv_has_the_documented_columns_and_consent(
    settings: Settings, store: Store, fixed_now: datetime
) -> None:
    _consenting_history(store, fixed_now)
    result = run(settings, "subscribers", "export")
    assert result.exit_code == 0, result.output
    reader = csv.DictReader(io.StringIO(result.stdout))
    assert tuple(reader.fieldnames or ()) == COLUMNS
    rows = {r["frequency"]: r for r in reader}
    form, imported = rows["weekly"], rows["daily"]
    assert form["consent"] == "form"
    assert form["requested"] == "2026-11-23T03:00:00Z"
    assert form["confirmed"] == "2026-11-23T04:00:00Z"
    assert form["wording"] == "3f2a9c0d11ab"
    assert form["requested_from"] == "192.0.2.0/24"
    assert form["confirmed_from"] == "2001:db8:1::/48"
    assert imported["consent"] == "import" and imported["requested"] == ""
    assert imported["confirmed"] == "2026-11-23T05:00:00Z"
    documented = (Path(__file__).parents[2] / "docs" / "privacy.md").read_text(encoding="utf-8")
    for column in COLUMNS:
        assert f"| `{column}` |" in documented, column


def test_export_json_holds_the_whole_history_and_out_is_private(
    settings: Settings, store: Store, fixed_now: datetime, tmp_path: Path
) -> None:
    _consenting_history(store, fixed_now)
    add_subscribers(store, 1200, now=fixed_now)  # more than one page of addresses
    out = tmp_path / "export" / "all.json"
    result = run(settings, "subscribers", "export", "--format", "json", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    data = json.loads(out.read_text(encoding="utf-8"))
    people = data["subscribers"]
    assert len(people) == 1201
    assert [p["email"] for p in people] == sorted(p["email"] for p in people)
    anna = next(p for p in people if p["email"] == "anna@mail.example")
    assert [e["kind"] for e in anna["events"]] == ["requested", "confirmed", "imported"]
    assert anna["events"][0]["detail"]["wording"] == "3f2a9c0d11ab"
    assert {s["consent"] for s in anna["subscriptions"]} == {"form", "import"}


def test_export_of_no_subscribers_is_valid(settings: Settings, store: Store) -> None:
    as_json = run(settings, "subscribers", "export", "--format", "json")
    assert json.loads(as_json.stdout) == {"subscribers": []}
    as_csv = run(settings, "subscribers", "export")
    assert as_csv.stdout == ",".join(COLUMNS) + "\n"


# --- forget ----------------------------------------------------------------------------


def _everything(store: Store) -> str:
    with store.read() as tx:
        return "\n".join(
            repr(tuple(row)) for table in TABLES for row in tx.conn.execute(select(table))
        )


def test_forget_leaves_only_the_keyed_hash_and_refuses_a_reimport(
    settings: Settings, store: Store, tmp_path: Path, fixed_now: datetime
) -> None:
    data = _write(
        tmp_path / "people.csv",
        "email,name,language,frequency\n"
        "Anna@Mail.Example,Anna,en,weekly\n"
        "anna@mail.example,Anna,ru,daily\n"
        "boris@mail.example,Boris,en,weekly\n",
    )
    assert run(settings, "subscribers", "import", str(data), "--at", AT).exit_code == 0
    edition = save_edition(store, now=fixed_now).id
    assert run(settings, "send", edition, "--at", AT).exit_code == 0
    assert run(settings, "suppressions", "add", "anna@mail.example").exit_code == 0
    assert "anna@mail.example" in _everything(store)

    result = run(settings, "subscribers", "forget", "ANNA@mail.example", "--at", AT)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("forgotten: anna@mail.example: 2 subscriptions, ")
    assert "1 send-ledger row" in result.stdout and "1 suppression entry" in result.stdout
    everything = _everything(store)
    assert "anna@" not in everything.lower()
    assert "boris@mail.example" in everything
    with store.read() as tx:
        digests = list(tx.conn.execute(select(forgotten.c.digest)).scalars())
    assert len(digests) == 1 and len(digests[0]) == 64

    again = run(settings, "subscribers", "import", str(data), "--at", AT)
    assert again.exit_code == 0, again.output
    assert "0 added" in again.stdout and "2 refused" in again.stdout
    assert (
        f"refused: {data}:2: email: anna@mail.example: its owner asked to be forgotten"
    ) in again.stderr
    refused = run(settings, "subscribers", "add", "anna@mail.example", "--at", AT)
    assert refused.exit_code == 1
    assert "refused: anna@mail.example: its owner asked to be forgotten" in refused.stderr
    assert "anna@" not in _everything(store).lower()

    twice = run(settings, "subscribers", "forget", "anna@mail.example")
    assert "(forgotten before): nothing was stored about it" in twice.stdout

    # Its owner asks to come back: the hash is dropped, and the address may be added.
    back = run(settings, "suppressions", "remove", "anna@mail.example")
    assert back.exit_code == 0, back.output
    assert "no longer forgotten: anna@mail.example" in back.stdout
    assert (
        "added: anna@mail.example"
        in run(settings, "subscribers", "add", "anna@mail.example").stdout
    )


def test_forget_refuses_a_malformed_address(settings: Settings, store: Store) -> None:
    result = run(settings, "subscribers", "forget", "not an address")
    assert result.exit_code == 2
    assert "EMAIL" in result.stderr
