"""Credit notes over real NATS and a real database: numbered without gaps (also under concurrent requests, by two
replicas), printable (`cmd.billing.credit.get`), exported by issue date; the filtered records export and the
spreadsheet dialect; the migration that numbers credits issued before numbers existed.

Run with `DATABASE_URL=postgresql+psycopg://…` for the concurrency test to race real PostgreSQL transactions.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from assist_billing.export import CREDIT_COLUMNS, RECORD_COLUMNS
from assist_billing.main import build_runtime, migrate
from assist_billing.models import TABLES
from assist_platform.envelope import rfc3339, utcnow
from assist_platform.migrations import alembic_config, service_metadata
from assist_platform.problems import Problem
from billing_testkit import at, bill, closed_records
import sqlalchemy as sa
from assist_platform.db import sync_url
from sqlalchemy import create_engine, text

NUMBER = re.compile(r"^CN-(\d{4})-(\d{6})$")


def sequence_of(number: str) -> tuple[int, int]:
    match = NUMBER.match(number)
    assert match, number
    return int(match[1]), int(match[2])


async def test_numbers_count_up_without_gaps_and_neither_a_retry_nor_a_refusal_takes_one(billing, bus):
    await bill(bus, minutes=10)
    await bill(bus, minutes=10, start=30)
    first_record, second_record = (record["record_id"] for record in await closed_records(bus, 2))
    year = utcnow().year

    first = await bus.command("cmd.billing.credit", {"record_id": first_record, "amount": "1.00",
                                                     "reason": "първа", "credit_id": "n-1"})
    retry = await bus.command("cmd.billing.credit", {"record_id": first_record, "amount": "1.00",
                                                     "reason": "първа", "credit_id": "n-1"})
    with pytest.raises(Problem):  # more than is left: refused, and its transaction took no number
        await bus.command("cmd.billing.credit", {"record_id": first_record, "amount": "999.00", "reason": "много"})
    with pytest.raises(Problem):
        await bus.command("cmd.billing.credit", {"record_id": second_record, "amount": "1.00", "reason": "no"})
    second = await bus.command("cmd.billing.credit", {"record_id": second_record, "amount": "2.00",
                                                      "reason": "втора"})
    third = await bus.command("cmd.billing.credit", {"record_id": first_record, "amount": "3.00",
                                                     "reason": "трета"})

    assert retry["credit"]["number"] == first["credit"]["number"]
    assert [sequence_of(c["credit"]["number"]) for c in (first, second, third)] == [(year, 1), (year, 2), (year, 3)]
    events = await bus.wait_for_events("billing.record.credited", 3)
    assert [event.data["number"] for event in events] == [c["credit"]["number"] for c in (first, second, third)]
    record = await bus.command("cmd.billing.records.get", {"record_id": first_record})
    assert [credit["number"] for credit in record["credits"]] == [first["credit"]["number"], third["credit"]["number"]]


async def test_concurrent_credits_through_two_replicas_get_numbers_one_to_n(billing, bus, billing_settings):
    # A second replica on the same database: the commands are shared between the two (one queue group), so the
    # credits race in two engines' transactions; on PostgreSQL truly at once.
    other = build_runtime(billing_settings)
    await other.start()
    await asyncio.wait_for(other.ready.wait(), timeout=20)
    try:
        for index in range(4):
            await bill(bus, minutes=30, start=index * 40)
        records = [record["record_id"] for record in await closed_records(bus, 4)]
        count = 24
        replies = await asyncio.gather(*(
            bus.command("cmd.billing.credit", {"record_id": records[index % 4], "amount": "1.00",
                                               "reason": f"паралелно {index}", "credit_id": f"par-{index}"})
            for index in range(count)
        ))
        # The same requests again, concurrently (a client's retries): the same numbers, none taken.
        retried = await asyncio.gather(*(
            bus.command("cmd.billing.credit", {"record_id": records[index % 4], "amount": "1.00",
                                               "reason": f"паралелно {index}", "credit_id": f"par-{index}"})
            for index in range(count)
        ))
    finally:
        await other.stop()
    numbers = [reply["credit"]["number"] for reply in replies]
    assert sorted(sequence_of(number)[1] for number in numbers) == list(range(1, count + 1)), numbers
    assert [reply["credit"]["number"] for reply in retried] == numbers
    assert all(reply["already_issued"] for reply in retried)


async def test_a_credit_note_is_read_with_the_record_it_credits(billing, bus):
    ana = {"name": "Ана Иванова", "email": "ana@firma.bg", "company": "Фирма ООД"}
    session_id = await bill(bus, minutes=10, customer=ana)
    (closed,) = await closed_records(bus, 1)
    issued = await bus.command("cmd.billing.credit", {"record_id": closed["record_id"], "amount": "6.00",
                                                      "reason": "Прекъсната връзка", "issued_by": "fiona"})
    note = await bus.command("cmd.billing.credit.get", {"credit_id": issued["credit"]["credit_id"]})
    assert note["credit"] == issued["credit"]
    assert (note["credit"]["net"], note["credit"]["vat"], note["vat_rate"]) == ("5.00", "1.00", "0.20")
    record = note["record"]
    assert (record["session_id"], record["customer"]["name"], record["gross"], record["net"]) == (
        session_id, "Ана Иванова", "18.00", "15.00")
    assert note["service_name"] == {"bg": "Консултация", "en": "Consultation"}
    assert note["issuer"] == billing.settings.billing_issuer
    with pytest.raises(Problem) as caught:
        await bus.command("cmd.billing.credit.get", {"credit_id": "no-such-credit"})
    assert (caught.value.status, caught.value.extra["code"]) == (404, "credit_note_unknown")


def spreadsheet_rows(content: str) -> list[dict]:
    """How docs/finance.md says to read the `excel-bg` dialect: UTF-8 with BOM, `;`, `"` quoting."""
    raw = content.encode("utf-8")
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM, as bytes
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline=""), delimiter=";"))


async def test_credit_notes_are_exported_by_issue_date_with_formulas_neutralised(billing, bus):
    customer = {"name": "=HYPERLINK(\"http://evil\")", "email": "x@пример.бг"}
    await bill(bus, minutes=10, customer=customer)
    (closed,) = await closed_records(bus, 1)
    before = utcnow() - timedelta(seconds=1)
    reasons = ["=HYPERLINK(\"http://evil\",\"click\")", "+100", "-1+2", "@SUM(A1)", "Връзката; прекъсна \"два\" пъти"]
    issued = [
        await bus.command("cmd.billing.credit", {"record_id": closed["record_id"], "amount": "1.50", "reason": reason,
                                                 "issued_by": "fiona"})
        for reason in reasons
    ]
    period = {"from": rfc3339(before), "to": rfc3339(utcnow() + timedelta(seconds=1))}
    plain = await bus.command("cmd.billing.credits.export", period)
    assert plain["rows"] == 5 and plain["columns"] == list(CREDIT_COLUMNS) and not plain["csv"].startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(plain["csv"], newline="")))
    assert [row["number"] for row in rows] == [credit["credit"]["number"] for credit in issued]
    assert [row["reason"] for row in rows] == ["'" + reasons[0], "'+100", "'-1+2", "'@SUM(A1)", reasons[4]]
    assert {row["customer_name"] for row in rows} == {"'" + customer["name"]}
    assert (rows[0]["amount"], rows[0]["net"], rows[0]["vat"], rows[0]["record_gross"]) == ("1.50", "1.25", "0.25",
                                                                                           "18.00")

    sheet = await bus.command("cmd.billing.credits.export", {**period, "dialect": "excel-bg"})
    cells = spreadsheet_rows(sheet["csv"])
    assert [row["reason"] for row in cells] == [row["reason"] for row in rows]  # Cyrillic, `;` and `"` round trip
    assert (cells[0]["amount"], cells[0]["vat_rate"], cells[0]["customer_email"]) == ("1,50", "0,20", "x@пример.бг")
    later = {"from": period["to"], "to": rfc3339(utcnow() + timedelta(days=1))}
    assert (await bus.command("cmd.billing.credits.export", later))["rows"] == 0


async def test_the_records_export_follows_the_filter_and_carries_durations_and_credits(billing, bus):
    ana = {"name": "Ана Иванова", "email": "ana@firma.bg"}
    await bill(bus, minutes=1 + 43 / 60, customer=ana)  # 103 s
    await bill(bus, minutes=61, customer=ana, service_type="system_help", start=120)
    await bill(bus, minutes=5, customer={"name": "Bob", "email": "bob@example.com"}, start=300)
    closed = {record["session_id"]: record for record in await closed_records(bus, 3)}
    short = next(record for record in closed.values() if record["billable_seconds"] == 103)
    one = await bus.command("cmd.billing.credit", {"record_id": short["record_id"], "amount": "2.00",
                                                   "reason": "първа"})
    two = await bus.command("cmd.billing.credit", {"record_id": short["record_id"], "amount": "1.00",
                                                   "reason": "втора"})

    result = await bus.command("cmd.billing.records.export", {"customer": "ана", "status": "closed"})
    assert result["rows"] == 2 and result["columns"] == list(RECORD_COLUMNS) and result["dialect"] == "excel-bg"
    rows = spreadsheet_rows(result["csv"])
    assert [row["service_type"] for row in rows] == ["system_help", "consultation"]  # the page's order
    long_row, short_row = rows
    assert (short_row["duration"], short_row["billable_seconds"]) == ("0:01:43", "103")
    assert long_row["duration"] == "1:01:00"
    assert (short_row["gross"], short_row["credited"], short_row["remaining"]) == ("18,00", "3,00", "15,00")
    assert short_row["credit_notes"] == f"{one['credit']['number']} {two['credit']['number']}"
    assert (long_row["credited"], long_row["credit_notes"]) == ("0,00", "")

    by_start = await bus.command("cmd.billing.records.export", {
        "from": rfc3339(at(minutes=100)), "to": rfc3339(at(minutes=200)), "dialect": "rfc4180"})
    (only,) = list(csv.DictReader(io.StringIO(by_start["csv"], newline="")))
    assert (only["service_type"], only["gross"]) == ("system_help", "135.00")
    with pytest.raises(Problem) as caught:
        await bus.command("cmd.billing.records.export", {"status": "paid"})
    assert caught.value.status == 422


async def test_the_period_export_is_unchanged_by_default_and_has_a_spreadsheet_dialect(billing, bus):
    await bill(bus, minutes=40, service_type="system_help", customer={"name": "Гергана", "email": "g@x.bg"})
    await closed_records(bus, 1)
    period = {"from": rfc3339(at()), "to": rfc3339(at(minutes=120))}
    plain = await bus.command("cmd.billing.export", period)
    assert plain["csv"].startswith("record_id,session_id,started_at,") and plain["csv"].endswith("\r\n")
    assert ",67.50,0.20,13.50,81.00,EUR\r\n" in plain["csv"]
    sheet = await bus.command("cmd.billing.export", {**period, "dialect": "excel-bg"})
    (row,) = spreadsheet_rows(sheet["csv"])
    assert (row["customer_name"], row["net"], row["gross"], row["unit_price"]) == ("Гергана", "67,50", "81,00",
                                                                                   "22,50")
    # The same cells as the plain export, but for the decimal comma.
    (plain_row,) = list(csv.DictReader(io.StringIO(plain["csv"], newline="")))
    assert {key: value.replace(".", ",") if key in {"unit_price", "net", "vat", "gross", "vat_rate"} else value
            for key, value in plain_row.items()} == row


def test_the_migration_numbers_earlier_credits_in_issue_order_and_the_sequence_continues(billing_settings):
    url, schema = billing_settings.database_location("billing")
    config = alembic_config(url=url, schema=schema, package="assist_billing", metadata=service_metadata(TABLES))
    if url.startswith("postgresql"):
        engine = create_engine(sync_url(url))
        with engine.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        engine.dispose()
        engine = create_engine(sync_url(url), connect_args={"options": f"-csearch_path={schema}"})
    else:
        engine = create_engine(sync_url(url))
    command.upgrade(config, "0001")
    issued = [  # (credit_id, issued_at): inserted out of order; 'b' and 'a' share a moment
        ("late", datetime(2026, 3, 1, tzinfo=UTC)), ("b", datetime(2025, 12, 31, 23, 0, tzinfo=UTC)),
        ("a", datetime(2025, 12, 31, 23, 0, tzinfo=UTC)), ("early", datetime(2026, 1, 2, tzinfo=UTC)),
        ("first", datetime(2025, 6, 1, tzinfo=UTC)),
    ]
    records = sa.table("billing_record", *(sa.column(name) for name in (
        "record_id", "session_id", "status", "service_type", "customer", "customer_search", "price_list_version",
        "currency", "unit_seconds", "minimum_units", "unit_price", "vat_rate")),
        sa.column("started_at", sa.DateTime(timezone=True)), sa.column("opened_at", sa.DateTime(timezone=True)))
    credits = sa.table("billing_credit", *(sa.column(name) for name in (
        "credit_id", "record_id", "session_id", "amount", "net", "vat", "currency", "reason")),
        sa.column("issued_at", sa.DateTime(timezone=True)))
    with engine.begin() as connection:
        connection.execute(records.insert().values(
            record_id="r", session_id="s", status="closed", service_type="consultation", customer="{}",
            customer_search="", price_list_version="v", currency="EUR", unit_seconds=60, minimum_units=1,
            unit_price="1.00", vat_rate="0.20", started_at=datetime(2025, 1, 1, tzinfo=UTC),
            opened_at=datetime(2025, 1, 1, tzinfo=UTC)))
        for credit_id, moment in issued:
            connection.execute(credits.insert().values(
                credit_id=credit_id, record_id="r", session_id="s", amount="1.00", net="0.83", vat="0.17",
                currency="EUR", reason="old", issued_at=moment))
    migrate(billing_settings)  # to the newest revision, as `assist migrate` does
    with engine.begin() as connection:
        numbers = dict(connection.execute(text("SELECT credit_id, number FROM billing_credit")).all())
        last = dict(connection.execute(text("SELECT year, last FROM billing_credit_sequence")).all())
    engine.dispose()
    assert numbers == {"first": "CN-2025-000001", "a": "CN-2025-000002", "b": "CN-2025-000003",
                       "early": "CN-2026-000001", "late": "CN-2026-000002"}
    assert last == {2025: 3, 2026: 2}
