"""Billing keeps the platform's hash-chained audit trail, like consent, session and gateway: each significant
action (a price list stored, a record opened and closed, a credit issued) appends an entry in the transaction of
the action itself; `cmd.billing.audit` answers a session's entries, and `assist audit verify` checks the chain."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from assist.audit import verify_all
from assist_billing.models import BillingRecord
from assist_platform.audit import AuditEntry, verify_chain
from assist_platform.envelope import rfc3339, utcnow
from assist_platform.problems import Problem
from billing_testkit import at, new_session_id
from sqlalchemy import update
from sqlmodel import select


async def chain(billing) -> list[AuditEntry]:
    async with billing.database.session() as db:
        return list((await db.exec(select(AuditEntry).order_by(AuditEntry.id))).all())


async def bill_one(bus, *, minutes: float = 10) -> tuple[str, dict]:
    session_id = new_session_id()
    await bus.started(session_id, at=at())
    await bus.ended(session_id, started_at=at(), ended_at=at(minutes=minutes), ended_by="customer")
    return session_id, (await bus.wait_for_closed(session_id)).data


async def test_billings_actions_leave_chained_audit_entries_each_with_its_effect(billing, bus):
    stored = await chain(billing)
    assert stored and {entry.action for entry in stored} == {"billing.price_list.stored"}
    assert {(entry.actor, entry.detail["source"]) for entry in stored} == {("system", "bundled")}

    session_id, closed = await bill_one(bus)
    # The closed event is published after its transaction committed: the entries are there with it.
    trail = (await bus.command("cmd.billing.audit", {"session_id": session_id}))["entries"]
    assert [(entry["service"], entry["action"], entry["actor"]) for entry in trail] == [
        ("billing", "billing.record.opened", "system"), ("billing", "billing.record.closed", "system")]
    assert trail[1]["detail"] == {
        "record_id": closed["record_id"], "ended_by": "customer", "end_reason": "consultant_ended",
        "billable_seconds": closed["billable_seconds"], "units": closed["units"], "net": closed["net"],
        "vat": closed["vat"], "gross": closed["gross"], "currency": closed["currency"]}
    assert trail[0]["detail"]["started_at"] == rfc3339(at())

    credit = {"record_id": closed["record_id"], "amount": "1.00", "reason": "a dropped line", "issued_by": "fiona",
              "credit_id": "c-audit-1"}
    issued = await bus.command("cmd.billing.credit", credit)
    await bus.command("cmd.billing.credit", credit)  # a retry: the same credit, no second entry
    with pytest.raises(Problem) as refused:
        await bus.command("cmd.billing.credit", {**credit, "credit_id": "c-audit-2", "amount": "9999.00"})
    assert refused.value.status == 409  # refused and rolled back: no entry either
    trail = (await bus.command("cmd.billing.audit", {"session_id": session_id}))["entries"]
    assert [(entry["action"], entry["actor"]) for entry in trail][2:] == [("billing.credit.issued", "fiona")]
    assert trail[2]["detail"]["number"] == issued["credit"]["number"]

    current = await bus.command("cmd.billing.price_list", {})
    later = utcnow() + timedelta(days=3)
    await bus.command("cmd.billing.price_list.publish", {**current, "version": "2099-audit",
                                                         "effective_from": rfc3339(later), "published_by": "ada"})
    entries = await chain(billing)
    assert (entries[-1].action, entries[-1].actor, entries[-1].detail) == (
        "billing.price_list.stored", "ada",
        {"version": "2099-audit", "effective_from": rfc3339(later), "source": "published"})
    assert [entry.id for entry in entries] == list(range(1, len(entries) + 1))
    assert verify_chain(entries) is None


async def test_a_batch_of_closes_chains_one_entry_per_fact_in_order(billing, bus):
    sessions = [new_session_id() for _ in range(20)]
    for session_id in sessions:
        await bus.started(session_id, at=at())
    for session_id in sessions:
        await bus.ended(session_id, started_at=at(), ended_at=at(minutes=7))
    await bus.wait_for_events("billing.record.closed", len(sessions))
    entries = await chain(billing)
    facts = [(entry.action, entry.session_id) for entry in entries if entry.session_id]
    assert sorted(facts) == sorted([("billing.record.opened", s) for s in sessions]
                                   + [("billing.record.closed", s) for s in sessions])
    for session_id in sessions:  # opened before closed, whatever batches the consumer made
        assert facts.index(("billing.record.opened", session_id)) < facts.index(("billing.record.closed", session_id))
    assert verify_chain(entries) is None


async def test_an_edited_billing_audit_row_is_found_by_assist_audit_verify(billing, bus, database_location,
                                                                           monkeypatch):
    session_id, closed = await bill_one(bus)
    for key, value in database_location.env().items():
        monkeypatch.setenv(key, value)
    if not database_location.database_url:
        monkeypatch.delenv("DATABASE_URL", raising=False)
    report = io.StringIO()
    assert verify_all(report) == 0, report.getvalue()
    assert f"billing: intact ({len(await chain(billing))} entries)" in report.getvalue()

    entry = next(e for e in await chain(billing) if e.action == "billing.record.closed" and e.session_id == session_id)
    async with billing.database.transaction() as db:  # an insider lowers the bill, in the record and its entry
        await db.exec(update(BillingRecord).where(BillingRecord.record_id == closed["record_id"]).values(gross="0.00"))
        await db.exec(update(AuditEntry).where(AuditEntry.id == entry.id)
                      .values(detail={**entry.detail, "gross": "0.00"}))

    assert verify_chain(await chain(billing)).id == entry.id
    report = io.StringIO()
    assert verify_all(report) == 1
    assert f"billing: entry {entry.id} (billing.record.closed at " in report.getvalue()
