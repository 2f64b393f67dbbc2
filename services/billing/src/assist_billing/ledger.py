"""What finance reads and does with the records: listing, credit notes, exports, the customer's session report."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from assist_platform.audit import stage_audit
from assist_platform.envelope import utcnow
from assist_platform.outbox import add_event
from sqlalchemy import func
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from .domain import (
    CreditRefused,
    InvalidCredit,
    check_credit,
    check_reason,
    credit_number,
    money,
    parse_credit_amount,
    split_gross,
)
from .events import record_credited_event
from .models import BillingRecord, Credit, CreditNumberSequence


class NotFound(Exception):
    def __init__(self, detail: str, *, code: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code
        self.values: dict[str, str] = {}


@dataclass(frozen=True)
class RecordFilter:
    status: str | None = None
    started_from: datetime | None = None  # inclusive
    started_to: datetime | None = None  # exclusive
    customer: str | None = None  # a piece of the name or e-mail, any case
    service_type: str | None = None


def _like_pattern(text: str) -> str:
    escaped = text.casefold().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _conditions(where: RecordFilter) -> list:
    conditions = []
    if where.status:
        conditions.append(BillingRecord.status == where.status)
    if where.started_from:
        conditions.append(BillingRecord.started_at >= where.started_from)
    if where.started_to:
        conditions.append(BillingRecord.started_at < where.started_to)
    if where.customer:
        conditions.append(BillingRecord.customer_search.like(_like_pattern(where.customer), escape="\\"))
    if where.service_type:
        conditions.append(BillingRecord.service_type == where.service_type)
    return conditions


async def list_records(
    *, db: AsyncSession, where: RecordFilter, limit: int, offset: int
) -> tuple[list[BillingRecord], int]:
    """One page of matching records, newest start first, and how many match in all."""
    conditions = _conditions(where)
    total = (await db.exec(select(func.count()).select_from(BillingRecord).where(*conditions))).one()
    page = (
        await db.exec(
            select(BillingRecord)
            .where(*conditions)
            .order_by(BillingRecord.started_at.desc(), BillingRecord.record_id)
            .limit(limit)
            .offset(offset)
        )
    ).all()
    return list(page), int(total)


async def sums_of(*, db: AsyncSession, where: RecordFilter) -> dict[str, Decimal]:
    """Net, VAT, gross and credited over every record the filter matches, however many pages they fill: what the
    finance page's totals row says. Money is kept as exact decimal text, so it is added up here, not in SQL."""
    conditions = _conditions(where)
    sums = dict.fromkeys(("net", "vat", "gross", "credited"), Decimal("0.00"))
    for amounts in await db.exec(select(BillingRecord.net, BillingRecord.vat, BillingRecord.gross).where(*conditions)):
        for field, amount in zip(("net", "vat", "gross"), amounts, strict=True):
            sums[field] += Decimal(amount or "0")
    credited = select(Credit.amount).join(BillingRecord, Credit.record_id == BillingRecord.record_id)
    for amount in await db.exec(credited.where(*conditions)):
        sums["credited"] += Decimal(amount)
    return sums


async def get_record(*, db: AsyncSession, record_id: str) -> BillingRecord:
    record = await db.get(BillingRecord, record_id)
    if record is None:
        raise NotFound(f"no billing record {record_id}")
    return record


async def record_of_session(*, db: AsyncSession, session_id: str) -> BillingRecord:
    record = (await db.exec(select(BillingRecord).where(BillingRecord.session_id == session_id))).first()
    if record is None:
        raise NotFound(f"session {session_id} has no billing record (it never became active, or is not known yet)")
    return record


async def credits_of(*, db: AsyncSession, record_ids: list[str]) -> dict[str, list[Credit]]:
    if not record_ids:
        return {}
    rows = (
        await db.exec(
            select(Credit).where(Credit.record_id.in_(record_ids)).order_by(Credit.issued_at, Credit.number)
        )
    ).all()
    found: dict[str, list[Credit]] = {record_id: [] for record_id in record_ids}
    for credit in rows:
        found[credit.record_id].append(credit)
    return found


def credited_total(credits: list[Credit]) -> Decimal:
    return sum((Decimal(credit.amount) for credit in credits), Decimal("0.00"))


@dataclass(frozen=True)
class IssuedCredit:
    credit: Credit
    credited_total: Decimal
    remaining: Decimal
    already_issued: bool


async def issue_credit(
    *, db: AsyncSession, record_id: str, amount: str, reason: str, issued_by: str | None, credit_id: str | None
) -> IssuedCredit:
    """A credit note against a closed record, staged with its `billing.record.credited` event and audit entry.

    The record row is locked first (PostgreSQL), so two credits issued at once cannot both take what is left.
    A `credit_id` given again (a retried command) returns the credit issued the first time.
    """
    value = parse_credit_amount(amount)
    reason = check_reason(reason)
    record = (
        await db.exec(select(BillingRecord).where(BillingRecord.record_id == record_id).with_for_update())
    ).first()
    if record is None:
        raise NotFound(f"no billing record {record_id}", code="credit_record_unknown")
    credits = (await credits_of(db=db, record_ids=[record_id]))[record_id]
    if credit_id is not None:
        # Before any number is taken: a retry returns the credit note (and number) of the first request.
        earlier = await db.get(Credit, credit_id)
        if earlier is not None:
            if earlier.record_id != record_id or earlier.amount != money(value):
                raise InvalidCredit(
                    f"credit {credit_id} was issued before with another record or amount", code="credit_id_reused"
                )
            total = credited_total(credits)
            return IssuedCredit(earlier, total, Decimal(record.gross or "0") - total, already_issued=True)
    if record.status != "closed":
        raise CreditRefused(
            "only a closed record can be credited; this session is still running", code="credit_record_open"
        )
    already = credited_total(credits)
    remaining = check_credit(amount=value, gross=Decimal(record.gross), already_credited=already)
    net, vat = split_gross(value, vat_rate=Decimal(record.vat_rate))
    issued_at = utcnow()
    credit = Credit(
        credit_id=credit_id or str(uuid.uuid4()),
        number=await next_credit_number(db=db, year=issued_at.year),
        record_id=record.record_id,
        session_id=record.session_id,
        amount=money(value),
        net=money(net),
        vat=money(vat),
        currency=record.currency,
        reason=reason,
        issued_by=issued_by,
        issued_at=issued_at,
    )
    db.add(credit)
    add_event(db, record_credited_event(credit, credited_total=money(already + value), remaining=money(remaining)))
    stage_audit(db, action="billing.credit.issued", actor=issued_by or "system", session_id=record.session_id, detail={
        "credit_id": credit.credit_id, "number": credit.number, "record_id": record.record_id,
        "amount": credit.amount, "net": credit.net, "vat": credit.vat, "currency": credit.currency})
    return IssuedCredit(credit, already + value, remaining, already_issued=False)


async def next_credit_number(*, db: AsyncSession, year: int) -> str:
    """The next number of `year`, taken inside the caller's transaction.

    One statement, `INSERT … ON CONFLICT (year) DO UPDATE SET last = last + 1 RETURNING last`: on PostgreSQL the
    row stays locked until the transaction ends, so a concurrent credit waits and then reads the committed value;
    on SQLite the transaction already holds the database's write lock (BEGIN IMMEDIATE). A rollback undoes the
    increment with the credit, so numbers have no gaps; they are never reused either, since a credit is never
    deleted.
    """
    dialect = postgresql if db.bind.dialect.name == "postgresql" else sqlite
    table = CreditNumberSequence.__table__
    statement = (
        dialect.insert(table)
        .values(year=year, last=1)
        .on_conflict_do_update(index_elements=[table.c.year], set_={"last": table.c.last + 1})
        .returning(table.c.last)
    )
    sequence = (await (await db.connection()).execute(statement)).scalar_one()
    return credit_number(year, sequence)


async def credit_note(*, db: AsyncSession, credit_id: str) -> tuple[Credit, BillingRecord, list[Credit]]:
    """A credit note with the record it credits and every credit of that record (for what is left)."""
    credit = await db.get(Credit, credit_id)
    if credit is None:
        raise NotFound(f"no credit note {credit_id}", code="credit_note_unknown")
    record = await get_record(db=db, record_id=credit.record_id)
    return credit, record, (await credits_of(db=db, record_ids=[record.record_id]))[record.record_id]


async def credits_between(*, db: AsyncSession, issued_from: datetime, issued_to: datetime) -> list[Credit]:
    """Credit notes issued in [from, to), in number order (which is issue order)."""
    rows = (
        await db.exec(
            select(Credit)
            .where(Credit.issued_at >= issued_from, Credit.issued_at < issued_to)
            .order_by(Credit.issued_at, Credit.number)
        )
    ).all()
    return list(rows)


async def records_of(*, db: AsyncSession, record_ids: list[str]) -> dict[str, BillingRecord]:
    if not record_ids:
        return {}
    rows = (await db.exec(select(BillingRecord).where(BillingRecord.record_id.in_(record_ids)))).all()
    return {record.record_id: record for record in rows}


async def matching_records(*, db: AsyncSession, where: RecordFilter, limit: int) -> list[BillingRecord]:
    """Every record the filter matches (at most `limit`), in the finance page's order: newest start first."""
    rows = (
        await db.exec(
            select(BillingRecord)
            .where(*_conditions(where))
            .order_by(BillingRecord.started_at.desc(), BillingRecord.record_id)
            .limit(limit)
        )
    ).all()
    return list(rows)


async def closed_between(*, db: AsyncSession, ended_from: datetime, ended_to: datetime) -> list[BillingRecord]:
    """Closed records whose session ended in [from, to), oldest first: the rows of an export."""
    rows = (
        await db.exec(
            select(BillingRecord)
            .where(
                BillingRecord.status == "closed",
                BillingRecord.ended_at >= ended_from,
                BillingRecord.ended_at < ended_to,
            )
            .order_by(BillingRecord.ended_at, BillingRecord.record_id)
        )
    ).all()
    return list(rows)
