"""build_edition: gather from the store, write the files, record the edition once."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import lxml.html
import pytest
from click.testing import CliRunner

from broadsheet.cli import cli
from broadsheet.config import Settings
from broadsheet.emails.edition.personalize import SLOTS, Template
from broadsheet.errors import BroadsheetError
from broadsheet.model import DailyViews, Frequency
from broadsheet.scheduler.editions import build_edition, build_editions, edition_id
from broadsheet.store import Store
from tests.conftest import DEMO_NOW, make_article

DAY = timedelta(days=1)


def test_demo_editions_build(demo_settings: Settings, demo_store: Store) -> None:
    for language in ("en", "ru"):
        outcome = build_edition(
            demo_store, demo_settings, language=language, frequency=Frequency.WEEKLY, now=DEMO_NOW
        )
        assert outcome.created and outcome.skipped is None
        record = outcome.edition
        assert record is not None
        assert record.id == f"weekly-{language}-2026-11-23"
        folder = demo_settings.emails.out / language / record.id
        assert outcome.paths["folder"] == folder
        for role, name in (
            ("html", "email.html"),
            ("text", "email.txt"),
            ("web", "index.html"),
            ("json", "edition.json"),
        ):
            assert outcome.paths[role] == folder / name
            assert (folder / name).is_file()
        assert not list(folder.glob(".*")), "temporary files left behind"
        manifest = json.loads((folder / "edition.json").read_text(encoding="utf-8"))
        assert manifest["id"] == record.id
        assert manifest["language"] == language
        assert manifest["frequency"] == "weekly"
        assert manifest["since"] == "2026-11-16T05:00:00Z"
        assert manifest["until"] == "2026-11-23T05:00:00Z"
        assert manifest["new"] == list(record.new_ids) and manifest["new"]
        assert manifest["top_reads"] == list(record.top_ids) and manifest["top_reads"]
        assert manifest["read_also"] == record.extra["read_also_ids"]
        assert manifest["lead"] == record.new_ids[0]
        assert set(manifest["new"]).isdisjoint(manifest["top_reads"])
        # The record keeps the placeholders; the preview on disk is neutral.
        assert set(Template.parse(record.html).slots) == set(SLOTS)
        assert set(Template.parse(record.text).slots) == set(SLOTS)
        preview = (folder / "email.html").read_text(encoding="utf-8")
        assert "%%bs:" not in preview
        assert ("Dear reader," if language == "en" else "Здравствуйте!") in preview
    with demo_store.read() as tx:
        stored = tx.editions.get("weekly-ru-2026-11-23")
    assert stored is not None and stored.sections


def test_archive_lists_every_edition_of_the_language(
    demo_settings: Settings, demo_store: Store
) -> None:
    for now, frequency in (
        (DEMO_NOW - 7 * DAY, Frequency.WEEKLY),
        (DEMO_NOW, Frequency.WEEKLY),
        (DEMO_NOW - timedelta(hours=1), Frequency.DAILY),
    ):
        build_edition(demo_store, demo_settings, language="en", frequency=frequency, now=now)
    archive = demo_settings.emails.out / "en" / "index.html"
    tree = lxml.html.fromstring(archive.read_text(encoding="utf-8"))
    hrefs = [a.get("href") for a in tree.iter("a") if "/editions/" in str(a.get("href"))]
    assert hrefs == [
        "http://localhost:8080/editions/en/weekly-en-2026-11-23/",
        "http://localhost:8080/editions/en/daily-en-2026-11-23/",
        "http://localhost:8080/editions/en/weekly-en-2026-11-16/",
    ]
    assert tree.get("lang") == "en"
    assert not (demo_settings.emails.out / "ru" / "index.html").exists()


def test_an_existing_edition_is_returned_unchanged(
    demo_settings: Settings, demo_store: Store
) -> None:
    first = build_edition(
        demo_store, demo_settings, language="en", frequency=Frequency.WEEKLY, now=DEMO_NOW
    )
    files = {path: path.stat().st_mtime_ns for path in first.paths.values() if path.is_file()}
    # New content arrives, and the edition is asked for again later that day.
    with demo_store.write() as tx:
        tx.articles.save(
            make_article(id="late-news", published=DEMO_NOW + timedelta(hours=1)), now=DEMO_NOW
        )
    again = build_edition(
        demo_store,
        demo_settings,
        language="en",
        frequency=Frequency.WEEKLY,
        now=DEMO_NOW + timedelta(hours=3),
    )
    assert not again.created
    assert again.edition == first.edition
    assert {path: path.stat().st_mtime_ns for path in files} == files


def test_next_edition_starts_where_the_previous_ended(
    demo_settings: Settings, demo_store: Store
) -> None:
    earlier = build_edition(
        demo_store,
        demo_settings,
        language="en",
        frequency=Frequency.DAILY,
        now=DEMO_NOW - 3 * DAY,
    )
    assert earlier.edition is not None
    later = build_edition(
        demo_store, demo_settings, language="en", frequency=Frequency.DAILY, now=DEMO_NOW
    )
    assert later.edition is not None
    assert later.edition.since == earlier.edition.until
    assert set(later.edition.new_ids).isdisjoint(earlier.edition.new_ids)


def _publication(store: Store, now: datetime) -> None:
    with store.write() as tx:
        for day in range(5):
            tx.articles.save(
                make_article(
                    id=f"piece-{day}",
                    title=f"Piece {day}",
                    published=now - (day * 2 + 1) * DAY,
                    tags=("Sanctions",),
                ),
                now=now,
            )
        tx.views.put(DailyViews(f"piece-{day}", (now - DAY).date(), 100 - day) for day in range(5))


def test_nothing_new_is_skipped_with_a_logged_reason(
    settings: Settings, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    _publication(store, DEMO_NOW - 20 * DAY)
    with caplog.at_level(logging.INFO, logger="broadsheet.scheduler.editions"):
        outcome = build_edition(
            store, settings, language="en", frequency=Frequency.DAILY, now=DEMO_NOW
        )
    assert outcome.edition is None and outcome.paths == {}
    assert outcome.skipped is not None
    assert "no new en articles" in outcome.skipped
    assert "skip_if_empty" in outcome.skipped
    assert outcome.skipped in caplog.text
    with store.read() as tx:
        assert tx.editions.listing() == []
    assert not settings.emails.out.exists()


def test_an_empty_edition_is_built_when_configured(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings(
        """
        [newsletters.daily]
        skip_if_empty = false
        top_reads_window_days = 60
        """
    )
    store = Store.open(settings.store.url)
    try:
        _publication(store, DEMO_NOW - 20 * DAY)
        outcome = build_edition(
            store, settings, language="en", frequency=Frequency.DAILY, now=DEMO_NOW
        )
    finally:
        store.close()
    record = outcome.edition
    assert record is not None and record.new_ids == ()
    assert record.top_ids[0] == "piece-0"
    assert record.subject == "Test Weekly daily: Piece 0"


def test_unknown_language_is_refused(settings: Settings, store: Store) -> None:
    with pytest.raises(BroadsheetError, match="site.languages"):
        build_edition(store, settings, language="de", frequency=Frequency.DAILY, now=DEMO_NOW)


def test_id_uses_the_local_date_of_the_slot(settings: Settings) -> None:
    late = datetime(2026, 11, 22, 22, 30, tzinfo=UTC)  # 01:30 on the 23rd in Moscow
    assert edition_id(Frequency.DAILY, "ru", late, settings) == "daily-ru-2026-11-23"


@pytest.mark.postgres
def test_builds_on_any_store(settings: Settings, any_store_url: str) -> None:
    store = Store.open(any_store_url)
    try:
        _publication(store, DEMO_NOW)
        outcome = build_edition(
            store, settings, language="en", frequency=Frequency.WEEKLY, now=DEMO_NOW
        )
        assert outcome.edition is not None
        assert outcome.edition.new_ids == ("piece-0", "piece-1", "piece-2")
        with store.read() as tx:
            stored = tx.editions.get(outcome.edition.id)
        assert stored == outcome.edition
    finally:
        store.close()


def test_cli_builds_and_prints_the_previews(demo_settings: Settings) -> None:
    runner = CliRunner()
    args = [
        "edition",
        "build",
        "--language",
        "ru",
        "--frequency",
        "weekly",
        "--at",
        "2026-11-23T08:00:00+03:00",
        "--config",
        str(demo_settings.path),
    ]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "weekly-ru-2026-11-23: built" in result.output
    folder = demo_settings.emails.out / "ru" / "weekly-ru-2026-11-23"
    for name in ("email.html", "email.txt", "index.html", "edition.json"):
        assert str(folder / name) in result.output
    again = runner.invoke(cli, args)
    assert "exists (unchanged)" in again.output


def test_cli_reports_a_bad_language_in_one_line(demo_settings: Settings) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "edition",
            "build",
            "--language",
            "fr",
            "--frequency",
            "daily",
            "--config",
            str(demo_settings.path),
        ],
    )
    # A usage error, naming the option.
    assert result.exit_code == 2
    assert "--language" in result.output and "'fr' is not one of site.languages" in result.output
    assert "Traceback" not in result.output


def test_every_language_of_one_slot(demo_settings: Settings, demo_store: Store) -> None:
    outcomes = build_editions(demo_store, demo_settings, frequency=Frequency.WEEKLY, now=DEMO_NOW)
    assert list(outcomes) == ["en", "ru"]
    for language, outcome in outcomes.items():
        assert outcome.edition is not None
        assert outcome.paths["html"].is_file() and outcome.paths["web"].is_file()
        assert outcome.edition.language == language


def test_an_edition_in_a_language_of_its_own_words(
    make_settings: Callable[..., Settings], caplog: pytest.LogCaptureFixture
) -> None:
    from tests.conftest import BASE_CONFIG

    base = BASE_CONFIG.replace('["en", "ru"]', '["en", "ru", "de"]')
    settings = make_settings(
        """
        [donation.de]
        heading = "Unterstützen Sie uns"
        text = "Wir haben keine Bezahlschranke."
        button_label = "Spenden"
        url = "https://news.example/de/spenden/"

        [labels.de.newsletter]
        edition_weekly = "Wochenbrief"
        lead = "Aufmacher"
        by = "Von {authors}"
        """,
        base=base,
    )
    store = Store.open(settings.store.url)
    try:
        with store.write() as tx:
            for day in range(3):
                tx.articles.save(
                    make_article(
                        id=f"stueck-{day}",
                        language="de",
                        title=f"Stück {day}",
                        authors=("Anna Beck", "Jörg Weiß"),
                        published=DEMO_NOW - (day + 1) * DAY,
                    ),
                    now=DEMO_NOW,
                )
        with caplog.at_level(logging.WARNING, logger="broadsheet.scheduler.editions"):
            outcome = build_edition(
                store, settings, language="de", frequency=Frequency.WEEKLY, now=DEMO_NOW
            )
    finally:
        store.close()
    html = outcome.paths["html"].read_text(encoding="utf-8")
    assert "Wochenbrief" in html and "Aufmacher" in html
    assert "Von Anna Beck und Jörg Weiß" in html  # the label, and Babel's German list
    # What the file leaves out is English, and the log says which words those are.
    assert "Dear reader," in html
    assert "[labels.de.newsletter]" in caplog.text and "greeting_neutral" in caplog.text
    assert "edition_weekly," not in caplog.text.split("):")[-1]


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        (
            '[labels.fr.newsletter]\nlead = "À la une"\n',
            "labels.fr: language not in site.languages",
        ),
        ('[labels.ru.email]\nlead = "x"\n', "labels.ru.email: unknown table"),
        ('[labels.ru.newsletter]\nleed = "x"\n', "labels.ru.newsletter.leed: unknown key"),
        (
            '[labels.ru.newsletter]\nby = "Автор: {author}"\n',
            "labels.ru.newsletter.by: unknown field {author} (this text may use {authors})",
        ),
        ('[labels.ru.newsletter]\nby = "{authors"\n', "labels.ru.newsletter.by:"),
        ("[labels.ru.newsletter]\nby = 3\n", "labels.ru.newsletter.by: expected text"),
    ],
)
def test_bad_labels_are_named(
    make_settings: Callable[..., Settings], extra: str, problem: str
) -> None:
    from broadsheet.errors import ConfigError

    with pytest.raises(ConfigError) as caught:
        make_settings(extra)
    assert problem in str(caught.value)


def test_labels_reword_pages_and_feeds(make_settings: Callable[..., Settings]) -> None:
    from broadsheet.emails.subscriptions import pagetext
    from broadsheet.feeds.sets import words

    settings = make_settings(
        """
        [labels.en.pages]
        subscribe_button = "Sign me up"
        [labels.en.feeds]
        archive = "{title}, older articles (page {page})"
        """
    )
    mine = settings.words
    assert pagetext.word(mine, "en", "subscribe_button") == "Sign me up"
    assert pagetext.word(mine, "ru", "subscribe_button") != "Sign me up"
    assert words(mine, "en")["archive"].format(title="T", page=2) == "T, older articles (page 2)"
    other = make_settings().words  # another publication's words leave these as they are
    assert pagetext.word(other, "en", "subscribe_button") == "Subscribe"
    assert pagetext.word(mine, "en", "subscribe_button") == "Sign me up"


def test_an_output_folder_that_is_a_file_is_named(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    (tmp_path / "afile").write_text("not a folder\n", encoding="utf-8")
    settings = make_settings('[emails]\nout = "afile"\n')
    store = Store.open(settings.store.url)
    try:
        _publication(store, DEMO_NOW)
        with pytest.raises(BroadsheetError, match=r"cannot write the edition into .*afile"):
            build_edition(store, settings, language="en", frequency=Frequency.WEEKLY, now=DEMO_NOW)
        with store.read() as tx:
            assert tx.editions.listing() == []  # nothing half-built is kept
    finally:
        store.close()
