"""The events the session service publishes (CONTRACT §4) and the consent events it reads."""

from __future__ import annotations

from datetime import datetime

from assist_platform.envelope import CloudEvent, new_event, rfc3339

from .models import HelpSession

SOURCE = "assist/session"

SESSION_REQUESTED = "session.requested"
SESSION_ASSIGNED = "session.assigned"
SESSION_STARTED = "session.started"
SESSION_ENDED = "session.ended"

CONSENT_GRANTED = "consent.granted"
CONSENT_REVOKED = "consent.revoked"


def _time(moment: datetime | None) -> str | None:
    return rfc3339(moment) if moment else None


def lifecycle_event(session: HelpSession, *, type: str, at: datetime) -> CloudEvent:
    """`session.requested`, `session.assigned` or `session.started`: who, what, and when it happened."""
    return new_event(
        source=SOURCE,
        type=type,
        subject=session.session_id,
        data={
            "session_id": session.session_id,
            "service_type": session.service_type,
            "customer": session.customer,
            "consultant": session.consultant,
            "at": rfc3339(at),
        },
    )


def ended_event(session: HelpSession) -> CloudEvent:
    """`session.ended`: billing closes the record from it, so it says when the clock started and stopped."""
    return new_event(
        source=SOURCE,
        type=SESSION_ENDED,
        subject=session.session_id,
        data={
            "session_id": session.session_id,
            "ended_at": _time(session.ended_at),
            "ended_by": session.ended_by,
            "end_reason": session.end_reason,
            "started_at": _time(session.started_at),
            "consultant": session.consultant,
            "service_type": session.service_type,
            "customer": session.customer,
            "requested_at": _time(session.requested_at),
        },
    )
