"""Signed tokens: bound to one subscriber and one purpose; tampering is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from hypothesis import given
from hypothesis import strategies as st

from broadsheet.emails.edition.tokens import BadToken, sign, verify

SECRET = "a-secret-for-tests"
DAY = 86_400


def test_round_trip_gives_the_subscriber_back() -> None:
    token = sign(SECRET, "unsubscribe", 42)
    assert verify(SECRET, token, "unsubscribe", max_age=DAY) == 42


def test_token_is_url_safe() -> None:
    token = sign(SECRET, "preferences", 7)
    assert all(c.isalnum() or c in "-_." for c in token)


def test_other_purpose_is_refused() -> None:
    token = sign(SECRET, "confirm", 42)
    with pytest.raises(BadToken):
        verify(SECRET, token, "unsubscribe", max_age=DAY)


def test_other_secret_is_refused() -> None:
    token = sign("another-secret", "unsubscribe", 42)
    with pytest.raises(BadToken):
        verify(SECRET, token, "unsubscribe", max_age=DAY)


def test_tokens_differ_per_subscriber() -> None:
    assert sign(SECRET, "unsubscribe", 1) != sign(SECRET, "unsubscribe", 2)


@given(position=st.integers(min_value=0, max_value=200), char=st.sampled_from("AZaz09-_.="))
def test_any_altered_character_is_refused(position: int, char: str) -> None:
    token = sign(SECRET, "unsubscribe", 42)
    index = position % len(token)
    if token[index] == char:
        return
    altered = token[:index] + char + token[index + 1 :]
    with pytest.raises(BadToken):
        verify(SECRET, altered, "unsubscribe", max_age=DAY)


@given(subscriber=st.integers(min_value=0, max_value=2**53))
def test_any_subscriber_id_round_trips(subscriber: int) -> None:
    assert verify(SECRET, sign(SECRET, "preferences", subscriber), "preferences", DAY) == subscriber


def test_swapped_payload_is_refused() -> None:
    mine = sign(SECRET, "unsubscribe", 42).split(".")
    theirs = sign(SECRET, "unsubscribe", 43).split(".")
    forged = ".".join([theirs[0], mine[1], mine[2]])
    with pytest.raises(BadToken):
        verify(SECRET, forged, "unsubscribe", max_age=DAY)


@pytest.mark.parametrize("junk", ["", "abc", "a.b.c", "NDI.x.y", "💥", "1.2.3.4", "-1.a.b"])
def test_junk_is_refused(junk: str) -> None:
    with pytest.raises(BadToken):
        verify(SECRET, junk, "unsubscribe", max_age=DAY)


def test_expired_token_is_refused() -> None:
    start = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        token = sign(SECRET, "confirm", 5)
    with time_machine.travel(start + timedelta(hours=71), tick=False):
        assert verify(SECRET, token, "confirm", max_age=72 * 3600) == 5
    with time_machine.travel(start + timedelta(hours=73), tick=False), pytest.raises(BadToken):
        verify(SECRET, token, "confirm", max_age=72 * 3600)


def test_token_from_the_future_is_refused() -> None:
    start = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)
    with time_machine.travel(start + timedelta(hours=1), tick=False):
        token = sign(SECRET, "unsubscribe", 5)
    with time_machine.travel(start, tick=False), pytest.raises(BadToken):
        verify(SECRET, token, "unsubscribe", max_age=DAY)


def test_unknown_purpose_is_a_bug() -> None:
    with pytest.raises(ValueError):
        sign(SECRET, "delete-everything", 1)
