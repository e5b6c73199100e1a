"""When and what: selection, jobs, one scheduler tick, the long-running loop, locks.

The scheduler decides which articles go into an edition (pure functions in
:mod:`broadsheet.scheduler.selection`) and when jobs run; it calls only the
entry points that :mod:`broadsheet.feeds` and :mod:`broadsheet.emails` list in
``__all__``. A host application calls what is listed here:

    report = run_due(store, settings, now=now)      # every job due at `now`, once
    outcome = build_edition(store, settings, language="en", frequency="weekly", now=now)

The names are imported on first use, so a command that needs one module of
the scheduler (``feeds build`` records its run with :mod:`.manual`) does not
load the editions, the loop and every job's code.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from broadsheet.scheduler.editions import EditionOutcome, build_edition, build_editions
    from broadsheet.scheduler.jobs import EditionJob, FeedsJob, Job, jobs_from_settings
    from broadsheet.scheduler.loop import run_forever
    from broadsheet.scheduler.runner import RunReport, job_states, run_due
    from broadsheet.scheduler.selection import Selection, select, top_reads

_WHERE = {
    "EditionJob": "jobs",
    "EditionOutcome": "editions",
    "FeedsJob": "jobs",
    "Job": "jobs",
    "RunReport": "runner",
    "Selection": "selection",
    "build_edition": "editions",
    "build_editions": "editions",
    "job_states": "runner",
    "jobs_from_settings": "jobs",
    "run_due": "runner",
    "run_forever": "loop",
    "select": "selection",
    "top_reads": "selection",
}

__all__ = [
    "EditionJob",
    "EditionOutcome",
    "FeedsJob",
    "Job",
    "RunReport",
    "Selection",
    "build_edition",
    "build_editions",
    "job_states",
    "jobs_from_settings",
    "run_due",
    "run_forever",
    "select",
    "top_reads",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    """Import a public name's module when the name is first asked for."""
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
