"""``[sender.LANG]``: the From name and List-Id's description in each edition's language."""

from __future__ import annotations

import dataclasses
import email
import email.policy
import re
import types
from collections.abc import Callable

import pytest

from broadsheet.config import LocalizedSender, Settings
from broadsheet.emails.edition.compose import PreparedEdition
from broadsheet.errors import ConfigError
from tests.emails.demo import SECRET, DemoEditions


def test_sender_names_per_language_are_read(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings('[sender.ru]\nname = "Тестовый еженедельник"\n')
    assert settings.sender_name("ru") == "Тестовый еженедельник"
    assert settings.sender_name("en") == "Test Weekly"


def test_postal_addresses_per_language_are_read(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings('[sender.ru]\npostal_address = "Москва, Тестовая ул., 1"\n')
    assert settings.postal_address("ru") == "Москва, Тестовая ул., 1"
    assert settings.postal_address("en") == settings.sender.postal_address != ""
    # A table with the address only keeps the sender's name.
    assert settings.sender_name("ru") == "Test Weekly"


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ('[sender.fr]\nname = "Hebdo"\n', "sender.fr: expected one of en, ru"),
        ("[sender.ru]\nnom = 'x'\n", "sender.ru.nom: unknown key"),
        ("[sender.ru]\nname = 1\n", "sender.ru.name: expected text, got an integer 1"),
        ("[sender.ru]\npostal_address = ['x']\n", "sender.ru.postal_address: expected text"),
    ],
)
def test_a_bad_sender_language_names_the_key(
    make_settings: Callable[..., Settings], extra: str, expected: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(expected)):
        make_settings(extra)


def test_each_edition_comes_from_the_name_in_its_language(demo_editions: DemoEditions) -> None:
    settings = dataclasses.replace(
        demo_editions.settings,
        sender_localized=types.MappingProxyType({"ru": LocalizedSender(name="Полынья")}),
    )
    names = {}
    for language in ("en", "ru"):
        prepared = PreparedEdition.from_record(
            demo_editions.record(language), settings, secret=SECRET
        )
        data = prepared.message(demo_editions.subscriber(language)).data
        message = email.message_from_bytes(data, policy=email.policy.default)
        names[language] = (
            message["From"].addresses[0].display_name,
            str(message["List-Id"]).rsplit(" <", 1)[0],
        )
    assert names["ru"] == ("Полынья", "Полынья")
    assert names["en"] == (settings.sender.name, settings.sender.name)
    assert settings.sender.name != "Полынья"
