"""The SESSION events billing consumes (durable consumer `billing` on stream SESSION).

Each handler runs inside the consumer's transaction, beside the processed-event row: one event has one effect
however often it is delivered, and the record, its events and the processed id commit together.
"""

from __future__ import annotations

import logging
from datetime import UTC

from assist_platform.envelope import CloudEvent
from assist_platform.messaging import Subscription
from pydantic import AwareDatetime, BaseModel, Field, ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession

from .events import SESSION_ENDED, SESSION_STARTED
from .records import SessionEnd, SessionFacts, UnpricedServiceType, close_record, open_record, prefetch

log = logging.getLogger(__name__)

DURABLE = "billing"


class SessionStarted(BaseModel):
    session_id: str
    service_type: str
    customer: dict | None = None
    consultant: str | None = None
    at: AwareDatetime


class AgentAway(BaseModel):
    from_: AwareDatetime = Field(alias="from")
    to: AwareDatetime | None = None  # null: the agent never came back before the end


class SessionEnded(BaseModel):
    session_id: str
    ended_at: AwareDatetime
    ended_by: str | None = None
    end_reason: str | None = None
    started_at: AwareDatetime | None = None  # null: the session never became active
    consultant: str | None = None
    service_type: str
    customer: dict | None = None
    # The periods the agent was away before the end (issue #13); absent from sessions of older versions.
    agent_away: list[AgentAway] = Field(default_factory=list, max_length=1000)


async def on_session_started(db: AsyncSession, event: CloudEvent) -> None:
    started = SessionStarted.model_validate(event.data)
    facts = SessionFacts(
        session_id=started.session_id,
        service_type=started.service_type,
        customer=started.customer or {},
        consultant=started.consultant,
        started_at=started.at.astimezone(UTC),
    )
    await open_record(db=db, facts=facts)


async def on_session_ended(db: AsyncSession, event: CloudEvent) -> None:
    ended = SessionEnded.model_validate(event.data)
    facts = None
    if ended.started_at is not None:
        facts = SessionFacts(
            session_id=ended.session_id,
            service_type=ended.service_type,
            customer=ended.customer or {},
            consultant=ended.consultant,
            started_at=ended.started_at.astimezone(UTC),
        )
    end = SessionEnd(
        ended_at=ended.ended_at.astimezone(UTC),
        ended_by=ended.ended_by,
        end_reason=ended.end_reason,
        consultant=ended.consultant,
        customer=ended.customer,
        away=tuple((away.from_.astimezone(UTC), away.to.astimezone(UTC) if away.to else None)
                   for away in ended.agent_away),
    )
    await close_record(db=db, facts=facts, session_id=ended.session_id, end=end)


_HANDLERS = {SESSION_STARTED: on_session_started, SESSION_ENDED: on_session_ended}


async def on_session_event(db: AsyncSession, event: CloudEvent) -> None:
    handler = _HANDLERS.get(event.type)
    if handler is None:
        return
    try:
        await handler(db, event)
    except (ValidationError, UnpricedServiceType) as exc:
        # Redelivering would fail the same way forever: record it as processed and say so loudly.
        log.error("dropping unbillable %s event %s: %s", event.type, event.id, exc)


async def prepare_batch(db: AsyncSession, events: list[CloudEvent]) -> None:
    session_ids = {
        event.data.get("session_id") for event in events if event.type in _HANDLERS
    }
    session_ids = {session_id for session_id in session_ids if isinstance(session_id, str)}
    if session_ids:
        await prefetch(db=db, session_ids=session_ids)


def session_subscription() -> Subscription:
    return Subscription(
        stream="SESSION", durable=DURABLE, subjects=(SESSION_STARTED, SESSION_ENDED), handler=on_session_event,
        batch_transactions=True, prepare_batch=prepare_batch,
    )
