"""The events the consent service publishes (CONTRACT §4, stream CONSENT; their types and payload models are
`assist_contract.consent`); what it consumes is in `consumers`."""

from __future__ import annotations

from assist_contract.consent import GRANTED, REVOKED, SCOPE_REFUSED, SCOPE_REQUESTED, SCOPE_WITHDRAWN
from assist_contract.spec import EventSpec
from assist_platform.endings import ended_by_of
from assist_platform.envelope import CloudEvent, rfc3339

from .models import Consent, ScopeRequest

SOURCE = "assist/consent"


def consent_granted(consent: Consent) -> CloudEvent:
    return GRANTED.from_fields(source=SOURCE, subject=consent.session_id, fields=consent.model_dump())


def _about_consent(spec: EventSpec, consent: Consent, data: dict) -> CloudEvent:
    """An event about the consent: which consent and session, then what happened to it."""
    return spec.new(source=SOURCE, subject=consent.session_id,
                    data={"consent_id": consent.consent_id, "session_id": consent.session_id, **data})


def _about_request(spec: EventSpec, request: ScopeRequest, data: dict) -> CloudEvent:
    """A step-up event: which consent, session and request, for which scopes, then what happened to it."""
    return spec.new(source=SOURCE, subject=request.session_id,
                    data={"consent_id": request.consent_id, "session_id": request.session_id,
                          "request_id": request.request_id, "scopes": list(request.scopes), **data})


def consent_stepped_up(
    consent: Consent, request: ScopeRequest, *, scopes_in_force: list[str], actor: str | None = None,
    client_address: str | None = None,
) -> CloudEvent:
    """A step-up the customer approved: a grant of its own (`request_id`), of `scopes`, on the same consent."""
    assert request.decided_at is not None
    return _about_consent(GRANTED, consent, {
        "request_id": request.request_id,
        "scopes": list(request.scopes),
        "scopes_in_force": scopes_in_force,
        "terms_version": consent.terms_version,
        "terms_sha256": consent.terms_sha256,
        "terms_lang": consent.terms_lang,
        "granted_at": rfc3339(request.decided_at),
        "expires_at": rfc3339(consent.expires_at),
        **_who_asked(actor, client_address),
    })


def consent_scope_requested(request: ScopeRequest) -> CloudEvent:
    return _about_request(SCOPE_REQUESTED, request, {
        "reason": request.reason,
        "requested_by": request.requested_by,
        "requested_at": rfc3339(request.requested_at),
    })


def consent_scope_refused(
    request: ScopeRequest, *, actor: str | None = None, client_address: str | None = None
) -> CloudEvent:
    assert request.decided_at is not None
    return _about_request(SCOPE_REFUSED, request,
                          {"refused_at": rfc3339(request.decided_at), **_who_asked(actor, client_address)})


def _who_asked(actor: str | None, client_address: str | None) -> dict[str, str]:
    """Only when someone asked: an ending nobody asked for (expiry, a kept terminate) names no one."""
    return {**({"actor": actor} if actor else {}), **({"client_address": client_address} if client_address else {})}


def consent_revoked(
    consent: Consent, *, actor: str | None = None, client_address: str | None = None
) -> CloudEvent:
    """`actor` and `client_address` are who asked (a staff username, `customer`...) and from where: the session
    service's audit entry of the ending names them as consent's own does."""
    assert consent.revoked_at is not None and consent.revoke_reason is not None
    return _about_consent(REVOKED, consent, {
        "revoked_at": rfc3339(consent.revoked_at),
        "reason": consent.revoke_reason,
        "ended_by": ended_by_of(consent.revoke_reason),
        **_who_asked(actor, client_address),
    })


def consent_scope_withdrawn(
    consent: Consent, *, scope: str, actor: str | None = None, client_address: str | None = None
) -> CloudEvent:
    """One scope taken back; `scopes` is what the consent allows from now on."""
    return _about_consent(SCOPE_WITHDRAWN, consent, {
        "scope": scope,
        "scopes": consent.scopes_now(),
        "withdrawn_at": (consent.scope_withdrawals or {})[scope],
        **_who_asked(actor, client_address),
    })
