"""`broadsheet demo` end to end in a temporary folder, twice."""

from __future__ import annotations

import json
import mailbox
from pathlib import Path

import pytest
from click.testing import CliRunner

from broadsheet.cli import cli
from broadsheet.cli.demo import REFERENCE_TIME
from broadsheet.config import load_settings
from broadsheet.model import SubscriberStatus
from broadsheet.store import Store


@pytest.mark.slow
def test_the_demo_runs_the_whole_pipeline_and_a_rerun_sends_nothing(tmp_path: Path) -> None:
    target = tmp_path / "demo"
    runner = CliRunner()
    first = runner.invoke(cli, ["demo", "--out", str(target)])
    assert first.exit_code == 0, first.output
    assert "48 added, 0 updated, 0 unchanged, 0 rejected" in first.output
    assert "887 daily figures" in first.output
    assert "run edition:weekly:en" in first.output and "run feeds" in first.output
    assert (
        f"edition weekly-en-2026-11-23: {target}/public/editions/en/weekly-en-2026-11-23/email.html"
        in first.output
    )
    assert (
        f"edition weekly-ru-2026-11-23: {target}/public/editions/ru/weekly-ru-2026-11-23/email.html"
        in first.output
    )

    settings = load_settings(target / "broadsheet.toml")
    store = Store.open(settings.store.url)
    try:
        with store.read() as tx:
            assert tx.articles.count() == 48
            assert len(tx.articles.live(REFERENCE_TIME)) == 46
            assert tx.subscribers.counts() == {str(SubscriberStatus.ACTIVE): 32}
            assert tx.views.count() == 887
            editions = {e.id for e in tx.editions.listing()}
    finally:
        store.close()
    assert {"weekly-en-2026-11-23", "weekly-ru-2026-11-23"} <= editions
    index = json.loads((target / "public" / "feeds" / "index.json").read_text(encoding="utf-8"))
    assert len(index["feeds"]) > 10
    for edition in ("en/weekly-en-2026-11-23", "ru/weekly-ru-2026-11-23"):
        for name in ("email.html", "email.txt", "index.html", "edition.json"):
            assert (target / "public" / "editions" / edition / name).is_file()
    messages = list(mailbox.Maildir(target / "outbox", create=False))
    assert messages
    delivered = sorted((m["To"], m["Message-ID"]) for m in messages)
    assert len(set(delivered)) == len(delivered)

    second = runner.invoke(cli, ["demo", "--out", str(target)])
    assert second.exit_code == 0, second.output
    assert "0 added, 0 updated, 48 unchanged, 0 rejected" in second.output
    assert "nothing due" in second.output
    assert len(list(mailbox.Maildir(target / "outbox", create=False))) == len(messages)
