"""The SESSION events billing consumes (durable consumer `billing` on stream SESSION).

Each handler runs inside the consumer's transaction, beside the processed-event row: one event has one effect
however often it is delivered, and the record, its events and the processed id commit together.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from assist_contract.session import ENDED, STARTED, SessionEnded, SessionLifecycle
from assist_platform.envelope import CloudEvent
from assist_platform.messaging import ByType, Subscription
from sqlmodel.ext.asyncio.session import AsyncSession

from .records import SessionEnd, SessionFacts, UnpricedServiceType, close_record, open_record, prefetch

log = logging.getLogger(__name__)

DURABLE = "billing"


def _facts(session: SessionLifecycle | SessionEnded, *, started_at: datetime) -> SessionFacts:
    """What billing keeps of a started session, from either event that tells it."""
    return SessionFacts(
        session_id=session.session_id,
        service_type=session.service_type,
        customer=session.customer or {},
        consultant=session.consultant,
        started_at=started_at.astimezone(UTC),
    )


async def on_session_started(db: AsyncSession, event: CloudEvent) -> None:
    started = STARTED.parse(event)
    await open_record(db=db, facts=_facts(started, started_at=started.at))


async def on_session_ended(db: AsyncSession, event: CloudEvent) -> None:
    ended = ENDED.parse(event)
    facts = _facts(ended, started_at=ended.started_at) if ended.started_at is not None else None
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


# A session of a service type no price list prices can never be billed: dropped and said so, like a malformed one.
on_session_event = ByType({STARTED.type: on_session_started, ENDED.type: on_session_ended},
                          poison=(UnpricedServiceType,))


async def prepare_batch(db: AsyncSession, events: list[CloudEvent]) -> None:
    session_ids = {
        event.data.get("session_id") for event in events if event.type in on_session_event.handlers
    }
    session_ids = {session_id for session_id in session_ids if isinstance(session_id, str)}
    if session_ids:
        await prefetch(db=db, session_ids=session_ids)


def session_subscription() -> Subscription:
    return Subscription(
        stream=STARTED.stream, durable=DURABLE, subjects=(STARTED.subject, ENDED.subject), handler=on_session_event,
        batch_transactions=True, prepare_batch=prepare_batch,
    )
