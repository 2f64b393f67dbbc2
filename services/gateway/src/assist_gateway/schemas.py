"""Request and response bodies of the public API (CONTRACT.md §2)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from assist_contract.consent import ScopeDecision, ScopeRequestView
from assist_contract.consent_rules import SCOPES
from assist_contract.session import ChatMessage, ChatMessages
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, field_validator
from pydantic_core import PydanticCustomError

Scope = Literal[SCOPES]  # the contract's scopes, named once: the API's enum follows them
_EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


def _consent_given(value: Any) -> bool:
    # Consent is the JSON boolean true and nothing else: pydantic's lax bool would read "yes", "on", "1", 1
    # or 1.0 as a consent the customer never gave.
    if value is not True:
        raise PydanticCustomError(
            "consent_not_given", "must be true (the JSON boolean): we help only with your consent"
        )
    return value


ConsentGiven = Annotated[bool, BeforeValidator(_consent_given), Field(json_schema_extra={"const": True})]


class CustomerIn(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200)
    email: str = Field(max_length=254, pattern=_EMAIL)
    company: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=50, pattern=r"^[0-9+()\-. /]*$")


class ConsentIn(BaseModel):
    accepted: ConsentGiven
    terms_version: str = Field(min_length=1, max_length=100)
    scopes: list[Scope] = Field(max_length=4, json_schema_extra={"uniqueItems": True})

    @field_validator("scopes")
    @classmethod
    def _distinct(cls, scopes: list[str]) -> list[str]:
        if len(set(scopes)) != len(scopes):
            raise ValueError("scopes must not repeat")
        return scopes


class HelpRequestIn(BaseModel):
    customer: CustomerIn
    service_type: str = Field(min_length=1, max_length=64)
    description: str = Field(min_length=1, max_length=4000)
    consent: ConsentIn


class HelpRequestOut(BaseModel):
    session_id: str
    session_code: str
    customer_token: str
    status: str
    expires_at: str


class EndedOut(BaseModel):
    status: Literal["ended"] = "ended"
    ended_by: str


class ScopesOut(BaseModel):
    """What the customer's consent allows now; `ended` when the withdrawal left no access and ended the session."""

    session_id: str
    scopes: list[str]
    ended: bool


class ScopeRequestIn(BaseModel):
    """A consultant asks the customer for more than the consent allows, saying why (shown to the customer)."""

    model_config = ConfigDict(str_strip_whitespace=True)

    scopes: list[Scope] = Field(min_length=1, max_length=4, json_schema_extra={"uniqueItems": True})
    reason: str = Field(min_length=1, max_length=500)


class ScopeDecisionIn(BaseModel):
    """The customer's answer: the JSON boolean `approve` (true grants the request's scopes, false refuses)."""

    approve: StrictBool


# A step-up request as the API answers it, and once answered with the scopes in force: the contract's own models.
ScopeRequestOut = ScopeRequestView
ScopeDecisionOut = ScopeDecision


class ChatIn(BaseModel):
    """A chat message: as typed (line breaks kept), 1 to 2000 characters."""

    text: str = Field(min_length=1, max_length=2000)


# A chat message and a page of them as the API answers them: the contract's own models.
ChatMessageOut = ChatMessage
ChatMessagesOut = ChatMessages


class ClaimedOut(BaseModel):
    session_id: str
    status: str
    consultant: str | None


# --- What the routes answer (the OpenAPI document's response models) -------------------------------------------
# Most of these are the replies of the consent, session and billing commands, passed on as they come: the routes
# answer them with `response_model_exclude_unset`, so a model names what a client can rely on without adding or
# dropping a member (`extra="allow"`: an owner may add members before this document names them).


class _Reply(BaseModel):
    model_config = ConfigDict(extra="allow")


Moment = Annotated[str, Field(description="RFC 3339, UTC")]
Money = Annotated[str, Field(description="a decimal string with two places", examples=["12.50"])]


class TermsOut(_Reply):
    version: str
    sha256: str
    text: str
    lang: str | None = None


class ServiceTypeOut(_Reply):
    code: str
    name: str = Field(description="in the language asked for")
    names: dict[str, str] | None = Field(None, description="every language's name")
    unit_seconds: int
    unit_price: Money
    minimum_units: int


class PriceListOut(_Reply):
    version: str
    effective_from: Moment | None = None
    currency: str
    vat_rate: str
    service_types: list[ServiceTypeOut]


class RecordingSummaryOut(BaseModel):
    """A session's recording in its view (#19): what the customer's page offers after the end."""

    status: Literal["recording", "closed", "erased", "expired"]
    started_at: Moment
    ended_at: Moment | None
    delete_after: Moment | None = Field(description="when retention deletes it (set once it is closed)")


class CustomerOut(_Reply):
    name: str | None = None
    email: str | None = None
    company: str | None = None
    phone: str | None = None


class SessionOut(_Reply):
    """A session as its reader may see it: the customer the contract's fields and the agent's presence; the
    assigned consultant and overseers the full record (customer, description, consent)."""

    session_id: str
    status: Literal["waiting", "assigned", "active", "ended"]
    service_type: str
    consultant: str | None
    requested_at: Moment
    started_at: Moment | None
    ended_at: Moment | None
    ended_by: str | None
    end_reason: str | None
    scopes: list[str]
    agent: str | None = None
    agent_away_since: Moment | None = None
    agent_grace_ends_at: Moment | None = None
    paused_seconds: int | None = None
    customer: CustomerOut | None = None
    description: str | None = None
    consent_id: str | None = None
    assigned_at: Moment | None = None
    expires_at: Moment | None = None
    scope_request: ScopeRequestOut | None = None
    observers: list[str] | None = None  # supervisors watching now, view only
    chat_seq: int | None = None  # the latest chat message's seq (0: none): fetch the chat when it grows
    recording: RecordingSummaryOut | None = None  # its recording (#19), null when it has none


class SessionCardOut(_Reply):
    """A session in a list: who asks (name, company), for what and since when (a consultant's own: in full)."""

    session_id: str
    status: Literal["waiting", "assigned", "active", "ended"]
    service_type: str
    consultant: str | None
    requested_at: Moment
    assigned_at: Moment | None = None
    started_at: Moment | None = None
    ended_at: Moment | None = None
    expires_at: Moment | None = None
    chat_seq: int | None = None
    customer: CustomerOut


class SessionsOut(_Reply):
    sessions: list[SessionCardOut]


class ConsentReceiptOut(_Reply):
    """The customer's record of the consent (format and members: docs/consent.md)."""

    format: str
    receipt_id: str
    consent_id: str
    session_id: str
    customer: dict[str, Any]
    scopes: list[str]
    terms: dict[str, Any]
    granted_at: Moment


class SessionReportOut(_Reply):
    session_id: str
    status: str
    service_type: str
    service_name: dict[str, str]
    consultant: str | None
    started_at: Moment | None
    ended_at: Moment | None
    ended_by: str | None
    duration_seconds: int | None
    units: int | None
    currency: str | None


class CreditOut(_Reply):
    credit_id: str
    number: str | int | None = None
    record_id: str
    session_id: str | None = None
    amount: Money | None = None
    net: Money | None = None
    vat: Money | None = None
    currency: str | None = None
    reason: str | None = None
    issued_by: str | None = None
    credited_at: Moment | None = None


class BillingRecordOut(_Reply):
    record_id: str
    session_id: str
    status: Literal["open", "closed"]
    service_type: str
    service_name: dict[str, str] | None = None
    customer: dict[str, Any] | None = None
    consultant: str | None = None
    price_list_version: str | None = None
    started_at: Moment | None = None
    ended_at: Moment | None = None
    ended_by: str | None = None
    end_reason: str | None = None
    billable_seconds: int | None = None
    units: int | None = None
    unit_seconds: int | None = None
    minimum_units: int | None = None
    unit_price: Money | None = None
    net: Money | None = None
    vat_rate: str | None = None
    vat: Money | None = None
    gross: Money | None = None
    currency: str | None = None
    credits: list[CreditOut] = []
    credited: Money | None = None
    remaining: Money | None = None
    opened_at: Moment | None = None
    closed_at: Moment | None = None


class BillingRecordSumsOut(_Reply):
    """Net, VAT, gross and credited over every record the filter matches, not only this page's."""

    net: Money
    vat: Money
    gross: Money
    credited: Money


class BillingRecordsOut(_Reply):
    records: list[BillingRecordOut]
    total: int
    limit: int
    offset: int
    sums: BillingRecordSumsOut | None = None


class CreditIssuedOut(_Reply):
    credit: CreditOut
    credited: Money
    remaining: Money | None
    already_issued: bool


class PublishedServiceTypeOut(ServiceTypeOut):
    name: dict[str, str] = Field(description="the name in each language")  # type: ignore[assignment]


class PublishedPriceListOut(PriceListOut):
    service_types: list[PublishedServiceTypeOut]  # type: ignore[assignment]


class PriceListPublishedOut(_Reply):
    published: bool = Field(description="false when this very version was published before (a retried request)")
    price_list: PublishedPriceListOut


class AuditEntryOut(_Reply):
    service: str
    id: int | str
    at: Moment
    action: str
    actor: str | None
    session_id: str | None
    client_address: str | None
    detail: dict[str, Any] | None
    hash: str


class AuditTrailOut(BaseModel):
    session_id: str
    entries: list[AuditEntryOut]
    unavailable: list[str] = Field(description="services whose part of the trail could not be read now")


class DownloadOut(_Reply):
    name: str
    url: str
    filename: str
    kind: Literal["executable", "wheel"]
    platform: str | None
    size: int
    sha256: str
    versioned_url: str | None = None


class DownloadsOut(BaseModel):
    files: list[DownloadOut]


class FileTransferOut(BaseModel):
    """A file transfer of the session as the relay saw it (issue #17); `bytes_done` is updated at most once a second."""

    transfer_id: str
    direction: Literal["to_customer", "from_customer"]
    name: str = Field(description="the name as offered (the agent saves it under a safe name)")
    size: int
    sha256: str = Field(description="the offer's SHA-256")
    received_sha256: str | None = Field(description="the receiver's, once it has the whole file")
    bytes_done: int
    status: Literal["offered", "sending", "done", "refused", "cancelled", "failed"]
    reason: str | None
    offered_at: datetime
    updated_at: datetime


class FileTransfersOut(BaseModel):
    session_id: str
    max_bytes: int = Field(description="the largest file a transfer may carry (FILE_TRANSFER_MAX_BYTES)")
    transfers: list[FileTransferOut]


# --- recordings (#19): api/recordings.py --------------------------------------------------------------------------------

class RecordingEventOut(BaseModel):
    """An event of the recording (docs/relay.md "Recording" lists the types and their members)."""

    model_config = ConfigDict(extra="allow")

    at: Moment
    offset: float = Field(description="seconds from the recording's start")
    type: str


class RecordingTerminalOut(BaseModel):
    width: int = Field(description="columns at the start")
    height: int = Field(description="rows at the start")
    has_output: bool


class RecordingPartOut(BaseModel):
    """One consultant connection's part of the recording."""

    part_id: str
    started_at: Moment
    offset: float
    end_offset: float


class RecordingIndexOut(BaseModel):
    session_id: str
    status: Literal["recording", "closed"]
    started_at: Moment
    ended_at: Moment | None
    delete_after: Moment | None
    duration_seconds: float
    gaps: int = Field(description="frames the recorder could not keep (under load)")
    terminal: RecordingTerminalOut
    has_screen: bool
    screen_channels: list[int] = Field(description="2: the agent's screen, 6: the customer's browser share")
    events: list[RecordingEventOut]
    parts: list[RecordingPartOut]


class RecordingLinkOut(BaseModel):
    url: str = Field(description="the playback page with its ticket, a path on this gateway")
    expires_at: Moment


class RecordingErasedOut(BaseModel):
    status: Literal["erased"] = "erased"
    erased_at: Moment
