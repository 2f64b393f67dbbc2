"""Ending a session so that "200 means cut" (DESIGN.md): revoke the consent, then end the session.

When messaging is away the revocation is queued in the gateway's database, the local relay endpoints are
cut at once, and the answer waits out one lease: no relay anywhere can renew a lease without NATS, so by then
every one of them has stopped by itself. A background task delivers the queued revocation and the session
end later, exactly once thanks to the idempotent commands.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime
from typing import Any, Protocol

from assist_platform.envelope import rfc3339, utcnow
from assist_platform.problems import Problem
from assist_platform.runtime import ServiceRuntime
from opentelemetry import trace
from prometheus_client import Histogram

from . import crud
from .commands import end_session, revoke_consent
from .domain import Ending, remaining_lease_wait
from .models import PendingRevocation

log = logging.getLogger(__name__)
REVOCATION_SECONDS = Histogram(
    "assist_revocation_seconds",
    "From a terminate or end request until access is cut everywhere (path: nats, queued, refused, failed)",
    ["path"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 7.5, 10.0, 15.0),
)
RETRY_INTERVAL_SECONDS = 1.0


class LocalCutter(Protocol):
    def cut_session_locally(self, session_id: str, *, ended_by: str) -> Any: ...


def _messaging_away(problem: Problem) -> bool:
    return problem.status == 503


async def end_session_everywhere(
    *, runtime: ServiceRuntime, relay_hub: LocalCutter, session_id: str, ending: Ending,
    actor: str | None = None, client_address: str | None = None,
) -> str:
    """Cut every relay of the session and end it; returns who ended it (the first ending wins).

    `actor` and `client_address` go to the audit trail. The time until access is cut everywhere is observed in
    `assist_revocation_seconds`.
    """
    trace.get_current_span().set_attribute("assist.session_id", session_id)
    started = time.perf_counter()
    try:
        return await _end_session_everywhere(
            runtime=runtime, relay_hub=relay_hub, session_id=session_id, ending=ending,
            audit={"actor": actor, "client_address": client_address}, started=started,
        )
    except Problem as problem:
        REVOCATION_SECONDS.labels(path="refused" if problem.status < 500 else "failed").observe(
            time.perf_counter() - started)
        raise


async def _end_session_everywhere(
    *, runtime: ServiceRuntime, relay_hub: LocalCutter, session_id: str, ending: Ending, audit: dict,
    started: float,
) -> str:
    async with runtime.database.session() as db:
        pending = await crud.pending_revocation(db=db, session_id=session_id)
    if pending is not None:  # an earlier ending is still queued: it is the one that counts
        ending = Ending(ended_by=pending.ended_by, reason=pending.reason)
    requested_at = rfc3339(pending.requested_at) if pending else None
    try:
        revocation = await revoke_consent(
            runtime, session_id=session_id, reason=ending.reason, revoked_at=requested_at, **audit
        )
    except Problem as problem:
        if not _messaging_away(problem):
            raise
        ended_by = await _cut_without_messaging(
            runtime=runtime, relay_hub=relay_hub, session_id=session_id, ending=ending
        )
        REVOCATION_SECONDS.labels(path="queued").observe(time.perf_counter() - started)
        return ended_by
    REVOCATION_SECONDS.labels(path="nats").observe(time.perf_counter() - started)
    # From here on the access is cut everywhere; the session end may follow later.
    try:
        view = await end_session(
            runtime,
            session_id=session_id,
            ended_by=ending.ended_by,
            end_reason=ending.reason,
            ended_at=revocation["revoked_at"],
            **audit,
        )
    except Problem as problem:
        if not _messaging_away(problem):
            raise
        async with runtime.database.transaction() as db:
            await crud.queue_revocation(
                db=db,
                session_id=session_id,
                reason=ending.reason,
                ended_by=ending.ended_by,
                requested_at=datetime.fromisoformat(revocation["revoked_at"]),
            )
        return ending.ended_by
    if pending is not None:
        async with runtime.database.transaction() as db:
            await crud.forget_revocation(db=db, session_id=session_id)
    return view.get("ended_by") or ending.ended_by


async def _cut_without_messaging(
    *, runtime: ServiceRuntime, relay_hub: LocalCutter, session_id: str, ending: Ending
) -> str:
    async with runtime.database.transaction() as db:
        pending = await crud.queue_revocation(
            db=db, session_id=session_id, reason=ending.reason, ended_by=ending.ended_by
        )
        requested_at, ended_by = pending.requested_at, pending.ended_by
    log.warning("messaging unavailable: revocation of session %s queued, relays cut locally", session_id)
    relay_hub.cut_session_locally(session_id, ended_by=ended_by)
    wait = remaining_lease_wait(
        requested_seconds_ago=(utcnow() - requested_at).total_seconds(),
        lease_seconds=runtime.settings.lease_seconds,
    )
    # Not a guess: no lease can be renewed without NATS, so after one lease every relay has stopped.
    await asyncio.sleep(wait)
    return ended_by


async def deliver_pending_revocation(*, runtime: ServiceRuntime, pending: PendingRevocation) -> bool:
    """Revoke and end one queued session; True when done (the row is gone), False to try again later."""
    session_id = pending.session_id
    requested_at = rfc3339(pending.requested_at)
    try:
        try:
            revocation = await revoke_consent(
                runtime, session_id=session_id, reason=pending.reason, revoked_at=requested_at
            )
            ended_at = revocation["revoked_at"]
        except Problem as problem:
            if problem.status != 404:
                raise
            ended_at = requested_at  # no consent to revoke: still end the session
        try:
            await end_session(
                runtime,
                session_id=session_id,
                ended_by=pending.ended_by,
                end_reason=pending.reason,
                ended_at=ended_at,
            )
        except Problem as problem:
            if problem.status != 404:
                raise
            log.warning("queued end of unknown session %s dropped", session_id)
    except Problem as problem:
        if problem.status < 500:
            log.error(
                "queued revocation of %s refused (%s): dropped", session_id, problem.detail or problem.title
            )
        else:
            async with runtime.database.transaction() as db:
                await crud.note_revocation_failure(
                    db=db, session_id=session_id, error=problem.detail or problem.title
                )
            return False
    async with runtime.database.transaction() as db:
        await crud.forget_revocation(db=db, session_id=session_id)
    return True


async def retry_pending_revocations(runtime: ServiceRuntime) -> None:
    """Background task of the runtime: deliver queued revocations whenever messaging is back."""
    while True:
        try:
            async with runtime.database.session() as db:
                queued = await crud.pending_revocations(db=db)
            for pending in queued:
                if not await deliver_pending_revocation(runtime=runtime, pending=pending):
                    break  # messaging is still away: the rest would fail the same way
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("retrying pending revocations failed; trying again")
        await asyncio.sleep(RETRY_INTERVAL_SECONDS)
