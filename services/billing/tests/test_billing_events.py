"""Billing from SESSION events over a real nats-server and database: records, BILLING events, duplicates."""

from __future__ import annotations

from datetime import timedelta

from assist_billing.models import BillingRecord
from assist_platform.envelope import utcnow
from billing_testkit import CUSTOMER, at, ended_event, eventually, new_session_id, started_event
from sqlmodel import select


async def records_of(billing, session_id: str) -> list[BillingRecord]:
    async with billing.database.session() as db:
        return list((await db.exec(select(BillingRecord).where(BillingRecord.session_id == session_id))).all())


async def closed_record(billing, session_id: str) -> BillingRecord:
    async def closed():
        records = await records_of(billing, session_id)
        return records[0] if records and records[0].status == "closed" else None

    return await eventually(closed, timeout=15.0, what=f"a closed record of {session_id}")


async def test_a_started_session_opens_a_record_at_the_price_list_in_force(billing, bus):
    session_id = new_session_id()
    await bus.started(session_id, at=at(), service_type="system_help")
    (opened,) = await bus.wait_for_events("billing.record.opened", 1)
    assert opened.subject == session_id
    assert opened.data == {
        "record_id": opened.data["record_id"], "session_id": session_id, "service_type": "system_help",
        "price_list_version": "2026-11-01", "started_at": "2026-11-20T10:00:00Z",
    }
    (record,) = await records_of(billing, session_id)
    assert record.status == "open" and record.record_id == opened.data["record_id"]


async def test_an_ended_session_is_billed_per_started_unit_with_vat(billing, bus):
    session_id = new_session_id()
    await bus.started(session_id, at=at())
    await bus.ended(session_id, started_at=at(), ended_at=at(minutes=15, seconds=0.3), ended_by="customer")
    (closed,) = await bus.wait_for_events("billing.record.closed", 1)
    data = closed.data
    assert closed.subject == session_id and closed.source == "assist/billing"
    assert data["customer"] == CUSTOMER and data["consultant"] == "maria" and data["ended_by"] == "customer"
    assert (data["billable_seconds"], data["units"], data["unit_seconds"]) == (901, 2, 900)
    assert (data["unit_price"], data["net"], data["vat_rate"], data["vat"], data["gross"]) == (
        "15.00", "30.00", "0.20", "6.00", "36.00"
    )
    assert data["currency"] == "EUR" and data["price_list_version"] == "2026-11-01"
    assert data["started_at"] == "2026-11-20T10:00:00Z" and data["ended_at"] == "2026-11-20T10:15:00.300000Z"
    opened = (await bus.billing_events("billing.record.opened"))[0]
    assert data["record_id"] == opened.data["record_id"]


async def test_a_short_session_costs_the_minimum_units(billing, bus):
    session_id = new_session_id()
    await bus.started(session_id, at=at(), service_type="urgent_help")
    await bus.ended(session_id, started_at=at(), ended_at=at(seconds=1), service_type="urgent_help")
    record = await closed_record(billing, session_id)
    assert (record.billable_seconds, record.units, record.net, record.vat, record.gross) == (
        1, 3, "90.00", "18.00", "108.00"
    )


async def test_duplicates_and_republished_events_bill_a_session_once(billing, bus):
    session_id = new_session_id()
    started = started_event(session_id, at=at())
    ended = ended_event(session_id, started_at=at(), ended_at=at(minutes=10))
    for event in (started, started, ended, ended):
        await bus.publish(event)
    # Past the JetStream duplicate window a republished event arrives again: it has the same CloudEvent id.
    await bus.js.publish(ended.type, ended.to_bytes(), headers={"Nats-Msg-Id": f"{ended.id}-republished"})
    # A second `session.ended` with a new id (a session service retry after a crash) closes nothing twice either.
    await bus.publish(ended_event(session_id, started_at=at(), ended_at=at(minutes=11)))
    await closed_record(billing, session_id)
    marker = new_session_id()  # events are consumed in order: once the marker is billed, all of the above were seen
    await bus.started(marker, at=at())
    await bus.ended(marker, started_at=at(), ended_at=at(minutes=1))
    await bus.wait_for_closed(marker)
    closed = [e for e in await bus.billing_events("billing.record.closed") if e.subject == session_id]
    opened = [e for e in await bus.billing_events("billing.record.opened") if e.subject == session_id]
    assert len(closed) == 1 and len(opened) == 1
    assert closed[0].data["billable_seconds"] == 600  # the first end counts
    assert len(await records_of(billing, session_id)) == 1


async def test_an_end_that_overtakes_the_start_opens_and_closes_in_one_go(billing, bus):
    session_id = new_session_id()
    await bus.ended(session_id, started_at=at(), ended_at=at(minutes=20), service_type="system_help")
    record = await closed_record(billing, session_id)
    assert (record.units, record.gross) == (2, "54.00")
    await bus.started(session_id, at=at(), service_type="system_help")  # late: a no-op
    marker = new_session_id()
    await bus.ended(marker, started_at=at(), ended_at=at(minutes=1))
    await bus.wait_for_closed(marker)
    events = [e for e in await bus.billing_events() if e.subject == session_id]
    assert [e.type for e in events] == ["billing.record.opened", "billing.record.closed"]
    (again,) = await records_of(billing, session_id)
    assert again.status == "closed" and again.gross == "54.00"


async def test_a_session_that_never_started_is_never_billed(billing, bus):
    never = new_session_id()
    await bus.ended(never, started_at=None, ended_at=at(minutes=30), ended_by="system")
    marker = new_session_id()
    await bus.ended(marker, started_at=at(), ended_at=at(minutes=1))
    await bus.wait_for_closed(marker)
    assert await records_of(billing, never) == []
    assert not [e for e in await bus.billing_events() if e.subject == never]


async def test_a_price_list_published_during_a_session_does_not_reach_it(billing, bus):
    effective = (utcnow() + timedelta(hours=1)).replace(microsecond=0)
    current = await bus.command("cmd.billing.price_list", {})
    new_prices = {**current, "version": "next", "effective_from": effective.isoformat()}
    new_prices["service_types"] = [{**item, "unit_price": "99.00"} for item in current["service_types"]]
    await bus.command("cmd.billing.price_list.publish", new_prices)

    during, after = new_session_id(), new_session_id()
    await bus.started(during, at=effective - timedelta(minutes=5))
    await bus.ended(during, started_at=effective - timedelta(minutes=5), ended_at=effective + timedelta(minutes=5))
    await bus.started(after, at=effective + timedelta(seconds=1))
    await bus.ended(after, started_at=effective + timedelta(seconds=1), ended_at=effective + timedelta(minutes=5))
    old, new = await closed_record(billing, during), await closed_record(billing, after)
    assert (old.price_list_version, old.unit_price, old.gross) == (current["version"], "15.00", "18.00")
    assert (new.price_list_version, new.unit_price, new.gross) == ("next", "99.00", "118.80")
