"""The command line as people type it: options where they put them, output they can read."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from broadsheet.cli import cli
from broadsheet.config import Settings
from broadsheet.store import Store

AT = "2026-11-23T08:00:00+03:00"


@pytest.mark.parametrize(
    "args",
    [
        ["--config", "{config}", "status", "--at", AT],
        ["status", "--config", "{config}", "--at", AT],
        ["-v", "--config", "{config}", "status", "--at", AT],
    ],
)
def test_config_before_or_after_the_command(
    settings: Settings, store: Store, args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BROADSHEET_CONFIG", raising=False)
    argv = [a.replace("{config}", str(settings.path)) for a in args]
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 0, result.output
    assert "Test Weekly: jobs at" in result.stdout


def test_config_after_the_command_wins_and_env_is_the_fallback(
    settings: Settings, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "elsewhere.toml"
    runner = CliRunner()
    result = runner.invoke(
        cli, ["--config", str(missing), "status", "--config", str(settings.path), "--at", AT]
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["--config", str(missing), "status", "--at", AT])
    assert result.exit_code == 1 and "elsewhere.toml" in result.stderr
    monkeypatch.setenv("BROADSHEET_CONFIG", str(settings.path))
    result = runner.invoke(cli, ["status", "--at", AT])
    assert result.exit_code == 0, result.output
    assert "Test Weekly: jobs at" in result.stdout


def test_help_names_config_on_the_group_and_the_command(fixed_now: datetime) -> None:
    runner = CliRunner()
    assert "--config" in runner.invoke(cli, ["--help"]).stdout
    assert "--config" in runner.invoke(cli, ["status", "--help"]).stdout
