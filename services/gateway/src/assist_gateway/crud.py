"""Persistence of customer credentials, local assignments and pending revocations (keyword-only functions)."""

from __future__ import annotations

from datetime import datetime

from assist_platform.envelope import utcnow
from sqlmodel import delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from .domain import token_digest
from .models import CustomerCredential, PendingRevocation, SessionAssignment


async def store_customer_credential(*, db: AsyncSession, session_id: str, customer_token: str) -> None:
    db.add(CustomerCredential(token_sha256=token_digest(customer_token), session_id=session_id))
    await db.flush()


async def session_of_customer_token(*, db: AsyncSession, customer_token: str) -> str | None:
    """The session a customer token opens, or None if it is no customer token."""
    credential = await db.get(CustomerCredential, token_digest(customer_token))
    return credential.session_id if credential else None


async def record_assignment(*, db: AsyncSession, session_id: str, consultant: str) -> None:
    assignment = await db.get(SessionAssignment, session_id)
    if assignment is None:
        db.add(SessionAssignment(session_id=session_id, consultant=consultant))
    else:
        assignment.consultant = consultant
        db.add(assignment)
    await db.flush()


async def assigned_consultant(*, db: AsyncSession, session_id: str) -> str | None:
    assignment = await db.get(SessionAssignment, session_id)
    return assignment.consultant if assignment else None


async def queue_revocation(
    *, db: AsyncSession, session_id: str, reason: str, ended_by: str, requested_at: datetime | None = None
) -> PendingRevocation:
    """Keep a revocation for later; the first one queued for a session wins (its time and who ended it)."""
    pending = await db.get(PendingRevocation, session_id)
    if pending is None:
        pending = PendingRevocation(
            session_id=session_id, reason=reason, ended_by=ended_by, requested_at=requested_at or utcnow()
        )
        db.add(pending)
        await db.flush()
    return pending


async def pending_revocation(*, db: AsyncSession, session_id: str) -> PendingRevocation | None:
    return await db.get(PendingRevocation, session_id)


async def pending_revocations(*, db: AsyncSession, limit: int = 100) -> list[PendingRevocation]:
    rows = await db.exec(select(PendingRevocation).order_by(PendingRevocation.requested_at).limit(limit))
    return list(rows.all())


async def note_revocation_failure(*, db: AsyncSession, session_id: str, error: str) -> None:
    pending = await db.get(PendingRevocation, session_id)
    if pending is not None:
        pending.attempts += 1
        pending.last_error = error[:500]
        db.add(pending)


async def forget_revocation(*, db: AsyncSession, session_id: str) -> None:
    await db.exec(delete(PendingRevocation).where(PendingRevocation.session_id == session_id))
