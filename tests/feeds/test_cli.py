"""``broadsheet feeds build`` and ``broadsheet feeds links`` on the demo publication."""

from __future__ import annotations

import json

from click.testing import CliRunner

from broadsheet.cli import cli
from broadsheet.config import Settings


def test_build_then_links(demo_settings: Settings) -> None:
    runner = CliRunner()
    config = str(demo_settings.path)
    at = "2026-11-23T08:00:00+03:00"
    result = runner.invoke(cli, ["feeds", "build", "--config", config, "--at", at])
    assert result.exit_code == 0, result.output
    assert "http://localhost:8080/feeds/all.atom" in result.output
    assert str(demo_settings.feeds.out) in result.output
    index = json.loads((demo_settings.feeds.out / "index.json").read_text())
    assert index["feeds"]
    again = runner.invoke(cli, ["feeds", "build", "--config", config, "--at", at])
    assert again.exit_code == 0 and " 0 written" in again.output

    links = runner.invoke(cli, ["feeds", "links", "--config", config, "--set", "site"])
    assert links.exit_code == 0, links.output
    assert links.output.splitlines()[0] == (
        '<link rel="alternate" type="application/rss+xml" title="Polynya" '
        'href="http://localhost:8080/feeds/all.rss">'
    )
    ru = runner.invoke(
        cli, ["feeds", "links", "--config", config, "--language", "ru", "--set", "language"]
    )
    assert ru.exit_code == 0
    assert all('hreflang="ru"' in line for line in ru.output.splitlines())
    assert "http://localhost:8080/feeds/ru.atom" in ru.output
    section = runner.invoke(
        cli,
        ["feeds", "links", "--config", config, "--set", "section", "--name", "Economy",
         "--language", "en"],
    )  # fmt: skip
    assert "http://localhost:8080/feeds/en/section/economy.json" in section.output
    assert "http://localhost:8080/feeds/section/economy.json" in section.output


def test_links_before_any_build_says_what_to_do(demo_settings: Settings) -> None:
    result = CliRunner().invoke(cli, ["feeds", "links", "--config", str(demo_settings.path)])
    assert result.exit_code == 1
    assert "run 'broadsheet feeds build' first" in result.output


def test_build_into_another_folder(demo_settings: Settings, tmp_path: object) -> None:
    out = str(tmp_path) + "/elsewhere"
    result = CliRunner().invoke(
        cli, ["feeds", "build", "--config", str(demo_settings.path), "--out", out, "--no-ping"]
    )
    assert result.exit_code == 0, result.output
    assert (demo_settings.feeds.out / "index.json").exists() is False
