"""`broadsheet send`: summary, --status, --dry-run, --limit, errors and SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import time
from datetime import datetime

import pytest
from click.testing import CliRunner

from broadsheet.cli import cli
from broadsheet.config import Settings
from broadsheet.model import SendState
from broadsheet.store import Store
from tests.delivery.helpers import add_subscribers, cli_command, cli_env, save_edition

EDITION = "weekly-en-2026-11-23"


@pytest.fixture
def ready(
    settings: Settings, store: Store, fixed_now: datetime, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    monkeypatch.setenv("BROADSHEET_SECRET", "cli-secret")
    save_edition(store, now=fixed_now)
    add_subscribers(store, 12, now=fixed_now)
    add_subscribers(store, 2, now=fixed_now, topics=("Society",), prefix="soc")
    return settings


def _run(settings: Settings, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["send", *args, "--config", str(settings.path)])
    return result.exit_code, result.stdout, result.stderr


def test_send_dry_run_limit_status(ready: Settings) -> None:
    code, out, _ = _run(ready, EDITION, "--dry-run")
    assert code == 0
    assert out.strip() == f"{EDITION}: 12 would send, 2 skipped, 0 already sent"
    code, out, err = _run(ready, EDITION, "--limit", "5", "--at", "2026-11-23T08:00:00+03:00")
    assert code == 0
    assert out.startswith(f"{EDITION}: 5 sent, 0 failed, 0 bounced, 2 skipped, 0 already sent (")
    assert "7 messages still to send" in err
    code, out, _ = _run(ready, EDITION, "--status")
    assert code == 0
    rows = {
        line.split("│")[1].strip(): line.split("│")[2].strip()
        for line in out.splitlines()
        if line.count("│") == 3
    }
    assert rows["queued"] == "7" and rows["sent"] == "5" and rows["skipped"] == "2"
    assert rows["total"] == "14"
    code, out, err = _run(ready, EDITION)
    assert code == 0 and out.startswith(
        f"{EDITION}: 7 sent, 0 failed, 0 bounced, 0 skipped, 5 already sent"
    )
    assert err == ""


def test_send_errors_are_one_line(ready: Settings) -> None:
    code, _, err = _run(ready, "weekly-en-1999-01-01")
    assert code == 1
    assert err.startswith("error: no edition 'weekly-en-1999-01-01' in the store")
    code, _, err = _run(ready, "weekly-en-1999-01-01", "--status")
    assert code == 1 and "no edition" in err
    code, _, err = _run(ready, EDITION, "--limit", "0")
    assert code == 2


def test_sigterm_finishes_the_message_in_flight(
    settings: Settings, store: Store, fixed_now: datetime
) -> None:
    save_edition(store, now=fixed_now)
    add_subscribers(store, 400, now=fixed_now)
    process = subprocess.Popen(
        cli_command("send", EDITION, "--config", str(settings.path)),
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while True:
        with store.read() as tx:
            sent = tx.ledger.counts(EDITION)[SendState.SENT]
        if sent >= 5 or process.poll() is not None or time.monotonic() > deadline:
            break
        time.sleep(0.005)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err.decode()
    assert "stopping after the message in flight" in err.decode()
    with store.read() as tx:
        counts = tx.ledger.counts(EDITION)
    # Nothing is left half-done: every row is sent or back in the queue.
    assert counts[SendState.SENDING] == 0
    assert counts[SendState.SENT] + counts[SendState.QUEUED] == 400
    assert 0 < counts[SendState.SENT] < 400
    assert f"{counts[SendState.SENT]} sent" in out.decode()
    assert f"{counts[SendState.QUEUED]} messages still to send" in err.decode()


def test_progress_bar_on_a_terminal(ready: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    import broadsheet.cli.send

    updates: list[dict[str, object]] = []
    monkeypatch.setattr(broadsheet.cli.send, "interactive", lambda: True)
    from rich.progress import Progress

    original = Progress.update

    def spy(self: Progress, task: object, **fields: object) -> None:
        updates.append(fields)
        original(self, task, **fields)  # type: ignore[arg-type]

    monkeypatch.setattr(Progress, "update", spy)
    code, out, _ = _run(ready, EDITION)
    assert code == 0 and out.startswith(f"{EDITION}: 12 sent")
    assert updates[0]["total"] == 12 and updates[-1]["completed"] == 12
    assert updates[-1]["sent"] == 12 and updates[-1]["failed"] == 0
