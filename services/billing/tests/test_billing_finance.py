"""Finance's commands over real NATS: price lists, listing, credit notes, the CSV export, the session report."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from assist_billing.export import COLUMNS
from assist_platform.envelope import rfc3339, utcnow
from assist_platform.problems import Problem
from billing_testkit import at, bill, closed_records, new_session_id


async def refused(bus, subject: str, payload: dict) -> Problem:
    with pytest.raises(Problem) as caught:
        await bus.command(subject, payload)
    return caught.value


async def test_the_price_list_in_force_has_the_contract_shape(billing, bus):
    price_list = await bus.command("cmd.billing.price_list", {})
    assert set(price_list) >= {"version", "currency", "vat_rate", "service_types"}
    assert (price_list["currency"], price_list["vat_rate"]) == ("EUR", "0.20")
    consultation = price_list["service_types"][0]
    assert set(consultation) == {"code", "name", "unit_seconds", "unit_price", "minimum_units"}
    assert consultation["name"] == {"bg": "Консултация", "en": "Consultation"}


async def test_a_published_version_takes_effect_at_its_time_and_never_in_the_past(billing, bus):
    current = await bus.command("cmd.billing.price_list", {})
    later = utcnow() + timedelta(days=2)
    new = {**current, "version": "2027-01", "effective_from": rfc3339(later), "published_by": "admin"}
    result = await bus.command("cmd.billing.price_list.publish", new)
    assert result["published"] is True
    assert (await bus.command("cmd.billing.price_list.publish", new))["published"] is False  # a retry
    assert (await bus.command("cmd.billing.price_list", {}))["version"] == current["version"]
    in_force_later = await bus.command("cmd.billing.price_list", {"at": rfc3339(later + timedelta(seconds=1))})
    assert in_force_later["version"] == "2027-01"

    past = {**new, "version": "oops", "effective_from": rfc3339(utcnow() - timedelta(minutes=1))}
    problem = await refused(bus, "cmd.billing.price_list.publish", past)
    assert problem.status == 422 and "past" in problem.detail
    changed = {**new, "vat_rate": "0.25"}
    assert (await refused(bus, "cmd.billing.price_list.publish", changed)).status == 409
    same_moment = {**new, "version": "2027-01b"}
    assert (await refused(bus, "cmd.billing.price_list.publish", same_moment)).status == 409
    bad_price = {**new, "version": "x", "service_types": [{**current["service_types"][0], "unit_price": "1.234"}]}
    assert (await refused(bus, "cmd.billing.price_list.publish", bad_price)).status == 422


async def test_records_are_listed_with_filters_paging_and_a_total(billing, bus):
    ana = {"name": "Ана Иванова", "email": "ana@firma.bg"}
    await bill(bus, minutes=5, customer=ana)
    await bill(bus, minutes=5, customer=ana, service_type="system_help", start=60)
    await bill(bus, minutes=5, customer={"name": "Bob", "email": "bob@example.com"}, start=120)
    await closed_records(bus, 3)
    open_one = new_session_id()
    await bus.started(open_one, at=at(minutes=180))
    await bus.wait_for_events("billing.record.opened", 4)

    everything = await bus.command("cmd.billing.records.list", {})
    assert everything["total"] == 4
    assert [r["started_at"] for r in everything["records"]] == sorted(
        (r["started_at"] for r in everything["records"]), reverse=True)
    assert (await bus.command("cmd.billing.records.list", {"status": "open"}))["total"] == 1
    assert (await bus.command("cmd.billing.records.list", {"status": "closed"}))["total"] == 3
    by_name = await bus.command("cmd.billing.records.list", {"customer": "АНА"})  # Cyrillic, any case
    assert by_name["total"] == 2
    assert (await bus.command("cmd.billing.records.list", {"customer": "firma.bg"}))["total"] == 2
    assert (await bus.command("cmd.billing.records.list", {"customer": "%"}))["total"] == 0  # no wildcards
    assert (await bus.command("cmd.billing.records.list", {"service_type": "system_help"}))["total"] == 1
    period = {"from": rfc3339(at(minutes=30)), "to": rfc3339(at(minutes=150))}
    assert (await bus.command("cmd.billing.records.list", period))["total"] == 2
    page = await bus.command("cmd.billing.records.list", {"limit": 2, "offset": 2})
    assert page["total"] == 4 and len(page["records"]) == 2
    assert page["records"][0]["record_id"] == everything["records"][2]["record_id"]
    problem = await refused(bus, "cmd.billing.records.list", {"from": period["to"], "to": period["from"]})
    assert problem.status == 422
    assert (await refused(bus, "cmd.billing.records.list", {"status": "paid"})).status == 422


async def test_the_sums_are_over_every_matching_record_not_one_page(billing, bus):
    """The finance page lists 500 records at most; its totals row must still be all of them (credits included)."""
    for index in range(3):
        await bill(bus, minutes=5 + 10 * index, start=60 * index)
    closed = await closed_records(bus, 3)
    await bus.command("cmd.billing.credit", {"record_id": closed[0]["record_id"], "amount": "4.50",
                                             "reason": "прекъсване", "credit_id": "sum-1"})
    open_one = new_session_id()
    await bus.started(open_one, at=at(minutes=500))
    await bus.wait_for_events("billing.record.opened", 4)

    page = await bus.command("cmd.billing.records.list", {"limit": 1})
    assert (page["total"], len(page["records"])) == (4, 1)
    expected = {"net": sum_of(closed, "net"), "vat": sum_of(closed, "vat"), "gross": sum_of(closed, "gross"),
                "credited": "4.50"}
    assert page["sums"] == expected and expected["gross"] == "72.00"  # 18.00 + 18.00 + 36.00
    # The filter narrows the sums as it narrows the list: the open record adds nothing, a period only its own.
    first_hour = await bus.command("cmd.billing.records.list", {"from": rfc3339(at(minutes=-1)),
                                                                "to": rfc3339(at(minutes=30)), "limit": 1})
    assert first_hour["sums"] == {"net": closed[0]["net"], "vat": closed[0]["vat"], "gross": closed[0]["gross"],
                                  "credited": "4.50"}
    nothing = await bus.command("cmd.billing.records.list", {"customer": "nobody-matches-this"})
    assert nothing["sums"] == dict.fromkeys(("net", "vat", "gross", "credited"), "0.00")


def sum_of(records: list[dict], field: str) -> str:
    return str(sum(Decimal(record[field]) for record in records))


async def test_a_record_is_read_by_id_and_an_unknown_one_is_404(billing, bus):
    await bill(bus, minutes=16)
    (closed,) = await closed_records(bus, 1)
    record = await bus.command("cmd.billing.records.get", {"record_id": closed["record_id"]})
    assert (record["status"], record["gross"], record["credited"], record["remaining"]) == (
        "closed", "36.00", "0.00", "36.00")
    assert record["service_name"] == {"bg": "Консултация", "en": "Consultation"}
    assert (await refused(bus, "cmd.billing.records.get", {"record_id": "nope"})).status == 404


async def test_credit_notes_take_at_most_what_is_left_and_never_edit_the_record(billing, bus):
    await bill(bus, minutes=10)
    (closed,) = await closed_records(bus, 1)
    record_id = closed["record_id"]
    first = await bus.command("cmd.billing.credit", {
        "record_id": record_id, "amount": "10.00", "reason": "Връзката прекъсна", "issued_by": "fin",
        "credit_id": "c-1"})
    assert (first["credited"], first["remaining"], first["credit"]["net"], first["credit"]["vat"]) == (
        "10.00", "8.00", "8.33", "1.67")
    assert first["credit"]["number"].startswith("CN-") and first["already_issued"] is False
    retry = await bus.command("cmd.billing.credit", {
        "record_id": record_id, "amount": "10.00", "reason": "Връзката прекъсна", "credit_id": "c-1"})
    assert retry["already_issued"] is True and retry["remaining"] == "8.00"
    assert retry["credit"]["number"] == first["credit"]["number"]  # a retry takes no new number
    # Each refusal carries a machine code (and its values) that a page says in its reader's language.
    problem = await refused(bus, "cmd.billing.credit", {"record_id": record_id, "amount": "8.01", "reason": "too much"})
    assert problem.status == 409 and "8.00 left" in problem.detail
    assert problem.extra == {"code": "credit_over_remaining", "amount": "8.01", "remaining": "8.00"}
    zero = await refused(bus, "cmd.billing.credit", {"record_id": record_id, "amount": "0", "reason": "zero"})
    assert (zero.status, zero.extra["code"]) == (422, "credit_amount_not_positive")
    words = await refused(bus, "cmd.billing.credit", {"record_id": record_id, "amount": "abc", "reason": "word"})
    assert (words.status, words.extra["code"]) == (422, "credit_amount_invalid")
    short = await refused(bus, "cmd.billing.credit", {"record_id": record_id, "amount": "1.00", "reason": " x "})
    assert (short.status, short.extra["code"], short.extra["min"]) == (422, "credit_reason_too_short", "3")
    unknown = await refused(bus, "cmd.billing.credit", {"record_id": "nope", "amount": "1.00", "reason": "who?"})
    assert (unknown.status, unknown.extra["code"]) == (404, "credit_record_unknown")
    reused = await refused(bus, "cmd.billing.credit", {"record_id": record_id, "amount": "2.00", "reason": "again",
                                                      "credit_id": "c-1"})
    assert (reused.status, reused.extra["code"]) == (422, "credit_id_reused")
    await bus.command("cmd.billing.credit", {"record_id": record_id, "amount": "8.00", "reason": "rest"})

    credited = await bus.wait_for_events("billing.record.credited", 2)
    assert [e.data["amount"] for e in credited] == ["10.00", "8.00"]
    assert credited[0].data["reason"] == "Връзката прекъсна" and credited[1].data["remaining"] == "0.00"
    record = await bus.command("cmd.billing.records.get", {"record_id": record_id})
    assert (record["gross"], record["net"], record["credited"], record["remaining"]) == ("18.00", "15.00", "18.00", "0.00")
    assert len(record["credits"]) == 2


async def test_an_open_record_cannot_be_credited(billing, bus):
    session_id = new_session_id()
    await bus.started(session_id, at=at())
    (opened,) = await bus.wait_for_events("billing.record.opened", 1)
    problem = await refused(bus, "cmd.billing.credit", {"record_id": opened.data["record_id"], "amount": "1.00",
                                                        "reason": "still running"})
    assert (problem.status, problem.extra["code"]) == (409, "credit_record_open")


async def test_the_export_is_utf8_csv_of_closed_records_with_cyrillic_intact(billing, bus):
    await bill(bus, minutes=5, customer={"name": "Гергана Стоянова", "email": "g@пример.бг", "company": "=SUM(A1)"})
    await bill(bus, minutes=40, service_type="system_help", start=60)
    await bill(bus, minutes=5, start=600)  # ends outside the period
    await closed_records(bus, 3)
    result = await bus.command("cmd.billing.export", {"from": rfc3339(at()), "to": rfc3339(at(minutes=120))})
    assert result["rows"] == 2 and result["columns"] == list(COLUMNS)
    rows = list(csv.DictReader(io.StringIO(result["csv"])))
    assert [row["service_type"] for row in rows] == ["consultation", "system_help"]
    first, second = rows
    assert first["customer_name"] == "Гергана Стоянова" and first["customer_email"] == "g@пример.бг"
    assert first["customer_company"] == "'=SUM(A1)"  # a formula stays text in a spreadsheet
    assert first["service_name_bg"] == "Консултация"
    assert (second["units"], second["net"], second["vat"], second["gross"]) == ("3", "67.50", "13.50", "81.00")
    assert result["csv"].encode("utf-8").decode("utf-8") == result["csv"]
    problem = await refused(bus, "cmd.billing.export", {"from": rfc3339(at())})
    assert problem.status == 422


async def test_the_session_report_tells_the_customer_what_the_session_cost(billing, bus):
    session_id = await bill(bus, minutes=31, service_type="urgent_help")
    await closed_records(bus, 1)
    report = await bus.command("cmd.billing.session_report", {"session_id": session_id})
    assert report["service_name"]["en"] == "Urgent help outside working hours"
    assert (report["duration_seconds"], report["units"], report["gross"], report["consultant"]) == (
        1860, 4, "144.00", "maria")
    assert report["started_at"] == "2026-11-20T10:00:00Z" and report["ended_at"] == "2026-11-20T10:31:00Z"
    assert (await refused(bus, "cmd.billing.session_report", {"session_id": "unknown"})).status == 404


@pytest.mark.parametrize("amount", [True, 1, 1.5, None])
async def test_a_credit_amount_is_a_decimal_string_only_and_the_problem_names_it(billing, bus, amount):
    # Money travels as a decimal string: a number has lost its exact value, a boolean is no amount at all.
    problem = await refused(bus, "cmd.billing.credit", {"record_id": "r-1", "amount": amount, "reason": "x"})
    assert problem.status == 422 and problem.detail.startswith("amount: ")
    assert "CreditInput" not in str(problem.to_dict()) and "validation error for" not in problem.detail
