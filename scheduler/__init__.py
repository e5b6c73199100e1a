"""When and what: selection, jobs, one scheduler tick, the long-running loop, locks.

The scheduler decides which articles go into an edition (pure functions in
:mod:`broadsheet.scheduler.selection`) and when jobs run; it calls only the
entry points that :mod:`broadsheet.feeds` and :mod:`broadsheet.emails` list in
``__all__``. A host application calls what is listed here:

    report = run_due(store, settings, now=now)      # every job due at `now`, once
    outcome = build_edition(store, settings, language="en", frequency="weekly", now=now)
"""

from broadsheet.scheduler.editions import EditionOutcome, build_edition, build_editions
from broadsheet.scheduler.jobs import EditionJob, FeedsJob, Job, jobs_from_settings
from broadsheet.scheduler.loop import run_forever
from broadsheet.scheduler.runner import RunReport, job_states, run_due
from broadsheet.scheduler.selection import Selection, select, top_reads

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
