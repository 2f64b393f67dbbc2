"""Fixtures of the session service tests: the service over a real nats-server and a real database."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import pytest
from assist_platform.envelope import CloudEvent, rfc3339
from assist_platform.outbox import ProcessedEvent
from assist_platform.problems import Problem
from assist_session.consumers import DURABLE
from assist_platform.testing import eventually as wait_for
from assist_platform.testing import service_running, service_settings, stored_messages
from assist_session.main import SERVICE
from assist_session.settings import Settings
from sqlmodel import select

CUSTOMER = {"name": "Ana Ivanova", "email": "ana@example.bg", "company": "Ivanovi OOD", "phone": "+359 2 123 4567"}


@pytest.fixture
def session_overrides() -> dict:
    """Settings a test changes (override this fixture in a module, or parametrize it indirectly)."""
    return {}


@pytest.fixture
def session_settings(nats_url, database_location, session_overrides) -> Settings:
    return service_settings(Settings, nats_url, database_location,
                            **{"session_expiry_interval_seconds": 0.05, **session_overrides})


@pytest.fixture
async def session_runtime(session_settings):
    async with service_running(SERVICE, session_settings) as runtime:
        yield runtime


@pytest.fixture
def call(call, session_runtime) -> Callable[..., Awaitable[dict]]:
    """The plugin's `call`, once the session service runs."""
    return call


@pytest.fixture
def refused(call) -> Callable[..., Awaitable[Problem]]:
    """The problem a command answers with; fails the test if the command succeeds."""

    async def _refused(subject: str, payload: dict) -> Problem:
        with pytest.raises(Problem) as caught:
            await call(subject, payload)
        return caught.value

    return _refused


@pytest.fixture
def request_help(call) -> Callable[..., Awaitable[dict]]:
    async def _request(**overrides) -> dict:
        payload = {
            "session_id": str(uuid.uuid4()),
            "customer": CUSTOMER,
            "service_type": "consultation",
            "description": "The printer prints nothing.",
            "consent_id": str(uuid.uuid4()),
            "scopes": ["view", "control"],
        }
        payload.update(overrides)
        return await call("cmd.session.request", payload)

    return _request


@pytest.fixture
def wait_until():
    return wait_for


@pytest.fixture
def session_events(nc, session_runtime) -> Callable[..., Awaitable[list]]:
    """The SESSION stream's messages about one session, once the outbox has sent everything it holds."""
    js = nc.jetstream()

    async def _events(session_id: str) -> list:
        await wait_for(lambda: _outbox_empty(session_runtime), what="the outbox to be sent")
        return [message for message in await stored_messages(js, "SESSION")
                if CloudEvent.from_bytes(message.data).subject == session_id]

    return _events


async def _outbox_empty(runtime) -> bool:
    return await runtime.outbox.backlog() == 0


@pytest.fixture
def publish_consent_event(nc) -> Callable[..., Awaitable[CloudEvent]]:
    """Publish a consent event to JetStream as the consent service would."""
    js = nc.jetstream()

    async def _publish(type: str, session_id: str, data: dict, *, event: CloudEvent | None = None,
                       msg_id: str | None = None) -> CloudEvent:
        event = event or CloudEvent(source="assist/consent", type=type, subject=session_id, data=data)
        await js.publish(type, event.to_bytes(), headers={"Nats-Msg-Id": msg_id or event.id})
        return event

    return _publish


@pytest.fixture
def end_session(call, publish_consent_event, session_runtime) -> Callable[..., Awaitable[dict]]:
    """End a session the one way there is: a `consent.revoked`, as the consent service publishes it once every
    relay is cut. Waits until the session service has applied the event, then returns the session's view."""

    async def _end(session_id: str, *, ended_by: str, end_reason: str, ended_at: str | None = None) -> dict:
        event = await publish_consent_event("consent.revoked", session_id, {
            "consent_id": str(uuid.uuid4()), "session_id": session_id, "reason": end_reason, "ended_by": ended_by,
            "revoked_at": ended_at or rfc3339(datetime.now(UTC)),
        })
        await wait_for(lambda: _processed(session_runtime, event.id), what=f"consent.revoked {event.id} applied")
        return await call("cmd.session.get", {"session_id": session_id})

    return _end


async def _processed(runtime, event_id: str) -> bool:
    async with runtime.database.session() as db:
        query = select(ProcessedEvent).where(ProcessedEvent.consumer == DURABLE, ProcessedEvent.event_id == event_id)
        return (await db.exec(query)).first() is not None
