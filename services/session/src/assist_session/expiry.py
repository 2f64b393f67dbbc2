"""The background task that ends requests nobody started and revokes their consents.

A request ends first (in its own transaction, with its `session.ended`), flagged `consent_revoke_pending`; the
revoke is a separate step retried on every tick until the consent service confirms it, so a consent service that
is away delays the revocation but never loses it.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from assist_platform.commands import call_command
from assist_platform.envelope import utcnow
from assist_platform.problems import Problem
from assist_platform.runtime import ServiceRuntime

from . import domain, service
from .settings import Settings

log = logging.getLogger(__name__)

REVOKE_SUBJECT = "cmd.consent.revoke"


async def expire_due_requests(runtime: ServiceRuntime, *, now: datetime) -> list[str]:
    async with runtime.database.transaction() as db:
        expired = await service.expire_requests(db=db, now=now)
        await service.release_dead_codes(db=db, now=now)
    if expired:
        runtime.notify_outbox()
        log.info("expired %d request(s) nobody started: %s", len(expired), ", ".join(expired))
    return expired


async def revoke_consent(runtime: ServiceRuntime, session_id: str, *, timeout: float) -> bool:
    """Ask consent to revoke; True once it is revoked (or there never was a consent to revoke)."""
    try:
        result = await call_command(
            runtime.nc, REVOKE_SUBJECT, {"session_id": session_id, "reason": domain.EXPIRED}, timeout=timeout
        )
        revoked_at = datetime.fromisoformat(result["revoked_at"])
    except Problem as problem:
        if problem.status != 404:
            log.warning("revoking the consent of expired session %s failed (%s); retrying", session_id, problem)
            return False
        revoked_at = utcnow()  # no consent was ever granted: nothing is left to revoke
    async with runtime.database.transaction() as db:
        await service.mark_consent_revoked(db=db, session_id=session_id, revoked_at=revoked_at)
    return True


async def revoke_pending_consents(runtime: ServiceRuntime, *, timeout: float) -> None:
    async with runtime.database.session() as db:
        pending = await service.sessions_awaiting_revocation(db=db)
    for session_id in pending:
        await revoke_consent(runtime, session_id, timeout=timeout)


async def run_tick(runtime: ServiceRuntime, settings: Settings) -> None:
    await expire_due_requests(runtime, now=utcnow())
    await revoke_pending_consents(runtime, timeout=settings.session_consent_revoke_timeout_seconds)


def expiry_task(settings: Settings):
    """The runtime's background task: one tick every `SESSION_EXPIRY_INTERVAL_SECONDS`, surviving any failure."""

    async def expire_requests_forever(runtime: ServiceRuntime) -> None:
        while True:
            try:
                await run_tick(runtime, settings)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("request expiry tick failed; trying again next tick")
            await asyncio.sleep(settings.session_expiry_interval_seconds)

    return expire_requests_forever
