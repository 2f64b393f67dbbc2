"""Persistence of consents and leases: keyword-only functions inside the caller's transaction."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from .models import Consent, Lease, ScopeRequest
from .terms import TermsDocument


def new_id() -> str:
    return str(uuid.uuid4())


async def get_consent(*, db: AsyncSession, session_id: str, lock: bool = False) -> Consent | None:
    """The session's consent; `lock` takes its row lock (PostgreSQL), which orders this transaction against
    every other one that locks it: revoke, lease acquire and lease renew."""
    query = select(Consent).where(Consent.session_id == session_id)
    if lock:
        query = query.with_for_update()
    return (await db.exec(query)).first()


async def create_consent(
    *,
    db: AsyncSession,
    session_id: str,
    customer: dict[str, Any],
    scopes: list[str],
    terms: TermsDocument,
    granted_at: datetime,
    expires_at: datetime,
    client_address: str | None,
    user_agent: str | None,
) -> Consent:
    """Insert a consent; raises IntegrityError (at flush) when the session already has one."""
    consent = Consent(
        consent_id=new_id(),
        session_id=session_id,
        receipt_id=new_id(),
        customer=customer,
        scopes=scopes,
        terms_version=terms.version,
        terms_lang=terms.lang,
        terms_sha256=terms.sha256,
        granted_at=granted_at,
        expires_at=expires_at,
        client_address=client_address,
        user_agent=user_agent,
    )
    db.add(consent)
    await db.flush()
    return consent


async def record_revocation(
    *, db: AsyncSession, consent: Consent, revoked_at: datetime, reason: str
) -> Consent:
    """Written at commit, no flush of its own (the revoke holds the write lock meanwhile)."""
    consent.revoked_at = revoked_at
    consent.revoke_reason = reason
    db.add(consent)
    return consent


async def pending_scope_request(*, db: AsyncSession, consent_id: str) -> ScopeRequest | None:
    query = select(ScopeRequest).where(ScopeRequest.consent_id == consent_id, ScopeRequest.status == "pending")
    return (await db.exec(query)).first()


async def scope_request(*, db: AsyncSession, session_id: str, request_id: str) -> ScopeRequest | None:
    query = select(ScopeRequest).where(ScopeRequest.session_id == session_id, ScopeRequest.request_id == request_id)
    return (await db.exec(query)).first()


async def scope_requests(*, db: AsyncSession, session_id: str) -> list[ScopeRequest]:
    """Every step-up request of the session, oldest first."""
    query = select(ScopeRequest).where(ScopeRequest.session_id == session_id).order_by(
        col(ScopeRequest.requested_at))
    return list((await db.exec(query)).all())


async def create_scope_request(
    *, db: AsyncSession, consent: Consent, scopes: list[str], reason: str, requested_by: str, requested_at: datetime
) -> ScopeRequest:
    request = ScopeRequest(
        request_id=new_id(), consent_id=consent.consent_id, session_id=consent.session_id, scopes=scopes,
        reason=reason, requested_by=requested_by, requested_at=requested_at, status="pending",
    )
    db.add(request)
    await db.flush()
    return request


async def live_leases(*, db: AsyncSession, session_id: str, now: datetime) -> list[Lease]:
    """The session's leases a holder may still be using: not released and not expired."""
    query = select(Lease).where(
        Lease.session_id == session_id, col(Lease.released_at).is_(None), Lease.expires_at > now
    )
    return list((await db.exec(query)).all())


async def create_lease(
    *,
    db: AsyncSession,
    consent: Consent,
    holder: str,
    endpoint: str,
    acquired_at: datetime,
    expires_at: datetime,
) -> Lease:
    lease = Lease(
        lease_id=new_id(),
        consent_id=consent.consent_id,
        session_id=consent.session_id,
        holder=holder,
        endpoint=endpoint,
        acquired_at=acquired_at,
        expires_at=expires_at,
    )
    db.add(lease)
    await db.flush()
    return lease


async def lock_consents_of_leases(
    *, db: AsyncSession, lease_ids: list[str]
) -> list[tuple[str, datetime | None, datetime, dict[str, str] | None, dict[str, str] | None]]:
    """(consent_id, revoked_at, expires_at, scope_withdrawals, scope_grants) of the consents behind these leases,
    share-locked in a fixed order (no deadlock between two renewals): a revoke, which takes the row for update,
    waits for this transaction, and this one for a revoke. Columns, not entities: a renewal names every lease of a
    replica each second, and loading each consent (its JSON customer and scopes) cost more than the rest of it; the
    withdrawals and step-up grants are almost always NULL."""
    of_leases = select(Lease.consent_id).where(col(Lease.lease_id).in_(lease_ids))
    query = (
        select(Consent.consent_id, Consent.revoked_at, Consent.expires_at, Consent.scope_withdrawals,
               Consent.scope_grants)
        .where(col(Consent.consent_id).in_(of_leases))
        .order_by(Consent.consent_id)
        .with_for_update(read=True)
    )
    return [tuple(row) for row in (await db.exec(query)).all()]


async def lease_consents(
    *, db: AsyncSession, lease_ids: list[str], consent_ids: list[str]
) -> list[tuple[str, str, list[str]]]:
    """(lease_id, consent_id, granted scopes) of those of `lease_ids` whose consent is one of `consent_ids`."""
    query = (
        select(Lease.lease_id, Consent.consent_id, Consent.scopes)
        .join(Consent, col(Consent.consent_id) == col(Lease.consent_id))
        .where(col(Lease.lease_id).in_(lease_ids), col(Consent.consent_id).in_(consent_ids))
    )
    return [tuple(row) for row in (await db.exec(query)).all()]


async def extend_held_leases(
    *, db: AsyncSession, holder: str, lease_ids: list[str], consent_ids: list[str], expires_at: datetime
) -> list[str]:
    """Extend those of `lease_ids` that `holder` holds, not released, of one of `consent_ids`; their ids.
    One statement: a renewal holds the service's write lock no longer than it must (a revoke waits for it)."""
    if not lease_ids or not consent_ids:
        return []
    statement = (
        update(Lease)
        .where(
            col(Lease.lease_id).in_(lease_ids),
            Lease.holder == holder,
            col(Lease.released_at).is_(None),
            col(Lease.consent_id).in_(consent_ids),
        )
        .values(expires_at=expires_at)
        .returning(Lease.lease_id)
    )
    return list((await db.exec(statement)).scalars().all())


async def release_leases(*, db: AsyncSession, lease_ids: list[str], now: datetime) -> int:
    if not lease_ids:
        return 0
    result = await db.exec(
        update(Lease)
        .where(col(Lease.lease_id).in_(lease_ids), col(Lease.released_at).is_(None))
        .values(released_at=now)
    )
    return result.rowcount or 0


async def sessions_due_for_expiry(
    *, db: AsyncSession, now: datetime, limit: int = 100
) -> list[tuple[str, datetime]]:
    """(session_id, expires_at) of consents past their maximum duration and not revoked yet."""
    query = (
        select(Consent.session_id, Consent.expires_at)
        .where(col(Consent.revoked_at).is_(None), Consent.expires_at <= now)
        .order_by(Consent.expires_at)
        .limit(limit)
    )
    return [(session_id, expires_at) for session_id, expires_at in (await db.exec(query)).all()]


async def delete_stale_leases(*, db: AsyncSession, ended_before: datetime) -> int:
    """Forget leases that ended (released or expired) long ago; only live leases matter to a revoke."""
    result = await db.exec(
        delete(Lease).where(or_(Lease.expires_at < ended_before, col(Lease.released_at) < ended_before))
    )
    return result.rowcount or 0
