"""The consent service's tables: consents (one per session, with their revocation) and access leases.

Datetimes are SQLModel's `UTCDateTime`: aware UTC in and out on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from assist_platform.audit import AUDIT_TABLES
from assist_platform.outbox import PLATFORM_TABLES
from sqlalchemy import JSON, Column, ForeignKey, String, Text
from sqlmodel import Field, SQLModel

from .domain import scopes_in_force


class Consent(SQLModel, table=True):
    """A customer's consent to remote access for one session, and how it ended."""

    __tablename__ = "consent"

    consent_id: str = Field(primary_key=True, max_length=36)
    # One consent per session: the unique index is what refuses a second grant, even under a race.
    session_id: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    receipt_id: str = Field(sa_column=Column(String(36), nullable=False, unique=True))
    customer: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    scopes: list[str] = Field(sa_column=Column(JSON, nullable=False))
    terms_version: str = Field(max_length=32)
    terms_lang: str = Field(max_length=8)
    terms_sha256: str = Field(max_length=64)
    granted_at: datetime
    expires_at: datetime = Field(index=True)
    client_address: str | None = Field(default=None, max_length=100)
    user_agent: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    revoked_at: datetime | None = Field(default=None, index=True)
    revoke_reason: str | None = Field(default=None, max_length=40)
    # Scopes the customer took back while the session went on, each with when (RFC 3339); `scopes` stays the grant.
    scope_withdrawals: dict[str, str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    # Scopes granted later by step-ups the customer approved, each with when (RFC 3339), beside the first grant:
    # the summary the lease paths read without a query; each approval is recorded in full in `scope_request`.
    scope_grants: dict[str, str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))

    def scopes_now(self) -> list[str]:
        """What the consent allows now: the grant, the step-ups and the withdrawals (domain.scopes_in_force)."""
        return scopes_in_force(self.scopes, self.scope_withdrawals, self.scope_grants)


class ScopeRequest(SQLModel, table=True):
    """A consultant's step-up request and the customer's answer. Approved, it is a grant of its own (named by its
    `request_id` in the receipt and the audit trail); the consent's first grant is never edited."""

    __tablename__ = "scope_request"

    request_id: str = Field(primary_key=True, max_length=36)
    consent_id: str = Field(
        sa_column=Column(String(36), ForeignKey("consent.consent_id"), nullable=False, index=True)
    )
    session_id: str = Field(sa_column=Column(String(64), nullable=False, index=True))
    scopes: list[str] = Field(sa_column=Column(JSON, nullable=False))
    reason: str = Field(sa_column=Column(Text, nullable=False))
    requested_by: str = Field(max_length=200)
    requested_at: datetime
    status: str = Field(max_length=16)  # pending, approved, refused (domain)
    decided_at: datetime | None = None
    decided_by: str | None = Field(default=None, max_length=200)
    client_address: str | None = Field(default=None, max_length=100)
    user_agent: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class Lease(SQLModel, table=True):
    """Access held by one relay endpoint; usable by its holder only while unexpired and not released."""

    __tablename__ = "lease"

    lease_id: str = Field(primary_key=True, max_length=36)
    consent_id: str = Field(
        sa_column=Column(String(36), ForeignKey("consent.consent_id"), nullable=False, index=True)
    )
    session_id: str = Field(sa_column=Column(String(64), nullable=False, index=True))
    # The NATS subject that answers cut requests for this lease (a gateway replica's `gateway.cut.<id>`).
    holder: str = Field(max_length=200)
    endpoint: str = Field(max_length=20)
    acquired_at: datetime
    expires_at: datetime = Field(index=True)
    released_at: datetime | None = None


TABLES = (Consent.__table__, Lease.__table__, ScopeRequest.__table__, *PLATFORM_TABLES, *AUDIT_TABLES)
