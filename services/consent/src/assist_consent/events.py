"""The events the consent service publishes (CONTRACT §4, stream CONSENT; their types and payload models are
`assist_contract.consent`); what it consumes is in `consumers`."""

from __future__ import annotations

from assist_contract.consent import GRANTED, REVOKED, SCOPE_WITHDRAWN
from assist_platform.endings import ended_by_of
from assist_platform.envelope import CloudEvent, rfc3339

from .domain import scopes_in_force
from .models import Consent

SOURCE = "assist/consent"


def consent_granted(consent: Consent) -> CloudEvent:
    return GRANTED.from_fields(source=SOURCE, subject=consent.session_id, fields=consent.model_dump())


def _who_asked(actor: str | None, client_address: str | None) -> dict[str, str]:
    """Only when someone asked: an ending nobody asked for (expiry, a kept terminate) names no one."""
    return {**({"actor": actor} if actor else {}), **({"client_address": client_address} if client_address else {})}


def consent_revoked(
    consent: Consent, *, actor: str | None = None, client_address: str | None = None
) -> CloudEvent:
    """`actor` and `client_address` are who asked (a staff username, `customer`...) and from where: the session
    service's audit entry of the ending names them as consent's own does."""
    assert consent.revoked_at is not None and consent.revoke_reason is not None
    return REVOKED.new(
        source=SOURCE,
        subject=consent.session_id,
        data={
            "consent_id": consent.consent_id,
            "session_id": consent.session_id,
            "revoked_at": rfc3339(consent.revoked_at),
            "reason": consent.revoke_reason,
            "ended_by": ended_by_of(consent.revoke_reason),
            **_who_asked(actor, client_address),
        },
    )


def consent_scope_withdrawn(
    consent: Consent, *, scope: str, actor: str | None = None, client_address: str | None = None
) -> CloudEvent:
    """One scope taken back; `scopes` is what the consent allows from now on."""
    return SCOPE_WITHDRAWN.new(
        source=SOURCE,
        subject=consent.session_id,
        data={
            "consent_id": consent.consent_id,
            "session_id": consent.session_id,
            "scope": scope,
            "scopes": scopes_in_force(consent.scopes, consent.scope_withdrawals),
            "withdrawn_at": (consent.scope_withdrawals or {})[scope],
            **_who_asked(actor, client_address),
        },
    )
