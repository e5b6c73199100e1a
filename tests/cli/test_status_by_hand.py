"""`broadsheet status` shows the last run of each job whoever made it: runs by hand too."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from broadsheet.cli import cli
from broadsheet.config import Settings
from broadsheet.store import Store
from broadsheet.store.jobs import RunStatus

AT = "2026-11-23T08:00:00+03:00"
LATER = "2026-11-23T08:05:00+03:00"


def _invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner(env={"COLUMNS": "200"}).invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def _row(table: str, job: str) -> list[str]:
    lines = table.splitlines()
    i = next(n for n, line in enumerate(lines) if f"│ {job} " in line)
    return [lines[i], lines[i + 1]]  # the second line of a multi-line cell


def test_runs_by_hand_show_in_status(
    demo_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BROADSHEET_SECRET", "status-secret")
    config = str(demo_settings.path)
    code, table, _ = _invoke("status", "--config", config, "--at", AT)
    assert code == 0
    assert "never" in _row(table, "feeds")[0]

    code, _, err = _invoke("feeds", "build", "--no-ping", "--config", config, "--at", AT)
    assert code == 0, err
    code, out, err = _invoke(
        "edition", "build", "--language", "en", "--frequency", "weekly", "--force",
        "--config", config, "--at", AT,
    )  # fmt: skip
    assert code == 0, err
    edition = out.split(":")[0].strip()
    store = Store.open(demo_settings.store.url)
    try:
        with store.read() as tx:
            built = tx.jobs.latest("manual:edition:weekly:en")
        assert built is not None and built.note == edition and built.counts == {"built": 1}
    finally:
        store.close()
    code, out, err = _invoke("send", edition, "--config", config, "--at", AT)
    assert code == 0, err

    code, table, _ = _invoke("status", "--config", config, "--at", LATER)
    assert code == 0
    feeds = _row(table, "feeds")
    assert "08:00" in feeds[0] and "ok" in feeds[0] and "by hand" in feeds[1]
    weekly = _row(table, "edition:weekly:en")
    assert "08:00" in weekly[0] and "ok" in weekly[0] and "by hand" in weekly[1]
    assert "never" in _row(table, "edition:weekly:ru")[0]

    store = Store.open(demo_settings.store.url)
    try:
        with store.read() as tx:
            run = tx.jobs.latest("manual:edition:weekly:en")
            # Runs by hand never settle a scheduled slot.
            assert tx.jobs.last_done_slot("edition:weekly:en") is None
            assert tx.jobs.last_done_slot("feeds") is None
        assert run is not None and run.status is RunStatus.OK
        assert run.note == edition and run.counts["sent"] > 0
    finally:
        store.close()

    # A scheduled run afterwards is the newest again and shows as such.
    code, _, _ = _invoke("run", "--config", config, "--at", "2026-11-23T08:15:00+03:00")
    code, table, _ = _invoke("status", "--config", config, "--at", "2026-11-23T08:16:00+03:00")
    feeds = _row(table, "feeds")
    assert "08:15" in feeds[0] and "by hand" not in feeds[1]
