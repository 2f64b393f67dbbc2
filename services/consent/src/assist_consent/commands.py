"""The consent commands (docs/commands.md): one input model each, handled by one service operation."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from assist_platform.audit import audit_command
from assist_platform.runtime import Command
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from .domain import DEFAULT_LANGUAGE, normalize_scopes, validate_language, validate_reason
from .service import ConsentService

TERMS = "cmd.consent.terms"
GRANT = "cmd.consent.grant"
REVOKE = "cmd.consent.revoke"
GET = "cmd.consent.get"
RECEIPT = "cmd.consent.receipt"
LEASE_ACQUIRE = "cmd.consent.lease.acquire"
LEASE_RENEW = "cmd.consent.lease.renew"
LEASE_RELEASE = "cmd.consent.lease.release"

SessionId = Field(min_length=1, max_length=64)
Holder = Field(min_length=1, max_length=200, description="the NATS subject that answers cut requests")
LeaseIds = Field(max_length=10_000)


class _Input(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class Customer(_Input):
    name: str = Field(min_length=1, max_length=200)
    email: str = Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    company: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=50)


class TermsInput(_Input):
    lang: str = DEFAULT_LANGUAGE

    @field_validator("lang")
    @classmethod
    def _known_language(cls, lang: str) -> str:
        return validate_language(lang)


class GrantInput(_Input):
    session_id: str = SessionId
    customer: Customer
    terms_version: str = Field(min_length=1, max_length=32)
    scopes: list[str]
    # The language of the terms the customer was shown (the receipt names it; the sha256 is of that text).
    lang: str = DEFAULT_LANGUAGE
    client_address: str | None = Field(default=None, max_length=100)
    user_agent: str | None = Field(default=None, max_length=1000)

    @field_validator("scopes")
    @classmethod
    def _known_scopes(cls, scopes: list[str]) -> list[str]:
        # Error types of our own (`scopes_required`, `scope_unknown`): the 422 says which rule, and the gateway
        # says it in the customer's language; the message never names this model (invalid_input_problem).
        try:
            return normalize_scopes(scopes)
        except ValueError as exc:
            kind = "scopes_required" if not scopes else "scope_unknown"
            raise PydanticCustomError(kind, str(exc)) from exc

    @field_validator("lang")
    @classmethod
    def _known_language(cls, lang: str) -> str:
        return validate_language(lang)


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


class SessionInput(_Input):
    session_id: str = SessionId


class LeaseAcquireInput(_Input):
    session_id: str = SessionId
    holder: str = Holder
    endpoint: Literal["agent", "consultant"]


class LeaseRenewInput(_Input):
    holder: str = Holder
    lease_ids: list[str] = LeaseIds


class LeaseReleaseInput(_Input):
    lease_ids: list[str] = LeaseIds


def consent_commands(service: ConsentService) -> list[Command]:
    """The command table of the service; `revoke` is answered concurrently because it waits for holders."""

    async def terms(request: TermsInput) -> dict:
        return service.terms(lang=request.lang)

    async def grant(request: GrantInput) -> dict:
        return await service.grant(
            session_id=request.session_id,
            customer=request.customer.model_dump(exclude_none=True),
            terms_version=request.terms_version,
            lang=request.lang,
            scopes=request.scopes,
            client_address=request.client_address,
            user_agent=request.user_agent,
        )

    async def revoke(request: RevokeInput) -> dict:
        return await service.revoke(
            session_id=request.session_id, reason=request.reason, revoked_at=request.revoked_at,
            actor=request.actor, client_address=request.client_address,
        )

    async def get(request: SessionInput) -> dict:
        return await service.get(session_id=request.session_id)

    async def receipt(request: SessionInput) -> dict:
        return await service.receipt(session_id=request.session_id)

    async def acquire(request: LeaseAcquireInput) -> dict:
        return await service.acquire_lease(
            session_id=request.session_id, holder=request.holder, endpoint=request.endpoint
        )

    async def renew(request: LeaseRenewInput) -> dict:
        return await service.renew_leases(holder=request.holder, lease_ids=request.lease_ids)

    async def release(request: LeaseReleaseInput) -> dict:
        return await service.release_leases(lease_ids=request.lease_ids)

    return [
        audit_command(service="consent", database=service.database),
        Command(TERMS, TermsInput, terms),
        Command(GRANT, GrantInput, grant),
        Command(REVOKE, RevokeInput, revoke, concurrent=True),
        Command(GET, SessionInput, get),
        Command(RECEIPT, SessionInput, receipt),
        Command(LEASE_ACQUIRE, LeaseAcquireInput, acquire),
        Command(LEASE_RENEW, LeaseRenewInput, renew),
        Command(LEASE_RELEASE, LeaseReleaseInput, release),
    ]
