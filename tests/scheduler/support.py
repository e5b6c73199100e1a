"""Helpers for the scheduler's tests: job actions that count their calls, ticks.

The real actions build feeds and send editions; these stand in for them
where a test is about *when* jobs run, so a simulated month takes seconds.
They run through the same runner, store, locks and records as the real ones.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from broadsheet.scheduler.actions import Action, ActionResult, JobContext


@dataclass(frozen=True)
class Call:
    """One call of a counting action."""

    job: str
    slot: datetime
    now: datetime


@dataclass
class Recorder:
    """Job actions that record every call (in memory, and in ``log`` when given).

    Attributes:
        log: a file each call is appended to as a JSON line, so that calls
            made by other processes can be counted too.
        delay: seconds each call takes (to make runs overlap).
        fail: job names whose action raises.
        on_call: called with each context before returning (to set a stop).
    """

    log: Path | None = None
    delay: float = 0.0
    fail: set[str] = field(default_factory=set)
    on_call: Callable[[JobContext], ActionResult | None] | None = None
    calls: list[Call] = field(default_factory=list)

    def __call__(self, ctx: JobContext) -> ActionResult:
        call = Call(ctx.job.name, ctx.slot, ctx.now)
        self.calls.append(call)
        if self.log is not None:
            line = json.dumps(
                {
                    "job": call.job,
                    "slot": call.slot.isoformat(),
                    "now": call.now.isoformat(),
                    "pid": os.getpid(),
                }
            )
            # O_APPEND writes of one short line are atomic between processes.
            fd = os.open(self.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, (line + "\n").encode())
            finally:
                os.close(fd)
        if self.delay:
            time.sleep(self.delay)
        if ctx.job.name in self.fail:
            raise RuntimeError(f"{ctx.job.name} broke on purpose")
        if self.on_call is not None:
            result = self.on_call(ctx)
            if result is not None:
                return result
        return ActionResult(counts={"calls": len(self.calls)})

    @property
    def actions(self) -> dict[str, Action]:
        """The recorder under both kinds of job."""
        return {"feeds": self, "edition": self}

    def per_job(self) -> Counter[str]:
        """How many times each job ran."""
        return Counter(call.job for call in self.calls)

    def slots(self, job: str) -> list[datetime]:
        """The slots ``job`` ran, in order."""
        return [call.slot for call in self.calls if call.job == job]


def logged_calls(path: Path) -> list[dict[str, object]]:
    """The calls appended to ``path`` by any process."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def ticks(start: datetime, end: datetime, every: timedelta) -> Iterator[datetime]:
    """``start``, ``start + every``, ... up to and including ``end``."""
    moment = start
    while moment <= end:
        yield moment
        moment += every


def wait_for(predicate: Callable[[], bool], timeout: float = 20.0, poll: float = 0.02) -> bool:
    """Poll ``predicate`` until it holds or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(poll)
    return predicate()


def stop_after_calls(count: int, stop: threading.Event) -> Callable[[JobContext], None]:
    """An ``on_call`` hook that sets ``stop`` once ``count`` calls were made."""
    made = 0

    def hook(_ctx: JobContext) -> None:
        nonlocal made
        made += 1
        if made >= count:
            stop.set()

    return hook
