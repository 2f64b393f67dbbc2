"""The consent events the session service consumes (durable consumer `session` on stream CONSENT).

`consent.revoked` is the one way a running session ends (a customer's terminate, a consultant's end, an agent
lost, a consent past its time): the consent service has cut every relay before it publishes it.
`consent.scope_withdrawn` narrows the session's scopes, which is what its views show from then on; a
`consent.granted` that answers a step-up request widens them. `consent.scope_requested` and `consent.scope_refused`
(and that approval) keep the session's latest step-up request, which the customer's page shows.

Each handler runs inside the consumer's transaction, beside the processed-event row, so one event has one effect
however often it is delivered.
"""

from __future__ import annotations

import logging
from datetime import UTC

from assist_contract.consent import GRANTED, REVOKED, SCOPE_REFUSED, SCOPE_REQUESTED, SCOPE_WITHDRAWN
from assist_contract.gateway import OBSERVER_JOINED, OBSERVER_LEFT
from assist_platform.envelope import rfc3339
from assist_platform.envelope import CloudEvent
from assist_platform.messaging import ByType, Subscription
from sqlmodel.ext.asyncio.session import AsyncSession

from . import crud, domain
from .domain import EndedBy, InvalidInput

log = logging.getLogger(__name__)

DURABLE = "session"


async def on_consent_revoked(db: AsyncSession, event: CloudEvent) -> None:
    revoked = REVOKED.parse(event)
    try:
        domain.validate_end_reason(revoked.reason)
    except InvalidInput as exc:
        log.error("dropping consent.revoked %s: %s", event.id, exc.detail)
        return
    session = await crud.apply_consent_revoked(
        db=db, session_id=revoked.session_id, reason=revoked.reason, revoked_at=revoked.revoked_at.astimezone(UTC),
        ended_by=EndedBy(revoked.ended_by) if revoked.ended_by else None, actor=revoked.actor,
        client_address=revoked.client_address,
    )
    if session is None:
        log.info("consent.revoked %s names unknown session %s; nothing to end", event.id, revoked.session_id)


async def on_consent_granted(db: AsyncSession, event: CloudEvent) -> None:
    granted = GRANTED.parse(event)
    if granted.request_id is None:
        await crud.record_consent_granted(db=db, session_id=granted.session_id, consent_id=granted.consent_id)
        return
    # A step-up the customer approved: its scopes are added, and the request shows its answer.
    if await crud.widen_scopes(db=db, session_id=granted.session_id, scopes=granted.scopes or []):
        await crud.record_scope_request(db=db, session_id=granted.session_id, request=_answered(
            event, request_id=granted.request_id, status="approved", at=granted.granted_at))


async def on_consent_scope_requested(db: AsyncSession, event: CloudEvent) -> None:
    requested = SCOPE_REQUESTED.parse(event)
    view = {"request_id": requested.request_id, "session_id": requested.session_id, "scopes": requested.scopes,
            "reason": requested.reason, "requested_by": requested.requested_by,
            "requested_at": rfc3339(requested.requested_at), "status": "pending", "decided_at": None}
    if not await crud.record_scope_request(db=db, session_id=requested.session_id, request=view):
        log.info("consent.scope_requested %s names unknown session %s", event.id, requested.session_id)


async def on_consent_scope_refused(db: AsyncSession, event: CloudEvent) -> None:
    refused = SCOPE_REFUSED.parse(event)
    await crud.record_scope_request(db=db, session_id=refused.session_id, request=_answered(
        event, request_id=refused.request_id, status="refused", at=refused.refused_at))


def _answered(event: CloudEvent, *, request_id: str, status: str, at) -> dict:
    """The answer to a request, as the session shows it: merged into the pending view it keeps (the answering
    events carry no reason or requester of their own)."""
    return {"request_id": request_id, "session_id": event.data.get("session_id"), "status": status, "decided_at": rfc3339(at) if at else None,
            "scopes": list(event.data.get("scopes") or [])}


async def on_consent_scope_withdrawn(db: AsyncSession, event: CloudEvent) -> None:
    withdrawn = SCOPE_WITHDRAWN.parse(event)
    if not await crud.narrow_scopes(db=db, session_id=withdrawn.session_id, scopes=withdrawn.scopes):
        log.info("consent.scope_withdrawn %s names unknown session %s", event.id, withdrawn.session_id)


on_consent_event = ByType({REVOKED.type: on_consent_revoked, GRANTED.type: on_consent_granted,
                           SCOPE_WITHDRAWN.type: on_consent_scope_withdrawn,
                           SCOPE_REQUESTED.type: on_consent_scope_requested,
                           SCOPE_REFUSED.type: on_consent_scope_refused})


async def on_observer_joined(db: AsyncSession, event: CloudEvent) -> None:
    joined = OBSERVER_JOINED.parse(event)
    if not await crud.record_observer(db=db, session_id=joined.session_id, observation_id=joined.observation_id,
                                      observer=joined.observer, joined=True):
        log.info("gateway.observer_joined %s names unknown session %s", event.id, joined.session_id)


async def on_observer_left(db: AsyncSession, event: CloudEvent) -> None:
    left = OBSERVER_LEFT.parse(event)
    await crud.record_observer(db=db, session_id=left.session_id, observation_id=left.observation_id,
                               observer=left.observer, joined=False)


def observer_subscription() -> Subscription:
    """Who watches a session (durable `session-gateway` on stream GATEWAY): the customer's page shows them."""
    return Subscription(
        stream=OBSERVER_JOINED.stream, durable="session-gateway",
        subjects=(OBSERVER_JOINED.subject, OBSERVER_LEFT.subject),
        handler=ByType({OBSERVER_JOINED.type: on_observer_joined, OBSERVER_LEFT.type: on_observer_left}),
    )


def consent_subscription() -> Subscription:
    return Subscription(
        stream=REVOKED.stream, durable=DURABLE,
        subjects=(REVOKED.subject, GRANTED.subject, SCOPE_WITHDRAWN.subject, SCOPE_REQUESTED.subject,
                  SCOPE_REFUSED.subject),
        handler=on_consent_event,
    )
