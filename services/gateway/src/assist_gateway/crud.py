"""Persistence of customer credentials and local assignments (keyword-only functions)."""

from __future__ import annotations


from sqlmodel.ext.asyncio.session import AsyncSession

from .domain import token_digest
from .models import CustomerCredential, SessionAssignment


async def store_customer_credential(*, db: AsyncSession, session_id: str, customer_token: str) -> None:
    db.add(CustomerCredential(token_sha256=token_digest(customer_token), session_id=session_id))
    await db.flush()


async def session_of_token_digest(*, db: AsyncSession, digest: str) -> str | None:
    """The session the customer token with this digest opens, or None if it is no customer token."""
    credential = await db.get(CustomerCredential, digest)
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
