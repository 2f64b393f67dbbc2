"""Persistence of the session lifecycle: each function changes rows and stages its events in the caller's
transaction (`db`), and only through the rules in `domain`.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import datetime

from assist_contract.session import AGENT_LOST, AGENT_RETURNED, ASSIGNED, ENDED, REQUESTED, STARTED
from assist_platform.audit import append_audit
from assist_platform.envelope import rfc3339
from assist_platform.outbox import add_event
from assist_platform.problems import Problem
from sqlalchemy import func
from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from . import domain
from .domain import Customer, EndedBy, SessionState, Status, TransitionRefused
from .events import agent_event, chat_posted, ended_event, lifecycle_event
from .models import ChatMessage, HelpSession

_CODE_DRAWS = 20


async def find_session(*, db: AsyncSession, session_id: str, for_update: bool = False) -> HelpSession | None:
    query = select(HelpSession).where(HelpSession.session_id == session_id)
    if for_update:
        query = query.with_for_update()
    return (await db.exec(query)).first()


async def load_session(*, db: AsyncSession, session_id: str, for_update: bool = False) -> HelpSession:
    session = await find_session(db=db, session_id=session_id, for_update=for_update)
    if session is None:
        raise Problem(404, "Not found", f"There is no session {session_id}.", code="session_not_found")
    return session


# The audit action of a change that is published is the event's type; a claim's is its own.
_AUDITED = {Status.ASSIGNED: "session.claimed", Status.ACTIVE: STARTED.type, Status.ENDED: ENDED.type}


async def _save_transition(
    db: AsyncSession, session: HelpSession, before: SessionState, after: SessionState, *,
    actor: str | None = None, client_address: str | None = None,
) -> bool:
    """Store `after`, stage the one event of this transition and append its audit entry; False (and nothing
    staged) when nothing changed."""
    if after is before:
        return False
    if after.status is not before.status and after.status in _AUDITED:
        await _audit_transition(db, session, after, actor=actor, client_address=client_address)
    session.apply_state(after)
    db.add(session)
    if after.status is Status.ASSIGNED:
        add_event(db, lifecycle_event(session, spec=ASSIGNED, at=after.assigned_at))
    elif after.status is Status.ACTIVE:
        add_event(db, lifecycle_event(session, spec=STARTED, at=after.started_at))
    elif after.status is Status.ENDED:
        add_event(db, ended_event(session))
    return True


async def _audit_transition(
    db: AsyncSession, session: HelpSession, after: SessionState, *, actor: str | None, client_address: str | None
) -> None:
    if after.status is Status.ASSIGNED:
        actor, detail = actor or after.consultant or "consultant", {"consultant": after.consultant}
    elif after.status is Status.ACTIVE:
        actor, detail = actor or "system", {"started_at": rfc3339(after.started_at)}
    else:
        who = str(getattr(after.ended_by, "value", after.ended_by))
        actor = actor or (after.consultant if who == "consultant" and after.consultant else who)
        detail = {"ended_by": who, "end_reason": after.end_reason, "ended_at": rfc3339(after.ended_at)}
    await append_audit(db, action=_AUDITED[after.status], actor=actor or "system", session_id=session.session_id,
                       client_address=client_address, detail=detail)


async def _draw_live_code(db: AsyncSession) -> str:
    """A code no live session holds; the unique index on `live_code` settles a race between two requests."""
    for _ in range(_CODE_DRAWS):
        code = domain.new_session_code()
        taken = (await db.exec(select(HelpSession.session_id).where(HelpSession.live_code == code))).first()
        if taken is None:
            return code
    raise Problem(503, "Service unavailable", "Could not draw a free session code; try again.",
                  code="session_code_unavailable")


async def request_session(
    *,
    db: AsyncSession,
    session_id: str,
    customer: Customer,
    service_type: str,
    description: str,
    consent_id: str | None,
    scopes: list[str],
    now: datetime,
    code_ttl_seconds: float,
    request_ttl_seconds: float,
    max_waiting: int,
) -> tuple[HelpSession, str]:
    """Open a waiting session; returns it with the customer token, which is never stored or shown again.

    The cap on waiting requests is counted in this transaction without a lock: requests that arrive at the
    same instant may pass it by a few, which a cap against floods can afford.
    """
    if await find_session(db=db, session_id=session_id) is not None:
        raise Problem(409, "Conflict", f"Session {session_id} already exists.")
    domain.admit_request(waiting=await count_waiting(db=db), max_waiting=max_waiting)
    code = await _draw_live_code(db)
    token = domain.new_customer_token()
    session = HelpSession(
        session_id=session_id,
        status=Status.WAITING.value,
        service_type=service_type,
        description=description,
        customer=customer.as_dict(),
        scopes=scopes,
        consent_id=consent_id,
        customer_token_sha256=domain.hash_customer_token(token),
        session_code=code,
        live_code=code,
        code_expires_at=domain.code_expires_at(now, ttl_seconds=code_ttl_seconds),
        requested_at=now,
        request_expires_at=domain.request_expires_at(now, ttl_seconds=request_ttl_seconds),
    )
    db.add(session)
    add_event(db, lifecycle_event(session, spec=REQUESTED, at=now))
    return session, token


async def count_waiting(*, db: AsyncSession) -> int:
    query = select(func.count()).select_from(HelpSession).where(HelpSession.status == Status.WAITING.value)
    return int((await db.exec(query)).one())


async def claim_session(
    *, db: AsyncSession, session_id: str, consultant: str, now: datetime, client_address: str | None = None
) -> HelpSession:
    session = await load_session(db=db, session_id=session_id, for_update=True)
    before = session.state()
    await _save_transition(db, session, before, domain.claim(before, consultant=consultant, at=now),
                           actor=consultant, client_address=client_address)
    return session


async def _session_of_code(db: AsyncSession, session_code: str) -> HelpSession | None:
    """The live session holding the code, else the newest session that ever held it (so reuse says 410)."""
    live = select(HelpSession).where(HelpSession.live_code == session_code).with_for_update()
    session = (await db.exec(live)).first()
    if session is not None:
        return session
    newest = (
        select(HelpSession)
        .where(HelpSession.session_code == session_code)
        .order_by(col(HelpSession.requested_at).desc())
        .limit(1)
    )
    return (await db.exec(newest)).first()


async def attach_agent(
    *, db: AsyncSession, session_code: str, now: datetime, resume_token: str | None = None
) -> tuple[HelpSession, str]:
    """The customer's agent presents its code: the code is consumed; the session and a resume token returned.

    `resume_token`, chosen by the caller, makes the command idempotent: a gateway whose first attempt's reply was
    lost (a NATS node went down) asks again with the same token and gets the same answer, where a retry without it
    would find its own code spent.
    """
    session = await _session_of_code(db, session_code) if domain.is_session_code(session_code) else None
    if session is None:
        raise Problem(404, "Not found", "There is no session with this code.", code="session_code_unknown")
    if resume_token and session.status != Status.ENDED.value and _holds_resume_token(session, resume_token):
        return session, resume_token  # this very attach, asked again
    used = domain.use_code(session.code_state(), now=now)
    session.code_used_at = used.used_at
    session.live_code = None
    resume_token = resume_token or domain.new_customer_token()
    session.agent_resume_sha256 = domain.hash_customer_token(resume_token)
    db.add(session)
    return session, resume_token


def _holds_resume_token(session: HelpSession, resume_token: str) -> bool:
    """Whether `resume_token` is the one the session's agent was given at its attach."""
    return bool(session.agent_resume_sha256) and hmac.compare_digest(
        session.agent_resume_sha256, domain.hash_customer_token(resume_token))


async def resume_agent(*, db: AsyncSession, session_id: str, resume_token: str) -> HelpSession:
    """The same agent, back after a network drop: its resume token stands for the code it already spent."""
    session = await load_session(db=db, session_id=session_id)
    if not _holds_resume_token(session, resume_token):
        raise Problem(403, "Forbidden", "This resume token does not belong to the session's agent.",
                      code="resume_token_wrong")
    if session.status == Status.ENDED.value:
        raise Problem(410, "Session ended", "The session has ended; a new request is needed.",
                      code="session_ended")
    return session


async def activate_session(*, db: AsyncSession, session_id: str, at: datetime) -> HelpSession:
    session = await load_session(db=db, session_id=session_id, for_update=True)
    before = session.state()
    await _save_transition(db, session, before, domain.activate(before, at=at))
    return session


async def record_agent_mark(*, db: AsyncSession, session_id: str, kind: str, at: datetime) -> HelpSession:
    """The gateway saw the agent's socket drop (`away`) or return (`back`) at `at`: kept until the session ends,
    with a `session.agent_lost` / `session.agent_returned` for each period that starts or ends by it. Repeats and
    reports after the end change nothing."""
    session = await load_session(db=db, session_id=session_id, for_update=True)
    if session.status == Status.ENDED.value:
        return session
    before = session.away_periods()
    marks = domain.add_agent_mark(session.marks(), kind=kind, at=at)
    if marks == session.marks():
        return session
    session.set_marks(marks)
    db.add(session)
    after = session.away_periods()
    for start in sorted({p.start for p in after} - {p.start for p in before}):
        add_event(db, agent_event(session, spec=AGENT_LOST, at=start))
    ends = {p.end for p in after if p.end} - {p.end for p in before if p.end}
    for end in sorted(ends):
        add_event(db, agent_event(session, spec=AGENT_RETURNED, at=end))
    return session


async def apply_consent_revoked(
    *, db: AsyncSession, session_id: str, reason: str, revoked_at: datetime, ended_by: EndedBy | None = None,
    actor: str | None = None, client_address: str | None = None,
) -> HelpSession | None:
    """The consent is gone: end the session if it still runs (an ended one keeps its first ending), and
    remember when the consent was revoked."""
    session = await find_session(db=db, session_id=session_id, for_update=True)
    if session is None:
        return None
    before = session.state()
    await _save_transition(db, session, before,
                           domain.end_for_revocation(before, reason=reason, revoked_at=revoked_at, ended_by=ended_by),
                           actor=actor, client_address=client_address)
    if session.consent_revoked_at is None:
        session.consent_revoked_at = revoked_at
    db.add(session)
    return session


async def _rescope(*, db: AsyncSession, session_id: str, rule: Callable[[list[str]], list[str]]) -> bool:
    """The session's scopes made by `rule` of the ones it has, under its row lock; False for an unknown session."""
    session = await find_session(db=db, session_id=session_id, for_update=True)
    if session is None:
        return False
    session.scopes = rule(session.scopes)
    db.add(session)
    return True


async def narrow_scopes(*, db: AsyncSession, session_id: str, scopes: list[str]) -> bool:
    """Keep only those of the session's scopes that `scopes` still allows (a withdrawal only ever narrows, so
    events read twice or late narrow no further); False for an unknown session."""
    return await _rescope(db=db, session_id=session_id, rule=lambda held: domain.narrowed_scopes(held, scopes))


async def widen_scopes(*, db: AsyncSession, session_id: str, scopes: list[str]) -> bool:
    """Add the scopes a step-up the customer approved granted; False for an unknown session."""
    return await _rescope(db=db, session_id=session_id, rule=lambda held: domain.widened_scopes(held, scopes))


async def record_scope_request(*, db: AsyncSession, session_id: str, request: dict) -> bool:
    """Keep the latest step-up request and its answer (domain.later_scope_request); False for an unknown session."""
    session = await find_session(db=db, session_id=session_id, for_update=True)
    if session is None:
        return False
    session.scope_request = domain.later_scope_request(session.scope_request, request)
    db.add(session)
    return True


async def post_chat(*, db: AsyncSession, session_id: str, role: str, author: str, text: str,
                    now: datetime) -> ChatMessage:
    """The session's next chat message, numbered under its row lock, with its `session.chat_posted`."""
    session = await load_session(db=db, session_id=session_id, for_update=True)
    if not domain.may_chat(Status(session.status)):
        raise TransitionRefused("The session has ended: its chat is closed.", code="session_ended")
    session.chat_seq = (session.chat_seq or 0) + 1
    message = ChatMessage(session_id=session_id, seq=session.chat_seq, role=role, author=author,
                          text=domain.chat_text(text), posted_at=now)
    db.add(session)
    db.add(message)
    add_event(db, chat_posted(message))
    return message


async def chat_messages(*, db: AsyncSession, session_id: str, after: int, limit: int = 500) -> list[ChatMessage]:
    await load_session(db=db, session_id=session_id)  # 404 for a session that is not there
    query = (select(ChatMessage).where(ChatMessage.session_id == session_id, ChatMessage.seq > after)
             .order_by(col(ChatMessage.seq)).limit(limit))
    return list((await db.exec(query)).all())


async def record_observer(*, db: AsyncSession, session_id: str, observation_id: str, observer: str | None,
                          joined: bool) -> bool:
    """An observer joined (`joined`) or left; False for an unknown session."""
    session = await find_session(db=db, session_id=session_id, for_update=True)
    if session is None:
        return False
    if joined:
        session.observers = domain.with_observer(session.observers, observation_id=observation_id,
                                                 observer=observer or "", ended=session.status == "ended")
    else:
        session.observers = domain.without_observer(session.observers, observation_id=observation_id)
    db.add(session)
    return True


async def record_consent_granted(*, db: AsyncSession, session_id: str, consent_id: str) -> None:
    """The grant usually comes before the request; when the session is already here, fill in a missing consent id."""
    session = await find_session(db=db, session_id=session_id, for_update=True)
    if session is not None and session.consent_id is None:
        session.consent_id = consent_id
        db.add(session)


async def expire_requests(*, db: AsyncSession, now: datetime, limit: int = 100) -> list[str]:
    """End every request nobody started before its deadline; the consent service revokes their consents when it
    reads their `session.ended` (end_reason `expired`)."""
    due = (
        select(HelpSession)
        .where(col(HelpSession.status).in_([status.value for status in domain.NOT_STARTED]))
        .where(HelpSession.request_expires_at <= now)
        .order_by(HelpSession.request_expires_at)
        .limit(limit)
        .with_for_update()
    )
    expired: list[str] = []
    for session in (await db.exec(due)).all():
        before = session.state()
        if not domain.request_has_expired(before, expires_at=session.request_expires_at, now=now):
            continue
        await _save_transition(db, session, before, domain.expire(before, at=now))
        expired.append(session.session_id)
    return expired


async def release_dead_codes(*, db: AsyncSession, now: datetime) -> None:
    """Expired codes leave the live index, so they may be drawn again; the sessions keep them for a 410."""
    await db.exec(
        update(HelpSession)
        .where(col(HelpSession.live_code).is_not(None))
        .where(HelpSession.code_expires_at <= now)
        .values(live_code=None)
    )


async def queue(*, db: AsyncSession) -> list[HelpSession]:
    query = (
        select(HelpSession).where(HelpSession.status == Status.WAITING.value).order_by(HelpSession.requested_at)
    )
    return list((await db.exec(query)).all())


async def list_sessions(
    *, db: AsyncSession, status: Status | None, consultant: str | None, limit: int
) -> list[HelpSession]:
    query = select(HelpSession)
    if status is not None:
        query = query.where(HelpSession.status == status.value)
    if consultant is not None:
        query = query.where(HelpSession.consultant == consultant)
    query = query.order_by(col(HelpSession.requested_at).desc()).limit(limit)
    return list((await db.exec(query)).all())

