"""The events the session service publishes (CONTRACT §4; their types and payload models are
`assist_contract.session`)."""

from __future__ import annotations

from datetime import datetime

from assist_contract.session import CHAT_POSTED, ENDED
from assist_contract.spec import EventSpec
from assist_platform.envelope import CloudEvent, rfc3339, rfc3339_or_none, utcnow

from .domain import paused_seconds
from .models import ChatMessage, HelpSession

SOURCE = "assist/session"


def lifecycle_event(session: HelpSession, *, spec: EventSpec, at: datetime) -> CloudEvent:
    """`session.requested`, `session.assigned` or `session.started`: who, what, and when it happened."""
    return spec.new(
        source=SOURCE,
        subject=session.session_id,
        data={
            "session_id": session.session_id,
            "service_type": session.service_type,
            "customer": session.customer,
            "consultant": session.consultant,
            "at": rfc3339(at),
        },
    )


def agent_event(session: HelpSession, *, spec: EventSpec, at: datetime) -> CloudEvent:
    """`session.agent_lost` or `session.agent_returned`: when the gateway saw the agent's socket drop or return."""
    return spec.new(source=SOURCE, subject=session.session_id,
                     data={"session_id": session.session_id, "at": rfc3339(at)})


def ended_event(session: HelpSession) -> CloudEvent:
    """`session.ended`: billing closes the record from it, so it says when the clock started and stopped, and
    every period the agent was away before the end (the pauses billing leaves out). One event carries it all, so
    billing never depends on the order of events."""
    periods = session.away_periods()
    return ENDED.new(
        source=SOURCE,
        subject=session.session_id,
        data={
            "session_id": session.session_id,
            "ended_at": rfc3339_or_none(session.ended_at),
            "ended_by": session.ended_by,
            "end_reason": session.end_reason,
            "started_at": rfc3339_or_none(session.started_at),
            "consultant": session.consultant,
            "service_type": session.service_type,
            "customer": session.customer,
            "requested_at": rfc3339_or_none(session.requested_at),
            "agent_away": [{"from": rfc3339(period.start), "to": rfc3339_or_none(period.end)} for period in periods],
            "paused_seconds": paused_seconds(session.state(), periods, now=session.ended_at or utcnow()),
        },
    )


def chat_message_data(message: ChatMessage) -> dict:
    return {"session_id": message.session_id, "seq": message.seq, "role": message.role, "author": message.author,
            "text": message.text, "posted_at": rfc3339(message.posted_at)}


def chat_posted(message: ChatMessage) -> CloudEvent:
    """`session.chat_posted`: every gateway replica tells the session's endpoints it holds."""
    return CHAT_POSTED.new(source=SOURCE, subject=message.session_id, data=chat_message_data(message))
