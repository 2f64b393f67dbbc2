"""The consent commands (docs/commands.md): one input model each, handled by one service operation."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from assist_platform.runtime import Command, command_table
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


class ConsentCommands:
    """The command table of the service: each handler translates its input into one call of the service, which
    owns the transaction. `revoke` is answered concurrently because it waits for lease holders."""

    def __init__(self, service: ConsentService) -> None:
        self._service = service

    def commands(self) -> list[Command]:
        table = {
            TERMS: (TermsInput, self.terms),
            GRANT: (GrantInput, self.grant),
            REVOKE: (RevokeInput, self.revoke),
            GET: (SessionInput, self.get),
            RECEIPT: (SessionInput, self.receipt),
            LEASE_ACQUIRE: (LeaseAcquireInput, self.acquire),
            LEASE_RENEW: (LeaseRenewInput, self.renew),
            LEASE_RELEASE: (LeaseReleaseInput, self.release),
        }
        return command_table(table, concurrent={REVOKE})

    async def terms(self, request: TermsInput) -> dict:
        return self._service.terms(lang=request.lang)

    async def grant(self, request: GrantInput) -> dict:
        return await self._service.grant(
            session_id=request.session_id,
            customer=request.customer.model_dump(exclude_none=True),
            terms_version=request.terms_version,
            lang=request.lang,
            scopes=request.scopes,
            client_address=request.client_address,
            user_agent=request.user_agent,
        )

    async def revoke(self, request: RevokeInput) -> dict:
        return await self._service.revoke(
            session_id=request.session_id, reason=request.reason, revoked_at=request.revoked_at,
            actor=request.actor, client_address=request.client_address,
        )

    async def get(self, request: SessionInput) -> dict:
        return await self._service.get(session_id=request.session_id)

    async def receipt(self, request: SessionInput) -> dict:
        return await self._service.receipt(session_id=request.session_id)

    async def acquire(self, request: LeaseAcquireInput) -> dict:
        return await self._service.acquire_lease(
            session_id=request.session_id, holder=request.holder, endpoint=request.endpoint
        )

    async def renew(self, request: LeaseRenewInput) -> dict:
        return await self._service.renew_leases(holder=request.holder, lease_ids=request.lease_ids)

    async def release(self, request: LeaseReleaseInput) -> dict:
        return await self._service.release_leases(lease_ids=request.lease_ids)
