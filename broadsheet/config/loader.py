"""Loading ``broadsheet.toml``: read the TOML, check and convert every value, build the settings.

Loading collects every problem in the file and raises one
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
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from broadsheet.config.settings import (
    ContentSettings,
    DeliverySettings,
    DonationOptions,
    DonationSettings,
    DonationVariant,
    EmailSettings,
    FeedSettings,
    InboundSettings,
    LinkSettings,
    LocalizedSender,
    NewsletterSettings,
    SchedulerSettings,
    SenderSettings,
    Settings,
    SiteSettings,
    StoreSettings,
)
from broadsheet.errors import ConfigError
from broadsheet.model import Frequency

if TYPE_CHECKING:
    # Imported where used: the words' catalogs (Babel) and the theme's
    # templates (jinja2) are needed only by a file that sets labels or a theme.
    from broadsheet import words

DEFAULT_CONFIG = "broadsheet.toml"


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


def _donation(
    data: Any, site: SiteSettings | None, problems: list[str]
) -> tuple[dict[str, DonationSettings], DonationOptions]:
    """``[donation]``: its own keys (``thanks_days``) beside one table per language.

    A key naming an option is read as one; any other key must be a language
    of ``site.languages`` holding a table (checked once ``[site]`` is valid).
    """
    if not isinstance(data, dict):
        problems.append(f"donation: expected a table, got {_type_name(data)}")
        return {}, DonationOptions()
    names = {f.name for f in dataclasses.fields(DonationOptions)}
    own = {key: value for key, value in data.items() if key in names}
    options = _table(DonationOptions, own, "donation", problems) or DonationOptions()
    tables = {key: value for key, value in data.items() if key not in names}
    if site is None:
        return {}, options
    languages = tuple(site.languages)
    for key, value in list(tables.items()):
        if key not in languages and not isinstance(value, dict):
            problems.append(
                f"donation.{key}: unknown key (known keys: {', '.join(sorted(names))}, "
                f"and one table per language: {', '.join(languages)})"
            )
            del tables[key]
    return _dynamic(DonationSettings, tables, "donation", languages, problems), options


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
    "inbound": InboundSettings,
}

_DEFAULT_NEWSLETTERS = {
    Frequency.DAILY: NewsletterSettings(send_time="07:00"),
    Frequency.WEEKLY: NewsletterSettings(send_time="08:00"),
}


def _check_site(site: SiteSettings, problems: list[str]) -> None:
    try:
        ZoneInfo(site.timezone)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        problems.append(f"site.timezone: unknown time zone {site.timezone!r}")
    if not site.languages:
        problems.append("site.languages: expected at least one language")
    for i, code in enumerate(site.languages):
        if len(code) > 16 or not re.fullmatch(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*", code):
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
    except (KeyError, IndexError, ValueError, AttributeError, TypeError) as exc:
        problems.append(
            f"site.article_url: only {{site_url}}, {{language}} and {{id}} may be used ({exc})"
        )


def _check_store_url(url: str, problems: list[str]) -> None:
    from broadsheet.store import check_url  # the store alone knows database URLs

    problem = check_url(url)
    if problem is not None:
        problems.append(f"store.url: {problem}")


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
    known = {*_SECTIONS, "newsletters", "donation", "labels"}
    for key in data:
        if key not in known:
            problems.append(f"{key}: unknown table (known: {', '.join(sorted(known))})")
    built: dict[str, Any] = {}
    sender_languages: dict[str, Any] = {}
    for name, cls in _SECTIONS.items():
        table = data.get(name, {})
        if not isinstance(table, dict):
            problems.append(f"{name}: expected a table, got {_type_name(table)}")
            continue
        if name == "sender":
            # [sender.LANG] tables sit inside [sender]; no [sender] key holds a table.
            sender_languages = {k: v for k, v in table.items() if isinstance(v, dict)}
            table = {k: v for k, v in table.items() if k not in sender_languages}
        built[name] = _table(cls, table, name, problems)
    newsletters = dict(_DEFAULT_NEWSLETTERS)
    if "newsletters" in data:
        given = _dynamic(
            NewsletterSettings, data["newsletters"], "newsletters", tuple(Frequency), problems
        )
        # A frequency left out of the file keeps its default send time.
        newsletters.update({Frequency(k): v for k, v in given.items()})
    # Without a valid [site] the languages are unknown: [donation.LANG] is
    # checked once the site's own problems are fixed.
    donation, donation_options = _donation(data.get("donation", {}), built.get("site"), problems)
    sender_localized = (
        _dynamic(
            LocalizedSender,
            sender_languages,
            "sender",
            tuple(built["site"].languages),
            problems,
        )
        if built.get("site") is not None
        else {}
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
    labels: words.Labels = types.MappingProxyType({})
    given_labels = data.get("labels", {})
    if not isinstance(given_labels, dict):
        problems.append(f"labels: expected a table, got {_type_name(given_labels)}")
    elif site is not None and given_labels:
        from broadsheet import words

        labels = words.check(given_labels, tuple(site.languages), problems)
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
    if emails.theme is not None:
        from broadsheet.config import theme

        emails = dataclasses.replace(emails, theme=_resolve(root, emails.theme).resolve())
        found = theme.check_theme(emails.theme, str(data["emails"]["theme"]))
        if found:
            raise ConfigError(str(file), [f"emails.theme: {problem}" for problem in found])
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
        inbound=built["inbound"],
        labels=labels,
        sender_localized=types.MappingProxyType(sender_localized),
        donation_options=donation_options,
    )


def documented_keys() -> list[str]:
    """Every configuration key as ``table.key``, for the reference and its test."""
    keys: list[str] = []
    for name, cls in _SECTIONS.items():
        keys.extend(f"{name}.{f.name}" for f in dataclasses.fields(cls))
    keys.extend(f"newsletters.FREQUENCY.{f.name}" for f in dataclasses.fields(NewsletterSettings))
    keys.extend(f"donation.{f.name}" for f in dataclasses.fields(DonationOptions))
    keys.extend(f"donation.LANG.{f.name}" for f in dataclasses.fields(DonationSettings))
    keys.extend(f"donation.LANG.variants.{f.name}" for f in dataclasses.fields(DonationVariant))
    keys.extend(f"sender.LANG.{f.name}" for f in dataclasses.fields(LocalizedSender))
    return keys
