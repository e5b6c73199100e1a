"""Donations from CSV: our own columns, Stripe's payments export, PayPal's activity download.

The format is told by the header (column names compare without regard to
case; any other column is ignored):

- **broadsheet**: ``email,date,amount,currency,recurring`` and optionally
  ``id`` (a transaction id). ``date`` is ``YYYY-MM-DD`` or an ISO 8601 time
  (a date or a time without zone is read in ``site.timezone``); ``amount`` a
  positive decimal in the currency's major unit (``12.50``); ``recurring``
  ``true``/``false``, ``yes``/``no``, ``1``/``0`` or empty (no).
- **Stripe** (Payments → Export, ``unified_payments.csv``): ``id``,
  ``Created (UTC)``, ``Amount``, ``Currency``, ``Status`` and ``Customer
  Email``; optionally ``Amount Refunded`` (subtracted) and ``Invoice ID``
  (a payment with an invoice is a subscription's, so recurring). Only
  ``Paid`` (or ``succeeded``) rows count; refunded, failed and other rows are
  passed over, and counted as such.
- **PayPal** (Activity → Download, CSV): ``Date`` (month first,
  ``MM/DD/YYYY``, as PayPal writes it for US accounts; ``DD.MM.YYYY`` and
  ``YYYY-MM-DD`` too), ``Time``, ``TimeZone``, ``Type``, ``Status``,
  ``Currency``, ``Gross``, ``From Email Address`` and ``Transaction ID``.
  Only ``Completed`` payments received count (``Type`` names a payment and
  ``Gross`` is positive); refunds, withdrawals and conversions are passed
  over. A ``Type`` naming a subscription or a recurring payment is recurring.

A bad row (an invalid address, an amount that is not a positive number with
at most the currency's decimals, a currency ISO 4217 does not know, a date
that cannot be read, a transaction met twice in the file) is reported as
``file:line: field: reason``; the good rows are stored. A row already stored
(same transaction id, or the same address, time, amount, currency and kind)
is not stored again, so re-importing an export counts nothing twice. A
donation from an address with no subscription is stored (the reader may
subscribe later) and counted in the report.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.numbers import get_currency_precision, list_currencies

from broadsheet.config import Settings
from broadsheet.content.csvfile import read_csv
from broadsheet.content.readers import decode_utf8, read_bytes
from broadsheet.content.subscribers import normalise_email
from broadsheet.errors import ContentError
from broadsheet.model import Donation
from broadsheet.store import Store

__all__ = ["DonorsReport", "import_donations", "parse_amount"]

# Codes in ISO 4217 that are no money a reader gives: precious metals, units
# of account, the testing and "no currency" codes.
_NOT_MONEY = frozenset(
    {"XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XDR", "XPD", "XPT", "XSU", "XTS", "XUA", "XXX"}
)

# PayPal writes its account's zone as an abbreviation; these are the ones it uses.
_ZONES = {
    "UTC": 0,
    "GMT": 0,
    "BST": 1,
    "WET": 0,
    "WEST": 1,
    "CET": 1,
    "CEST": 2,
    "EET": 2,
    "EEST": 3,
    "MSK": 3,
    "EST": -5,
    "EDT": -4,
    "CST": -6,
    "CDT": -5,
    "MST": -7,
    "MDT": -6,
    "PST": -8,
    "PDT": -7,
    "AKST": -9,
    "AKDT": -8,
    "HST": -10,
    "JST": 9,
    "AEST": 10,
    "AEDT": 11,
}


@dataclass
class DonorsReport:
    """What a donations import did.

    Attributes:
        format: ``broadsheet``, ``stripe`` or ``paypal``.
        added: donations stored by this import.
        already: rows stored by an earlier import (not counted again).
        passed_over: processor rows that are no donation received
            (refunded, failed, pending, a withdrawal…).
        rejected: one line per bad row, ``file:line: field: reason``.
        unsubscribed: addresses that gave but hold no subscription.
    """

    format: str = ""
    added: int = 0
    already: int = 0
    passed_over: int = 0
    rejected: list[str] = field(default_factory=list)
    unsubscribed: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether no row was rejected."""
        return not self.rejected


class _Bad(ValueError):
    def __init__(self, column: str, reason: str) -> None:
        super().__init__(reason)
        self.column = column
        self.reason = reason


class _Skip(Exception):
    """A processor's row that is not a donation received."""


def _currency(code: str, column: str) -> tuple[str, int]:
    upper = code.strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", upper):
        raise _Bad(column, f"{code!r} is not a three-letter ISO 4217 currency code")
    if upper in _NOT_MONEY or upper not in list_currencies():
        raise _Bad(column, f"{upper} is not a currency ISO 4217 knows")
    return upper, int(get_currency_precision(upper))


def parse_amount(text: str, precision: int) -> int:
    """``text`` (``"1,234.50"``) in minor units; ValueError saying what is wrong."""
    cleaned = text.strip().replace(",", "").replace("\u00a0", "").replace(" ", "")
    if not cleaned:
        raise ValueError("empty")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a number") from None
    if not value.is_finite():
        raise ValueError(f"{text!r} is not a number")
    if value <= 0:
        raise ValueError(f"{text!r} is not a positive amount")
    minor = value.scaleb(precision)
    if minor != minor.to_integral_value():
        raise ValueError(f"{text!r} has more than {precision} decimals for this currency")
    return int(minor)


def _amount(text: str, precision: int, column: str) -> int:
    try:
        return parse_amount(text, precision)
    except ValueError as exc:
        raise _Bad(column, str(exc)) from None


def _flag(text: str, column: str) -> bool:
    value = text.strip().lower()
    if value in ("", "false", "no", "0", "n", "one-off", "once"):
        return False
    if value in ("true", "yes", "1", "y", "monthly", "recurring"):
        return True
    raise _Bad(column, f"expected true or false, got {text!r}")


def _email(text: str, column: str) -> str:
    try:
        return normalise_email(text)
    except ValueError as exc:
        raise _Bad(column, f"{text!r} is not a valid address: {exc}") from None


def _when(text: str, column: str, zone: ZoneInfo) -> datetime:
    value = text.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            moment = datetime.combine(date.fromisoformat(value), time(12))
        else:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise _Bad(column, f"{text!r} is not a date (YYYY-MM-DD) or an ISO 8601 time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)


def _key(kind: str, transaction: str, row: tuple[object, ...]) -> str:
    basis = f"{kind}:{transaction}" if transaction else "row:" + "|".join(map(str, row))
    return hashlib.sha256(basis.encode("utf-8")).hexdigest()


Reader = Callable[[Mapping[str, str], ZoneInfo], tuple[Donation, str]]


def _ours(values: Mapping[str, str], zone: ZoneInfo) -> tuple[Donation, str]:
    email = _email(values["email"], "email")
    given = _when(values["date"], "date", zone)
    currency, precision = _currency(values["currency"], "currency")
    amount = _amount(values["amount"], precision, "amount")
    recurring = _flag(values.get("recurring", ""), "recurring")
    transaction = values.get("id", "") or values.get("transaction_id", "")
    key = _key("broadsheet", transaction, (email, given.isoformat(), amount, currency, recurring))
    return Donation(email, given, amount, currency, recurring, key), transaction


def _stripe(values: Mapping[str, str], zone: ZoneInfo) -> tuple[Donation, str]:
    status = values["status"].strip().lower()
    if status not in ("paid", "succeeded"):
        raise _Skip
    currency, precision = _currency(values["currency"], "Currency")
    amount = _amount(values["amount"], precision, "Amount")
    refunded_text = values.get("amount refunded", "").strip()
    if refunded_text and refunded_text.replace("0", "").replace(".", "").replace(",", ""):
        refunded = _amount(refunded_text, precision, "Amount Refunded")
        if refunded >= amount:
            raise _Skip
        amount -= refunded
    email = _email(values["customer email"], "Customer Email")
    created = values["created (utc)"].strip()
    try:
        given = datetime.fromisoformat(created).replace(tzinfo=UTC)
    except ValueError:
        raise _Bad(
            "Created (UTC)", f"{created!r} is not a time such as 2026-11-23 09:15:00"
        ) from None
    recurring = bool(values.get("invoice id", "").strip())
    transaction = values["id"].strip()
    key = _key("stripe", transaction, (email, given.isoformat(), amount, currency, recurring))
    return Donation(email, given, amount, currency, recurring, key), transaction


def _paypal_day(text: str) -> date:
    value = text.strip()
    for pattern, order in (
        (r"(\d{1,2})/(\d{1,2})/(\d{4})", "mdy"),
        (r"(\d{1,2})\.(\d{1,2})\.(\d{4})", "dmy"),
        (r"(\d{4})-(\d{1,2})-(\d{1,2})", "ymd"),
    ):
        match = re.fullmatch(pattern, value)
        if match:
            parts = dict(zip(order, map(int, match.groups()), strict=True))
            return date(parts["y"], parts["m"], parts["d"])
    raise ValueError(value)


def _paypal(values: Mapping[str, str], zone: ZoneInfo) -> tuple[Donation, str]:
    kind = values["type"].strip().lower()
    status = values["status"].strip().lower()
    gross_text = values["gross"].strip()
    received = "payment" in kind and "refund" not in kind and "reversal" not in kind
    if status != "completed" or not received or gross_text.startswith("-"):
        raise _Skip
    currency, precision = _currency(values["currency"], "Currency")
    amount = _amount(gross_text, precision, "Gross")
    email = _email(values["from email address"], "From Email Address")
    try:
        day = _paypal_day(values["date"])
    except ValueError:
        raise _Bad("Date", f"{values['date']!r} is not a date (MM/DD/YYYY)") from None
    clock_text = values.get("time", "").strip() or "00:00:00"
    try:
        clock = time.fromisoformat(clock_text)
    except ValueError:
        raise _Bad("Time", f"{clock_text!r} is not a time (HH:MM:SS)") from None
    zone_text = values.get("timezone", "").strip().upper()
    if zone_text:
        if zone_text not in _ZONES:
            raise _Bad(
                "TimeZone",
                f"{zone_text!r} is not a zone PayPal writes (known: {', '.join(sorted(_ZONES))})",
            )
        place = timezone(timedelta(hours=_ZONES[zone_text]))
        given = datetime.combine(day, clock, tzinfo=place).astimezone(UTC)
    else:
        given = datetime.combine(day, clock, tzinfo=zone).astimezone(UTC)
    recurring = "subscription" in kind or "recurring" in kind
    transaction = values["transaction id"].strip()
    key = _key("paypal", transaction, (email, given.isoformat(), amount, currency, recurring))
    return Donation(email, given, amount, currency, recurring, key), transaction


_FORMATS: dict[str, tuple[tuple[str, ...], Reader]] = {
    "stripe": (("id", "created (utc)", "amount", "currency", "status", "customer email"), _stripe),
    "paypal": (
        (
            "date",
            "type",
            "status",
            "currency",
            "gross",
            "from email address",
            "transaction id",
        ),
        _paypal,
    ),
    "broadsheet": (("email", "date", "amount", "currency"), _ours),
}


_ID_COLUMN = {"broadsheet": "id", "stripe": "id", "paypal": "Transaction ID"}


def _detect(path: Path, source: str) -> str:
    """The format whose columns the header holds."""
    first = decode_utf8(read_bytes(path, source), source).partition("\n")[0]
    try:
        names = {name.strip().lower() for name in next(csv.reader([first]))}
    except (StopIteration, csv.Error):
        names = set()
    for name, (columns, _reader) in _FORMATS.items():
        if all(column in names for column in columns):
            return name
    raise ContentError(
        source,
        "the header holds none of the known sets of columns: email,date,amount,currency"
        "[,recurring,id] (broadsheet), Stripe's payments export (id, Created (UTC), Amount, "
        "Currency, Status, Customer Email) or PayPal's activity download (Date, Time, TimeZone, "
        "Type, Status, Currency, Gross, From Email Address, Transaction ID); "
        "see docs/newsletters.md",
        line=1,
    )


def import_donations(
    store: Store, settings: Settings, path: Path, *, now: datetime, source: str | None = None
) -> DonorsReport:
    """Import a donations CSV; bad rows are reported and the rest stored.

    Raises:
        ContentError: the file cannot be read or its header is none of the formats.
    """
    shown = source or str(path)
    kind = _detect(path, shown)
    columns, reader = _FORMATS[kind]
    report = DonorsReport(format=kind)
    zone = settings.site.tz
    rows: dict[str, tuple[int, Donation]] = {}
    try:
        for line, values in read_csv(path, shown, required=columns):
            if isinstance(values, ContentError):
                report.rejected.append(str(values))
                continue
            try:
                donation, transaction = reader(values, zone)
            except _Skip:
                report.passed_over += 1
                continue
            except _Bad as exc:
                report.rejected.append(
                    str(ContentError(shown, exc.reason, line=line, field=exc.column))
                )
                continue
            earlier = rows.get(donation.row_key)
            if earlier is not None:
                what = f"transaction {transaction}" if transaction else "the same donation"
                report.rejected.append(
                    str(
                        ContentError(
                            shown,
                            f"{what} is also on line {earlier[0]}; counted once",
                            line=line,
                            field=_ID_COLUMN[kind] if transaction else "row",
                        )
                    )
                )
                continue
            rows[donation.row_key] = (line, donation)
    except ContentError as exc:
        report.rejected.append(str(exc))
    donations = [donation for _line, donation in rows.values()]
    with store.write() as tx:
        report.added = tx.donations.add(donations, source=shown, now=now)
        report.already = len(donations) - report.added
        emails = {donation.email for donation in donations}
        report.unsubscribed = sorted(emails - tx.donations.subscribed(emails))
    return report
