"""Opening and closing billable records from session events, inside the consumer's transaction.

Each function stages its events with `add_event` and its audit entries with `stage_audit` in the caller's
transaction, so a record, its event and its audit entry commit together or not at all. The unique session_id is the backstop when two deliveries race.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from assist_contract.billing import RECORD_CLOSED, RECORD_OPENED
from assist_platform.audit import stage_audit
from assist_platform.db import before_commit, take_transaction_list, transaction_list
from assist_platform.envelope import utcnow
from assist_platform.outbox import add_event
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session
from sqlmodel.ext.asyncio.session import AsyncSession

from . import price_lists
from .domain import (
    AwayPeriod,
    PriceList,
    ServiceType,
    billable_seconds,
    compute_charge,
    money,
    price_list_in_force,
)
from .events import record_closed_event, record_opened_event
from .metrics import count_closed_record
from .models import BillingRecord


class UnpricedServiceType(Exception):
    """The price list in force has no price for the session's service type (a malformed event)."""


@dataclass(frozen=True)
class SessionFacts:
    """What billing needs to know about a started session, from `session.started` or `session.ended`."""

    session_id: str
    service_type: str
    customer: dict
    consultant: str | None
    started_at: datetime


@dataclass(frozen=True)
class SessionEnd:
    ended_at: datetime
    ended_by: str | None
    end_reason: str | None
    consultant: str | None
    customer: dict | None
    away: tuple[AwayPeriod, ...] = ()  # when the agent was away before the end: not billed


def customer_search_text(customer: dict) -> str:
    return f"{customer.get('name') or ''} {customer.get('email') or ''}".casefold()


# Keys of what a transaction keeps in `db.info`: the records it looked up or wrote, and the price lists.
_RECORDS = "billing.records_by_session"
_PRICE_LISTS = "billing.price_lists"
_TABLE = BillingRecord.__table__

RecordRow = dict[str, Any]
"""A billing_record row as plain column values: the consumer reads and writes records with Core statements, one
per batch, because ORM entities (SQLModel's construction, change tracking, the flush) cost more than the rest of
a close together."""


def _records(db: AsyncSession) -> dict[str, RecordRow | None]:
    return db.info.setdefault(_RECORDS, {})


async def prefetch(*, db: AsyncSession, session_ids: set[str]) -> None:
    """Load, in two queries, what the events of one batch will look up: their records and the price lists.

    Without it each event costs a query or two of its own.
    """
    connection = await db.connection()
    # PostgreSQL: two replicas closing the same record queue up here. SQLite already holds the write lock.
    found = await connection.execute(select(_TABLE).where(_TABLE.c.session_id.in_(session_ids)).with_for_update())
    records = _records(db)
    records.update(dict.fromkeys(session_ids))
    records.update({row.session_id: dict(row._mapping) for row in found})
    db.info[_PRICE_LISTS] = await price_lists.all_versions(db=db)


async def _price_list_in_force(*, db: AsyncSession, at: datetime) -> PriceList:
    cached = db.info.get(_PRICE_LISTS)
    if cached:
        return price_list_in_force(cached, at=at)
    return await price_lists.in_force(db=db, at=at)


async def find_record(*, db: AsyncSession, session_id: str) -> RecordRow | None:
    records = _records(db)
    if session_id not in records:
        query = select(_TABLE).where(_TABLE.c.session_id == session_id).with_for_update()
        row = (await (await db.connection()).execute(query)).first()
        records[session_id] = dict(row._mapping) if row is not None else None
    return records[session_id]


async def open_record(*, db: AsyncSession, facts: SessionFacts) -> RecordRow | None:
    """Open the session's record at the price list in force when it started; None if it has one already."""
    if await find_record(db=db, session_id=facts.session_id) is not None:
        return None  # a redelivery, or `session.ended` came first and settled it
    return await _open(db=db, facts=facts)


async def _open(*, db: AsyncSession, facts: SessionFacts) -> RecordRow:
    price_list = await _price_list_in_force(db=db, at=facts.started_at)
    service_type = price_list.service_type(facts.service_type)
    if service_type is None:
        raise UnpricedServiceType(
            f"price list {price_list.version} has no price for service type {facts.service_type!r}"
        )
    record: RecordRow = dict.fromkeys(_TABLE.columns.keys())  # every column: rows of one statement share keys
    record.update({
        "record_id": str(uuid.uuid4()),
        "session_id": facts.session_id,
        "status": "open",
        "service_type": facts.service_type,
        "customer": facts.customer,
        "customer_search": customer_search_text(facts.customer),
        "consultant": facts.consultant,
        "price_list_version": price_list.version,
        "currency": price_list.currency,
        "started_at": facts.started_at,
        "unit_seconds": service_type.unit_seconds,
        "minimum_units": service_type.minimum_units,
        "unit_price": money(service_type.unit_price),
        "vat_rate": f"{price_list.vat_rate:f}",
        "opened_at": utcnow(),
    })
    _records(db)[facts.session_id] = record
    _stage_write(db, "insert", record)
    add_event(db, record_opened_event(record))
    stage_audit(db, action=RECORD_OPENED.type, actor="system", session_id=facts.session_id, detail={
        key: record[key] for key in ("record_id", "service_type", "price_list_version", "started_at")})
    return record


async def close_record(
    *, db: AsyncSession, facts: SessionFacts | None, session_id: str, end: SessionEnd
) -> RecordRow | None:
    """Close the session's record, opening it first if `session.ended` overtook `session.started`.

    `facts` is None for a session that never became active: it is never billed. Returns the record closed now,
    or None when there is nothing to close (never started, or closed before).
    """
    record = await find_record(db=db, session_id=session_id)
    if record is None:
        if facts is None:
            return None
        record = await _open(db=db, facts=facts)
    if record["status"] == "closed":
        return None
    record.update(_settlement(record, end))
    _stage_write(db, "update", record)
    add_event(db, record_closed_event(record))
    stage_audit(db, action=RECORD_CLOSED.type, actor="system", session_id=session_id, detail={
        key: record[key] for key in ("record_id", "ended_by", "end_reason", "billable_seconds", "units", "net", "vat",
                                     "gross", "currency")})
    count_closed_record(db, service_type=record["service_type"], currency=record["currency"], gross=record["gross"],
                        seconds=record["billable_seconds"])
    return record


def _settlement(record: RecordRow, end: SessionEnd) -> RecordRow:
    """The end and the charge, from the prices the record opened with."""
    service_type = ServiceType(
        code=record["service_type"],
        name={},
        unit_seconds=record["unit_seconds"],
        unit_price=Decimal(record["unit_price"]),
        minimum_units=record["minimum_units"],
    )
    seconds = billable_seconds(started_at=record["started_at"], ended_at=end.ended_at, away=end.away)
    charge = compute_charge(
        service_type=service_type, vat_rate=Decimal(record["vat_rate"]), currency=record["currency"], seconds=seconds
    )
    changes = {
        "status": "closed",
        "ended_at": end.ended_at,
        "ended_by": end.ended_by,
        "end_reason": end.end_reason,
        "consultant": end.consultant or record["consultant"],
        "billable_seconds": charge.billable_seconds,
        "units": charge.units,
        "net": money(charge.net),
        "vat": money(charge.vat),
        "gross": money(charge.gross),
        "closed_at": utcnow(),
    }
    if end.customer:
        changes["customer"] = end.customer
        changes["customer_search"] = customer_search_text(end.customer)
    return changes


# --- writing: staged in the transaction, one statement per kind just before it commits --------------------------
_STAGED = "billing.record_writes"


def _stage_write(db: AsyncSession, kind: str, record: RecordRow) -> None:
    """Write `record` (an insert, or the update of a settled record) when the transaction commits, as it is then."""
    staged = transaction_list(db, _STAGED)
    if not staged:
        before_commit(db, _write_staged)
    staged.append((kind, record))


def _write_staged(session: Session) -> None:
    inserts: dict[str, RecordRow] = {}
    updates: dict[str, RecordRow] = {}
    for kind, record in take_transaction_list(session, _STAGED):
        (inserts if kind == "insert" else updates)[record["record_id"]] = record
    connection = session.connection()
    if inserts:
        connection.execute(insert(_TABLE), list(inserts.values()))  # a record opened and closed here: its end too
    settled = [record for record_id, record in updates.items() if record_id not in inserts]
    if settled:
        connection.execute(
            update(_TABLE).where(_TABLE.c.record_id == bindparam("_record_id")),
            [{**record, "_record_id": record["record_id"]} for record in settled],  # the row as it is now
        )
