"""Views and subscribers from CSV: row errors by line, idempotence, normalisation."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from broadsheet.cli import cli
from broadsheet.config import Settings
from broadsheet.content.subscribers import import_subscribers, normalise_email
from broadsheet.content.views import import_views
from broadsheet.model import Frequency, SubscriberStatus
from broadsheet.store import Store
from tests.conftest import make_article

NOW = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def two_articles(store: Store) -> Store:
    with store.write() as tx:
        tx.articles.save(make_article(id="alpha"), now=NOW)
        tx.articles.save(make_article(id="beta", url="https://news.example/en/beta/"), now=NOW)
    return store


def test_views_by_id_and_path_with_bad_rows_named(two_articles: Store, tmp_path: Path) -> None:
    csv = write(
        tmp_path,
        "views.csv",
        "article,date,views\n"
        "alpha,2026-11-20,100\n"
        "/en/beta/,2026-11-20,40\n"
        "https://news.example/en/beta/?utm_source=x,2026-11-20,2\n"
        "alpha,2026-11-21,-3\n"
        "alpha,2026-11-21,ten\n"
        "alpha,21/11/2026,5\n"
        "gamma,2026-11-21,5\n"
        ",2026-11-21,5\n",
    )
    report = import_views(two_articles, csv, source="views.csv")
    assert report.written == 2
    assert report.rejected == [
        "views.csv:5: views: expected a whole number of 0 or more, got '-3'",
        "views.csv:6: views: expected a whole number of 0 or more, got 'ten'",
        "views.csv:7: date: expected a day as YYYY-MM-DD, got '21/11/2026'",
        "views.csv:8: article: no article with id or URL path 'gamma'",
        "views.csv:9: article: missing",
    ]
    with two_articles.read() as tx:
        assert tx.views.totals(date(2026, 11, 1), date(2026, 11, 30)) == {"alpha": 100, "beta": 42}


def test_reimporting_a_day_replaces_it(two_articles: Store, tmp_path: Path) -> None:
    import_views(
        two_articles, write(tmp_path, "a.csv", "article,date,views\nalpha,2026-11-20,100\n")
    )
    import_views(
        two_articles, write(tmp_path, "b.csv", "article,date,views\nalpha,2026-11-20,60\n")
    )
    with two_articles.read() as tx:
        assert tx.views.totals(date(2026, 11, 20), date(2026, 11, 20)) == {"alpha": 60}
        assert tx.views.count() == 1


def test_a_views_file_without_the_right_header(two_articles: Store, tmp_path: Path) -> None:
    report = import_views(two_articles, write(tmp_path, "v.csv", "id,day,count\n"), source="v.csv")
    assert report.rejected == [
        "v.csv:1: the header lacks article, date, views; expected article,date,views"
    ]


@pytest.mark.parametrize(
    ("given", "normal"),
    [
        ("Pavel.Orlov@Example.COM", "pavel.orlov@example.com"),
        ("  claire@example.net ", "claire@example.net"),
        ("ivan@пример.рф", "ivan@xn--e1afmkfd.xn--p1ai"),
    ],
)
def test_addresses_are_normalised(given: str, normal: str) -> None:
    assert normalise_email(given) == normal


@pytest.mark.parametrize(
    "bad", ["no-at-sign", "a@b", "two@@example.org", "x@example.org\r\nBcc: y@z.org"]
)
def test_bad_addresses_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        normalise_email(bad)


def test_an_internationalised_local_part_is_refused_with_the_reason() -> None:
    # Mail to юзер@… needs SMTPUTF8 end to end; the headers written here are ASCII.
    with pytest.raises(ValueError, match="before the @-sign"):
        normalise_email("юзер@example.org")


def test_subscribers_import_merges_checks_and_never_reactivates(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    csv = write(
        tmp_path,
        "subscribers.csv",
        "email,name,language,frequency,topics\n"
        "anna@example.org,Anna,en,daily,Economy; Energy\n"
        "ANNA@Example.org,Anna K.,en,daily,\n"
        "boris@example.org,Борис,ru,weekly,\n"
        "not-an-address,X,en,daily,\n"
        "carl@example.org,Carl,de,daily,\n"
        "dora@example.org,Dora,en,hourly,\n"
        "gone@example.org,Gone,en,daily,\n",
    )
    report = import_subscribers(store, settings, csv, now=NOW, source="subscribers.csv")
    assert sorted(report.added) == ["anna@example.org", "boris@example.org", "gone@example.org"]
    assert report.warnings == [
        "subscribers.csv:3: email: anna@example.org (en daily) is also on line 2; "
        "this later row wins"
    ]
    assert [r.split(": ", 2)[:2] for r in report.rejected] == [
        ["subscribers.csv:5", "email"],
        ["subscribers.csv:6", "language"],
        ["subscribers.csv:7", "frequency"],
    ]
    with store.write() as tx:
        anna = tx.subscribers.by_email("anna@example.org")
        assert anna and anna.frequency is Frequency.DAILY and anna.topics == ()
        assert len(tx.subscribers.of_address("anna@example.org")) == 1
        gone = tx.subscribers.by_email("gone@example.org")
        assert gone
        tx.subscribers.set_status(gone.id, SubscriberStatus.UNSUBSCRIBED, now=NOW)
    again = import_subscribers(store, settings, csv, now=NOW)
    assert again.skipped == ["gone@example.org"]
    assert sorted(again.unchanged) == ["anna@example.org", "boris@example.org"]
    with store.read() as tx:
        assert tx.subscribers.by_email("gone@example.org").status is SubscriberStatus.UNSUBSCRIBED  # type: ignore[union-attr]


def test_subscriber_commands(settings: Settings) -> None:
    config = ["--config", str(settings.path)]
    runner = CliRunner()
    added = runner.invoke(
        cli, ["subscribers", "add", "Reader@Example.org", "bad@", "--frequency", "daily", *config]
    )
    assert added.exit_code == 1
    assert "added: reader@example.org" in added.output
    assert "error: bad@: email:" in added.output
    listed = runner.invoke(cli, ["subscribers", "list", "--csv", *config])
    assert "reader@example.org,,en,daily,,active" in listed.output
    removed = runner.invoke(cli, ["subscribers", "remove", "READER@example.org", *config])
    assert removed.exit_code == 0 and "unsubscribed: reader@example.org" in removed.output
    readd = runner.invoke(cli, ["subscribers", "add", "reader@example.org", *config])
    assert "skipped: reader@example.org (en daily) unsubscribed or bounced earlier" in readd.output
    assert (
        runner.invoke(cli, ["subscribers", "remove", "nobody@example.org", *config]).exit_code == 1
    )


def test_topics_name_sections_by_any_name_readers_see(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings(
        """
        [site.localized.ru.sections]
        Economy = "Экономика"
        "Foreign policy" = "Внешняя политика"
        """
    )
    store = Store.open(settings.store.url)
    try:
        csv = write(
            tmp_path,
            "subscribers.csv",
            "email,name,language,frequency,topics\nearly@example.org,Early,en,weekly,Sport\n",
        )
        # No article yet: there is nothing to check topics against but the
        # localised names, and "Sport" is none of them.
        report = import_subscribers(store, settings, csv, now=NOW, source="subscribers.csv")
        assert report.rejected == [
            "subscribers.csv:2: topics: 'Sport' is not a section of this publication "
            "(sections: Economy, Foreign policy)"
        ]
        with store.write() as tx:
            tx.articles.save(make_article(id="alpha", section="Society"), now=NOW)
        csv = write(
            tmp_path,
            "subscribers.csv",
            "email,name,language,frequency,topics\n"
            "anna@example.org,Anna,en,weekly,society; ECONOMY\n"
            "boris@example.org,Борис,ru,weekly,Экономика;внешняя политика\n"
            "carl@example.org,Carl,en,weekly,Economy;Sport\n",
        )
        report = import_subscribers(store, settings, csv, now=NOW, source="subscribers.csv")
        assert sorted(report.added) == ["anna@example.org", "boris@example.org"]
        assert report.rejected == [
            "subscribers.csv:4: topics: 'Sport' is not a section of this publication "
            "(sections: Economy, Foreign policy, Society)"
        ]
        with store.read() as tx:
            anna = tx.subscribers.by_email("anna@example.org")
            boris = tx.subscribers.by_email("boris@example.org")
        assert anna is not None and anna.topics == ("Society", "Economy")
        assert boris is not None and boris.topics == ("Economy", "Foreign policy")
    finally:
        store.close()


def test_what_the_input_does_not_give_an_existing_subscriber_keeps(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    with store.write() as tx:
        tx.articles.save(make_article(id="alpha", section="Economy"), now=NOW)
    full = write(
        tmp_path,
        "full.csv",
        "email,name,language,frequency,topics\npavel@example.org,Pavel,ru,daily,Economy\n",
    )
    assert import_subscribers(store, settings, full, now=NOW).added == ["pavel@example.org"]

    def pavel() -> tuple[str, str, str, tuple[str, ...]]:
        with store.read() as tx:
            person = tx.subscribers.by_email("pavel@example.org")
        assert person is not None
        return person.name, person.language, str(person.frequency), person.topics

    # Only the address column: nothing of Pavel's changes.
    bare = write(tmp_path, "bare.csv", "email\npavel@example.org\n")
    assert import_subscribers(store, settings, bare, now=NOW).unchanged == ["pavel@example.org"]
    assert pavel() == ("Pavel", "ru", "daily", ("Economy",))
    # A name column changes the name; empty language and frequency cells keep theirs.
    named = write(
        tmp_path, "named.csv", "email,name,language,frequency\npavel@example.org,Pavel O.,,\n"
    )
    assert import_subscribers(store, settings, named, now=NOW).updated == ["pavel@example.org"]
    assert pavel() == ("Pavel O.", "ru", "daily", ("Economy",))
    # An empty topics cell in a topics column means everything.
    everything = write(tmp_path, "all.csv", "email,topics\npavel@example.org,\n")
    import_subscribers(store, settings, everything, now=NOW)
    assert pavel() == ("Pavel O.", "ru", "daily", ())

    # The command: only the options given change anything.
    config = ["--config", str(settings.path)]
    again = CliRunner().invoke(cli, ["subscribers", "add", "pavel@example.org", *config])
    assert again.exit_code == 0 and "unchanged: pavel@example.org" in again.output
    assert pavel() == ("Pavel O.", "ru", "daily", ())
    # Another frequency is another newsletter, in the language Pavel reads.
    weekly = CliRunner().invoke(
        cli, ["subscribers", "add", "pavel@example.org", "--frequency", "weekly", *config]
    )
    assert "added: pavel@example.org (ru weekly)" in weekly.output
    assert pavel() == ("Pavel O.", "ru", "daily", ())
    with store.read() as tx:
        held = tx.subscribers.of_address("pavel@example.org")
    assert [(s.language, str(s.frequency), s.name) for s in held] == [
        ("ru", "daily", "Pavel O."),
        ("ru", "weekly", "Pavel O."),
    ]
    # A new address still gets the defaults.
    new = CliRunner().invoke(cli, ["subscribers", "add", "new@example.org", *config])
    assert "added: new@example.org" in new.output
    with store.read() as tx:
        fresh = tx.subscribers.by_email("new@example.org")
    assert fresh is not None and (fresh.language, str(fresh.frequency)) == ("en", "weekly")


@pytest.mark.parametrize(
    ("name", "problem"),
    [("Ctrl\x07Name\x1b[31m", "cannot hold control characters"), ("A\nB", "line break")],
)
def test_names_with_control_characters_are_refused(
    settings: Settings, name: str, problem: str
) -> None:
    from broadsheet.content.subscribers import FieldProblem, check_subscriber

    with pytest.raises(FieldProblem, match=problem):
        check_subscriber(settings, email="a@example.org", name=name)
    tabbed = check_subscriber(settings, email="a@example.org", name="Anna\tK.")
    assert tabbed.name == "Anna K."


def test_a_name_longer_than_a_header_should_carry_is_refused(settings: Settings) -> None:
    from broadsheet.content.subscribers import MAX_NAME, FieldProblem, check_subscriber

    assert check_subscriber(settings, email="a@example.org", name="Я" * MAX_NAME).name
    with pytest.raises(FieldProblem, match=f"at most {MAX_NAME}"):
        check_subscriber(settings, email="a@example.org", name="x" * (MAX_NAME + 1))
