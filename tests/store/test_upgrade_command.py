"""``broadsheet upgrade`` and the refusal every other command gives an older or newer store.

Through the real command line (click's runner, as a user types it), on both
backends: a store made by the previous release stops ``status`` and ``feeds
build`` with one line naming ``broadsheet upgrade`` and no traceback;
``upgrade`` says what it did and, run again, that there was nothing to do.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import text

from broadsheet.cli import cli
from broadsheet.config import Settings
from broadsheet.store import Store, migrations
from tests.store import previous_release


@pytest.fixture(params=["sqlite", "postgresql"])
def any_settings(request: pytest.FixtureRequest) -> Settings:
    """The small publication's settings, its store on each backend in turn."""
    name = "settings" if request.param == "sqlite" else "pg_settings"
    return request.getfixturevalue(name)  # type: ignore[no-any-return]


def _run(settings: Settings, *args: str) -> Result:
    return CliRunner().invoke(cli, [*args, "--config", str(settings.path)])


def _where(settings: Settings) -> str:
    store = Store.open(settings.store.url, migrate=False)
    try:
        return store.where
    finally:
        store.close()


def test_a_previous_release_store_is_refused_until_upgraded(any_settings: Settings) -> None:
    previous_release.create_store(any_settings.store.url)
    previous_release.fill(any_settings.store.url)
    where, head = _where(any_settings), migrations.head()

    for command in (["status"], ["feeds", "build"]):
        refused = _run(any_settings, *command)
        assert refused.exit_code == 1, (refused.output, refused.exception)
        assert refused.output == (
            f"error: the store at {where} is at schema 1 (from an older broadsheet), "
            f"this broadsheet needs {head}: back it up and run 'broadsheet upgrade'\n"
        )
        assert "Traceback" not in refused.output

    done = _run(any_settings, "upgrade")
    assert done.exit_code == 0, done.output
    assert done.output == (
        f"upgraded the store at {where} from schema 1 (from an older broadsheet) to {head}\n"
    )
    again = _run(any_settings, "upgrade")
    assert again.exit_code == 0, again.output
    assert again.output == f"the store at {where} is at schema {head} already: nothing to do\n"

    status = _run(any_settings, "status")
    assert status.exit_code == 0, status.output
    assert "feeds" in status.output


def test_a_newer_store_is_refused_by_every_command(
    settings: Settings, open_store: Callable[[str], Store]
) -> None:
    with open_store(settings.store.url).write() as tx:
        tx.conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    for command in (["status"], ["upgrade"]):
        refused = _run(settings, *command)
        assert refused.exit_code == 1, refused.output
        assert refused.output.startswith(
            f"error: the store at {_where(settings)} is at schema 9999"
        )
        assert "upgrade broadsheet" in refused.output
        assert "Traceback" not in refused.output


def test_upgrade_creates_a_new_store(settings: Settings) -> None:
    done = _run(settings, "upgrade")
    assert done.exit_code == 0, done.output
    assert done.output == (
        f"created the store at {_where(settings)} at schema {migrations.head()}\n"
    )


def test_the_installed_command_refuses_an_old_store(settings: Settings) -> None:
    """The console script itself, in a process of its own: one line on stderr, status 1."""
    previous_release.create_store(settings.store.url)
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from broadsheet.cli import main; sys.exit(main())",
            "status",
            "--config",
            str(settings.path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 1
    assert run.stdout == ""
    assert run.stderr.splitlines() == [
        f"error: the store at {_where(settings)} is at schema 1 (from an older broadsheet), "
        f"this broadsheet needs {migrations.head()}: back it up and run 'broadsheet upgrade'"
    ]
