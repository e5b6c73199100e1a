"""The purge job: subscriptions never confirmed go after inbound.purge_unconfirmed_days."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from click.testing import CliRunner
from sqlalchemy import select

from broadsheet.cli import cli
from broadsheet.config import Settings
from broadsheet.model import EventKind, SubscriberEvent
from broadsheet.scheduler.actions import Action
from broadsheet.scheduler.purge import PURGE, purge_jobs
from broadsheet.scheduler.runner import job_states, run_due
from broadsheet.store import Store
from broadsheet.store.jobs import RunStatus
from broadsheet.store.schema import job_runs, subscriber_events, subscribers
from tests.scheduler.support import Recorder
from tests.store.test_privacy import _subscription


def _request(store: Store, email: str, *, at: datetime, status: str = "pending") -> int:
    sid = _subscription(store, email, now=at, status=status, changed=at)
    with store.write() as tx:
        tx.events.record(
            SubscriberEvent(
                email=email,
                kind=EventKind.REQUESTED,
                time=at,
                source="form",
                subscriber_id=sid,
                detail={"network": "192.0.2.0/24"},
            )
        )
    return sid


def _emails(store: Store) -> list[str]:
    with store.read() as tx:
        return sorted(set(tx.conn.execute(select(subscribers.c.email)).scalars()))


def test_the_job_is_there_only_when_something_is_old_enough(
    store: Store, settings: Settings, fixed_now: datetime
) -> None:
    with store.read() as tx:
        assert purge_jobs(tx, settings, fixed_now) == []
    _request(store, "late@mail.example", at=fixed_now - timedelta(days=10))
    with store.read() as tx:
        assert purge_jobs(tx, settings, fixed_now) == []
        (waiting,) = purge_jobs(tx, settings, fixed_now, waiting=True)
    assert waiting.next_slot(fixed_now) == fixed_now + timedelta(days=20)
    states = {s.job.name: s for s in job_states(store, settings, now=fixed_now)}
    assert states[PURGE].due is None
    with store.read() as tx:
        assert purge_jobs(tx, settings, fixed_now + timedelta(days=21))


def test_a_tick_purges_old_unconfirmed_subscriptions_and_records_counts_only(
    store: Store, settings: Settings, fixed_now: datetime
) -> None:
    old = fixed_now - timedelta(days=31)
    _request(store, "never@mail.example", at=old)
    _request(store, "recent@mail.example", at=fixed_now - timedelta(days=2))
    _request(store, "kept@mail.example", at=old, status="active")
    report = run_due(store, settings, now=fixed_now, jobs=None, actions=_real_purge_only())
    outcome = report.get(PURGE)
    assert outcome is not None and outcome.status is RunStatus.OK
    assert dict(outcome.counts) == {"subscriptions": 1, "addresses": 1, "events": 1}
    assert _emails(store) == ["kept@mail.example", "recent@mail.example"]
    with store.read() as tx:
        left = set(tx.conn.execute(select(subscriber_events.c.email)).scalars())
        runs = tx.conn.execute(select(job_runs)).all()
    assert left == {"kept@mail.example", "recent@mail.example"}
    assert runs and all("@" not in repr(tuple(run)) for run in runs)
    # Once a day at most: the same day's later ticks leave it.
    again = run_due(store, settings, now=fixed_now + timedelta(hours=1), actions=_real_purge_only())
    assert again.get(PURGE) is None


def test_zero_days_keeps_them(
    store: Store, make_settings: Callable[..., Settings], fixed_now: datetime
) -> None:
    settings = make_settings("[inbound]\npurge_unconfirmed_days = 0\n")
    _request(store, "never@mail.example", at=fixed_now - timedelta(days=400))
    with store.read() as tx:
        assert purge_jobs(tx, settings, fixed_now) == []


def test_broadsheet_run_purges(store: Store, settings: Settings, fixed_now: datetime) -> None:
    _request(store, "never@mail.example", at=fixed_now - timedelta(days=45))
    result = CliRunner().invoke(
        cli,
        ["run", "--at", fixed_now.isoformat(), "--config", str(settings.path)],
        env={"BROADSHEET_SECRET": "purge-secret"},
    )
    assert result.exit_code == 0, result.output
    assert _emails(store) == []


def _real_purge_only() -> dict[str, Action]:
    """The real purge action; counting stand-ins for every other kind of job."""
    from broadsheet.scheduler.actions import DEFAULT_ACTIONS

    actions = dict(Recorder().actions)
    actions["purge"] = DEFAULT_ACTIONS["purge"]
    return actions
