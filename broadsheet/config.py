"""Configuration: ``broadsheet.toml`` read once into frozen, typed settings.

Every key has a default documented in ``docs/configuration.md`` (a test keeps
the two in step). Loading collects every problem in the file and raises one
:class:`~broadsheet.errors.ConfigError` listing them all, each naming the key:
``feeds.items: expected an integer, got 'ten'``. Relative paths are resolved
against the folder that holds the file, so a publication can be moved as a
whole.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from broadsheet.errors import ConfigError
from broadsheet.model import Frequency

DEFAULT_CONFIG = "broadsheet.toml"

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

Check = Callable[[Any], str | None]
"""A value check: returns what is wrong, or ``None`` when the value is fine."""


def _doc(text: str, default: Any = dataclasses.MISSING, check: Check | None = None) -> Any:
    """A dataclass field carrying its documentation and an optional check."""
    meta = {"doc": text, "check": check}
    if isinstance(default, list | dict):
        raise TypeError("use an immutable default")
    if isinstance(default, types.MappingProxyType):
        return field(default_factory=lambda: types.MappingProxyType({}), metadata=meta)
    return field(default=default, metadata=meta)


def _http_url(value: str) -> str | None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return f"expected an absolute http(s) URL, got {value!r}"
    return None


def _optional_http_url(value: str | None) -> str | None:
    return None if value is None else _http_url(value)


def _clock_time(value: str) -> str | None:
    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
        return f"expected a time as HH:MM (24-hour), got {value!r}"
    return None


def _positive(value: int | float) -> str | None:
    return None if value > 0 else f"expected a number above 0, got {value!r}"


def _not_negative(value: int | float | None) -> str | None:
    if value is None or value >= 0:
        return None
    return f"expected a number of 0 or more, got {value!r}"


def _colour(value: str | None) -> str | None:
    if value is None or re.fullmatch(r"#?[0-9A-Fa-f]{6}", value):
        return None
    return f"expected a colour as six hex digits like '#b3261e', got {value!r}"


def _env_name(value: str) -> str | None:
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
        return None
    return f"expected an environment variable name, got {value!r}"


@dataclass(frozen=True)
class LocalizedSite:
    """Per-language overrides of the site's title and description."""

    title: str | None = _doc("Site title in this language.", None)
    description: str | None = _doc("Site description in this language.", None)
    sections: Mapping[str, str] = _doc(
        "Section name -> its name in this language, as readers see it.",
        types.MappingProxyType({}),
    )


@dataclass(frozen=True)
class SiteSettings:
    """``[site]``: the publication itself."""

    title: str = _doc("Publication name, shown in feeds and newsletters.")
    url: str = _doc("Home page, absolute; every relative URL resolves against it.", check=_http_url)
    languages: tuple[str, ...] = _doc("Language codes, the first being the default.", ("en",))
    timezone: str = _doc("IANA time zone for naive times and for display.", "UTC")
    article_url: str = _doc(
        "Pattern of article URLs; {site_url}, {language} and {id} are filled in.",
        "{site_url}/{language}/{id}/",
    )
    logo: str | None = _doc("Logo image, relative to site.url or absolute.", None)
    icon: str | None = _doc("Square icon (favicon), relative to site.url or absolute.", None)
    description: str = _doc("One line on what the publication is.", "")
    copyright: str | None = _doc("Copyright line for feeds; default: the title.", None)
    accent_color: str = _doc("Brand colour for newsletters and Feedly.", "#b3261e", _colour)
    localized: Mapping[str, LocalizedSite] = _doc(
        "Tables [site.localized.LANG]: title, description and section names per language.",
        types.MappingProxyType({}),
    )

    @property
    def tz(self) -> ZoneInfo:
        """The site's time zone."""
        return ZoneInfo(self.timezone)

    @property
    def default_language(self) -> str:
        """The first configured language."""
        return self.languages[0]

    @property
    def domain(self) -> str:
        """Host name of ``url`` (for Message-IDs and tag URIs)."""
        return urlsplit(self.url).hostname or "localhost"

    def title_in(self, language: str) -> str:
        """Site title in ``language``, falling back to ``title``."""
        local = self.localized.get(language)
        return local.title if local and local.title else self.title

    def description_in(self, language: str) -> str:
        """Site description in ``language``, falling back to ``description``."""
        local = self.localized.get(language)
        return local.description if local and local.description else self.description

    def section_in(self, section: str, language: str) -> str:
        """How readers of ``language`` see ``section`` (its own name unless translated).

        Sections keep one name across languages, so a subscriber's topics
        match articles in either; ``[site.localized.LANG.sections]`` gives
        the name shown in each language.
        """
        local = self.localized.get(language)
        return local.sections.get(section, section) if local else section

    def absolute(self, ref: str) -> str:
        """``ref`` made absolute against ``url``."""
        from urllib.parse import urljoin

        return urljoin(self.url.rstrip("/") + "/", ref)


@dataclass(frozen=True)
class StoreSettings:
    """``[store]``: where articles, subscribers and the send ledger live."""

    url: str = _doc(
        "SQLAlchemy URL; a relative sqlite path is beside the config file.",
        "sqlite:///broadsheet.db",
    )


@dataclass(frozen=True)
class ContentSettings:
    """``[content]``: limits applied on import."""

    max_body_bytes: int = _doc(
        "Largest article body accepted, in bytes of UTF-8.", 1_000_000, _positive
    )


FEED_SETS = ("site", "language", "section", "tag", "author")
FEED_FORMATS = ("rss", "atom", "json")


@dataclass(frozen=True)
class FeedSettings:
    """``[feeds]``: which feeds are built and where they go."""

    out: Path = _doc("Folder the feeds are written to.", Path("public/feeds"))
    url: str | None = _doc(
        "Public URL of that folder; default: site.url + '/feeds'.", None, _optional_http_url
    )
    items: int = _doc("Entries in each current feed document.", 50, _positive)
    archive_size: int = _doc("Entries in each RFC 5005 archive document.", 50, _positive)
    sets: tuple[Literal["site", "language", "section", "tag", "author"], ...] = _doc(
        "Feed sets to build.", FEED_SETS
    )
    formats: tuple[Literal["rss", "atom", "json"], ...] = _doc(
        "Formats written for every feed.", FEED_FORMATS
    )
    hub: str | None = _doc("WebSub hub pinged when a feed changes.", None, _optional_http_url)
    stylesheet: bool = _doc("Reference an XSL stylesheet from RSS and Atom.", True)


@dataclass(frozen=True)
class NewsletterSettings:
    """``[newsletters.daily]`` and ``[newsletters.weekly]``."""

    send_time: str = _doc("Local time (site.timezone) of the edition.", "07:00", _clock_time)
    weekday: Literal[
        "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"
    ] = _doc("Day of the weekly edition.", "monday")
    enabled: bool = _doc("Whether the scheduler builds and sends this edition.", True)
    max_articles: int = _doc("Most new articles in one edition.", 12, _positive)
    top_reads: int = _doc("Entries in the Top reads block.", 5, _not_negative)
    top_reads_window_days: int = _doc("Days of views that rank Top reads.", 30, _positive)
    read_also: int = _doc("Entries in the Read also block.", 3, _not_negative)
    skip_if_empty: bool = _doc("Skip the edition when nothing new was published.", True)
    grace_minutes: int = _doc(
        "An edition more than this late (the scheduler was down) is skipped.", 180, _not_negative
    )
    subject: Mapping[str, str] = _doc(
        "Subject template per language; {title}, {date} and {lead} are filled in.",
        types.MappingProxyType({}),
    )


@dataclass(frozen=True)
class DonationSettings:
    """``[donation.LANG]``: the appeal printed in every edition."""

    heading: str = _doc("Heading of the donation block.")
    text: str = _doc("The appeal, one paragraph.")
    button_label: str = _doc("Label of the button.")
    url: str = _doc("Where the button leads.", check=_http_url)


@dataclass(frozen=True)
class DeliverySettings:
    """``[delivery]``: how messages leave."""

    transport: Literal["maildir", "smtp"] = _doc("Default transport.", "maildir")
    maildir: Path = _doc("Maildir folder for the maildir transport.", Path("outbox"))
    smtp_host: str = _doc("SMTP server.", "localhost")
    smtp_port: int = _doc("SMTP port.", 587, _positive)
    smtp_tls: Literal["starttls", "ssl", "none"] = _doc("Transport security.", "starttls")
    smtp_user: str | None = _doc("SMTP AUTH user; no AUTH when unset.", None)
    smtp_password_env: str = _doc(
        "Environment variable holding the SMTP password.", "BROADSHEET_SMTP_PASSWORD", _env_name
    )
    smtp_timeout: float = _doc("Seconds to wait for the SMTP server.", 30.0, _positive)
    rate: float | None = _doc("Most messages per second; unset means no limit.", None, _positive)
    retries: int = _doc("Retries of a temporary (4xx) failure before giving up.", 5, _not_negative)
    backoff_seconds: float = _doc("First retry delay, doubled each time.", 1.0, _not_negative)
    batch_size: int = _doc("Ledger rows a sender claims at a time.", 200, _positive)
    claim_timeout_seconds: int = _doc(
        "A claimed batch not finished in this time is reclaimed.", 600, _positive
    )
    workers: int = _doc("Sending processes started by `broadsheet send`.", 1, _positive)


@dataclass(frozen=True)
class SenderSettings:
    """``[sender]``: who the newsletter is from."""

    name: str = _doc("Display name in From.")
    email: str = _doc("Address in From.")
    postal_address: str = _doc("Publisher's postal address for the footer.", "")
    reply_to: str | None = _doc("Reply-To address.", None)
    list_id: str | None = _doc("List-Id; default: 'newsletter.' + the site's domain.", None)
    unsubscribe_mailto: str | None = _doc(
        "mailto address for List-Unsubscribe; default: unsubscribe@ the sender's domain.", None
    )
    dkim_key: Path | None = _doc("PEM private key to sign messages with DKIM.", None)
    dkim_selector: str = _doc("DKIM selector.", "broadsheet")
    feedback_id: str | None = _doc(
        "Feedback-ID prefix; default: 'broadsheet:' + the site's domain.", None
    )


@dataclass(frozen=True)
class LinkSettings:
    """``[links]``: the personal links in every message."""

    base_url: str | None = _doc(
        "Where `broadsheet serve` is reachable; default: site.url + '/newsletter'.",
        None,
        _optional_http_url,
    )
    secret_env: str = _doc(
        "Environment variable holding the link-signing secret.", "BROADSHEET_SECRET", _env_name
    )
    confirm_max_age_hours: int = _doc("How long a confirmation link works.", 72, _positive)
    unsubscribe_max_age_days: int = _doc(
        "How long unsubscribe and preferences links work.", 400, _positive
    )


@dataclass(frozen=True)
class EmailSettings:
    """``[emails]``: how editions are rendered."""

    out: Path = _doc(
        "Folder editions (HTML, text, web copy) are written to.", Path("public/editions")
    )
    inliner: Literal["premailer", "css-inline"] = _doc("CSS inliner backend.", "premailer")
    utm_source: str = _doc("utm_source on article links; empty turns UTM off.", "newsletter")
    utm_medium: str = _doc("utm_medium on article links.", "email")
    utm_campaign: str = _doc("utm_campaign; {edition} is the edition id.", "{edition}")


@dataclass(frozen=True)
class SchedulerSettings:
    """``[scheduler]``: the jobs run by `broadsheet run` and `broadsheet schedule`."""

    feeds_every_minutes: int = _doc("Rebuild the feeds this often (0: never).", 15, _not_negative)
    tick_seconds: int = _doc(
        "How often the long-running scheduler checks for due jobs.", 30, _positive
    )
    lock_file: Path = _doc(
        "Base name of the per-job lock files used with a SQLite store "
        "(broadsheet.lock gives broadsheet.feeds.lock, broadsheet.edition-weekly-en.lock, ...).",
        Path("broadsheet.lock"),
    )


@dataclass(frozen=True)
class Settings:
    """Everything in one ``broadsheet.toml``.

    Attributes:
        path: the file the settings came from.
        root: its folder; relative paths in the file are resolved against it.
    """

    path: Path
    root: Path
    site: SiteSettings
    store: StoreSettings
    content: ContentSettings
    feeds: FeedSettings
    newsletters: Mapping[Frequency, NewsletterSettings]
    donation: Mapping[str, DonationSettings]
    delivery: DeliverySettings
    sender: SenderSettings
    links: LinkSettings
    emails: EmailSettings
    scheduler: SchedulerSettings

    @property
    def feeds_url(self) -> str:
        """Public URL of the feeds folder, without a trailing slash."""
        return (self.feeds.url or self.site.url.rstrip("/") + "/feeds").rstrip("/")

    @property
    def links_url(self) -> str:
        """Public URL of `broadsheet serve`, without a trailing slash."""
        return (self.links.base_url or self.site.url.rstrip("/") + "/newsletter").rstrip("/")

    @property
    def list_id(self) -> str:
        """The List-Id identifier (without angle brackets)."""
        return self.sender.list_id or f"newsletter.{self.site.domain}"

    def secret(self) -> str | None:
        """The link-signing secret from the environment, or ``None`` when unset."""
        return os.environ.get(self.links.secret_env) or None

    def smtp_password(self) -> str | None:
        """The SMTP password from the environment, or ``None`` when unset."""
        return os.environ.get(self.delivery.smtp_password_env) or None


# --- loading -----------------------------------------------------------------


def _type_name(value: object) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "text"}
    for kind, name in names.items():
        if type(value) is kind:
            return f"{name} {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


def _convert(value: Any, hint: Any, key: str, problems: list[str]) -> Any:
    """``value`` checked against the type ``hint``; a problem is recorded on mismatch."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        inner = [a for a in args if a is not type(None)]
        return _convert(value, inner[0], key, problems)
    if origin is Literal:
        if value in args:
            return value
        choices = ", ".join(repr(a) for a in args)
        problems.append(f"{key}: expected one of {choices}, got {value!r}")
        return None
    if origin is tuple:
        if not isinstance(value, list):
            problems.append(f"{key}: expected a list, got {_type_name(value)}")
            return None
        items = [_convert(v, args[0], f"{key}[{i}]", problems) for i, v in enumerate(value)]
        return tuple(items)
    if origin is Mapping:
        if not isinstance(value, dict):
            problems.append(f"{key}: expected a table, got {_type_name(value)}")
            return None
        return types.MappingProxyType(
            {str(k): _convert(v, args[1], f"{key}.{k}", problems) for k, v in value.items()}
        )
    if hint is Path:
        if isinstance(value, str) and value:
            return Path(value)
        problems.append(f"{key}: expected a path, got {_type_name(value)}")
        return None
    if hint is bool:
        if isinstance(value, bool):
            return value
        problems.append(f"{key}: expected true or false, got {_type_name(value)}")
        return None
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        problems.append(f"{key}: expected an integer, got {_type_name(value)}")
        return None
    if hint is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        problems.append(f"{key}: expected a number, got {_type_name(value)}")
        return None
    if hint is str:
        if isinstance(value, str):
            return value
        problems.append(f"{key}: expected text, got {_type_name(value)}")
        return None
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            problems.append(f"{key}: expected a table, got {_type_name(value)}")
            return None
        return _table(hint, value, key, problems)
    raise TypeError(f"unsupported config type {hint!r}")  # a bug in this module


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _table(cls: type[Any], data: Mapping[str, Any], prefix: str, problems: list[str]) -> Any:
    """Build the dataclass ``cls`` from a TOML table, recording every problem."""
    hints = _hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in data:
        if key not in fields:
            known = ", ".join(sorted(fields))
            problems.append(f"{prefix}.{key}: unknown key (known keys: {known})")
    values: dict[str, Any] = {}
    complete = True
    for name, spec in fields.items():
        key = f"{prefix}.{name}"
        if name in data:
            before = len(problems)
            value = _convert(data[name], hints[name], key, problems)
            check = spec.metadata.get("check")
            if len(problems) == before and check is not None and value is not None:
                if isinstance(value, tuple):
                    wrong = next((w for w in map(check, value) if w), None)
                else:
                    wrong = check(value)
                if wrong:
                    problems.append(f"{key}: {wrong}")
            if len(problems) != before:
                complete = False
                continue
            values[name] = value
        elif spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
            problems.append(f"{key}: missing (required)")
            complete = False
    return cls(**values) if complete else None


def _dynamic(
    cls: type[Any],
    data: Any,
    prefix: str,
    allowed: tuple[str, ...],
    problems: list[str],
) -> dict[str, Any]:
    """Tables keyed by a name from ``allowed`` (``[donation.en]``, ``[newsletters.daily]``)."""
    out: dict[str, Any] = {}
    if not isinstance(data, dict):
        problems.append(f"{prefix}: expected a table, got {_type_name(data)}")
        return out
    for name, table in data.items():
        key = f"{prefix}.{name}"
        if name not in allowed:
            problems.append(f"{key}: expected one of {', '.join(allowed)}")
            continue
        if not isinstance(table, dict):
            problems.append(f"{key}: expected a table, got {_type_name(table)}")
            continue
        built = _table(cls, table, key, problems)
        if built is not None:
            out[name] = built
    return out


_SECTIONS: dict[str, type[Any]] = {
    "site": SiteSettings,
    "store": StoreSettings,
    "content": ContentSettings,
    "feeds": FeedSettings,
    "delivery": DeliverySettings,
    "sender": SenderSettings,
    "links": LinkSettings,
    "emails": EmailSettings,
    "scheduler": SchedulerSettings,
}

_DEFAULT_NEWSLETTERS = {
    Frequency.DAILY: NewsletterSettings(send_time="07:00"),
    Frequency.WEEKLY: NewsletterSettings(send_time="08:00"),
}


def _check_site(site: SiteSettings, problems: list[str]) -> None:
    try:
        ZoneInfo(site.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(f"site.timezone: unknown time zone {site.timezone!r}")
    if not site.languages:
        problems.append("site.languages: expected at least one language")
    for i, code in enumerate(site.languages):
        if not re.fullmatch(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*", code):
            problems.append(
                f"site.languages[{i}]: expected a language code like 'en', got {code!r}"
            )
    if len(set(site.languages)) != len(site.languages):
        problems.append("site.languages: a language is listed twice")
    for code in site.localized:
        if code not in site.languages:
            problems.append(f"site.localized.{code}: language not in site.languages")
    try:
        site.article_url.format(site_url="", language="", id="")
    except (KeyError, IndexError, ValueError) as exc:
        problems.append(
            f"site.article_url: only {{site_url}}, {{language}} and {{id}} may be used ({exc})"
        )


def _check_store_url(url: str, problems: list[str]) -> None:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        problems.append(f"store.url: not a database URL: {url!r}")
        return
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        problems.append(f"store.url: expected sqlite:/// or postgresql://, got {url!r}")


def _resolve(root: Path, path: Path) -> Path:
    return path if path.is_absolute() else root / path


def load_settings(path: str | os.PathLike[str] = DEFAULT_CONFIG) -> Settings:
    """Read and validate a ``broadsheet.toml``.

    Args:
        path: the configuration file.

    Returns:
        Frozen settings with every relative path made absolute.

    Raises:
        ConfigError: listing every problem in the file, each naming its key.
    """
    file = Path(path)
    shown = str(path)
    try:
        raw = file.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            shown, ["file not found (run `broadsheet init DIR` or pass --config PATH)"]
        ) from None
    except OSError as exc:
        raise ConfigError(shown, [f"cannot read: {exc.strerror}"]) from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(shown, [f"not valid UTF-8 at byte {exc.start}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(shown, [f"not valid TOML: {exc}"]) from None
    return settings_from_mapping(data, file)


def settings_from_mapping(data: Mapping[str, Any], file: Path) -> Settings:
    """Validate already-parsed TOML ``data`` as if it came from ``file``."""
    problems: list[str] = []
    known = {*_SECTIONS, "newsletters", "donation"}
    for key in data:
        if key not in known:
            problems.append(f"{key}: unknown table (known: {', '.join(sorted(known))})")
    built: dict[str, Any] = {}
    for name, cls in _SECTIONS.items():
        table = data.get(name, {})
        if not isinstance(table, dict):
            problems.append(f"{name}: expected a table, got {_type_name(table)}")
            continue
        built[name] = _table(cls, table, name, problems)
    newsletters = dict(_DEFAULT_NEWSLETTERS)
    if "newsletters" in data:
        given = _dynamic(
            NewsletterSettings, data["newsletters"], "newsletters", tuple(Frequency), problems
        )
        # A frequency left out of the file keeps its default send time.
        newsletters.update({Frequency(k): v for k, v in given.items()})
    donation = _dynamic(
        DonationSettings,
        data.get("donation", {}),
        "donation",
        tuple(built["site"].languages) if built.get("site") else (),
        problems,
    )
    site = built.get("site")
    if site is not None:
        _check_site(site, problems)
        for frequency, letter in newsletters.items():
            for code in letter.subject:
                if code not in site.languages:
                    problems.append(
                        f"newsletters.{frequency}.subject.{code}: language not in site.languages"
                    )
    if built.get("store") is not None:
        _check_store_url(built["store"].url, problems)
    if problems:
        raise ConfigError(str(file), problems)
    root = file.resolve().parent
    store = built["store"]
    if store.url.startswith("sqlite:///") and not store.url.startswith("sqlite:////"):
        relative = store.url.removeprefix("sqlite:///")
        if relative and relative != ":memory:":
            store = StoreSettings(url=f"sqlite:///{_resolve(root, Path(relative))}")
    feeds = dataclasses.replace(built["feeds"], out=_resolve(root, built["feeds"].out))
    delivery = dataclasses.replace(
        built["delivery"], maildir=_resolve(root, built["delivery"].maildir)
    )
    sender = built["sender"]
    if sender.dkim_key is not None:
        sender = dataclasses.replace(sender, dkim_key=_resolve(root, sender.dkim_key))
    emails = dataclasses.replace(built["emails"], out=_resolve(root, built["emails"].out))
    scheduler = dataclasses.replace(
        built["scheduler"], lock_file=_resolve(root, built["scheduler"].lock_file)
    )
    return Settings(
        path=file.resolve(),
        root=root,
        site=built["site"],
        store=store,
        content=built["content"],
        feeds=feeds,
        newsletters=types.MappingProxyType(newsletters),
        donation=types.MappingProxyType(donation),
        delivery=delivery,
        sender=sender,
        links=built["links"],
        emails=emails,
        scheduler=scheduler,
    )


def documented_keys() -> list[str]:
    """Every configuration key as ``table.key``, for the reference and its test."""
    keys: list[str] = []
    for name, cls in _SECTIONS.items():
        keys.extend(f"{name}.{f.name}" for f in dataclasses.fields(cls))
    keys.extend(f"newsletters.FREQUENCY.{f.name}" for f in dataclasses.fields(NewsletterSettings))
    keys.extend(f"donation.LANG.{f.name}" for f in dataclasses.fields(DonationSettings))
    return keys
