"""What the service says about a consent: its view for other services, and the customer's receipt."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from assist_platform.envelope import rfc3339

from .domain import APPROVED, consent_statement, is_in_force
from .models import Consent, ScopeRequest

RECEIPT_FORMAT = "assist.consent-receipt/1"


def _moment(value: datetime | None) -> str | None:
    return rfc3339(value) if value is not None else None


def scope_request_view(request: ScopeRequest) -> dict[str, Any]:
    """A step-up request as commands answer it and endpoints are told it (`ScopeRequestView`)."""
    return {
        "request_id": request.request_id,
        "session_id": request.session_id,
        "scopes": list(request.scopes),
        "reason": request.reason,
        "requested_by": request.requested_by,
        "requested_at": rfc3339(request.requested_at),
        "status": request.status,
        "decided_at": _moment(request.decided_at),
    }


def scope_changes(consent: Consent, requests: list[ScopeRequest]) -> list[dict[str, Any]]:
    """What changed after the first grant, in time order: each approved step-up (a grant of its own) and each
    scope taken back (its latest withdrawal)."""
    changes = [
        {"change": "granted", "scope": scope, "at": rfc3339(request.decided_at), "request_id": request.request_id,
         "reason": request.reason}
        for request in requests if request.status == APPROVED and request.decided_at is not None
        for scope in request.scopes
    ]
    changes += [{"change": "withdrawn", "scope": scope, "at": at}
                for scope, at in (consent.scope_withdrawals or {}).items()]
    return sorted(changes, key=lambda change: change["at"])


def consent_view(consent: Consent, *, now: datetime) -> dict[str, Any]:
    """The result of `cmd.consent.get`: the scopes in force now (the grant less what was withdrawn)."""
    return {
        "consent_id": consent.consent_id,
        "session_id": consent.session_id,
        "scopes": consent.scopes_now(),
        "in_force": is_in_force(revoked_at=consent.revoked_at, expires_at=consent.expires_at, now=now),
        "terms_version": consent.terms_version,
        "granted_at": rfc3339(consent.granted_at),
        "expires_at": rfc3339(consent.expires_at),
        "revoked_at": _moment(consent.revoked_at),
        "reason": consent.revoke_reason,
    }


def consent_receipt(consent: Consent, *, issuer: str, requests: list[ScopeRequest] = ()) -> dict[str, Any]:
    """The customer's record of what was consented to, when, from where, what changed while the session went on
    (`scope_changes`, `scopes_in_force`) and how it ended."""
    return {
        "format": RECEIPT_FORMAT,
        "receipt_id": consent.receipt_id,
        "consent_id": consent.consent_id,
        "session_id": consent.session_id,
        "issuer": issuer,
        "customer": consent.customer,
        "scopes": list(consent.scopes),
        "terms": {
            "version": consent.terms_version,
            "sha256": consent.terms_sha256,
            "lang": consent.terms_lang,
        },
        "granted_at": rfc3339(consent.granted_at),
        "expires_at": rfc3339(consent.expires_at),
        "client_address": consent.client_address,
        "user_agent": consent.user_agent,
        "revoked_at": _moment(consent.revoked_at),
        "reason": consent.revoke_reason,
        "statement": consent_statement(
            customer_name=str(consent.customer.get("name", "")),
            scopes=consent.scopes,
            session_id=consent.session_id,
            terms_version=consent.terms_version,
            expires_at=consent.expires_at,
            lang=consent.terms_lang,
        ),
        "scope_changes": scope_changes(consent, list(requests)),
        "scopes_in_force": consent.scopes_now(),
    }
