"""The envelope sender of each message names its edition and subscriber."""

from __future__ import annotations

import mailbox
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from broadsheet.config import Settings
from broadsheet.emails import send_edition, send_test
from broadsheet.emails.edition import returnpath
from broadsheet.emails.edition.returnpath import ReturnPaths, edition_digest, token_in, verify
from broadsheet.errors import ConfigError
from broadsheet.store import Store
from tests.delivery.helpers import SmtpServer, add_subscribers, save_edition, smtp_config

SECRET = "s3cret-for-tests"
BOUNCES = 'bounce_address = "bounces@news.example"'


@pytest.fixture
def paths(make_settings: Callable[..., Settings]) -> ReturnPaths:
    return ReturnPaths(make_settings(f"[inbound]\n{BOUNCES}\n"), SECRET)


def test_token_round_trip_and_case(paths: ReturnPaths) -> None:
    for subscriber_id in (0, 1, 127, 128, 2_000_000, 2**63 - 1):
        token = paths.token(subscriber_id, "weekly-en-2026-11-23")
        assert token == token.lower() and len(token) <= returnpath.MAX_TOKEN
        for spelling in (token, token.upper()):
            found = verify(SECRET, spelling)
            assert found is not None
            assert found.subscriber_id == subscriber_id
            assert found.edition_digest == edition_digest("weekly-en-2026-11-23")
        sender = paths.sender(subscriber_id, "weekly-en-2026-11-23")
        assert len(sender.partition("@")[0]) <= 64
        assert token_in(sender.upper(), "bounces@news.example") == token


def test_forged_and_altered_tokens_are_refused(paths: ReturnPaths) -> None:
    token = paths.token(42, "weekly-en-2026-11-23")
    assert verify("another secret", token) is None
    for index in range(len(token)):
        other = "a" if token[index] != "a" else "b"
        altered = token[:index] + other + token[index + 1 :]
        assert verify(SECRET, altered) is None, altered
    for junk in ("", "x", "!!!!", token + "a", token[:-1], "0" * 30, "é" * 10):
        assert verify(SECRET, junk) is None
    assert token_in("bounces+abc@other.example", "bounces@news.example") is None
    assert token_in("bounces@news.example", "bounces@news.example") is None
    assert token_in("<Bounces+ABC@News.Example>", "bounces@news.example") == "abc"


def test_a_long_bounce_local_part_is_a_config_error(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(f'[inbound]\nbounce_address = "{"b" * 27}@news.example"\n')
    with pytest.raises(ConfigError, match="inbound.bounce_address"):
        ReturnPaths(settings, SECRET)
    ReturnPaths(make_settings(f'[inbound]\nbounce_address = "{"b" * 26}@news.example"\n'), SECRET)


def test_smtp_mail_from_names_the_ledger_row(
    make_settings: Callable[..., Settings], smtp_server: SmtpServer, fixed_now: datetime
) -> None:
    settings = make_settings(smtp_config(smtp_server.port) + f"\n[inbound]\n{BOUNCES}\n")
    store = Store.open(settings.store.url)
    try:
        ids = add_subscribers(store, 3, now=fixed_now)
        edition = save_edition(store, now=fixed_now)
        send_edition(store, settings, edition.id, now=fixed_now, transport="smtp")
        secret = store.link_secret(settings.secret(), env_name=settings.links.secret_env)
        with store.read() as tx:
            by_email = {s.email: s.id for s in tx.subscribers.listing()}
    finally:
        store.close()
    received = smtp_server.handler.received
    assert len(received) == 3
    for message in received:
        token = token_in(message.sender, "bounces@news.example")
        assert token is not None, message.sender
        found = verify(secret, token)
        assert found is not None
        assert found.subscriber_id == by_email[message.recipients[0]]
        assert found.edition_digest == edition_digest(edition.id)
    assert len({m.sender for m in received}) == len(ids)


def test_maildir_return_path_and_test_sends(
    make_settings: Callable[..., Settings], tmp_path: Path, fixed_now: datetime
) -> None:
    settings = make_settings(f"[inbound]\n{BOUNCES}\n")
    store = Store.open(settings.store.url)
    try:
        add_subscribers(store, 2, now=fixed_now)
        edition = save_edition(store, now=fixed_now)
        send_edition(store, settings, edition.id, now=fixed_now, transport="maildir")
        send_test(store, settings, edition.id, to=["editor@example.org"], now=fixed_now)
    finally:
        store.close()
    box = mailbox.Maildir(settings.delivery.maildir, create=False)
    paths = {str(m["Delivered-To"]): str(m["Return-Path"]) for m in box}
    assert paths.pop("editor@example.org") == "<bounces@news.example>"
    assert len(paths) == 2
    for value in paths.values():
        assert token_in(value, "bounces@news.example")


def test_without_bounce_address_the_sender_is_the_envelope(
    make_settings: Callable[..., Settings], fixed_now: datetime
) -> None:
    settings = make_settings()
    paths = ReturnPaths(settings, SECRET)
    assert paths.sender(5, "weekly-en-2026-11-23") == "letters@news.example"
