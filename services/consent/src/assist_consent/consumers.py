"""The events the consent service consumes: endings decided elsewhere that must revoke the consent.

- `gateway.terminate_requested` (stream GATEWAY): a terminate or end the gateway answered while NATS was away; it
  is revoked with the time it was asked for (the gateway has already cut its relays and waited out the lease).
- `session.ended` with `end_reason: expired` (stream SESSION): a request nobody started ended on its own.

Each is applied in the consumer's transaction, beside the processed-event row (one effect however often it is
delivered); a consent already revoked keeps its first revocation. Live leases are cut once that commits.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC

from assist_contract.gateway import TERMINATE_REQUESTED
from assist_contract.session import ENDED as SESSION_ENDED
from assist_contract.spec import EventSpec
from assist_platform.db import after_commit
from assist_platform.endings import EXPIRED, REASONS
from assist_platform.envelope import CloudEvent
from assist_platform.messaging import Subscription
from pydantic import ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession

from . import crud
from .service import ConsentService

log = logging.getLogger(__name__)

class EndingConsumer:
    """Revokes for the endings it consumes; cuts the live leases after the transaction commits."""

    def __init__(self, service: ConsentService) -> None:
        self._service = service
        self._cuts: set[asyncio.Task] = set()

    async def revoke(self, db: AsyncSession, *, session_id: str, reason: str, revoked_at, event: CloudEvent) -> None:
        consent = await crud.get_consent(db=db, session_id=session_id, lock=True)
        if consent is None:
            log.info("%s %s names session %s, which has no consent: nothing to revoke", event.type, event.id,
                     session_id)
            return
        revocation = await self._service.record_revocation(
            db=db, consent=consent, reason=reason, revoked_at=revoked_at.astimezone(UTC)
        )
        if revocation.leases:
            after_commit(db, lambda: self._cut_later(revocation))

    def _cut_later(self, revocation) -> None:
        task = asyncio.get_running_loop().create_task(self._service.cut(revocation))
        self._cuts.add(task)
        task.add_done_callback(self._cuts.discard)

    async def on_terminate_requested(self, db: AsyncSession, event: CloudEvent) -> None:
        requested = _parse(TERMINATE_REQUESTED, event)
        if requested is None:
            return
        if requested.reason not in REASONS:
            log.error("dropping %s %s: unknown reason %r", event.type, event.id, requested.reason)
            return
        await self.revoke(db, session_id=requested.session_id, reason=requested.reason,
                          revoked_at=requested.requested_at, event=event)

    async def on_session_ended(self, db: AsyncSession, event: CloudEvent) -> None:
        ended = _parse(SESSION_ENDED, event)
        if ended is None or ended.end_reason != EXPIRED:
            return  # every other ending came from a revocation, or will be revoked by who ends it
        await self.revoke(db, session_id=ended.session_id, reason=EXPIRED, revoked_at=ended.ended_at, event=event)

    def subscriptions(self) -> list[Subscription]:
        return [
            Subscription(stream=TERMINATE_REQUESTED.stream, durable="consent-gateway",
                         subjects=(TERMINATE_REQUESTED.subject,),
                         handler=self.on_terminate_requested),
            Subscription(stream=SESSION_ENDED.stream, durable="consent-sessions", subjects=(SESSION_ENDED.subject,),
                         handler=self.on_session_ended),
        ]


def _parse(spec: EventSpec, event: CloudEvent):
    try:
        return spec.parse(event)
    except ValidationError as exc:
        # Redelivering a malformed event would fail the same way forever: record it as processed and say so.
        log.error("dropping malformed %s event %s: %s", event.type, event.id, exc)
        return None
