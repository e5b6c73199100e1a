"""broadsheet.toml: defaults, validation that names file and key, paths, secrets."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from broadsheet.config import Settings, documented_keys, load_settings
from broadsheet.errors import ConfigError
from broadsheet.model import Frequency
from broadsheet.resources import example_dir
from tests.conftest import BASE_CONFIG, REPO


def test_demo_config_loads_with_its_values() -> None:
    settings = load_settings(example_dir() / "broadsheet.toml")
    assert settings.site.languages == ("en", "ru")
    assert settings.site.tz.key == "Europe/Moscow"
    assert settings.site.title_in("ru") == "Полынья"
    assert settings.newsletters[Frequency.WEEKLY].weekday == "monday"
    assert set(settings.donation) == {"en", "ru"}


def test_defaults_apply_where_the_file_is_silent(settings: Settings) -> None:
    assert settings.feeds.items == 50
    assert settings.feeds.sets == ("site", "language", "section", "tag", "author")
    assert settings.delivery.transport == "maildir"
    assert settings.newsletters[Frequency.DAILY].send_time == "07:00"
    assert settings.newsletters[Frequency.WEEKLY].send_time == "08:00"
    assert settings.feeds_url == "https://news.example/feeds"
    assert settings.links_url == "https://news.example/newsletter"
    assert settings.list_id == "newsletter.news.example"


def test_relative_paths_resolve_beside_the_file(settings: Settings, tmp_path: Path) -> None:
    assert settings.store.url == f"sqlite:///{tmp_path / 'broadsheet.db'}"
    assert settings.delivery.maildir == tmp_path / "outbox"
    assert settings.feeds.out == tmp_path / "public" / "feeds"


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("[feeds]\nitems = 'ten'\n", "feeds.items: expected an integer, got text 'ten'"),
        ("[feeds]\nitemz = 3\n", "feeds.itemz: unknown key"),
        ("[feeds]\nitems = 0\n", "feeds.items: expected a number above 0, got 0"),
        ("[feeds]\nsets = ['site', 'planet']\n", "feeds.sets[1]: expected one of"),
        ("[feeds]\nhub = 'ftp://hub'\n", "feeds.hub: expected an absolute http(s) URL"),
        ("[delivery]\ntransport = 'pigeon'\n", "delivery.transport: expected one of 'maildir', 'smtp'"),
        ("[delivery]\nrate = true\n", "delivery.rate: expected a number, got a boolean True"),
        ("[newsletters.daily]\nsend_time = '7am'\n", "newsletters.daily.send_time: expected a time"),
        ("[newsletters.hourly]\nsend_time = '07:00'\n", "newsletters.hourly: expected one of daily, weekly"),
        ("[newsletters.weekly]\nweekday = 'funday'\n", "newsletters.weekly.weekday: expected one of"),
        ("[donation.de]\nheading='h'\ntext='t'\nbutton_label='b'\nurl='https://x.example/'\n",
         "donation.de: expected one of en, ru"),
        ("[links]\nsecret_env = 'not a name'\n", "links.secret_env: expected an environment variable"),
        ("[planets]\nx = 1\n", "planets: unknown table"),
        ("[emails]\ninliner = 'magic'\n", "emails.inliner: expected one of 'premailer', 'css-inline'"),
        ("[scheduler]\ntick_seconds = 99999999999999\n", "scheduler.tick_seconds: expected a number from 1 to 86,400"),
        ("[newsletters.daily]\ntop_reads_window_days = 1000000\n", "newsletters.daily.top_reads_window_days: expected a number from 1 to 36,500"),
    ],
)  # fmt: skip
def test_a_bad_key_is_named_with_the_file(
    make_settings: Callable[..., Settings], tmp_path: Path, extra: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        make_settings(extra)
    message = str(caught.value)
    assert f"{tmp_path / 'broadsheet.toml'}: {expected}" in message


def test_every_problem_is_reported_together(make_settings: Callable[..., Settings]) -> None:
    with pytest.raises(ConfigError) as caught:
        make_settings(
            "[feeds]\nitems = 'ten'\nformats = ['rss', 'gopher']\n[scheduler]\ntick = 1\n"
        )
    assert len(caught.value.problems) == 3


@pytest.mark.parametrize(
    ("replace", "expected"),
    [
        ('timezone = "Europe/Moscow"', "site.timezone: unknown time zone 'Mars/Olympus'"),
        ('languages = ["en", "ru"]', "site.languages[1]: expected a language code"),
        ('url = "https://news.example"', "site.url: expected an absolute http(s) URL"),
        ('title = "Test Weekly"\n', "site.title: missing (required)"),
        ('url = "sqlite:///broadsheet.db"', "store.url: expected sqlite:/// or postgresql://"),
    ],
)
def test_site_and_store_checks(
    make_settings: Callable[..., Settings], replace: str, expected: str
) -> None:
    substitutes = {
        'timezone = "Europe/Moscow"': 'timezone = "Mars/Olympus"',
        'languages = ["en", "ru"]': 'languages = ["en", "Russian!"]',
        'url = "https://news.example"': 'url = "news.example"',
        'title = "Test Weekly"\n': "",
        'url = "sqlite:///broadsheet.db"': 'url = "mysql://root@localhost/x"',
    }
    base = BASE_CONFIG.replace(replace, substitutes[replace], 1)
    with pytest.raises(ConfigError, match=re.escape(expected)):
        make_settings(base=base)


def test_not_toml_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "broadsheet.toml"
    bad.write_text("[site\ntitle = 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"broadsheet.toml: not valid TOML"):
        load_settings(bad)
    with pytest.raises(ConfigError, match=r"nowhere.toml: file not found"):
        load_settings(tmp_path / "nowhere.toml")


def test_secrets_come_from_the_named_environment_variables(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(
        "[links]\nsecret_env = 'MY_SECRET'\n[delivery]\nsmtp_password_env = 'MY_SMTP'\n"
    )
    monkeypatch.delenv("MY_SECRET", raising=False)
    assert settings.secret() is None
    monkeypatch.setenv("MY_SECRET", "s3cret")
    monkeypatch.setenv("MY_SMTP", "hunter2")
    assert settings.secret() == "s3cret"
    assert settings.smtp_password() == "hunter2"


def test_every_key_is_documented() -> None:
    reference = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    missing = [key for key in documented_keys() if f"`{key}`" not in reference]
    assert not missing, f"docs/configuration.md lacks {missing}"


def test_section_names_per_language(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings('[site.localized.ru.sections]\n"Economy" = "Экономика"\n')
    assert settings.site.section_in("Economy", "ru") == "Экономика"
    assert settings.site.section_in("Economy", "en") == "Economy"
    assert settings.site.section_in("Society", "ru") == "Society"


def test_sender_addresses_are_checked(make_settings: Callable[..., Settings]) -> None:
    from tests.conftest import BASE_CONFIG

    base = BASE_CONFIG.replace('email = "letters@news.example"', 'email = "not-an-email"')
    assert base != BASE_CONFIG
    with pytest.raises(ConfigError) as caught:
        make_settings('reply_to = "also wrong"\n', base=base)
    problems = "\n".join(caught.value.problems)
    assert "sender.email: 'not-an-email' is not an e-mail address" in problems
    assert "sender.reply_to: 'also wrong' is not an e-mail address" in problems


def test_a_bad_site_does_not_also_blame_the_donation_tables(
    make_settings: Callable[..., Settings],
) -> None:
    from tests.conftest import BASE_CONFIG

    base = BASE_CONFIG.replace('languages = ["en", "ru"]', 'languages = "en"')
    assert base != BASE_CONFIG
    with pytest.raises(ConfigError) as caught:
        make_settings(base=base)
    assert [p for p in caught.value.problems if p.startswith("site.languages")]
    assert not [p for p in caught.value.problems if p.startswith("donation")]


@pytest.mark.parametrize(
    ("replace", "substitute", "expected"),
    [
        ('timezone = "Europe/Moscow"', 'timezone = "Europe"', "site.timezone: unknown time zone 'Europe'"),
        ('url = "https://news.example"', 'url = "https://[::1"', "site.url: not a URL: 'https://[::1'"),
        ('url = "https://news.example"', 'url = "https://news.example:99999"', "site.url: not a URL"),
        ('url = "https://news.example"', 'url = "https://a b.example"', "site.url: a host name cannot hold a space"),
    ],
)  # fmt: skip
def test_values_that_used_to_raise_are_named(
    make_settings: Callable[..., Settings], replace: str, substitute: str, expected: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(expected)):
        make_settings(base=BASE_CONFIG.replace(replace, substitute, 1))


def test_the_site_url_is_kept_as_a_canonical_uri(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(
        base=BASE_CONFIG.replace(
            'url = "https://news.example"', 'url = "https://Журнал.рф/Our Mag"', 1
        )
    )
    assert settings.site.url == "https://xn--80alqgor.xn--p1ai/Our%20Mag"
    assert settings.site.domain == "xn--80alqgor.xn--p1ai"
