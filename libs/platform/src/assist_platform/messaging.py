"""Connecting to NATS, the JetStream streams, and idempotent event consumption."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

import nats
from nats.aio.client import Client as NATS
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError
from opentelemetry import context as otel_context
from opentelemetry.trace import SpanKind
from pydantic import ValidationError
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from .db import Database, finish_even_if_cancelled
from .envelope import CloudEvent, utcnow
from .outbox import ProcessedEvent
from .retrying import retrying, stop_when
from .telemetry import context_from_headers, tracer

log = logging.getLogger(__name__)

DUPLICATE_WINDOW_SECONDS = 120.0


async def connect_nats(
    url: str, *, name: str, attempts: int | None = None, user: str | None = None, password: str | None = None
) -> NATS:
    """Connect, retrying the first connection too: a service may start before NATS does.

    `user`/`password`: the service's own NATS user (taking precedence over credentials written in `url`).
    """
    async for attempt in retrying(what=f"connecting to NATS at {url}", attempts=attempts, first=0.2, most=2.0):
        with attempt:
            return await nats.connect(
                servers=[server.strip() for server in url.split(",")],
                name=name,
                user=user,
                password=password,
                allow_reconnect=True,
                max_reconnect_attempts=-1,
                reconnect_time_wait=0.25,
                connect_timeout=2,
                ping_interval=5,
                max_outstanding_pings=2,
            )
    raise AssertionError("unreachable: the policy re-raises the last failure")


async def ensure_streams(js, streams: Mapping[str, Sequence[str]], *, replicas: int = 1) -> None:
    """Create the streams (`name → subjects`: the contract's `assist_contract.streams.STREAMS`), or bring their
    subjects and settings up to date."""
    for name, subjects in streams.items():
        config = StreamConfig(
            name=name,
            subjects=list(subjects),
            storage=StorageType.FILE,
            num_replicas=replicas,
            duplicate_window=DUPLICATE_WINDOW_SECONDS,
        )
        try:
            await js.stream_info(name)
            await js.update_stream(config)
        except NotFoundError:
            await js.add_stream(config)


class _AlreadyApplied(Exception):
    pass


EventHandler = Callable[[AsyncSession, CloudEvent], Awaitable[None]]


class ByType:
    """A subscription's handler that gives each event type its own handler (other types are not ours: ignored),
    and drops an event that can never be applied (`poison`, besides a payload that breaks its model): it is
    logged and recorded as processed, since redelivering it would fail the same way forever."""

    def __init__(self, handlers: Mapping[str, EventHandler], *, poison: tuple[type[Exception], ...] = ()) -> None:
        self.handlers = dict(handlers)
        self._poison = (ValidationError, *poison)

    async def __call__(self, db: AsyncSession, event: CloudEvent) -> None:
        handler = self.handlers.get(event.type)
        if handler is None:
            return
        try:
            await handler(db, event)
        except self._poison as exc:
            log.error("dropping %s event %s, which can never be applied: %s", event.type, event.id, exc)


@dataclass(frozen=True)
class Subscription:
    """One durable consumer of a service: which events it takes, and the function that applies one."""

    stream: str
    durable: str
    subjects: tuple[str, ...]
    handler: EventHandler
    # Apply a fetched batch in one transaction (one commit instead of one per event), falling back to one
    # transaction per event if any event of the batch fails. Only for handlers whose effects are all in the DB.
    batch_transactions: bool = False
    # Called once per batch transaction, before the handlers, with the events about to be applied: a handler
    # may load in one query what each event would otherwise look up on its own (keep it in `db.info`).
    prepare_batch: Callable[[AsyncSession, list[CloudEvent]], Awaitable[None]] | None = None


class IdempotentConsumer:
    """A durable pull consumer that applies each event at most once and acknowledges only after commit.

    The processed event id is inserted in the handler's transaction; a redelivered or republished event hits the
    primary key, and that transaction is rolled back without effect, then acknowledged.
    """

    def __init__(
        self, *, js, database: Database, subscription: Subscription, batch_size: int = 100,
    ) -> None:
        self._js = js
        self._database = database
        self._sub = subscription
        self._batch_size = batch_size
        self._pull = None
        self._stopping = False
        self.ready = asyncio.Event()

    async def _bind(self) -> None:
        config = ConsumerConfig(
            durable_name=self._sub.durable,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            filter_subjects=list(self._sub.subjects),
            ack_wait=30,
            max_deliver=-1,
            max_ack_pending=1000,
        )
        await self._js.add_consumer(self._sub.stream, config)
        self._pull = await self._js.pull_subscribe_bind(durable=self._sub.durable, stream=self._sub.stream)

    async def run(self) -> None:
        while not self._stopping:
            try:
                msgs = await self._next_messages()
            except Exception:
                if self._stopping:
                    return
                raise
            # The database work of a fetched batch runs to its end even if the runtime stops meanwhile: a
            # transaction cancelled half-way can leave SQLite's write lock held (see finish_even_if_cancelled).
            if self._sub.batch_transactions and len(msgs) > 1:
                await finish_even_if_cancelled(self._handle_batch(msgs))
                continue
            for msg in msgs:
                await finish_even_if_cancelled(self._handle(msg))

    async def _next_messages(self) -> list:
        """The next fetched messages (none after a quiet second), binding the consumer again after a failure."""
        policy = retrying(what=f"consumer {self._sub.durable}: fetch", first=0.5, most=0.5,
                          stop=stop_when(lambda: self._stopping))
        async for attempt in policy:
            with attempt:
                try:
                    if self._pull is None:
                        await self._bind()
                        self.ready.set()
                    return await self._fetch()
                except (NatsTimeoutError, TimeoutError):
                    return []
                except Exception:
                    self._pull = None
                    raise
        raise AssertionError("unreachable: the policy re-raises the last failure")

    async def _fetch(self) -> list:
        """Wait for the first message, then take at once whatever else is there, up to the batch size.

        A single `fetch(batch=n)` that has to wait keeps waiting, after the first message, for n of them or its
        timeout: under a light load every event would sit there for up to the whole timeout.
        """
        msgs = await self._pull.fetch(batch=1, timeout=1.0)
        if self._batch_size > 1:
            try:
                msgs += await self._pull.fetch(batch=self._batch_size - 1, timeout=0.005)
            except (NatsTimeoutError, TimeoutError):
                pass
        return msgs

    async def _handle_batch(self, msgs) -> None:
        """Apply the batch in one transaction; if anything in it fails, apply each message on its own instead."""
        decoded = []
        for msg in msgs:
            try:
                decoded.append((msg, CloudEvent.from_bytes(msg.data)))
            except Exception as exc:
                log.error("consumer %s: dropping a message that is not a CloudEvent: %s", self._sub.durable, exc)
                await msg.term()
        try:
            await self.apply_many([(event, dict(msg.headers or {})) for msg, event in decoded])
        except Exception as exc:
            log.info("consumer %s: batch of %d failed (%s); applying one by one", self._sub.durable, len(decoded), exc)
            for msg, _event in decoded:
                await self._handle(msg)
            return
        for msg, _event in decoded:
            await msg.ack()

    async def apply_many(self, events: list[tuple[CloudEvent, dict[str, str]]]) -> int:
        """Apply the events not applied before, all in one transaction; returns how many were applied."""
        ids = [event.id for event, _headers in events]
        async with self._database.transaction() as db:
            seen = set(
                (
                    await db.exec(
                        select(ProcessedEvent.event_id).where(
                            ProcessedEvent.consumer == self._sub.durable, ProcessedEvent.event_id.in_(ids)
                        )
                    )
                ).all()
            )
            fresh, headers_of = [], {}
            for event, headers in events:
                if event.id not in seen and event.id not in headers_of:
                    fresh.append(event)
                    headers_of[event.id] = headers
            if not fresh:
                return 0
            await self._record_processed(db, [event.id for event in fresh])
            if self._sub.prepare_batch is not None:
                await self._sub.prepare_batch(db, fresh)
            applied = 0
            for event in fresh:
                headers = headers_of[event.id]
                # A span per event, child of the context that staged it, even inside a batch transaction.
                token = otel_context.attach(context_from_headers(headers))
                try:
                    with self._consume_span(event):
                        await self._sub.handler(db, event)
                finally:
                    otel_context.detach(token)
                applied += 1
        return applied

    async def _record_processed(self, db: AsyncSession, event_ids: list[str]) -> None:
        """One INSERT for the batch (not an ORM entity per event); a duplicate id raises IntegrityError."""
        now = utcnow()
        connection = await db.connection()
        await connection.execute(
            insert(ProcessedEvent.__table__),
            [{"consumer": self._sub.durable, "event_id": event_id, "processed_at": now} for event_id in event_ids],
        )

    def _consume_span(self, event: CloudEvent):
        return tracer(__name__).start_as_current_span(
            f"consume {event.type}", kind=SpanKind.CONSUMER,
            attributes={"messaging.system": "nats", "messaging.destination.name": event.type,
                        "messaging.consumer.group.name": self._sub.durable, "messaging.message.id": event.id,
                        "assist.session_id": event.subject or ""},
        )

    async def _handle(self, msg) -> None:
        try:
            event = CloudEvent.from_bytes(msg.data)
        except Exception as exc:
            log.error("consumer %s: dropping a message that is not a CloudEvent: %s", self._sub.durable, exc)
            await msg.term()
            return
        token = otel_context.attach(context_from_headers(dict(msg.headers or {})))
        try:
            with self._consume_span(event):
                await self.apply(event)
        except Exception:
            log.exception("consumer %s: handler failed for %s %s; redelivering", self._sub.durable, event.type, event.id)
            await msg.nak(delay=1.0)
            return
        finally:
            otel_context.detach(token)
        await msg.ack()

    async def apply(self, event: CloudEvent) -> bool:
        """Apply one event exactly once; False when it had been applied before."""
        try:
            async with self._database.transaction() as db:
                try:
                    await self._record_processed(db, [event.id])
                except IntegrityError as exc:
                    raise _AlreadyApplied from exc
                await self._sub.handler(db, event)
            return True
        except _AlreadyApplied:
            return False

    @property
    def durable(self) -> str:
        return self._sub.durable

    async def info(self):
        """The durable consumer's JetStream state (`num_pending` is its lag), or None before it is bound."""
        if self._pull is None:
            return None
        return await self._js.consumer_info(self._sub.stream, self._sub.durable)

    def stop(self) -> None:
        self._stopping = True

    async def close(self) -> None:
        """Drop the pull subscription before the connection drains.

        nats-py's fetch takes some messages off the subscription's queue without `task_done`, so draining it would
        wait out the whole drain timeout; a message fetched and not acknowledged is redelivered after `ack_wait`.
        """
        self._stopping = True
        pull, self._pull = self._pull, None
        if pull is not None:
            try:
                await pull.unsubscribe()
            except Exception as exc:  # connection already gone: nothing left to drain either
                log.debug("consumer %s: unsubscribe at shutdown failed: %s", self._sub.durable, exc)
