"""The consent rules, as pure functions over plain values: no FastAPI, NATS or SQL here."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

# The rules a caller meets at the door (scopes, languages, reasons) are the public contract's, defined there once;
# the service reads them here with the rest of its rules.
from assist_contract.consent_rules import (  # noqa: F401
    DEFAULT_LANGUAGE,
    ENDPOINTS,
    LANGUAGES,
    REVOKE_REASONS,
    SCOPES,
    gives_access,
    normalize_scopes,
    scopes_after_withdrawal,
    validate_language,
    validate_reason,
)


def as_utc(moment: datetime) -> datetime:
    """An aware UTC datetime; a naive one is taken to be UTC already (that is how we store them)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def consent_expires_at(*, granted_at: datetime, max_seconds: float) -> datetime:
    return as_utc(granted_at) + timedelta(seconds=max_seconds)


def is_expired(*, expires_at: datetime, now: datetime) -> bool:
    """A consent (or a lease) is over from the moment it expires: the end is exclusive."""
    return as_utc(now) >= as_utc(expires_at)


def is_in_force(*, revoked_at: datetime | None, expires_at: datetime, now: datetime) -> bool:
    """In force: not revoked and not past its maximum duration (even before the expiry task revoked it)."""
    return revoked_at is None and not is_expired(expires_at=expires_at, now=now)


def effective_revoked_at(*, requested: datetime | None, now: datetime, granted_at: datetime) -> datetime:
    """When the revocation took effect: the caller's time (a gateway that queued it while NATS was away),
    but never in the future and never before the grant."""
    if requested is None:
        return as_utc(now)
    return max(as_utc(granted_at), min(as_utc(requested), as_utc(now)))


def _moment(value: str) -> datetime:
    return as_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))


def scopes_in_force(
    granted: Iterable[str], withdrawals: dict[str, str] | None, step_ups: dict[str, str] | None = None
) -> list[str]:
    """What the consent allows now, in canonical order: for each scope, its latest change wins. The first grant
    gives `granted`; a step-up the customer approved gives its scope at its time (`step_ups`: scope -> when it was
    last granted so); a withdrawal takes it back at its time (`withdrawals`: scope -> when last withdrawn). A scope
    withdrawn comes back only through a step-up approved after the withdrawal."""
    first = set(granted)
    withdrawals, step_ups = withdrawals or {}, step_ups or {}
    held = []
    for scope in SCOPES:
        withdrawn = withdrawals.get(scope)
        stepped_up = step_ups.get(scope)
        if withdrawn is None:
            allowed = scope in first or stepped_up is not None
        else:
            allowed = stepped_up is not None and _moment(stepped_up) > _moment(withdrawn)
        if allowed:
            held.append(scope)
    return held


def missing_scopes(requested: Iterable[str], in_force: Iterable[str]) -> list[str]:
    """What a step-up request would add: the requested scopes the consent does not allow now, canonical order.
    `control` stands on `view` (scopes_after_withdrawal), so asking for control alone when view is gone is asking
    for both; a session without view has ended anyway."""
    held = set(in_force)
    return [scope for scope in SCOPES if scope in set(requested) and scope not in held]


# A step-up request's life: asked, then answered once (approved or refused); a refusal is final for the request.
PENDING, APPROVED, REFUSED = "pending", "approved", "refused"


def decision_status(approve: bool) -> str:
    return APPROVED if approve else REFUSED


def lease_expires_at(*, now: datetime, ttl_seconds: float) -> datetime:
    return as_utc(now) + timedelta(seconds=ttl_seconds)


def lease_is_live(*, expires_at: datetime, released_at: datetime | None, now: datetime) -> bool:
    """A live lease may still be used by its holder: not released and not expired."""
    return released_at is None and not is_expired(expires_at=expires_at, now=now)


def seconds_until(moment: datetime, *, now: datetime) -> float:
    return max(0.0, (as_utc(moment) - as_utc(now)).total_seconds())


def cut_wait_seconds(*, lease_expires_at: datetime, now: datetime, margin_seconds: float) -> float:
    """How long a revoke waits for a holder: until its lease has surely expired (expiry + margin)."""
    return seconds_until(lease_expires_at, now=now) + margin_seconds


_SCOPE_WORDS_EN = {"view": "view", "control": "control", "files": "file transfer", "clipboard": "clipboard"}
_SCOPE_WORDS_BG = {"view": "преглед", "control": "управление", "files": "прехвърляне на файлове",
                   "clipboard": "клипборд"}


def _access_words(scopes: set[str], words: dict[str, str], *, only: str) -> str:
    """"view only" for `view` alone, else the scopes in canonical order ("view, control and file transfer"); every
    scope stands on `view`, so it is named even where an old consent listed `control` alone."""
    named = [words[scope] for scope in SCOPES if scope in scopes or scope == "view"]
    if named == [words["view"]]:
        return only
    joiner = " и " if words is _SCOPE_WORDS_BG else " and "
    return joiner.join([", ".join(named[:-1]), named[-1]]) if len(named) > 1 else ", ".join(named)


def consent_statement(
    *,
    customer_name: str,
    scopes: Iterable[str],
    session_id: str,
    terms_version: str,
    expires_at: datetime,
    lang: str,
) -> str:
    """One plain sentence saying what the customer consented to, in the language of the terms."""
    scopes = set(scopes)
    until = as_utc(expires_at).strftime("%Y-%m-%d %H:%M UTC")
    if lang == "bg":
        access = _access_words(scopes, _SCOPE_WORDS_BG, only="само преглед")
        return (
            f"{customer_name} дава съгласие консултантът да има отдалечен достъп ({access}) до компютъра му "
            f"за сесия {session_id} според условия версия {terms_version}, само за времето на консултацията "
            f"и най-късно до {until}, с право да я прекрати по всяко време."
        )
    access = _access_words(scopes, _SCOPE_WORDS_EN, only="view only")
    return (
        f"{customer_name} consents to the consultant's remote access ({access}) to the customer's computer "
        f"for session {session_id} under terms version {terms_version}, for the consultation only and until "
        f"{until} at the latest, and may end it at any time."
    )
