"""The consent service's public face: the commands it answers (`cmd.consent.*`) and the events it publishes
(stream CONSENT). docs/commands.md and docs/events.md describe each.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from assist_platform.audit import AuditQuery, AuditTrail
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from .consent_rules import DEFAULT_LANGUAGE, SCOPES, normalize_scopes, validate_language, validate_reason
from .spec import CommandSpec, EventSpec

STREAM = "CONSENT"
# Every command subject of the service (its NATS permission, its queue group's reach).
COMMANDS = "cmd.consent.>"
EVENTS = "consent.>"

SessionId = Field(min_length=1, max_length=64)
Holder = Field(min_length=1, max_length=200, description="the NATS subject that answers cut requests")
LeaseIds = Field(max_length=10_000)
# A language the terms are written in (consent_rules.LANGUAGES); any other is a 422.
Language = Annotated[str, AfterValidator(validate_language)]


def _checked_scopes(scopes: list[str]) -> list[str]:
    # Error types of our own (`scopes_required`, `scope_unknown`): the 422 says which rule, and the gateway
    # says it in the customer's language; the message never names the model (invalid_input_problem).
    try:
        return normalize_scopes(scopes)
    except ValueError as exc:
        kind = "scopes_required" if not scopes else "scope_unknown"
        raise PydanticCustomError(kind, str(exc)) from exc


class _Input(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class Customer(_Input):
    name: str = Field(min_length=1, max_length=200)
    email: str = Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    company: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=50)


class TermsInput(_Input):
    lang: Language = DEFAULT_LANGUAGE


class GrantInput(_Input):
    session_id: str = SessionId
    customer: Customer
    terms_version: str = Field(min_length=1, max_length=32)
    scopes: list[str]
    # The language of the terms the customer was shown (the receipt names it; the sha256 is of that text).
    lang: Language = DEFAULT_LANGUAGE
    client_address: str | None = Field(default=None, max_length=100)
    user_agent: str | None = Field(default=None, max_length=1000)

    _known_scopes = field_validator("scopes")(_checked_scopes)


class RevokeInput(_Input):
    session_id: str = SessionId
    reason: str
    revoked_at: datetime | None = None
    # For the audit trail: who asked and from where (default: the party the reason names).
    actor: str | None = Field(default=None, max_length=200)
    client_address: str | None = Field(default=None, max_length=100)

    @field_validator("reason")
    @classmethod
    def _known_reason(cls, reason: str) -> str:
        return validate_reason(reason)


class ScopeWithdrawInput(_Input):
    """The customer takes back one scope of a consent in force; the session goes on with the rest. A scope whose
    withdrawal leaves no access (`view`) is refused (409): that is a revoke, which ends the session."""

    session_id: str = SessionId
    scope: str
    actor: str | None = Field(default=None, max_length=200)
    client_address: str | None = Field(default=None, max_length=100)

    @field_validator("scope")
    @classmethod
    def _known_scope(cls, scope: str) -> str:
        if scope not in SCOPES:
            raise PydanticCustomError("scope_unknown", f"unknown scope {scope!r}; allowed: {list(SCOPES)}")
        return scope


class ScopeRequestInput(_Input):
    """A consultant asks the customer for more than the consent allows (a step up, e.g. `control` after `view`),
    saying why; the customer approves or refuses it. One request waits at a time."""

    session_id: str = SessionId
    scopes: list[str]
    reason: str = Field(min_length=1, max_length=500)
    requested_by: str = Field(min_length=1, max_length=200)

    _known_scopes = field_validator("scopes")(_checked_scopes)


class ScopeDecisionInput(_Input):
    """The customer's answer to a step-up request: an approval is a new grant; a refusal is final for the request."""

    session_id: str = SessionId
    request_id: str = Field(min_length=1, max_length=36)
    approve: bool
    actor: str | None = Field(default=None, max_length=200)
    client_address: str | None = Field(default=None, max_length=100)
    user_agent: str | None = Field(default=None, max_length=1000)


class SessionInput(_Input):
    session_id: str = SessionId


class LeaseAcquireInput(_Input):
    session_id: str = SessionId
    holder: str = Holder
    endpoint: Literal["agent", "consultant", "observer", "share"]


class LeaseRenewInput(_Input):
    holder: str = Holder
    lease_ids: list[str] = LeaseIds


class LeaseReleaseInput(_Input):
    lease_ids: list[str] = LeaseIds


# Outputs: times are RFC 3339 strings as written on the wire (a model that parsed them would write them anew).
class Terms(BaseModel):
    version: str
    sha256: str
    text: str
    lang: str


class Granted(BaseModel):
    consent_id: str
    session_id: str
    scopes: list[str]
    terms_version: str
    terms_sha256: str
    granted_at: str
    expires_at: str


class Revoked(BaseModel):
    """The revocation that counts (an earlier one, if there was: `already_revoked`)."""

    consent_id: str
    session_id: str
    revoked_at: str
    reason: str
    ended_by: str
    already_revoked: bool


class ScopeWithdrawal(BaseModel):
    """The consent's scopes once the withdrawal holds everywhere (answered after every lease holder narrowed its
    endpoints or let its lease lapse); `already_withdrawn` when the scope was not held any more."""

    consent_id: str
    session_id: str
    scope: str
    scopes: list[str]
    withdrawn_at: str
    already_withdrawn: bool


class ScopeRequestView(BaseModel):
    """A step-up request and, once the customer answered, the answer (`status` approved or refused, `decided_at`).
    An approved request is a grant of its own: its `request_id` names the grant in the receipt and the audit trail."""

    request_id: str
    session_id: str
    scopes: list[str]
    reason: str
    requested_by: str
    requested_at: str
    status: Literal["pending", "approved", "refused"]
    decided_at: str | None = None


class ScopeDecision(ScopeRequestView):
    """The answered request, and what the consent allows from now on (`scopes_in_force`)."""

    scopes_in_force: list[str]


class ConsentView(BaseModel):
    consent_id: str
    session_id: str
    scopes: list[str]
    in_force: bool
    terms_version: str
    granted_at: str
    expires_at: str
    revoked_at: str | None
    reason: str | None
    scope_request: ScopeRequestView | None = None  # the latest step-up request, pending or answered


class ReceiptTerms(BaseModel):
    version: str
    sha256: str
    lang: str | None


class AuditEntryRef(BaseModel):
    """Where the grant stands in consent's audit chain: the customer can have it checked."""

    service: str
    id: int
    hash: str


class ScopeChange(BaseModel):
    change: Literal["granted", "withdrawn"]
    scope: str
    at: str
    request_id: str | None = None  # the approved step-up request a grant answers
    reason: str | None = None  # why the consultant asked


class ConsentReceipt(BaseModel):
    """The customer's record of what was consented to, when, from where, and how it ended (docs/consent.md). Its
    members in this order are the document the customer keeps."""

    format: str
    receipt_id: str
    consent_id: str
    session_id: str
    issuer: str
    customer: dict[str, Any]
    scopes: list[str]
    terms: ReceiptTerms
    granted_at: str
    expires_at: str
    client_address: str | None
    user_agent: str | None
    revoked_at: str | None
    reason: str | None
    statement: str
    audit_entry: AuditEntryRef | None
    # What changed while the session went on: each step-up the customer approved (a grant of its own, named by its
    # request) and each scope taken back, in time order; `scopes` above stays the first grant.
    scope_changes: list[ScopeChange] = Field(default_factory=list)
    scopes_in_force: list[str] | None = None


class LeaseGranted(BaseModel):
    lease_id: str
    session_id: str
    scopes: list[str]
    ttl_seconds: float
    expires_at: str


class LeasesRenewed(BaseModel):
    ttl_seconds: float
    renewed: list[str]
    revoked: list[str]  # asked for, not renewed: the holder cuts these
    # The scopes each renewed lease allows now: a holder that missed a withdrawal's cut request narrows here.
    scopes: dict[str, list[str]] = Field(default_factory=dict)


class LeasesReleased(BaseModel):
    released: int


terms = CommandSpec("cmd.consent.terms", TermsInput, Terms)
grant = CommandSpec("cmd.consent.grant", GrantInput, Granted)
# Answers once every lease holder has cut or let its lease lapse: a caller allows a full lease beyond its timeout.
revoke = CommandSpec("cmd.consent.revoke", RevokeInput, Revoked)
get = CommandSpec("cmd.consent.get", SessionInput, ConsentView)
# The receipt's format is the consent service's (`receipts.RECEIPT_FORMAT`), passed through to the customer.
receipt = CommandSpec("cmd.consent.receipt", SessionInput, ConsentReceipt)
# Answers, like revoke, once every lease holder has narrowed its endpoints or let its lease lapse.
withdraw_scope = CommandSpec("cmd.consent.scope.withdraw", ScopeWithdrawInput, ScopeWithdrawal)
# A consultant's step-up request, and the customer's answer to it (both tell every lease holder, which tells the
# session's endpoints; an approval widens them).
request_scopes = CommandSpec("cmd.consent.scope.request", ScopeRequestInput, ScopeRequestView)
decide_scopes = CommandSpec("cmd.consent.scope.decide", ScopeDecisionInput, ScopeDecision)
lease_acquire = CommandSpec("cmd.consent.lease.acquire", LeaseAcquireInput, LeaseGranted)
lease_renew = CommandSpec("cmd.consent.lease.renew", LeaseRenewInput, LeasesRenewed)
lease_release = CommandSpec("cmd.consent.lease.release", LeaseReleaseInput, LeasesReleased)

# Its entries of the audit chain about one session (the platform's audit_handler answers it).
audit = CommandSpec("cmd.consent.audit", AuditQuery, AuditTrail)

class ConsentGranted(BaseModel):
    """The consent service sends every field; a consumer may rely on the two ids alone (the session service
    fills in a missing consent id from them). A step-up the customer approved is a grant too: `request_id` names
    the request it answers, `scopes` what it grants, `scopes_in_force` all the consent allows from then on."""

    consent_id: str
    session_id: str
    customer: dict | None = None
    terms_version: str | None = None
    terms_sha256: str | None = None
    terms_lang: str | None = None
    scopes: list[str] | None = None
    granted_at: AwareDatetime | None = None
    expires_at: AwareDatetime | None = None
    request_id: str | None = None
    scopes_in_force: list[str] | None = None
    actor: str | None = None
    client_address: str | None = None


class ConsentRevoked(BaseModel):
    session_id: str
    consent_id: str | None = None  # always sent; a consumer needs only the session
    revoked_at: AwareDatetime
    reason: str
    # Who ended it (`assist_platform.endings`); events from before it said so name only the reason.
    ended_by: Literal["customer", "consultant", "supervisor", "system"] | None = None
    # Who asked and from where, for the audit entry of the ending (absent: nobody asked, e.g. an expiry).
    actor: str | None = None
    client_address: str | None = None


class ConsentScopeWithdrawn(BaseModel):
    """One scope taken back while the session goes on (`scopes`: what the consent still allows)."""

    consent_id: str
    session_id: str
    scope: str
    scopes: list[str]
    withdrawn_at: AwareDatetime
    actor: str | None = None
    client_address: str | None = None


class ConsentScopeRequested(BaseModel):
    """A consultant asked for more (`scopes`) with a reason; the customer is asked."""

    consent_id: str
    session_id: str
    request_id: str
    scopes: list[str]
    reason: str
    requested_by: str
    requested_at: AwareDatetime


class ConsentScopeRefused(BaseModel):
    """The customer refused a step-up request: final for that request; the consent allows what it did before."""

    consent_id: str
    session_id: str
    request_id: str
    scopes: list[str]
    refused_at: AwareDatetime
    actor: str | None = None
    client_address: str | None = None


GRANTED = EventSpec("consent.granted", STREAM, ConsentGranted)
REVOKED = EventSpec("consent.revoked", STREAM, ConsentRevoked)
SCOPE_WITHDRAWN = EventSpec("consent.scope_withdrawn", STREAM, ConsentScopeWithdrawn)
SCOPE_REQUESTED = EventSpec("consent.scope_requested", STREAM, ConsentScopeRequested)
SCOPE_REFUSED = EventSpec("consent.scope_refused", STREAM, ConsentScopeRefused)
