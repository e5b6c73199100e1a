"""Donations from CSV: our columns, Stripe's and PayPal's exports, bad rows, re-imports."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from broadsheet.cli import cli
from broadsheet.config import Settings
from broadsheet.content.donations import import_donations, parse_amount
from broadsheet.errors import ContentError
from broadsheet.model import Frequency, Giving, SubscriberDetails
from broadsheet.store import Store

NOW = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def subscribe(store: Store, *emails: str) -> None:
    with store.write() as tx:
        for email in emails:
            tx.subscribers.upsert_active(
                SubscriberDetails(email, "", "en", Frequency.WEEKLY, ()), source="test", now=NOW
            )


def test_our_columns_bad_rows_named_good_rows_kept_reimport_counts_nothing_twice(
    any_store_url: str, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings()
    store = Store.open(any_store_url)
    try:
        subscribe(store, "anna@example.org", "boris@example.org")
        csv = write(
            tmp_path,
            "donations.csv",
            "email,date,amount,currency,recurring,processor_note\n"
            "Anna@Example.org,2026-10-01,10.00,eur,true,first\n"
            "boris@example.org,2026-11-01T10:00:00+03:00,1500,RUB,no,\n"
            "not-an-address,2026-11-01,5,EUR,no,\n"
            "carol@example.org,2026-11-02,-5,EUR,no,\n"
            "carol@example.org,2026-11-02,5.001,EUR,no,\n"
            "carol@example.org,2026-11-02,five,EUR,no,\n"
            "carol@example.org,2026-11-02,5,ZZZ,no,\n"
            "carol@example.org,2026-11-02,5,XAU,no,\n"
            "carol@example.org,02/11/2026,5,EUR,no,\n"
            "carol@example.org,2026-11-02,5,EUR,sometimes,\n"
            "boris@example.org,2026-11-01T10:00:00+03:00,1500,RUB,no,\n"
            "dmitri@example.org,2026-11-03,1000,JPY,,\n",
        )
        report = import_donations(store, settings, csv, now=NOW, source="donations.csv")
        assert report.format == "broadsheet"
        assert report.added == 3
        lines = report.rejected
        assert len(lines) == 9, lines
        assert lines[0].startswith("donations.csv:4: email: 'not-an-address' is not a valid")
        assert lines[1].startswith("donations.csv:5: amount: '-5' is not a positive amount")
        assert lines[2].startswith("donations.csv:6: amount: '5.001' has more than 2 decimals")
        assert lines[3].startswith("donations.csv:7: amount: 'five' is not a number")
        assert lines[4].startswith("donations.csv:8: currency: ZZZ is not a currency")
        assert lines[5].startswith("donations.csv:9: currency: XAU is not a currency")
        assert lines[6].startswith("donations.csv:10: date:")
        assert lines[7].startswith("donations.csv:11: recurring: expected true or false")
        assert lines[8].startswith("donations.csv:12: row: the same donation is also on line 3")
        # Donors who do not subscribe are kept, and named in the report.
        assert report.unsubscribed == ["dmitri@example.org"]
        with store.read() as tx:
            assert tx.donations.count() == 3
            giving = tx.donations.giving(["anna@example.org", "boris@example.org", "x@y.org"])
        assert giving["anna@example.org"] == Giving(
            last=datetime(2026, 10, 1, 9, 0, tzinfo=UTC),  # noon in Europe/Moscow
            last_recurring=datetime(2026, 10, 1, 9, 0, tzinfo=UTC),
        )
        assert giving["boris@example.org"].last == datetime(2026, 11, 1, 7, 0, tzinfo=UTC)
        assert giving["boris@example.org"].last_recurring is None
        assert "x@y.org" not in giving

        again = import_donations(store, settings, csv, now=NOW, source="donations.csv")
        assert (again.added, again.already) == (0, 3)
        with store.read() as tx:
            assert tx.donations.count() == 3
    finally:
        store.close()


STRIPE = (
    "id,Description,Seller Message,Created (UTC),Amount,Amount Refunded,Currency,"
    "Converted Amount,Fee,Status,Customer ID,Customer Email,Invoice ID,Card Brand\n"
    "ch_1,Donation,Payment complete.,2026-11-20 08:30:00,25.00,0.00,usd,25.00,1.03,Paid,"
    "cus_1,anna@example.org,in_1,Visa\n"
    'ch_2,Donation,Payment complete.,2026-11-21 09:00:00,"1,000.00",0.00,eur,1000.00,29.30,'
    "Paid,cus_2,boris@example.org,,Visa\n"
    "ch_3,Donation,Refunded.,2026-11-21 10:00:00,10.00,10.00,usd,10.00,0.59,Refunded,"
    "cus_3,carol@example.org,,Visa\n"
    "ch_4,Donation,Declined.,2026-11-21 11:00:00,10.00,0.00,usd,10.00,0,Failed,"
    "cus_4,dmitri@example.org,,Visa\n"
    "ch_5,Donation,Payment complete.,2026-11-22 11:00:00,10.00,4.00,usd,10.00,0.59,Paid,"
    "cus_5,erik@example.org,,Visa\n"
    "ch_6,Donation,Payment complete.,yesterday,10.00,0.00,usd,10.00,0.59,Paid,"
    "cus_6,fay@example.org,,Visa\n"
    "ch_1,Donation,Payment complete.,2026-11-20 08:30:00,25.00,0.00,usd,25.00,1.03,Paid,"
    "cus_1,anna@example.org,in_1,Visa\n"
)


def test_stripe_payments_export(store: Store, settings: Settings, tmp_path: Path) -> None:
    csv = write(tmp_path, "unified_payments.csv", STRIPE)
    report = import_donations(store, settings, csv, now=NOW, source="unified_payments.csv")
    assert report.format == "stripe"
    assert report.added == 3
    assert report.passed_over == 2  # the refunded and the failed payment
    assert report.rejected == [
        "unified_payments.csv:7: Created (UTC): 'yesterday' is not a time such as "
        "2026-11-23 09:15:00",
        "unified_payments.csv:8: id: transaction ch_1 is also on line 2; counted once",
    ]
    with store.read() as tx:
        giving = tx.donations.giving(["anna@example.org", "boris@example.org", "erik@example.org"])
        amounts: dict[str, int] = dict(
            tx.conn.exec_driver_sql("SELECT email, amount_minor FROM donations").fetchall()
        )
    assert giving["anna@example.org"].last_recurring == datetime(2026, 11, 20, 8, 30, tzinfo=UTC)
    assert giving["boris@example.org"].last_recurring is None
    assert amounts == {
        "anna@example.org": 2500,
        "boris@example.org": 100000,
        "erik@example.org": 600,  # 10.00 paid, 4.00 refunded
    }


PAYPAL = (
    '"Date","Time","TimeZone","Name","Type","Status","Currency","Gross","Fee","Net",'
    '"From Email Address","To Email Address","Transaction ID","Item Title","Balance"\n'
    '"11/20/2026","09:15:00","PST","Anna A","Subscription Payment","Completed","USD","10.00",'
    '"-0.59","9.41","anna@example.org","give@lantern.example","1AB","Monthly","100.00"\n'
    '"11/21/2026","10:00:00","PST","Boris B","Donation Payment","Completed","EUR","50.00",'
    '"-1.75","48.25","boris@example.org","give@lantern.example","2CD","","150.00"\n'
    '"11/21/2026","11:00:00","PST","Boris B","Payment Refund","Completed","EUR","-50.00",'
    '"1.75","-48.25","give@lantern.example","boris@example.org","3EF","","100.00"\n'
    '"11/22/2026","12:00:00","PST","","General Withdrawal","Completed","USD","-90.00",'
    '"0.00","-90.00","give@lantern.example","","4GH","","10.00"\n'
    '"11/22/2026","13:00:00","XYZ","Carol C","Donation Payment","Completed","USD","5.00",'
    '"-0.40","4.60","carol@example.org","give@lantern.example","5IJ","","15.00"\n'
    '"11/22/2026","14:00:00","PST","Dmitri D","Donation Payment","Pending","USD","5.00",'
    '"-0.40","4.60","dmitri@example.org","give@lantern.example","6KL","","15.00"\n'
)


def test_paypal_activity_download(store: Store, settings: Settings, tmp_path: Path) -> None:
    csv = write(tmp_path, "Download.CSV", PAYPAL)
    report = import_donations(store, settings, csv, now=NOW, source="Download.CSV")
    assert report.format == "paypal"
    assert report.added == 2
    assert report.passed_over == 3  # the refund, the withdrawal, the pending payment
    assert len(report.rejected) == 1
    assert report.rejected[0].startswith("Download.CSV:6: TimeZone: 'XYZ' is not a zone")
    with store.read() as tx:
        giving = tx.donations.giving(["anna@example.org", "boris@example.org"])
    # 09:15 Pacific standard time is 17:15 UTC.
    assert giving["anna@example.org"].last_recurring == datetime(2026, 11, 20, 17, 15, tzinfo=UTC)
    assert giving["boris@example.org"].last_recurring is None


def test_unknown_header_names_the_formats(store: Store, settings: Settings, tmp_path: Path) -> None:
    csv = write(tmp_path, "x.csv", "who,when,how much\na,b,c\n")
    with pytest.raises(ContentError, match=r"x.csv:1: the header holds none"):
        import_donations(store, settings, csv, now=NOW, source="x.csv")


def test_parse_amount_minor_units() -> None:
    assert parse_amount("12.5", 2) == 1250
    assert parse_amount("1,234.56", 2) == 123456
    assert parse_amount("1000", 0) == 1000
    assert parse_amount("1.234", 3) == 1234
    for bad in ("0", "-1", "1.5", "nan", "inf", ""):
        with pytest.raises(ValueError):
            parse_amount(bad, 0)


def test_cli_donors_import(settings: Settings, tmp_path: Path) -> None:
    csv = write(
        tmp_path,
        "d.csv",
        "email,date,amount,currency,recurring\n"
        "anna@example.org,2026-11-01,10,EUR,yes\n"
        "anna@example.org,2026-11-01,10,QQQ,yes\n",
    )
    runner = CliRunner()
    config = ["--config", str(settings.path)]
    result = runner.invoke(cli, ["donors", "import", str(csv), *config])
    assert result.exit_code == 1, result.output
    assert f"rejected: {csv}:3: currency: QQQ is not a currency" in result.stderr
    assert "1 donor address(es) hold no subscription" in result.stderr
    assert "1 donations added, 0 already imported" in result.stdout
    again = runner.invoke(cli, ["donors", "import", str(csv), *config])
    assert "0 donations added, 1 already imported" in again.stdout
