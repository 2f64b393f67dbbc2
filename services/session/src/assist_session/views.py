"""What commands answer about a session (docs/commands.md, "Session view"): the contract's `SessionView`, built
from the stored session."""

from __future__ import annotations

from assist_contract.session import SessionList, SessionView
from assist_platform.envelope import utcnow

from . import domain
from .domain import NOT_STARTED, AgentPresence, Status, agent_presence, paused_seconds
from .models import HelpSession


def session_view(session: HelpSession) -> SessionView:
    status = Status(session.status)
    periods = session.away_periods()
    presence = agent_presence(attached=session.code_used_at is not None, periods=periods)
    return SessionView(
        session_id=session.session_id,
        status=status,
        service_type=session.service_type,
        description=session.description,
        customer=session.customer,
        consultant=session.consultant,
        scopes=session.scopes,
        consent_id=session.consent_id,
        requested_at=session.requested_at,
        assigned_at=session.assigned_at,
        started_at=session.started_at,
        ended_at=session.ended_at,
        ended_by=session.ended_by,
        end_reason=session.end_reason,
        expires_at=session.request_expires_at if status in NOT_STARTED else None,
        agent=presence,
        agent_away_since=periods[-1].start if presence is AgentPresence.AWAY else None,
        paused_seconds=paused_seconds(session.state(), periods, now=utcnow()),
        scope_request=session.scope_request,
        # Nobody watches an ended session: its observers' sockets were cut with the rest.
        observers=[] if status is Status.ENDED else domain.watching(session.observers),
        chat_seq=session.chat_seq or 0,
    )


def session_list(sessions: list[HelpSession]) -> SessionList:
    return SessionList(sessions=[session_view(session) for session in sessions])
