"""Store fixtures: every store a test opens is closed before its database is dropped."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from broadsheet.store import Store


@pytest.fixture
def open_store() -> Iterator[Callable[[str], Store]]:
    opened: list[Store] = []

    def open_(url: str) -> Store:
        store = Store.open(url)
        opened.append(store)
        return store

    yield open_
    for store in opened:
        store.close()


@pytest.fixture
def any_store(any_store_url: str, open_store: Callable[[str], Store]) -> Store:
    return open_store(any_store_url)
