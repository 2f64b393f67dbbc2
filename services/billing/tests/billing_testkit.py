"""Helpers of the billing tests: a session bus that publishes SESSION events as the session service does
(JetStream, `Nats-Msg-Id` = CloudEvent id), reads the BILLING stream and calls billing commands."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from assist_platform.commands import call_command
from assist_platform.envelope import CloudEvent, new_event, rfc3339
from assist_platform.testing import eventually, stored_messages  # noqa: F401 - the tests import eventually here

CUSTOMER = {"name": "Иван Петров", "email": "ivan@example.bg", "company": "Пример ООД", "phone": None}


class SessionBus:
    """The test's NATS connection: publishes session events, calls billing commands, reads the BILLING stream."""

    def __init__(self, nc, js) -> None:
        self.nc = nc
        self.js = js

    async def publish(self, event: CloudEvent) -> None:
        await self.js.publish(event.type, event.to_bytes(), headers={"Nats-Msg-Id": event.id})

    async def started(self, session_id: str, *, at: datetime, service_type: str = "consultation",
                      customer: dict | None = None, consultant: str | None = "maria") -> CloudEvent:
        event = started_event(session_id, at=at, service_type=service_type, customer=customer, consultant=consultant)
        await self.publish(event)
        return event

    async def ended(self, session_id: str, *, started_at: datetime | None, ended_at: datetime,
                    service_type: str = "consultation", ended_by: str = "consultant",
                    customer: dict | None = None, consultant: str | None = "maria") -> CloudEvent:
        event = ended_event(session_id, started_at=started_at, ended_at=ended_at, service_type=service_type,
                            ended_by=ended_by, customer=customer, consultant=consultant)
        await self.publish(event)
        return event

    async def command(self, subject: str, payload: dict) -> dict:
        return await call_command(self.nc, subject, payload, timeout=10.0)

    async def billing_events(self, type: str | None = None) -> list[CloudEvent]:
        events = []
        for msg in await stored_messages(self.js, "BILLING"):
            event = CloudEvent.from_bytes(msg.data)
            if type is None or event.type == type:
                events.append(event)
        return events

    async def wait_for_events(self, type: str, count: int, *, timeout: float = 15.0) -> list[CloudEvent]:
        async def enough():
            events = await self.billing_events(type)
            return events if len(events) >= count else None

        return await eventually(enough, timeout=timeout, what=f"{count} {type} events")


    async def wait_for_closed(self, session_id: str, *, timeout: float = 15.0) -> CloudEvent:
        """The session's `billing.record.closed`, once in the stream (the outbox publishes in commit order)."""

        async def found():
            return next((e for e in await self.billing_events(RECORD_CLOSED) if e.subject == session_id), None)

        return await eventually(found, timeout=timeout, what=f"billing.record.closed of {session_id}")


RECORD_CLOSED = "billing.record.closed"


async def bill(bus: SessionBus, *, minutes: float, start: float = 0, customer: dict | None = None,
               service_type: str = "consultation") -> str:
    """A session that started `start` minutes after `at()` and lasted `minutes`: the id of the session billed."""
    session_id = new_session_id()
    await bus.started(session_id, at=at(minutes=start), customer=customer, service_type=service_type)
    await bus.ended(session_id, started_at=at(minutes=start), ended_at=at(minutes=start + minutes),
                    customer=customer, service_type=service_type)
    return session_id


async def closed_records(bus: SessionBus, count: int) -> list[dict]:
    """The data of the first `count` `billing.record.closed` events, once the stream holds that many."""
    return [event.data for event in await bus.wait_for_events(RECORD_CLOSED, count)]


def started_event(session_id: str, *, at: datetime, service_type: str = "consultation", customer: dict | None = None,
                  consultant: str | None = "maria") -> CloudEvent:
    return new_event(source="assist/session", type="session.started", subject=session_id, data={
        "session_id": session_id, "service_type": service_type, "customer": customer or CUSTOMER,
        "consultant": consultant, "at": rfc3339(at),
    })


def ended_event(session_id: str, *, started_at: datetime | None, ended_at: datetime, service_type: str = "consultation",
                ended_by: str = "consultant", customer: dict | None = None, consultant: str | None = "maria",
                end_reason: str = "consultant_ended") -> CloudEvent:
    return new_event(source="assist/session", type="session.ended", subject=session_id, data={
        "session_id": session_id, "ended_at": rfc3339(ended_at), "ended_by": ended_by, "end_reason": end_reason,
        "started_at": rfc3339(started_at) if started_at else None, "consultant": consultant,
        "service_type": service_type, "customer": customer or CUSTOMER,
    })


def new_session_id() -> str:
    return f"s-{uuid.uuid4().hex[:12]}"


def at(minutes: float = 0, seconds: float = 0) -> datetime:
    """A moment inside the bundled price list's validity, so tests do not depend on today's date."""
    return datetime(2026, 11, 20, 10, 0, tzinfo=UTC) + timedelta(minutes=minutes, seconds=seconds)


