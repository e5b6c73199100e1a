"""The settings: one frozen dataclass per table of ``broadsheet.toml``.

Every field carries its documentation, its default and, where a value can
be wrong in ways its type does not catch, a :data:`Check`. Every key has a
default documented in ``docs/configuration.md`` (a test keeps the two in
step). :mod:`broadsheet.config.loader` fills these classes from the file.
"""

from __future__ import annotations

import dataclasses
import os
import re
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from broadsheet.model import Frequency

if TYPE_CHECKING:
    from broadsheet.words import Words

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
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on a port out of range
    except ValueError as exc:
        return f"not a URL: {value!r} ({exc})"
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return f"expected an absolute http(s) URL, got {value!r}"
    if any(c.isspace() for c in parts.netloc):
        return f"a host name cannot hold a space: {value!r}"
    return None


def _canonical_url(value: str) -> str:
    from broadsheet.text import as_uri

    parts = urlsplit(as_uri(value))
    host = parts.netloc.rpartition("@")
    netloc = host[0] + host[1] + host[2].lower()
    return parts._replace(scheme=parts.scheme.lower(), netloc=netloc).geturl()


def _optional_http_url(value: str | None) -> str | None:
    return None if value is None else _http_url(value)


def _clock_time(value: str) -> str | None:
    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
        return f"expected a time as HH:MM (24-hour), got {value!r}"
    return None


def _from_to(low: int, high: int) -> Callable[[int], str | None]:
    """A check that a whole number lies in ``low``..``high``."""

    def check(value: int) -> str | None:
        if low <= value <= high:
            return None
        return f"expected a number from {low} to {high:,}, got {value!r}"

    return check


def _positive(value: int | float) -> str | None:
    return None if value > 0 else f"expected a number above 0, got {value!r}"


def _address(value: str | None) -> str | None:
    """An e-mail address as mail servers accept it in an envelope and a header."""
    if value is None:
        return None
    from email_validator import EmailNotValidError, validate_email

    try:
        validate_email(value, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        return f"{value!r} is not an e-mail address: {exc}"
    return None


def _not_negative(value: int | float | None) -> str | None:
    if value is None or value >= 0:
        return None
    return f"expected a number of 0 or more, got {value!r}"


_DURATION = re.compile(r"\s*(\d{1,6})\s*([smhd])\s*")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def duration_seconds(value: str) -> int:
    """Seconds in a checked duration such as ``3d`` or ``90m``."""
    found = _DURATION.fullmatch(value)
    if found is None:
        raise ValueError(f"not a duration: {value!r}")  # checked when loaded
    return int(found.group(1)) * _UNIT_SECONDS[found.group(2)]


def _duration(value: str) -> str | None:
    if _DURATION.fullmatch(value) is None:
        return "expected a number and a unit (s, m, h or d), e.g. '3d' or '12h'"
    return None


def _fraction(value: float) -> str | None:
    if not 0 < value <= 1:
        return "expected a share between 0 and 1 (0.003 is 0.3 %)"
    return None


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
    tags: Mapping[str, str] = _doc(
        "Tag name -> its name in this language, as readers see it.",
        types.MappingProxyType({}),
    )
    authors: Mapping[str, str] = _doc(
        "Author's name (as articles spell it) -> the name in this language, as readers see it.",
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
    static: Path | None = _doc(
        "Folder of published static files (images); `serve` answers site paths from it.", None
    )
    description: str = _doc("One line on what the publication is.", "")
    copyright: str | None = _doc("Copyright line for feeds; default: the title.", None)
    accent_color: str = _doc("Brand colour for newsletters and Feedly.", "#b3261e", _colour)
    localized: Mapping[str, LocalizedSite] = _doc(
        "Tables [site.localized.LANG]: title, description and section names per language.",
        types.MappingProxyType({}),
    )

    def __post_init__(self) -> None:
        # Written as a URI once: a host in IDNA and lower case, a path with
        # its spaces and non-ASCII letters escaped, as feeds and messages need.
        if _http_url(self.url) is None:
            object.__setattr__(self, "url", _canonical_url(self.url))

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
        """Host name of ``url`` (for Message-IDs and tag URIs); IDNA, as ``url`` is kept."""
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

    def tag_in(self, tag: str, language: str) -> str:
        """How readers of ``language`` see ``tag`` (``[site.localized.LANG.tags]``)."""
        local = self.localized.get(language)
        return local.tags.get(tag, tag) if local else tag

    def author_in(self, author: str, language: str) -> str:
        """How readers of ``language`` see ``author``'s name (``[site.localized.LANG.authors]``).

        Articles name an author one way (that name keeps the author's feed and
        its URL); each language may spell it its own way, as readers see it.
        """
        local = self.localized.get(language)
        return local.authors.get(author, author) if local else author

    def absolute(self, ref: str) -> str:
        """``ref`` made absolute against ``url`` (and written as a URI)."""
        from urllib.parse import urljoin

        from broadsheet.text import as_uri

        return as_uri(urljoin(self.url.rstrip("/") + "/", ref))


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
        "Largest article body accepted, in bytes of UTF-8; a JSON Lines line too long "
        "to hold such a record is rejected while reading, unparsed.",
        1_000_000,
        _positive,
    )
    max_file_bytes: int = _doc(
        "Largest Markdown file or feed (file or download) imported, in bytes; a larger "
        "one is rejected before it is parsed, a download aborted once past it.",
        20_000_000,
        _positive,
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
    precompress: bool = _doc(
        "Write a gzip copy (NAME.gz) beside every feed, for gzip_static.", False
    )


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
    top_reads_window_days: int = _doc(
        "Days of views that rank Top reads (up to 100 years).", 30, _from_to(1, 36_500)
    )
    read_also: int = _doc("Entries in the Read also block.", 3, _not_negative)
    skip_if_empty: bool = _doc("Skip the edition when nothing new was published.", True)
    local_time: bool = _doc(
        "Send at send_time in each reader's own time zone (readers without one: the "
        "site's), one edition per distinct UTC offset.",
        False,
    )
    grace_minutes: int = _doc(
        "An edition more than this late (the scheduler was down) is skipped (up to a year).",
        180,
        _from_to(0, 525_600),
    )
    subject: Mapping[str, str] = _doc(
        "Subject template per language; {title}, {date} and {lead} are filled in.",
        types.MappingProxyType({}),
    )


@dataclass(frozen=True)
class DonationVariant:
    """``[[donation.LANG.variants]]``: one wording of the appeal, compared with the others."""

    heading: str = _doc("Heading of this variant of the appeal.")
    text: str = _doc("This variant's appeal, one paragraph.")
    button_label: str = _doc("Label of this variant's button.")


@dataclass(frozen=True)
class DonationSettings:
    """``[donation.LANG]``: the appeal printed in every edition, and its donor-aware wordings.

    The ``thanks_*`` and ``renew_*`` texts default (``None``) to the catalogs'
    words in the language (``newsletter.donation_thanks_heading`` and so on).
    """

    heading: str = _doc("Heading of the donation block.")
    text: str = _doc("The appeal, one paragraph.")
    button_label: str = _doc("Label of the button.")
    url: str = _doc("Where the button leads.", check=_http_url)
    thanks_heading: str | None = _doc(
        "Heading shown instead of the appeal to a recurring or recent donor "
        "(default: the catalog's words).",
        None,
    )
    thanks_text: str | None = _doc(
        "Thank-you text shown to a recurring or recent donor (default: the catalog's words).",
        None,
    )
    renew_heading: str | None = _doc(
        "Heading shown to a one-off donor after [donation] thanks_days "
        "(default: the catalog's words).",
        None,
    )
    renew_text: str | None = _doc(
        "Text asking a one-off donor to give again (default: the catalog's words).", None
    )
    variants: tuple[DonationVariant, ...] = _doc(
        "Appeal variants ([[donation.LANG.variants]]: heading, text, button_label); readers "
        "who never gave are split evenly among them, each reader always getting the same one. "
        "None: everyone gets heading/text/button_label.",
        (),
    )


@dataclass(frozen=True)
class DonationOptions:
    """``[donation]``: keys for every language."""

    thanks_days: int = _doc(
        "Days a one-off donor is thanked after giving; after that they are asked to renew.",
        90,
        _from_to(0, 3660),
    )


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
    retry_for: str = _doc(
        "How long a temporary failure (4xx) is retried by later scheduler ticks after the "
        "immediate retries, as a number and a unit: '3d', '12h', '90m'.",
        "3d",
        _duration,
    )
    connections: int = _doc(
        "SMTP connections (or Maildir writers) per sending process, at most 12; "
        "`rate` is shared by all of them.",
        1,
        _from_to(1, 12),
    )


@dataclass(frozen=True)
class SenderSettings:
    """``[sender]``: who the newsletter is from."""

    name: str = _doc("Display name in From.")
    email: str = _doc("Address in From.", check=_address)
    postal_address: str = _doc("Publisher's postal address for the footer.", "")
    reply_to: str | None = _doc("Reply-To address.", None, _address)
    list_id: str | None = _doc("List-Id; default: 'newsletter.' + the site's domain.", None)
    unsubscribe_mailto: str | None = _doc(
        "mailto address for List-Unsubscribe; default: unsubscribe@ the sender's domain.",
        None,
        _address,
    )
    dkim_key: Path | None = _doc("PEM private key to sign messages with DKIM.", None)
    dkim_selector: str = _doc("DKIM selector.", "broadsheet")
    feedback_id: str | None = _doc(
        "Feedback-ID prefix; default: 'broadsheet:' + the site's domain.", None
    )


@dataclass(frozen=True)
class LocalizedSender:
    """``[sender.LANG]``: who the newsletter is from, in one language."""

    name: str | None = _doc(
        "Display name in From and List-Id's description in LANG; unset: `sender.name`.", None
    )
    postal_address: str | None = _doc(
        "The postal address in the footers of messages in LANG, written as readers of LANG "
        "read it; unset: `sender.postal_address`.",
        None,
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
    client_ipv6_prefix: int = _doc(
        "`broadsheet serve` limits subscription requests per IPv6 network of this prefix "
        "length: 64, one /64, what one household or host is given.",
        64,
        _from_to(1, 128),
    )
    client_ipv4_prefix: int = _doc("The same for IPv4: 32, each address.", 32, _from_to(1, 32))
    count_clicks: bool = _doc(
        "Send links in messages through `broadsheet serve` (/r/TOKEN) to count clicks per "
        "edition and link, never per reader; off: links go straight to their page.",
        False,
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
    text_utm: bool = _doc(
        "Put the UTM tags on the plain-text twin's links too; off: the text part shows each "
        "link as its page's plain address, as readers copy and share it (the HTML part's links "
        "keep their tags; with links.count_clicks on, both parts carry /r/ links and the "
        "redirect adds the tags).",
        False,
    )
    theme: Path | None = _doc(
        "Folder of templates extending the built-in ones block by block "
        "(docs/newsletters.md, Themes); relative to broadsheet.toml.",
        None,
    )
    clip_limit: int = _doc(
        "Largest personalised HTML part of an edition, in bytes; over it blocks are "
        "dropped (docs/newsletters.md, The clipping guard). Gmail clips past 102 KB.",
        100_000,
        _positive,
    )


@dataclass(frozen=True)
class InboundSettings:
    """``[inbound]``: what comes back (bounces, complaints, mailto unsubscribes)."""

    bounce_address: str | None = _doc(
        "Envelope sender of every message, made per message: 'bounces@example.org' gives "
        "'bounces+TOKEN@example.org'; unset: the sender's address, not per message.",
        None,
        _address,
    )
    mailbox: str | None = _doc(
        "What `broadsheet inbox` reads without an argument: a Maildir folder (relative to "
        "this file) or an IMAP URL (imap://user@host/INBOX, imaps://…).",
        None,
    )
    password_env: str = _doc(
        "Environment variable holding the IMAP password.", "BROADSHEET_IMAP_PASSWORD", _env_name
    )
    forward_to: str | None = _doc(
        "Where human replies are forwarded; unset: they are moved to the 'human' folder.",
        None,
        _address,
    )
    soft_bounce_limit: int = _doc(
        "Soft bounces within soft_bounce_days that suspend an address.", 3, _positive
    )
    soft_bounce_days: int = _doc("The window soft bounces are counted in.", 30, _positive)
    purge_unconfirmed_days: int = _doc(
        "Addresses never confirmed are erased after this many days (0: never).", 30, _not_negative
    )
    brake_bounce_rate: float = _doc(
        "Share of an edition's messages bouncing (hard) past which its sending pauses.",
        0.05,
        _fraction,
    )
    brake_complaint_rate: float = _doc(
        "Share of an edition's messages reported as spam past which its sending pauses.",
        0.003,
        _fraction,
    )
    brake_minimum: int = _doc(
        "Messages an edition must have sent before the brake may pause it.", 100, _positive
    )


@dataclass(frozen=True)
class SchedulerSettings:
    """``[scheduler]``: the jobs run by `broadsheet run` and `broadsheet schedule`."""

    feeds_every_minutes: int = _doc(
        "Rebuild the feeds this often (0: never; up to a year).", 15, _from_to(0, 525_600)
    )
    tick_seconds: int = _doc(
        "How often the long-running scheduler checks for due jobs (up to a day).",
        30,
        _from_to(1, 86_400),
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
    inbound: InboundSettings = field(default_factory=InboundSettings)
    labels: Mapping[str, Mapping[str, Mapping[str, str]]] = field(
        default_factory=lambda: types.MappingProxyType({})
    )
    """``[labels.LANG.GROUP]``: the publication's own words (see :mod:`broadsheet.words`)."""
    sender_localized: Mapping[str, LocalizedSender] = field(
        default_factory=lambda: types.MappingProxyType({})
    )
    """``[sender.LANG]``: the sender's name and postal address per language."""
    donation_options: DonationOptions = field(default_factory=DonationOptions)
    """``[donation]``: the keys that are not a language's table (``thanks_days``)."""

    def sender_name(self, language: str) -> str:
        """The From display name of messages in ``language`` (``[sender.LANG] name``)."""
        localized = self.sender_localized.get(language)
        return localized.name if localized is not None and localized.name else self.sender.name

    def postal_address(self, language: str) -> str:
        """The footer's postal address in ``language`` (``[sender.LANG] postal_address``)."""
        localized = self.sender_localized.get(language)
        if localized is not None and localized.postal_address is not None:
            return localized.postal_address
        return self.sender.postal_address

    @property
    def words(self) -> Words:
        """The words readers see: the catalogs, with this publication's ``labels`` over them."""
        from broadsheet.words import Words

        return Words.of(self.labels)

    @property
    def feeds_url(self) -> str:
        """Public URL of the feeds folder, without a trailing slash."""
        return (self.feeds.url or self.site.url.rstrip("/") + "/feeds").rstrip("/")

    @property
    def static_dir(self) -> Path | None:
        """``site.static`` resolved against the configuration's folder, if set.

        ``site.static`` itself stays as written: it serves files and makes
        none, so moving the folder must not change the feeds' build digest
        (which covers the site's settings).
        """
        static = self.site.static
        return None if static is None else self.root / static

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

    @property
    def retry_for_seconds(self) -> int:
        """``[delivery] retry_for`` in seconds."""
        return duration_seconds(self.delivery.retry_for)

    def imap_password(self) -> str | None:
        """The IMAP password from the environment, or ``None`` when unset."""
        return os.environ.get(self.inbound.password_env) or None

    def smtp_password(self) -> str | None:
        """The SMTP password from the environment, or ``None`` when unset."""
        return os.environ.get(self.delivery.smtp_password_env) or None
