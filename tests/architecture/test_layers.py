"""The import-linter contracts in pyproject.toml hold, and they catch a wrong import.

The second test copies the package, adds one import each contract forbids, and
runs ``lint-imports`` on the copy: a contract that cannot fail is no contract.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT = Path(sys.executable).with_name("lint-imports")

pytestmark = pytest.mark.skipif(
    not LINT.exists(), reason="lint-imports is not installed (pip install '.[test]')"
)


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT), "--no-cache", "--config", str(root / "pyproject.toml")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_contracts_hold() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not [row for row in result.stdout.splitlines() if " BROKEN" in row], result.stdout


# Each case adds imports that break the named contracts (a core module importing
# upwards also breaks the layers that reach it indirectly).
CASES = {
    "core": ([("model.py", "import broadsheet.emails")], ["The core imports none"]),
    "layers": ([("feeds/model.py", "import broadsheet.emails")], ["Faces on top"]),
    "scheduler": (
        [("scheduler/jobs.py", "import broadsheet.emails.delivery.smtp")],
        ["The scheduler calls only the entry points"],
    ),
    "rooms": (
        [("emails/edition/mime.py", "import broadsheet.emails.delivery")],
        ["The rooms of emails"],
    ),
    # Third-party confinement looks at direct imports only, so these
    # break one contract each and can share one copy.
    "libraries": (
        [
            ("feeds/entries.py", "import sqlalchemy"),
            ("scheduler/jobs.py", "import click"),
            ("emails/edition/render.py", "import starlette"),
            ("feeds/jsonfeed.py", "import feedgen"),
            ("emails/edition/mime.py", "import premailer"),
            ("emails/inbound/policy.py", "import flufl.bounce"),
            ("cli/report_page.py", "import matplotlib"),
        ],
        [
            "SQLAlchemy and alembic only in the store",
            "click and rich only in the command line",
            "starlette and uvicorn only",
            "feedgen only in broadsheet.feeds.fg",
            "premailer and css-inline only",
            "flufl.bounce only in broadsheet.emails.inbound.detect",
            "matplotlib only in broadsheet.cli.charts",
        ],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_wrong_import_breaks_its_contract(tmp_path: Path, case: str) -> None:
    lines, contracts = CASES[case]
    shutil.copytree(
        ROOT / "broadsheet",
        tmp_path / "broadsheet",
        symlinks=False,
        ignore=shutil.ignore_patterns("__pycache__", "templates", "examples", "locale"),
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    for module, line in lines:
        target = tmp_path / "broadsheet" / module
        target.write_text(target.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")
    result = _lint(tmp_path)
    assert result.returncode != 0, result.stdout
    broken = [row for row in result.stdout.splitlines() if " BROKEN" in row]
    for contract in contracts:
        assert any(row.startswith(contract) for row in broken), result.stdout
