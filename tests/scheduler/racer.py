"""A scheduler in another process, for the tests of locks and races.

Started with the ``spawn`` method, so each child is a fresh interpreter
with its own connections and file descriptors, as a second
``broadsheet schedule`` on the same machine would be.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from broadsheet.config import load_settings
from broadsheet.scheduler.runner import run_due
from broadsheet.store import Store
from tests.scheduler.support import Recorder


def tick_at(config: str, log: str, nows: list[str], start: Any, delay: float) -> None:
    """Wait at the ``start`` barrier (when given), then run a tick for each of ``nows``.

    Every action call is appended to ``log``; each takes ``delay`` seconds,
    so the processes' runs overlap.
    """
    settings = load_settings(config)
    store = Store.open(settings.store.url)
    recorder = Recorder(log=Path(log), delay=delay)
    if start is not None:
        start.wait(120)  # every process is up: go together
    try:
        for now in nows:
            run_due(store, settings, now=datetime.fromisoformat(now), actions=recorder.actions)
    finally:
        store.close()
