"""Where the shipped templates and the demo publication are.

Both are package data inside ``broadsheet`` (in a source checkout,
``broadsheet/templates`` and ``broadsheet/examples`` link to the top-level
folders).
"""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent


def templates_dir() -> Path:
    """The folder holding ``emails/``, ``web/`` and the feed stylesheet."""
    return _HERE / "templates"


def example_dir(name: str = "polynya") -> Path:
    """A shipped example publication."""
    return _HERE / "examples" / name
