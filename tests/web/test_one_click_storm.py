"""A thousand one-click unsubscribes, valid and forged, against the real server."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from datetime import datetime

import httpx
import pytest

from broadsheet.config import Settings
from broadsheet.emails.edition import tokens
from broadsheet.model import SubscriberStatus
from broadsheet.store import Store
from tests.delivery.helpers import add_subscribers
from tests.web.conftest import SECRET, Web

BODY = b"List-Unsubscribe=One-Click"


def _forged(rng: random.Random, ids: list[int]) -> str:
    person = rng.choice(ids)
    good = tokens.sign(SECRET, "unsubscribe", person)
    payload, _, signature = good.rpartition(".")
    kind = rng.randrange(6)
    if kind == 0:  # one character of the signature changed
        at = rng.randrange(len(signature) - 1)
        swap = "x" if signature[at] != "x" else "y"
        return f"{payload}.{signature[:at]}{swap}{signature[at + 1 :]}"
    if kind == 1:  # another subscriber's id under this signature
        other = tokens.sign(SECRET, "unsubscribe", person + 1).split(".")[0]
        return f"{other}.{good.split('.', 1)[1]}"
    if kind == 2:
        return tokens.sign(SECRET, rng.choice(["confirm", "preferences"]), person)
    if kind == 3:
        return tokens.sign("another-secret", "unsubscribe", person)
    if kind == 4:
        return good[: rng.randrange(1, len(good) - 2)]
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789-_.") for _ in range(40))


@pytest.mark.slow
def test_a_thousand_one_click_posts(
    serve: Callable[..., Web], settings: Settings, store: Store, fixed_now: datetime
) -> None:
    rng = random.Random(8058)
    ids = add_subscribers(store, 400, now=fixed_now)
    web = serve(settings, store)
    owners = rng.sample(ids, 250)
    requests: list[tuple[str, int | None]] = []
    for person in owners:
        requests.append((tokens.sign(SECRET, "unsubscribe", person), person))
    # Some readers click twice (or their provider retries).
    for person in rng.sample(owners, 50):
        requests.append((tokens.sign(SECRET, "unsubscribe", person), person))
    while len(requests) < 1000:
        requests.append((_forged(rng, ids), None))
    rng.shuffle(requests)

    async def storm() -> list[int]:
        limit = asyncio.Semaphore(24)
        async with httpx.AsyncClient(base_url=web.url, timeout=60) as client:

            async def post(token: str) -> int:
                async with limit:
                    response = await client.post(
                        "/unsubscribe",
                        params={"token": token},
                        content=BODY,
                        headers={"content-type": "application/x-www-form-urlencoded"},
                    )
                    return response.status_code

            return await asyncio.gather(*(post(token) for token, _ in requests))

    codes = asyncio.run(storm())
    for (token, owner), code in zip(requests, codes, strict=True):
        assert code == (200 if owner is not None else 400), (token, owner, code)
    with store.read() as tx:
        gone = {s.id for s in tx.subscribers.listing(status=SubscriberStatus.UNSUBSCRIBED)}
        active = {s.id for s in tx.subscribers.listing(status=SubscriberStatus.ACTIVE)}
    assert gone == set(owners)
    assert active == set(ids) - set(owners)
