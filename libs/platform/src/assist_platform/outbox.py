"""The transactional outbox: an event row commits with the state change, a publisher task sends it later."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime

from sqlalchemy import Column, LargeBinary, Text, insert, update
from sqlalchemy import event as orm_events
from sqlalchemy.orm import Session
from sqlmodel import Field, SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from .db import (
    Database,
    after_commit,
    database_of,
    finish_even_if_cancelled,
    take_transaction_list,
    transaction_list,
)
from .envelope import CloudEvent, utcnow
from .retrying import retrying, stop_when
from .telemetry import current_trace_headers

log = logging.getLogger(__name__)

_PUBLISH_WINDOW = 50


class OutboxEvent(SQLModel, table=True):
    __tablename__ = "outbox_event"

    seq: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(index=True, unique=True, max_length=64)
    subject: str = Field(max_length=200)
    payload: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    headers: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = Field(default=None, index=True)


class ProcessedEvent(SQLModel, table=True):
    """An event a consumer has applied; written in the same transaction as the effect."""

    __tablename__ = "processed_event"

    consumer: str = Field(primary_key=True, max_length=100)
    event_id: str = Field(primary_key=True, max_length=64)
    processed_at: datetime = Field(default_factory=utcnow)


PLATFORM_TABLES = (OutboxEvent.__table__, ProcessedEvent.__table__)


def add_event(db: AsyncSession, event: CloudEvent) -> None:
    """Stage `event` in the caller's transaction; it is published only if that transaction commits, and the
    commit itself wakes the publisher (nobody calls `notify`)."""
    headers = {"Nats-Msg-Id": event.id, **current_trace_headers()}
    # Plain rows written by one INSERT when the transaction commits: building an ORM entity per event cost more
    # than the rest of a billing close together.
    transaction_list(db, "outbox").append(
        {"event_id": event.id, "subject": event.type, "payload": event.to_bytes(), "headers": json.dumps(headers),
         "created_at": utcnow(), "sent_at": None}
    )


@orm_events.listens_for(Session, "before_commit")
def _insert_staged_events(session: Session) -> None:
    """Every commit of every session writes the events staged in it, inside the transaction it commits, and
    once it has committed wakes the publisher of its database."""
    staged = take_transaction_list(session, "outbox")
    if staged:
        session.connection().execute(insert(OutboxEvent.__table__), staged)
        database = database_of(session)
        if database is not None:
            after_commit(session, database.events_committed)


class OutboxPublisher:
    """Sends committed outbox rows to JetStream in order and marks them sent.

    A crash between publishing and marking re-sends the row; JetStream drops it within its duplicate window
    and consumers drop it by event id after that, so a resend is harmless.
    """

    def __init__(self, *, database: Database, js, batch_size: int = 200, idle_poll_seconds: float = 1.0) -> None:
        self._database = database
        self._js = js
        self._batch_size = batch_size
        self._idle_poll = idle_poll_seconds
        self._wake = asyncio.Event()
        self._stopping = False
        self.last_error: str | None = None
        database.on_events_committed.append(self.notify)

    def notify(self) -> None:
        """Events were committed (called by the commit itself, see `_insert_staged_events`): look now instead of
        at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        while not self._stopping:
            # Cleared before looking, not after: a notify that arrives while a batch is being sent must not be lost
            # (it would leave the new row waiting for the idle poll).
            self._wake.clear()
            try:
                sent = await self._publish_until_sent()
            except Exception:
                if self._stopping:
                    return
                raise
            if sent < self._batch_size:
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=self._idle_poll)
                except TimeoutError:
                    pass

    async def _publish_until_sent(self) -> int:
        """NATS away, database busy: keep the rows and try again shortly (the platform's backoff)."""
        async for attempt in retrying(what="outbox publish", stop=stop_when(lambda: self._stopping)):
            with attempt:
                try:
                    sent = await finish_even_if_cancelled(self.publish_pending())
                except Exception as exc:
                    self.last_error = f"{type(exc).__name__}: {exc}"
                    raise
                self.last_error = None
                return sent
        raise AssertionError("unreachable: the policy re-raises the last failure")

    async def publish_pending(self) -> int:
        """Publish one batch of unsent rows; returns how many went out."""
        # Plain column rows, not entities: the rollback below expires every entity the session loaded.
        async with self._database.session() as db:
            rows = (
                await db.exec(
                    select(OutboxEvent.seq, OutboxEvent.subject, OutboxEvent.payload, OutboxEvent.headers)
                    .where(OutboxEvent.sent_at.is_(None))
                    .order_by(OutboxEvent.seq)
                    .limit(self._batch_size)
                )
            ).all()
            await db.rollback()
        sent_seqs: list[int] = []
        try:
            # A window of publishes in flight at once: one wait for its acks instead of one per row. Publishes
            # leave in order; only a failure inside a window can let a later row of it arrive before the retry.
            for start in range(0, len(rows), _PUBLISH_WINDOW):
                window = rows[start : start + _PUBLISH_WINDOW]
                results = await asyncio.gather(
                    *(
                        self._js.publish(row.subject, row.payload, headers=json.loads(row.headers), timeout=2.0)
                        for row in window
                    ),
                    return_exceptions=True,
                )
                failure = next((result for result in results if isinstance(result, BaseException)), None)
                sent_seqs.extend(row.seq for row, result in zip(window, results) if not isinstance(result, BaseException))
                if failure is not None:
                    raise failure
        finally:
            if sent_seqs:
                async with self._database.transaction() as db:
                    await db.exec(
                        update(OutboxEvent).where(OutboxEvent.seq.in_(sent_seqs)).values(sent_at=utcnow())
                    )
        return len(sent_seqs)

    async def backlog(self) -> int:
        async with self._database.session() as db:
            rows = (await db.exec(select(OutboxEvent.seq).where(OutboxEvent.sent_at.is_(None)))).all()
            await db.rollback()
            return len(rows)

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self.notify in self._database.on_events_committed:
            self._database.on_events_committed.remove(self.notify)
