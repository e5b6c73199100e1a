"""Fixtures of the feed tests: the demo publication built once, small settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from broadsheet.config import Settings, load_settings
from broadsheet.feeds.build import FeedBuildReport, build_feeds
from broadsheet.model import Article
from broadsheet.store import Store
from tests.conftest import DEMO_NOW


@dataclass
class DemoBuild:
    """The demo publication's feeds, built once per test session."""

    settings: Settings
    articles: list[Article]
    report: FeedBuildReport

    @property
    def out(self) -> Path:
        return self.report.out


@pytest.fixture(scope="session")
def demo_build(demo_store_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> DemoBuild:
    """Feeds of the imported demo publication at the demo's reference time."""
    settings = load_settings(demo_store_dir / "broadsheet.toml")
    store = Store.open(settings.store.url)
    try:
        with store.read() as tx:
            articles = tx.articles.live(DEMO_NOW)
    finally:
        store.close()
    out = tmp_path_factory.mktemp("demo-feeds")
    report = build_feeds(articles, settings, out=out, ping=False)
    return DemoBuild(settings, articles, report)


@pytest.fixture
def feed_settings(make_settings: Callable[..., Settings]) -> Callable[..., Settings]:
    """Settings of the small test publication plus ``[feeds]`` keys and extra TOML."""

    def make(feeds: str = "", extra: str = "") -> Settings:
        return make_settings(f"{extra}\n[feeds]\n{feeds}\n")

    return make
