"""The consent service's operations: each commits its change (and its events) before it answers."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from assist_contract.consent import GRANTED, REVOKED, SCOPE_REFUSED, SCOPE_REQUESTED, SCOPE_WITHDRAWN
from assist_platform.audit import actor_of_reason, append_audit, entries_of_session, stage_audit
from assist_platform.endings import ended_by_of
from assist_platform.envelope import rfc3339, utcnow
from assist_platform.outbox import add_event
from assist_platform.problems import Problem
from assist_platform.runtime import ServiceRuntime
from sqlalchemy.exc import IntegrityError

from . import crud, events
from .cut import cut_leases
from .domain import (
    APPROVED,
    PENDING,
    consent_expires_at,
    decision_status,
    missing_scopes,
    effective_revoked_at,
    gives_access,
    is_in_force,
    lease_expires_at,
    scopes_after_withdrawal,
    scopes_in_force,
)
from .models import Consent, ScopeRequest
from .receipts import consent_receipt, consent_view, scope_request_view
from .settings import Settings
from .terms import TermsCatalog, terms_catalog

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Revocation:
    """A recorded revocation (or the earlier one that counts) and the live leases it must cut."""

    consent: Consent
    already_revoked: bool
    leases: list

    def answer(self) -> dict[str, Any]:
        consent = self.consent
        return {
            "consent_id": consent.consent_id,
            "session_id": consent.session_id,
            "revoked_at": rfc3339(consent.revoked_at),
            "reason": consent.revoke_reason,
            "ended_by": ended_by_of(consent.revoke_reason),
            "already_revoked": self.already_revoked,
        }


def _no_consent(session_id: str) -> Problem:
    return Problem(404, "Not found", f"Session {session_id} has no consent.", code="consent_not_found")


@dataclass
class ConsentService:
    runtime: ServiceRuntime
    settings: Settings
    catalog: TermsCatalog
    _cuts: set[asyncio.Task] = field(default_factory=set, repr=False)

    @classmethod
    def for_runtime(cls, runtime: ServiceRuntime) -> ConsentService:
        return cls(runtime=runtime, settings=runtime.settings, catalog=terms_catalog())

    @property
    def database(self):
        return self.runtime.database

    # --- terms and grants ----

    def terms(self, *, lang: str) -> dict[str, Any]:
        document = self.catalog.current(lang)
        return {"version": document.version, "sha256": document.sha256, "text": document.text, "lang": lang}

    async def grant(
        self,
        *,
        session_id: str,
        customer: dict[str, Any],
        terms_version: str,
        lang: str,
        scopes: list[str],
        client_address: str | None,
        user_agent: str | None,
    ) -> dict[str, Any]:
        if terms_version != self.catalog.current_version:
            raise Problem(
                409,
                "Terms version not current",
                f"Terms version {terms_version!r} is not the current one ({self.catalog.current_version}); "
                "show the current terms and ask again.",
                current_version=self.catalog.current_version,
                code="terms_version_not_current",
            )
        terms = self.catalog.current(lang)
        granted_at = utcnow()
        try:
            async with self.database.transaction() as db:
                consent = await crud.create_consent(
                    db=db,
                    session_id=session_id,
                    customer=customer,
                    scopes=scopes,
                    terms=terms,
                    granted_at=granted_at,
                    expires_at=consent_expires_at(
                        granted_at=granted_at, max_seconds=self.settings.consent_max_seconds
                    ),
                    client_address=client_address,
                    user_agent=user_agent,
                )
                add_event(db, events.consent_granted(consent))
                await append_audit(
                    db, action=GRANTED.type, actor="customer", session_id=session_id,
                    client_address=client_address, at=granted_at,
                    detail={"consent_id": consent.consent_id, "scopes": list(scopes),
                            "terms_version": terms.version, "terms_sha256": terms.sha256},
                )
        except IntegrityError as exc:
            raise Problem(409, "Consent exists", f"Session {session_id} already has a consent.",
                          code="consent_exists") from exc
        return {
            "consent_id": consent.consent_id,
            "session_id": consent.session_id,
            "scopes": list(consent.scopes),
            "terms_version": consent.terms_version,
            "terms_sha256": consent.terms_sha256,
            "granted_at": rfc3339(consent.granted_at),
            "expires_at": rfc3339(consent.expires_at),
        }

    async def get(self, *, session_id: str) -> dict[str, Any]:
        consent, requests = await self._existing(session_id)
        return {**consent_view(consent, now=utcnow()),
                "scope_request": scope_request_view(requests[-1]) if requests else None}

    async def receipt(self, *, session_id: str) -> dict[str, Any]:
        consent, requests = await self._existing(session_id)
        receipt = consent_receipt(consent, issuer=self.settings.consent_issuer, requests=requests)
        async with self.database.transaction() as db:
            entry = next((e for e in await entries_of_session(db, session_id=session_id)
                          if e.action == GRANTED.type), None)
        receipt["audit_entry"] = {"service": "consent", "id": entry.id, "hash": entry.hash} if entry else None
        return receipt

    async def _existing(self, session_id: str) -> tuple[Consent, list[ScopeRequest]]:
        """The session's consent and its step-up requests (oldest first), read together."""
        # A transaction, not a session rolled back: a rollback would expire the loaded consent.
        async with self.database.transaction() as db:
            consent = await crud.get_consent(db=db, session_id=session_id)
            requests = await crud.scope_requests(db=db, session_id=session_id) if consent is not None else []
        if consent is None:
            raise _no_consent(session_id)
        return consent, requests

    # --- revocation ----

    async def revoke(
        self, *, session_id: str, reason: str, revoked_at: datetime | None = None, actor: str | None = None,
        client_address: str | None = None,
    ) -> dict[str, Any]:
        """Cut every live lease of the session and record the revocation; answer only once both are done.

        The cut requests leave as soon as the live leases are read, before the revocation is written and
        committed: the consent's row lock, held until the commit, keeps that set complete (a lease acquired or
        renewed meanwhile waits for the lock, then finds the consent revoked), and the holders cut while this
        transaction finishes instead of after it. Should the transaction fail, the relays are cut all the same
        (fail closed) and the revoke answers the error.

        The answer is the revocation that counts: a repeated revoke answers the first one (its time, reason and
        who ended the session).
        """
        async with self.database.transaction() as db:
            consent = await crud.get_consent(db=db, session_id=session_id, lock=True)
            if consent is None:
                raise _no_consent(session_id)
            leases = await crud.live_leases(db=db, session_id=session_id, now=utcnow())
            counting_reason = consent.revoke_reason if consent.revoked_at is not None else reason
            cutting = self._start_cut(session_id=session_id, reason=counting_reason, leases=leases)
            revocation = await self.record_revocation(
                db=db, consent=consent, reason=reason, revoked_at=revoked_at, actor=actor,
                client_address=client_address, leases=leases,
            )
        await cutting
        return revocation.answer()

    async def record_revocation(
        self, *, db, consent: Consent, reason: str, revoked_at: datetime | None = None, actor: str | None = None,
        client_address: str | None = None, leases: list | None = None,
    ) -> Revocation:
        """In the caller's transaction, with the consent row locked: record the revocation (once: a consent
        already revoked keeps its first one) with its `consent.revoked`, and read the live leases to cut
        (unless the caller read them already, under the same lock), so a lease acquired or renewed
        concurrently is either seen here (and cut) or refused there."""
        now = utcnow()
        already_revoked = consent.revoked_at is not None
        if not already_revoked:
            when = effective_revoked_at(requested=revoked_at, now=now, granted_at=consent.granted_at)
            await crud.record_revocation(db=db, consent=consent, revoked_at=when, reason=reason)
            add_event(db, events.consent_revoked(consent, actor=actor, client_address=client_address))
            stage_audit(
                db, action=REVOKED.type, actor=actor or actor_of_reason(reason), session_id=consent.session_id,
                client_address=client_address, detail={"consent_id": consent.consent_id, "reason": reason,
                                                       "revoked_at": rfc3339(consent.revoked_at)},
            )
        if leases is None:
            leases = await crud.live_leases(db=db, session_id=consent.session_id, now=now)
        return Revocation(consent=consent, already_revoked=already_revoked, leases=leases)

    async def cut(self, revocation: Revocation) -> None:
        """Ask every holder of a live lease to cut; returns once each confirmed or its lease ran out."""
        consent = revocation.consent
        await self._cut_leases(
            session_id=consent.session_id, reason=consent.revoke_reason, leases=revocation.leases
        )

    async def withdraw_scope(
        self, *, session_id: str, scope: str, actor: str | None = None, client_address: str | None = None,
    ) -> dict[str, Any]:
        """Take one scope back while the session goes on; answer once every holder of a live lease has narrowed
        its endpoints to the scopes left (or let its lease lapse), as a revoke answers once they have cut.

        Recorded once, with its `consent.scope_withdrawn` and audit entry; a repeated withdrawal answers the first
        (`already_withdrawn`) and asks the holders again, which costs nothing. The consent's `scopes` stay the
        grant; `scope_withdrawals` says what was taken back and when. A withdrawal that would leave no access
        (`view`: control stands on it) is refused with 409: ending the session is a revoke."""
        async with self.database.transaction() as db:
            consent = await self._in_force(db, session_id,
                                           ended=f"Session {session_id} has ended: nothing to withdraw.")
            now = utcnow()
            in_force = consent.scopes_now()
            left = scopes_after_withdrawal(in_force, scope)
            if not gives_access(left):
                raise Problem(409, "Withdrawal would end the session",
                              f"Without {scope!r} no access is left: end the session instead (revoke).",
                              code="withdrawal_ends_session")
            already = scope not in in_force
            if not already:
                consent.scope_withdrawals = {**(consent.scope_withdrawals or {}), scope: rfc3339(now)}
                db.add(consent)
                add_event(db, events.consent_scope_withdrawn(consent, scope=scope, actor=actor,
                                                             client_address=client_address))
                stage_audit(
                    db, action=SCOPE_WITHDRAWN.type, actor=actor or "customer", session_id=session_id,
                    client_address=client_address,
                    detail={"consent_id": consent.consent_id, "scope": scope, "scopes": left},
                )
            leases = await crud.live_leases(db=db, session_id=session_id, now=now)
            narrowing = self._start_cut(session_id=session_id, reason=None, leases=leases, scopes=left)
            withdrawn_at = (consent.scope_withdrawals or {}).get(scope, rfc3339(now))
        await narrowing
        return {
            "consent_id": consent.consent_id, "session_id": session_id, "scope": scope, "scopes": left,
            "withdrawn_at": withdrawn_at, "already_withdrawn": already,
        }

    # --- step-ups ----

    async def request_scopes(
        self, *, session_id: str, scopes: list[str], reason: str, requested_by: str
    ) -> dict[str, Any]:
        """A consultant asks for more than the consent allows, saying why. Recorded (with its event and audit
        entry) and told to every lease holder, which shows it to the session's endpoints; the customer answers it
        with `decide_scopes`. One request waits at a time; asking for what is held already is a 409."""
        async with self.database.transaction() as db:
            consent = await self._in_force(db, session_id)
            now = utcnow()
            in_force = consent.scopes_now()
            wanted = missing_scopes(scopes, in_force)
            if not wanted:
                raise Problem(409, "Scopes held already", f"The consent already allows {', '.join(scopes)}.",
                              code="scopes_already_held")
            if await crud.pending_scope_request(db=db, consent_id=consent.consent_id) is not None:
                raise Problem(409, "A request is waiting",
                              "The customer has not answered the previous request yet.",
                              code="scope_request_pending")
            request = await crud.create_scope_request(db=db, consent=consent, scopes=wanted, reason=reason,
                                                      requested_by=requested_by, requested_at=now)
            add_event(db, events.consent_scope_requested(request))
            stage_audit(db, action=SCOPE_REQUESTED.type, actor=requested_by, session_id=session_id,
                        detail={"consent_id": consent.consent_id, "request_id": request.request_id,
                                "scopes": wanted, "reason": reason})
            view = scope_request_view(request)
            leases = await crud.live_leases(db=db, session_id=session_id, now=now)
        self._tell_holders(session_id=session_id, leases=leases, scopes=in_force, scope_request=view)
        return view

    async def decide_scopes(
        self, *, session_id: str, request_id: str, approve: bool, actor: str | None = None,
        client_address: str | None = None, user_agent: str | None = None,
    ) -> dict[str, Any]:
        """The customer's answer to a step-up request, once: an approval is a new grant (its own `consent.granted`
        and audit entry, named by the request; the first grant is never edited), a refusal is final for the
        request. Every lease holder is told; on an approval it widens the session's endpoints."""
        async with self.database.transaction() as db:
            consent = await self._in_force(db, session_id)
            request = await crud.scope_request(db=db, session_id=session_id, request_id=request_id)
            if request is None:
                raise Problem(404, "Not found", f"Session {session_id} has no request {request_id}.",
                              code="scope_request_not_found")
            if request.status != PENDING:
                raise Problem(409, "Request answered already", f"This request was {request.status} already.",
                              code="scope_request_decided", status_now=request.status)
            now = utcnow()
            request.status, request.decided_at = decision_status(approve), now
            request.decided_by = actor or "customer"
            request.client_address, request.user_agent = client_address, user_agent
            db.add(request)
            who = {"actor": actor or "customer", "client_address": client_address}
            if request.status == APPROVED:
                consent.scope_grants = {**(consent.scope_grants or {}),
                                        **{scope: rfc3339(now) for scope in request.scopes}}
                db.add(consent)
                in_force = consent.scopes_now()
                add_event(db, events.consent_stepped_up(consent, request, scopes_in_force=in_force, **who))
                stage_audit(
                    db, action=GRANTED.type, session_id=session_id, at=now, **who,
                    detail={"consent_id": consent.consent_id, "request_id": request.request_id,
                            "scopes": list(request.scopes), "scopes_in_force": in_force},
                )
            else:
                in_force = consent.scopes_now()
                add_event(db, events.consent_scope_refused(request, **who))
                stage_audit(db, action=SCOPE_REFUSED.type, session_id=session_id, **who,
                            detail={"consent_id": consent.consent_id, "request_id": request.request_id,
                                    "scopes": list(request.scopes)})
            view = scope_request_view(request)
            leases = await crud.live_leases(db=db, session_id=session_id, now=now)
        self._tell_holders(session_id=session_id, leases=leases, scopes=in_force, scope_request=view)
        return {**view, "scopes_in_force": in_force}

    async def _in_force(self, db, session_id: str, *, ended: str | None = None) -> Consent:
        """The session's consent, row-locked (step-ups and withdrawals of one consent happen one at a time); 404
        without one, 409 once it has ended (`ended`: what the 409 says)."""
        consent = await crud.get_consent(db=db, session_id=session_id, lock=True)
        if consent is None:
            raise _no_consent(session_id)
        if not is_in_force(revoked_at=consent.revoked_at, expires_at=consent.expires_at, now=utcnow()):
            raise Problem(409, "Consent not in force", ended or f"Session {session_id} has ended.",
                          code="consent_not_in_force")
        return consent

    def _tell_holders(self, *, session_id: str, leases: list, scopes: list[str], scope_request: dict) -> None:
        """A step-up asked or answered, to every holder of a live lease, not waited for: nothing is cut, and a
        holder that missed it learns the scopes at its next renewal (narrowing) or, for a widening, keeps the
        narrower scopes until its endpoints reconnect (fail closed)."""
        self._start_cut(session_id=session_id, reason=None, leases=leases, scopes=scopes,
                        scope_request=scope_request, wait_for_lapse=False)

    def _start_cut(self, *, session_id: str, reason: str | None, leases: list,
                   scopes: list[str] | None = None, scope_request: dict | None = None,
                   wait_for_lapse: bool = True) -> asyncio.Task:
        """The cut of `leases`, under way in a task of its own (kept here while it runs: the loop holds tasks
        weakly, and a revoke whose transaction failed leaves its cut to finish on its own)."""
        task = asyncio.get_running_loop().create_task(
            self._cut_leases(session_id=session_id, reason=reason, leases=leases, scopes=scopes,
                             scope_request=scope_request, wait_for_lapse=wait_for_lapse),
            name=f"cut {session_id}",
        )
        self._cuts.add(task)
        task.add_done_callback(self._cuts.discard)
        return task

    async def _cut_leases(self, *, session_id: str, reason: str | None, leases: list,
                          scopes: list[str] | None = None, scope_request: dict | None = None,
                          wait_for_lapse: bool = True) -> None:
        await cut_leases(
            self.runtime.nc,
            session_id=session_id,
            reason=reason,
            leases=leases,
            margin_seconds=self.settings.consent_cut_margin_seconds,
            scopes=scopes,
            scope_request=scope_request,
            wait_for_lapse=wait_for_lapse,
        )

    async def expire_due(self) -> int:
        """Revoke (reason `expired`) every consent past its maximum duration; returns how many.

        The consent ended when it expired (that is its `revoked_at`), whenever this task got round to it.
        """
        async with self.database.transaction() as db:
            due = await crud.sessions_due_for_expiry(db=db, now=utcnow())
        # In parallel: one unanswering holder must not hold up the expiry of the other sessions.
        await asyncio.gather(
            *(
                self.revoke(session_id=session_id, reason="expired", revoked_at=expires_at)
                for session_id, expires_at in due
            )
        )
        return len(due)

    async def forget_stale_leases(self) -> int:
        ended_before = utcnow() - timedelta(seconds=self.settings.consent_lease_retention_seconds)
        async with self.database.transaction() as db:
            return await crud.delete_stale_leases(db=db, ended_before=ended_before)

    # --- leases ----

    async def acquire_lease(self, *, session_id: str, holder: str, endpoint: str) -> dict[str, Any]:
        ttl = self.settings.consent_lease_seconds
        async with self.database.transaction() as db:
            consent = await crud.get_consent(db=db, session_id=session_id, lock=True)
            now = utcnow()
            if consent is None or not is_in_force(
                revoked_at=consent.revoked_at, expires_at=consent.expires_at, now=now
            ):
                raise Problem(403, "Consent not in force", f"Session {session_id} has no consent in force.",
                              code="consent_not_in_force")
            lease = await crud.create_lease(
                db=db,
                consent=consent,
                holder=holder,
                endpoint=endpoint,
                acquired_at=now,
                expires_at=lease_expires_at(now=now, ttl_seconds=ttl),
            )
        return {
            "lease_id": lease.lease_id,
            "session_id": session_id,
            "scopes": consent.scopes_now(),
            "ttl_seconds": ttl,
            "expires_at": rfc3339(lease.expires_at),
        }

    async def renew_leases(self, *, holder: str, lease_ids: list[str]) -> dict[str, Any]:
        """Extend this holder's leases whose consent is in force; list every other one as revoked."""
        ttl = self.settings.consent_lease_seconds
        wanted = list(dict.fromkeys(lease_ids))
        if not wanted:  # a holder with no leases asks how long a lease lasts (relay/leases.py in the gateway)
            return {"ttl_seconds": ttl, "renewed": [], "revoked": []}
        async with self.database.transaction() as db:
            consents = await crud.lock_consents_of_leases(db=db, lease_ids=wanted)
            now = utcnow()
            in_force = [consent_id for consent_id, revoked_at, expires_at, *_changes in consents
                        if is_in_force(revoked_at=revoked_at, expires_at=expires_at, now=now)]
            renewed = await crud.extend_held_leases(
                db=db, holder=holder, lease_ids=wanted, consent_ids=in_force,
                expires_at=lease_expires_at(now=now, ttl_seconds=ttl),
            )
            # Rare, so looked up only then: the scopes of leases whose consent had a scope taken back. A holder
            # that missed the withdrawal's cut request narrows here, within one renewal.
            changed = {consent_id: (withdrawals, step_ups)
                       for consent_id, _r, _e, withdrawals, step_ups in consents if withdrawals or step_ups}
            scopes = {}
            if changed and renewed:
                for lease_id, consent_id, granted in await crud.lease_consents(db=db, lease_ids=renewed,
                                                                              consent_ids=list(changed)):
                    scopes[lease_id] = scopes_in_force(granted, *changed[consent_id])
        kept = set(renewed)
        return {"ttl_seconds": ttl, "renewed": renewed, "revoked": [lid for lid in wanted if lid not in kept],
                "scopes": scopes}

    async def release_leases(self, *, lease_ids: list[str]) -> dict[str, Any]:
        async with self.database.transaction() as db:
            released = await crud.release_leases(
                db=db, lease_ids=list(dict.fromkeys(lease_ids)), now=utcnow()
            )
        return {"released": released}
