"""Where the shipped templates and the demo publication are.

Installed, they are package data inside ``broadsheet``; in a source checkout
they are the top-level ``templates/`` and ``examples/`` folders.
"""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent


def _find(name: str) -> Path:
    installed = _HERE / name
    if installed.is_dir():
        return installed
    return _HERE.parent / name


def templates_dir() -> Path:
    """The folder holding ``emails/``, ``web/`` and the feed stylesheet."""
    return _find("templates")


def example_dir(name: str = "riddle") -> Path:
    """A shipped example publication."""
    return _find("examples") / name
