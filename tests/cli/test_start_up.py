"""Each command imports what it uses: what a real process has loaded when a command ends.

A no-op ``import`` and ``feeds build`` are mostly Python starting up, so the
libraries only some commands need (Babel's catalogs, the theme's jinja2,
rich, alembic, the PostgreSQL dialect, the scheduler's loop) stay unloaded
until a command asks for them. No timings here: the benchmark measures those
(bench/peers_bench.py); this checks which modules are loaded.
"""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

from broadsheet.config import Settings
from broadsheet.store import Store
from tests.delivery.helpers import cli_env

# Runs the command line in this process, then prints the modules it loaded.
_PROBE = """
import json, sys
from broadsheet.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}), file=sys.stderr)
"""

# Never needed by --help, an import or a feed build of a SQLite store off a terminal.
NOT_ON_THE_FAST_PATH = (
    "alembic",
    "babel",
    "jinja2",
    "rich",
    "sqlalchemy.orm",
    "sqlalchemy.dialects.postgresql",
    "broadsheet.config.theme",
    "broadsheet.scheduler.loop",
    "broadsheet.scheduler.runner",
)


def _loaded(*args: str, cwd: Path) -> set[str]:
    env = cli_env()
    env.pop("BROADSHEET_CONFIG", None)
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    report = json.loads(done.stderr.strip().splitlines()[-1])
    assert report["code"] in (0, None), done.stdout + done.stderr
    return set(report["modules"])


def _any_of(loaded: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(m for m in loaded if any(m == n or m.startswith(n + ".") for n in names))


def test_help_loads_neither_the_store_nor_the_settings(tmp_path: Path) -> None:
    loaded = _loaded("--help", cwd=tmp_path)
    assert not _any_of(loaded, (*NOT_ON_THE_FAST_PATH, "sqlalchemy", "email_validator"))
    assert "importlib.metadata" not in loaded  # the version is a constant


def test_import_and_feeds_build_load_only_what_they_use(
    settings: Settings, store: Store, tmp_path: Path
) -> None:
    content = tmp_path / "content"
    content.mkdir()
    config = str(settings.path)
    for args in (
        ("import", str(content), "--format", "md", "--config", config),
        ("feeds", "build", "--no-ping", "--config", config),
        ("feeds", "build", "--no-ping", "--config", config),  # nothing changed
    ):
        assert not _any_of(_loaded(*args, cwd=tmp_path), NOT_ON_THE_FAST_PATH), args


def test_version_is_the_installed_release(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", "from broadsheet.cli import main; main(['--version'])"],
        cwd=tmp_path,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"broadsheet, version {version('broadsheet')}\n"
