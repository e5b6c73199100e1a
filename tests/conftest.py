"""Shared fixtures: settings -> store -> publication, a fixed clock, PostgreSQL.

Fixtures build small publications in temporary folders. ``make_settings``
writes a real ``broadsheet.toml`` and loads it, so tests go through the same
validation users do. ``pg_url`` gives each test its own PostgreSQL database
on 127.0.0.1:5432 and skips, saying how to enable it, when none answers.
"""

from __future__ import annotations

import os
import shutil
import textwrap
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from broadsheet.cli.demo import REFERENCE_TIME
from broadsheet.config import Settings, load_settings
from broadsheet.content.fields import content_hash, tag_uri
from broadsheet.model import Article
from broadsheet.resources import example_dir
from broadsheet.store import Store

REPO = Path(__file__).resolve().parent.parent

# The demo publication's reference time: Monday 2026-11-23, 08:00 in Moscow.
DEMO_NOW = REFERENCE_TIME

BASE_CONFIG = """\
[site]
title = "Test Weekly"
url = "https://news.example"
languages = ["en", "ru"]
timezone = "Europe/Moscow"

[store]
url = "sqlite:///broadsheet.db"

[donation.en]
heading = "Keep us independent"
text = "We have no paywall. Readers like you pay for our work."
button_label = "Donate"
url = "https://news.example/en/donate/"

[donation.ru]
heading = "Поддержите нас"
text = "У нас нет платного доступа. Нашу работу оплачивают читатели."
button_label = "Поддержать"
url = "https://news.example/ru/donate/"

[sender]
name = "Test Weekly"
email = "letters@news.example"
postal_address = "1 Example Street, Example City"
"""


@pytest.fixture
def fixed_now() -> datetime:
    """The clock every test passes down: the demo's reference time."""
    return DEMO_NOW


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    """Write a broadsheet.toml (BASE_CONFIG plus ``extra`` TOML) and load it."""

    def make(extra: str = "", *, base: str = BASE_CONFIG, folder: Path | None = None) -> Settings:
        where = folder or tmp_path
        where.mkdir(parents=True, exist_ok=True)
        path = where / "broadsheet.toml"
        path.write_text(base + "\n" + textwrap.dedent(extra), encoding="utf-8")
        return load_settings(path)

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    """Settings of a small bilingual publication with a SQLite store in tmp_path."""
    return make_settings()


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    """The publication's (empty, migrated) store."""
    opened = Store.open(settings.store.url)
    yield opened
    opened.close()


def make_article(**fields: Any) -> Article:
    """An Article for pure tests; any field can be overridden."""
    published = fields.pop("published", DEMO_NOW - timedelta(days=1))
    article_id = fields.pop("id", "an-article")
    language = fields.pop("language", "en")
    base = Article(
        id=article_id,
        guid=fields.pop("guid", tag_uri("news.example", published, article_id)),
        language=language,
        title=fields.pop("title", "An article"),
        standfirst=fields.pop("standfirst", "What the article is about."),
        body_html=fields.pop("body_html", "<p>Body.</p>"),
        authors=tuple(fields.pop("authors", ("Ann Author",))),
        section=fields.pop("section", "Foreign policy"),
        tags=tuple(fields.pop("tags", ("Russia - World",))),
        translations=fields.pop("translations", {}),
        published=published,
        updated=fields.pop("updated", None),
        url=fields.pop("url", f"https://news.example/{language}/{article_id}/"),
        image=fields.pop("image", None),
    )
    article = replace(base, **fields)
    return replace(article, content_hash=content_hash(article))


@pytest.fixture
def article_factory() -> Callable[..., Article]:
    """:func:`make_article` as a fixture."""
    return make_article


@pytest.fixture
def publication(store: Store, fixed_now: datetime) -> Store:
    """The store holding a dozen articles in two languages, with views."""
    from broadsheet.model import DailyViews

    articles = []
    for day in range(12):
        language = "en" if day % 3 else "ru"
        articles.append(
            make_article(
                id=f"piece-{day:02d}",
                language=language,
                title=f"Piece {day}",
                section=("Economy", "Foreign policy", "Society")[day % 3],
                tags=(("Sanctions",), ("Russia - World", "China"), ("Demography",))[day % 3],
                published=fixed_now - timedelta(days=day, hours=3),
                authors=("Ann Author", "Boris Writer") if day % 4 == 0 else ("Ann Author",),
            )
        )
    with store.write() as tx:
        for article in articles:
            tx.articles.save(article, now=fixed_now)
        tx.views.put(
            DailyViews(a.id, (fixed_now - timedelta(days=1)).date(), 1000 - 50 * i)
            for i, a in enumerate(articles)
        )
    return store


# --- the demo publication -----------------------------------------------------


@pytest.fixture
def demo_dir(tmp_path: Path) -> Path:
    """A private copy of examples/polynya."""
    target = tmp_path / "polynya"
    shutil.copytree(
        example_dir(), target, ignore=shutil.ignore_patterns("*.db", "public", "outbox")
    )
    return target


@pytest.fixture(scope="session")
def demo_store_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """examples/polynya copied once per session, with content, views and subscribers imported."""
    from broadsheet.content.importer import import_articles
    from broadsheet.content.subscribers import import_subscribers
    from broadsheet.content.views import import_views

    target = tmp_path_factory.mktemp("demo") / "polynya"
    shutil.copytree(
        example_dir(), target, ignore=shutil.ignore_patterns("*.db", "public", "outbox")
    )
    settings = load_settings(target / "broadsheet.toml")
    store = Store.open(settings.store.url)
    report = import_articles(store, settings, str(target / "content"), now=DEMO_NOW)
    assert report.ok, report.rejected
    assert import_views(store, target / "views.csv").ok
    assert import_subscribers(store, settings, target / "subscribers.csv", now=DEMO_NOW).ok
    store.close()
    return target


@pytest.fixture
def demo_settings(demo_store_dir: Path, tmp_path: Path) -> Settings:
    """Settings of a fresh copy of the imported demo publication (safe to change)."""
    target = tmp_path / "demo"
    shutil.copytree(demo_store_dir, target)
    return load_settings(target / "broadsheet.toml")


@pytest.fixture
def demo_store(demo_settings: Settings) -> Iterator[Store]:
    """The imported demo publication's store."""
    opened = Store.open(demo_settings.store.url)
    yield opened
    opened.close()


# --- PostgreSQL ---------------------------------------------------------------

PG_ADMIN_URL = os.environ.get("BROADSHEET_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def _pg_admin() -> Any:
    try:
        import psycopg
    except ImportError:
        pytest.skip("PostgreSQL tests need psycopg: pip install '.[test]'")
    try:
        return psycopg.connect(
            PG_ADMIN_URL.replace("postgresql+psycopg", "postgresql"),
            autocommit=True,
            connect_timeout=3,
        )
    except psycopg.OperationalError as exc:
        pytest.skip(
            f"no PostgreSQL at {PG_ADMIN_URL} ({str(exc).strip().splitlines()[0]}); start one "
            "(user postgres, database test, trust auth) or set BROADSHEET_TEST_PG "
            "to enable these tests"
        )


@pytest.fixture
def pg_url() -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped after the test."""
    admin = _pg_admin()
    name = f"broadsheet_test_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store URL on each backend in turn (PostgreSQL skips when unreachable)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'any.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def pg_settings(make_settings: Callable[..., Settings], pg_url: str) -> Settings:
    """The small publication's settings with its store on PostgreSQL."""
    base = BASE_CONFIG.replace('url = "sqlite:///broadsheet.db"', f'url = "{pg_url}"')
    return make_settings(base=base)


def atom_schema_path() -> Path:
    """The Atom 1.0 RELAX NG schema of RFC 4287 (see tests/feeds/data/README.md)."""
    return REPO / "tests" / "feeds" / "data" / "atom.rng"


# --- order ---------------------------------------------------------------------


def _names_tests(config: pytest.Config) -> bool:
    """Whether the command line picks tests itself (a file, a node id, ``-m``, ``-k``)."""
    named = any(arg.endswith(".py") or "::" in arg for arg in config.args)
    return named or bool(config.option.markexpr) or bool(config.option.keyword)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leave out the tests marked ``slow`` from a default run; run them first otherwise.

    A default run (``python -m pytest``) stays within a few minutes on two
    cores: the ``slow`` tests (whole SIGKILL trials, PostgreSQL stopped
    mid-send, a full disk, Postfix and Dovecot, DST days replayed minute by
    minute) are left out unless ``BROADSHEET_FULL_TRIALS=1`` (which
    ``.ci/run`` sets) or the command line names tests itself.

    pytest-xdist hands tests to its workers in list order: a long test begun
    last would keep one worker busy while the other has nothing left to do,
    so the slow ones go first.
    """
    if os.environ.get("BROADSHEET_FULL_TRIALS") != "1" and not _names_tests(config):
        slow = [item for item in items if item.get_closest_marker("slow") is not None]
        if slow:
            config.hook.pytest_deselected(items=slow)
            items[:] = [item for item in items if item.get_closest_marker("slow") is None]
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


# --- CI strictness -------------------------------------------------------------


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """With BROADSHEET_STRICT set (CI), a skipped test fails: CI has every service."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    strict = os.environ.get("BROADSHEET_STRICT") and item.get_closest_marker("allow_skip") is None
    if strict and report.skipped and call.when in ("setup", "call"):
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.longrepr = f"skipped under BROADSHEET_STRICT (CI must run it): {reason}"
