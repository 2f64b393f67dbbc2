"""The session service's tables."""

from __future__ import annotations

from datetime import datetime

from assist_platform.audit import AUDIT_TABLES
from assist_platform.outbox import PLATFORM_TABLES
from sqlalchemy import JSON, Column, Integer, Text
from sqlmodel import Field, SQLModel

from .domain import AwayPeriod, CodeState, EndedBy, SessionState, Status, away_periods


class HelpSession(SQLModel, table=True):
    """One help request, from the customer's request to its end."""

    __tablename__ = "help_session"

    session_id: str = Field(primary_key=True, max_length=64)
    status: str = Field(index=True, max_length=16)
    service_type: str = Field(max_length=64)
    description: str = Field(sa_column=Column(Text, nullable=False))
    customer: dict = Field(sa_column=Column(JSON, nullable=False))
    scopes: list = Field(sa_column=Column(JSON, nullable=False))
    consent_id: str | None = Field(default=None, max_length=64)
    # The latest step-up request a consultant made and, once answered, its answer (`ScopeRequestView` as JSON),
    # from the consent service's events: what the customer's page shows and asks about.
    scope_request: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    # Who watches now, view only: {observation id: supervisor's username}, from the gateway's observer events.
    observers: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    # The seq of its latest chat message (`ChatMessage`); the next one takes the next number, under the row lock.
    chat_seq: int = Field(default=0, sa_column=Column(Integer, nullable=False, default=0, server_default="0"))
    consultant: str | None = Field(default=None, index=True, max_length=200)
    customer_token_sha256: str = Field(max_length=64)

    # The code the agent attaches with. `live_code` holds it only while it can still be used, so the unique
    # index guarantees no two live codes are equal while a dead code may be drawn again later.
    session_code: str = Field(index=True, max_length=9)
    live_code: str | None = Field(default=None, unique=True, max_length=9)
    # SQLModel stores datetime fields as aware UTC (UTCDateTime), on SQLite as on PostgreSQL.
    code_expires_at: datetime
    code_used_at: datetime | None = None
    # The agent that spent the code may come back after a network drop with this token (only its hash is kept).
    agent_resume_sha256: str | None = Field(default=None, max_length=64)
    # When the gateway saw the agent's socket drop and come back: [[kind, RFC 3339], ...] (domain.add_agent_mark).
    # The database's default (migration 0004) serves rows written without it: those before it, and a replica of an
    # older release during a rolling upgrade.
    agent_marks: list = Field(default_factory=list,
                              sa_column=Column(JSON, nullable=False, default=list, server_default="[]"))

    requested_at: datetime = Field(index=True)
    request_expires_at: datetime = Field(index=True)
    assigned_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    ended_by: str | None = Field(default=None, max_length=16)
    end_reason: str | None = Field(default=None, max_length=64)

    # When its consent was revoked (`consent.revoked`; for an expired request, after the consent service read
    # the request's `session.ended`).
    consent_revoked_at: datetime | None = None

    def state(self) -> SessionState:
        return SessionState(
            status=Status(self.status),
            consultant=self.consultant,
            assigned_at=self.assigned_at,
            started_at=self.started_at,
            ended_at=self.ended_at,
            ended_by=EndedBy(self.ended_by) if self.ended_by else None,
            end_reason=self.end_reason,
        )

    def apply_state(self, state: SessionState) -> None:
        self.status = state.status.value
        self.consultant = state.consultant
        self.assigned_at = state.assigned_at
        self.started_at = state.started_at
        self.ended_at = state.ended_at
        self.ended_by = state.ended_by.value if state.ended_by else None
        self.end_reason = state.end_reason
        if state.status is Status.ENDED:
            self.live_code = None  # an ended session's code is dead

    def marks(self) -> tuple[tuple[str, datetime], ...]:
        return tuple((kind, datetime.fromisoformat(at)) for kind, at in self.agent_marks or [])

    def set_marks(self, marks: tuple[tuple[str, datetime], ...]) -> None:
        self.agent_marks = [[kind, at.isoformat()] for kind, at in marks]

    def away_periods(self) -> tuple[AwayPeriod, ...]:
        return away_periods(self.marks())

    def code_state(self) -> CodeState:
        return CodeState(expires_at=self.code_expires_at, used_at=self.code_used_at, session_status=Status(self.status))


class ChatMessage(SQLModel, table=True):
    """One chat message of a session (issue #17), kept with it: numbered per session, never edited."""

    __tablename__ = "chat_message"

    session_id: str = Field(primary_key=True, max_length=64)
    seq: int = Field(primary_key=True)
    role: str = Field(max_length=16)  # customer, consultant
    author: str = Field(max_length=200)
    text: str = Field(sa_column=Column(Text, nullable=False))
    posted_at: datetime


TABLES = (HelpSession.__table__, ChatMessage.__table__, *PLATFORM_TABLES, *AUDIT_TABLES)
