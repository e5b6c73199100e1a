"""A store that fails under a command is one line on stderr and an exit status.

Real failures, not mocks: SQLite on a tiny tmpfs filled to the brim (full
disk) or remounted read-only, PostgreSQL on a port nobody listens on, and
PostgreSQL backends terminated with ``pg_terminate_backend`` in the middle
of a ``send`` (see :mod:`tests.failing_stores`). Every command run here goes
through a real ``broadsheet`` process, so a traceback would show on its stderr.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from broadsheet.cli.common import EXIT_TEMPFAIL
from broadsheet.config import Settings
from broadsheet.errors import StoreError, StoreUnavailable
from broadsheet.store import Store
from tests.conftest import BASE_CONFIG, DEMO_NOW
from tests.delivery.helpers import add_subscribers, cli_command, cli_env, save_edition
from tests.failing_stores import database_cut_off, fill, read_only, tiny_tmpfs

EDITION = "weekly-en-2026-11-23"


def _run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cli_command(*args), env=cli_env(), capture_output=True, text=True, timeout=timeout
    )


def _one_line(result: subprocess.CompletedProcess[str], *words: str) -> str:
    """The command's stderr is a single ``error:`` line holding ``words``."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    for word in words:
        assert word in errors[0], errors[0]
    return errors[0]


def _subscribers_csv(path: Path, count: int) -> Path:
    rows = ["email,name,language,frequency,topics"]
    rows += [f"new{i}@example.org,New Reader {i},en,weekly," for i in range(count)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


# --- SQLite on a tiny file system ---------------------------------------------


@pytest.fixture
def tiny_fs(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs, unmounted after the test (skips where mounting is not allowed)."""
    with tiny_tmpfs(tmp_path / "tiny") as where:
        yield where


def _sqlite_publication(tmp_path: Path, folder: Path, *, subscribers: int) -> Path:
    """A publication in ``tmp_path`` whose SQLite store lives in ``folder``; its config."""
    from broadsheet.config import load_settings

    config = tmp_path / "broadsheet.toml"
    config.write_text(
        BASE_CONFIG.replace(
            'url = "sqlite:///broadsheet.db"', f'url = "sqlite:///{folder}/broadsheet.db"'
        ),
        encoding="utf-8",
    )
    store = Store.open(load_settings(config).store.url)
    try:
        save_edition(store, now=DEMO_NOW)
        add_subscribers(store, subscribers, now=DEMO_NOW)
    finally:
        store.close()
    return config


@pytest.mark.slow
def test_a_full_disk_stops_send_and_import_with_one_line(tiny_fs: Path, tmp_path: Path) -> None:
    config = _sqlite_publication(tmp_path, tiny_fs, subscribers=3000)
    csv = _subscribers_csv(tmp_path / "more.csv", 3000)
    fill(tiny_fs, leave=64 * 1024)

    sent = _run("send", EDITION, "--config", str(config))
    assert sent.returncode == 1
    _one_line(sent, "database or disk is full", "free some disk space", str(tiny_fs))

    imported = _run("subscribers", "import", str(csv), "--config", str(config))
    assert imported.returncode == 1
    _one_line(imported, "database or disk is full")

    # Space again: the same send goes through, nothing half-recorded in the way.
    (tiny_fs / "filler").unlink()
    again = _run("send", EDITION, "--config", str(config), "--dry-run")
    assert again.returncode == 0, again.stderr
    assert "3000 would send" in again.stdout


def test_a_read_only_store_is_one_line_in_every_command(tiny_fs: Path, tmp_path: Path) -> None:
    config = _sqlite_publication(tmp_path, tiny_fs, subscribers=20)
    csv = _subscribers_csv(tmp_path / "more.csv", 5)
    with read_only(tiny_fs):
        for args in (
            ("send", EDITION),
            ("subscribers", "import", str(csv)),
            ("subscribers", "add", "someone@example.org"),
            ("subscribers", "list"),
            ("status",),
        ):
            done = _run(*args, "--config", str(config))
            assert done.returncode == 1, (args, done.stdout, done.stderr)
            _one_line(done, "the store", "sqlite:///")


# --- PostgreSQL gone ---------------------------------------------------------------


@pytest.mark.slow
def test_an_unreachable_postgresql_is_one_line_and_exit_75(tmp_path: Path) -> None:
    from tests.delivery.helpers import free_port

    url = f"postgresql://postgres@127.0.0.1:{free_port()}/test?connect_timeout=2"
    config = tmp_path / "broadsheet.toml"
    config.write_text(
        BASE_CONFIG.replace('url = "sqlite:///broadsheet.db"', f'url = "{url}"'), encoding="utf-8"
    )
    csv = _subscribers_csv(tmp_path / "more.csv", 5)
    views = tmp_path / "views.csv"
    views.write_text("article,date,views\nsome-piece,2026-11-20,5\n", encoding="utf-8")
    articles = tmp_path / "content"
    articles.mkdir()
    (articles / "a.md").write_text(
        "---\ntitle: A\nlanguage: en\npublished: 2026-11-20T09:00:00+03:00\n---\nText.\n",
        encoding="utf-8",
    )
    for args in (
        ("send", EDITION),
        ("subscribers", "import", str(csv)),
        ("subscribers", "add", "someone@example.org"),
        ("subscribers", "list"),
        ("import", str(articles)),
        ("views", "import", str(views)),
        ("feeds", "build"),
        ("edition", "build", "--language", "en", "--frequency", "weekly"),
        ("run",),
        ("status",),
        ("upgrade",),
        ("serve", "--port", str(free_port())),
    ):
        done = _run(*args, "--config", str(config))
        assert done.returncode == EXIT_TEMPFAIL, (args, done.stderr)
        line = _one_line(done, "cannot open the store postgresql://", "Connection refused")
        assert "database server is running" in line


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_postgresql_terminated_mid_send_is_one_line(
    make_settings: Callable[..., Settings], pg_url: str, workers: int
) -> None:
    base = BASE_CONFIG.replace('url = "sqlite:///broadsheet.db"', f'url = "{pg_url}"')
    # Slow enough to be caught in the middle: 50 messages a second.
    settings = make_settings("[delivery]\nrate = 50\n", base=base)
    store = Store.open(settings.store.url)
    try:
        save_edition(store, now=DEMO_NOW)
        add_subscribers(store, 400, now=DEMO_NOW)
    finally:
        store.close()
    process = subprocess.Popen(
        cli_command("send", EDITION, "--config", str(settings.path), "--workers", str(workers)),
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        outbox = settings.delivery.maildir / "new"
        deadline = time.monotonic() + 60
        while not (outbox.is_dir() and len(os.listdir(outbox)) >= 20):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the send did not start"
            time.sleep(0.05)
        # The server refuses this database while the send notices.
        with database_cut_off(pg_url) as ended:
            assert ended >= 1
            out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    result = subprocess.CompletedProcess(process.args, process.returncode, out, err)
    assert "Traceback" not in err, err
    assert process.returncode == EXIT_TEMPFAIL, (out, err)
    _one_line(result, "store", pg_url.rsplit("@", 1)[1].split("/")[0])
    # What was recorded before the loss is kept: a second run finishes the job.
    again = _run("send", EDITION, "--config", str(settings.path))
    assert again.returncode == 0, again.stderr
    sent_now = int(again.stdout.split(": ", 1)[1].split(" sent")[0])
    already = int(again.stdout.split(" already sent")[0].rsplit(", ", 1)[1])
    assert sent_now + already == 400
    assert len(os.listdir(outbox)) >= 400


# --- the store's own API ---------------------------------------------------------------


def test_store_failures_are_store_errors(pg_url: str) -> None:
    store = Store.open(pg_url)
    try:
        store.check()
        with database_cut_off(pg_url), pytest.raises(StoreUnavailable, match="postgresql://"):
            store.check()
        store.check()  # the pool recovers by itself once the server is back
    finally:
        store.close()


def test_a_lock_whose_session_was_lost_is_released_with_a_warning(
    pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    from broadsheet.store.locks import AdvisoryLock

    store = Store.open(pg_url)
    try:
        lock = AdvisoryLock(store.engine, (1, 2))
        assert lock.acquire()
        with database_cut_off(pg_url):
            lock.release()  # the server ended the session, and the lock with it
        assert not lock.held
        assert "could not release the advisory lock" in caplog.text
    finally:
        store.close()


def test_a_constraint_is_not_a_store_failure(store: Store) -> None:
    """IntegrityError and bugs keep their type: only the database's failures are wrapped."""
    from sqlalchemy.exc import IntegrityError

    from broadsheet.store.schema import meta

    with pytest.raises(IntegrityError), store.write() as tx:
        tx.conn.execute(meta.insert(), [{"key": "k", "value": "1"}, {"key": "k", "value": "2"}])
    assert not issubclass(IntegrityError, StoreError)
