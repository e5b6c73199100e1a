"""Fixtures of the email tests: the demo's editions, built once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.emails.demo import DemoEditions, build_demo


@pytest.fixture(scope="session")
def demo_editions(demo_store_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> DemoEditions:
    """This week's English and Russian editions of the demo (premailer)."""
    return build_demo(demo_store_dir, tmp_path_factory.mktemp("editions") / "polynya")


@pytest.fixture(scope="session")
def demo_editions_fast(
    demo_store_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> DemoEditions:
    """The same editions inlined by css-inline."""
    return build_demo(
        demo_store_dir, tmp_path_factory.mktemp("editions-fast") / "polynya", inliner="css-inline"
    )
