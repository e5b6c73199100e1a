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


def test_subscribers_list_shows_whole_addresses_at_any_width(
    settings: Settings, store: Store, fixed_now: datetime
) -> None:
    from tests.delivery.helpers import add_subscribers

    long_prefix = "a-rather-long-local-part-of-an-address-for-the-listing"
    add_subscribers(store, 3, now=fixed_now, prefix=long_prefix)
    for columns in ("40", "80", "200"):
        result = CliRunner(env={"COLUMNS": columns}).invoke(
            cli, ["subscribers", "list", "--config", str(settings.path)]
        )
        assert result.exit_code == 0, result.output
        lines = result.stdout.splitlines()
        for i in range(3):
            address = f"{long_prefix}{i}@example.org"
            assert any(address in line for line in lines), (columns, result.stdout)
        assert "…" not in result.stdout
        assert result.stdout.rstrip().endswith("3 subscribers")


def test_subscribers_table_only_when_every_address_fits() -> None:
    """A table where the addresses fit whole; otherwise none (plain lines instead)."""
    from rich.console import Console

    from broadsheet.cli.subscribers import subscriber_table

    address = "someone-with-a-very-long-address@newsroom.example.org"
    row = (address, "Someone Else", "en", "weekly", "Economy", "active")
    assert subscriber_table([row], 80) is None
    table = subscriber_table([row], 120)
    assert table is not None
    wide = Console(width=120, force_terminal=True, color_system=None)
    with wide.capture() as captured:
        wide.print(table)
    assert "…" not in captured.get()
    assert any(address in line for line in captured.get().splitlines())


def test_send_status_counts_skips_per_reason(
    settings: Settings, store: Store, fixed_now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.delivery.helpers import add_subscribers, save_edition

    monkeypatch.setenv("BROADSHEET_SECRET", "cli-secret")
    edition = save_edition(store, now=fixed_now).id
    add_subscribers(store, 4, now=fixed_now)
    add_subscribers(store, 2, now=fixed_now, topics=("Society",), prefix="soc")
    config = ["--config", str(settings.path)]
    runner = CliRunner()
    assert runner.invoke(cli, ["send", edition, "--limit", "1", *config]).exit_code == 0
    # reader3 (not yet sent) leaves before the send is finished.
    assert (
        runner.invoke(cli, ["subscribers", "remove", "reader3@example.org", *config]).exit_code == 0
    )
    assert runner.invoke(cli, ["send", edition, *config]).exit_code == 0
    result = runner.invoke(cli, ["send", "--status", edition, *config])
    assert result.exit_code == 0, result.output
    rows = {
        line.split("│")[1].strip(): line.split("│")[2].strip()
        for line in result.stdout.splitlines()
        if line.count("│") == 3
    }
    assert rows["skipped"] == "3"
    assert rows["topics not in this edition"] == "2"
    assert rows["subscriber no longer active"] == "1"
    assert "skipped because" in result.stdout


def test_config_before_the_command_in_a_real_process(settings: Settings, store: Store) -> None:
    import subprocess

    from tests.delivery.helpers import cli_command, cli_env

    env = cli_env(COLUMNS="200")
    env.pop("BROADSHEET_CONFIG", None)
    done = subprocess.run(
        cli_command("--config", str(settings.path), "status", "--at", AT),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Test Weekly: jobs at" in done.stdout
