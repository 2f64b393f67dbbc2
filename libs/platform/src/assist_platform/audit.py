"""The audit trail: an append-only, hash-chained record of who did what to which session, when, and from where.

Every service keeps its own chain (table `audit_entry`) and appends to it in the same transaction as the fact it
records. Entry n stores `hash = sha256(hash of entry n-1 + canonical JSON of entry n)`, so editing, deleting or
reordering any committed row breaks the chain from that row on; `verify_chain` finds the first broken link.
Appends are serialized per chain (a transaction-scoped advisory lock on PostgreSQL; SQLite transactions already
hold the write lock from their start, see db.py).

`append_audit` writes an entry at once (and returns it, e.g. for a receipt); `stage_audit` writes the entries a
transaction staged when it commits, with one read of the head and one INSERT, for paths that record many facts
per transaction (billing's consumer closes a batch of records in one).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from pydantic import BaseModel
from pydantic import Field as PydanticField
from sqlalchemy import JSON, Column, insert, text
from sqlalchemy.orm import Session
from sqlmodel import Field, SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from . import endings
from .db import Database, before_commit, take_transaction_list, transaction_list
from .envelope import rfc3339, utcnow

GENESIS = "0" * 64
# Serializes appends to this schema's chain until the transaction ends. Not `FOR UPDATE` on the head: a waiter
# would wake up holding the old head (READ COMMITTED) and append a duplicate id after it.
_CHAIN_LOCK = text("SELECT pg_advisory_xact_lock(hashtext('assist_audit:' || current_schema()))")


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_entry"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(index=True)
    action: str = Field(max_length=64)
    actor: str = Field(max_length=200)
    session_id: str | None = Field(default=None, index=True, max_length=64)
    client_address: str | None = Field(default=None, max_length=100)
    detail: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64, unique=True)


AUDIT_TABLES = (AuditEntry.__table__,)


def _as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def canonical(entry: AuditEntry | SimpleNamespace) -> bytes:
    """The entry's content as canonical JSON (sorted keys, no spaces): what its hash covers."""
    return json.dumps(_content(entry), sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def entry_hash(prev_hash: str, entry: AuditEntry | SimpleNamespace) -> str:
    return hashlib.sha256(prev_hash.encode() + canonical(entry)).hexdigest()


async def append_audit(
    db: AsyncSession, *, action: str, actor: str, session_id: str | None = None,
    client_address: str | None = None, detail: dict[str, Any] | None = None, at: datetime | None = None,
) -> AuditEntry:
    """Append one entry in the caller's transaction; it is part of the chain only if that transaction commits."""
    if db.bind is not None and db.bind.dialect.name == "postgresql":
        await db.exec(_CHAIN_LOCK)
    head = (await db.exec(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1))).first()
    entry = AuditEntry(
        id=(head.id + 1) if head is not None else 1,
        at=_as_utc(at or utcnow()),
        action=action,
        actor=actor,
        session_id=session_id,
        client_address=client_address,
        detail=json.loads(json.dumps(detail or {}, default=str)),
        prev_hash=head.hash if head is not None else GENESIS,
    )
    entry.hash = entry_hash(entry.prev_hash, entry)
    db.add(entry)
    await db.flush()
    return entry


async def record_audit(
    database: Database, *, action: str, actor: str, session_id: str | None = None,
    client_address: str | None = None, detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry in a short transaction of its own: for a record that must stand before the caller goes on
    (an overseer's read of customers' data, a relay connecting), whatever the caller does next. Raises if it
    cannot be written, so that the caller can refuse instead of acting unrecorded."""
    async with database.transaction() as db:
        return await append_audit(db, action=action, actor=actor, session_id=session_id,
                                  client_address=client_address, detail=detail)


def stage_audit(
    db: AsyncSession, *, action: str, actor: str, session_id: str | None = None,
    client_address: str | None = None, detail: dict[str, Any] | None = None, at: datetime | None = None,
) -> None:
    """Append one entry when the caller's transaction commits (never if it rolls back), after every entry
    committed or appended before it; entries staged in one transaction keep the order they were staged in."""
    staged = transaction_list(db, "audit")
    if not staged:
        before_commit(db, _append_staged)
    staged.append({
        "at": _as_utc(at or utcnow()), "action": action, "actor": actor, "session_id": session_id,
        "client_address": client_address, "detail": json.loads(json.dumps(detail or {}, default=_json_value)),
    })


def _json_value(value: Any) -> str:
    return rfc3339(_as_utc(value)) if isinstance(value, datetime) else str(value)


def _append_staged(session: Session) -> None:
    staged = take_transaction_list(session, "audit")
    if not staged:
        return
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(_CHAIN_LOCK)
    table = AuditEntry.__table__
    head = connection.execute(select(table.c.id, table.c.hash).order_by(table.c.id.desc()).limit(1)).first()
    last_id, prev_hash = (head.id, head.hash) if head is not None else (0, GENESIS)
    rows = []
    for number, values in enumerate(staged, start=last_id + 1):
        row = {"id": number, **values, "prev_hash": prev_hash}
        row["hash"] = prev_hash = entry_hash(prev_hash, SimpleNamespace(**row))
        rows.append(row)
    connection.execute(insert(table), rows)


def verify_chain(rows: Iterable[AuditEntry]) -> AuditEntry | None:
    """The first entry (in id order) whose link or content does not match, or None when the chain is intact."""
    prev_hash, expected_id = GENESIS, 1
    for row in rows:
        if row.id != expected_id or row.prev_hash != prev_hash or row.hash != entry_hash(prev_hash, row):
            return row
        prev_hash, expected_id = row.hash, expected_id + 1
    return None


async def entries_of_session(db: AsyncSession, *, session_id: str) -> list[AuditEntry]:
    return list((await db.exec(select(AuditEntry).where(AuditEntry.session_id == session_id)
                               .order_by(AuditEntry.id))).all())


def entry_view(entry: AuditEntry, *, service: str) -> dict[str, Any]:
    return {"service": service, **_content(entry), "hash": entry.hash}


def _content(entry: AuditEntry) -> dict[str, Any]:
    """What an entry says (everything but its links): hashed, and shown."""
    return {
        "id": entry.id,
        "at": rfc3339(_as_utc(entry.at)),
        "action": entry.action,
        "actor": entry.actor,
        "session_id": entry.session_id,
        "client_address": entry.client_address,
        "detail": entry.detail,
    }


class AuditQuery(BaseModel):
    session_id: str = PydanticField(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")


class AuditEntryView(BaseModel):
    """One entry of a service's chain as shown (`entry_view`). `at` stays the text that was hashed."""

    service: str
    id: int
    at: str
    action: str
    actor: str | None
    session_id: str | None
    client_address: str | None
    detail: dict[str, Any]
    hash: str


class AuditTrail(BaseModel):
    """What a service's audit command answers: its entries about one session, oldest first."""

    entries: list[AuditEntryView]


def audit_handler(*, service: str, database) -> Callable[[AuditQuery], Awaitable[AuditTrail]]:
    """The handler of a service's audit command (the service's entries about one session); each service serves it
    on the subject the contract gives it (`assist_contract.<service>.audit`)."""

    async def handler(request: AuditQuery) -> AuditTrail:
        return await audit_trail(database, service=service, session_id=request.session_id)

    return handler


async def audit_trail(database: Database, *, service: str, session_id: str) -> AuditTrail:
    """`service`'s entries about one session, oldest first."""
    async with database.transaction() as db:
        entries = await entries_of_session(db, session_id=session_id)
    return AuditTrail(entries=[entry_view(entry, service=service) for entry in entries])


def actor_of_reason(reason: str) -> str:
    """Who ended access, as far as a revocation reason tells (a command may name the actor exactly)."""
    return "admin" if reason == endings.ADMIN else endings.ended_by_of(reason)
