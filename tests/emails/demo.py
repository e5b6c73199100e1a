"""The demo's weekly editions, built once per test session for the email tests."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from broadsheet.config import Settings, load_settings
from broadsheet.model import EditionRecord, Frequency, Subscriber
from broadsheet.scheduler.editions import EditionOutcome, build_edition
from broadsheet.store import Store
from tests.conftest import DEMO_NOW

SECRET = "demo-link-secret"


@dataclass(frozen=True)
class DemoEditions:
    """Both weekly editions of the demo, and where they were built."""

    settings: Settings
    outcomes: dict[str, EditionOutcome]

    def record(self, language: str) -> EditionRecord:
        edition = self.outcomes[language].edition
        assert edition is not None
        return edition

    def path(self, language: str, role: str) -> Path:
        return self.outcomes[language].paths[role]

    def subscriber(self, language: str, *, name: str = "Anna Petrova") -> Subscriber:
        return Subscriber(
            id=4242,
            email="anna.petrova@example.org",
            name=name,
            language=language,
            frequency=Frequency.WEEKLY,
        )


def build_demo(imported: Path, target: Path, *, inliner: str | None = None) -> DemoEditions:
    """Copy the imported demo to ``target`` and build this week's editions there."""
    shutil.copytree(imported, target)
    config = target / "broadsheet.toml"
    if inliner is not None:
        text = config.read_text(encoding="utf-8")
        if "[emails]" in text:
            text = text.replace("[emails]", f'[emails]\ninliner = "{inliner}"', 1)
        else:
            text += f'\n[emails]\ninliner = "{inliner}"\n'
        config.write_text(text, encoding="utf-8")
    settings = load_settings(config)
    store = Store.open(settings.store.url)
    try:
        outcomes = {
            language: build_edition(
                store, settings, language=language, frequency=Frequency.WEEKLY, now=DEMO_NOW
            )
            for language in ("en", "ru")
        }
    finally:
        store.close()
    return DemoEditions(settings=settings, outcomes=outcomes)
