"""Ending a session so that "200 means cut" (DESIGN.md): revoke the consent; the session ends from that.

This replica's own endpoints of the session are cut first, before the consent service is asked: they need no
message to be cut, and a relay it would cut a few milliseconds later anyway gains nothing from waiting for it.
The consent service answers a revoke only once every relay holding a lease has cut (or let its lease lapse), and
its answer names the revocation that counts: the first one, with who ended the session. The session service ends
the session when it reads the resulting `consent.revoked`, a few milliseconds later; nothing here ends it.

When the consent service cannot be reached (NATS away: the command answers 503), the terminate is kept as a
`gateway.terminate_requested` event in the gateway's outbox, the local relay endpoints are cut at once, and the
answer waits out the rest of one lease: no relay anywhere can renew a lease without NATS, so by then every one
of them has stopped by itself. The outbox publishes the event once NATS is back; the consent service consumes it
idempotently and revokes with the time it was asked for, and `consent.revoked` ends the session.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Protocol

from assist_contract.consent_rules import SCOPES, gives_access, scopes_after_withdrawal
from assist_platform.endings import ending_of
from assist_platform.envelope import rfc3339, utcnow
from assist_platform.outbox import add_event
from assist_platform.problems import Problem
from assist_platform.runtime import ServiceRuntime
from opentelemetry import trace
from prometheus_client import Histogram

from .commands import revoke_consent, withdraw_consent_scope
from .domain import Ending, KeptEnding, KeptEndings, remaining_lease_wait
from .events import terminate_requested

log = logging.getLogger(__name__)
REVOCATION_SECONDS = Histogram(
    "assist_revocation_seconds",
    "From a terminate or end request until access is cut everywhere (path: nats, queued, refused, failed)",
    ["path"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 7.5, 10.0, 15.0),
)


class LocalCutter(Protocol):
    leases: Any  # relay.leases.LeaseKeeper: the longest lease consent has granted (`longest_ttl_seconds`)
    kept_endings: KeptEndings  # what this process answered while NATS was away

    def cut_session_locally(self, session_id: str, *, ended_by: str, reason: str | None = None) -> Any: ...

    def cut_endpoints_here(self, session_id: str, *, ended_by: str, reason: str) -> Any: ...

    def narrow_endpoints_here(self, session_id: str, *, without: str) -> Any: ...

    def narrow_session(self, session_id: str, *, scopes: list[str]) -> Any: ...


def _messaging_away(problem: Problem) -> bool:
    return problem.status == 503


def _lease_seconds(relay_hub: LocalCutter) -> float | None:
    return relay_hub.leases.longest_ttl_seconds


async def end_session_everywhere(
    *, runtime: ServiceRuntime, relay_hub: LocalCutter, session_id: str, ending: Ending,
    actor: str | None = None, client_address: str | None = None,
) -> str:
    """Cut every relay of the session; returns who ended it (the first ending wins).

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
    kept = relay_hub.kept_endings.get(session_id)
    if kept is not None:  # an earlier ending kept while NATS was away is the one that counts
        ending = kept.ending
    relay_hub.cut_endpoints_here(session_id, ended_by=ending.ended_by, reason=ending.reason)
    try:
        revocation = await revoke_consent(
            runtime, session_id=session_id, reason=ending.reason, lease_seconds=_lease_seconds(relay_hub) or 0.0,
            revoked_at=rfc3339(kept.requested_at) if kept else None, **audit,
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
    relay_hub.kept_endings.forget(session_id)
    return revocation.ended_by or ending_of(revocation.reason).ended_by


async def _cut_without_messaging(
    *, runtime: ServiceRuntime, relay_hub: LocalCutter, session_id: str, ending: Ending
) -> str:
    kept = relay_hub.kept_endings.get(session_id)
    if kept is None:
        kept = KeptEnding(ending=ending, requested_at=utcnow())
        async with runtime.database.transaction() as db:
            add_event(db, terminate_requested(
                session_id=session_id, ended_by=ending.ended_by, reason=ending.reason, requested_at=kept.requested_at
            ))
        relay_hub.kept_endings.remember(session_id, kept)
        log.warning("messaging unavailable: the end of session %s is kept in the outbox, relays cut locally",
                    session_id)
    relay_hub.cut_session_locally(session_id, ended_by=kept.ending.ended_by, reason=kept.ending.reason)
    lease_seconds = _lease_seconds(relay_hub)
    if lease_seconds is None:
        # Never told how long a lease lasts (no NATS since this process started): nothing to wait out with
        # certainty. The ending stands (it is in the outbox); "cut everywhere" cannot be promised yet.
        raise Problem(503, "Service unavailable", "The session will end once messaging is back; access elsewhere "
                      "cannot be confirmed cut yet. Try again shortly.")
    wait = remaining_lease_wait(
        requested_seconds_ago=(utcnow() - kept.requested_at).total_seconds(), lease_seconds=lease_seconds
    )
    # Not a guess: no lease can be renewed without NATS, so after the longest lease every relay has stopped.
    await asyncio.sleep(wait)
    return kept.ending.ended_by


async def withdraw_scope_everywhere(
    *, runtime: ServiceRuntime, relay_hub: LocalCutter, session_id: str, scope: str, ending: Ending,
    actor: str | None = None, client_address: str | None = None,
) -> tuple[list[str], bool]:
    """Take `scope` back on every replica: (the scopes left, whether the session ended). "200 means cut" for the
    scope: this replica narrows first, and the consent service answers once every other holder has narrowed (or
    let its lease lapse). A scope without which no access is left (`view`) ends the session, as a terminate.

    Without NATS the withdrawal cannot be confirmed elsewhere: this replica stays narrowed and the 503 stands
    (the customer can still end the session, which is kept and waited out even then)."""
    if not gives_access(scopes_after_withdrawal(SCOPES, scope)):
        await end_session_everywhere(runtime=runtime, relay_hub=relay_hub, session_id=session_id, ending=ending,
                                     actor=actor, client_address=client_address)
        return [], True
    relay_hub.narrow_endpoints_here(session_id, without=scope)
    withdrawal = await withdraw_consent_scope(
        runtime, session_id=session_id, scope=scope, lease_seconds=_lease_seconds(relay_hub) or 0.0, actor=actor,
        client_address=client_address,
    )
    relay_hub.narrow_session(session_id, scopes=withdrawal.scopes)  # an endpoint that attached here meanwhile
    return withdrawal.scopes, False
