"""The gateway's own tables: staff accounts and their tokens, customer credentials, local assignments.

Datetimes are aware and UTC: SQLModel stores and reads them back that way on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from datetime import datetime

from assist_platform.envelope import utcnow
from assist_platform.audit import AUDIT_TABLES
from assist_platform.outbox import PLATFORM_TABLES
from sqlalchemy import BigInteger
from sqlmodel import Field, SQLModel


class StaffAccount(SQLModel, table=True):
    __tablename__ = "staff_account"

    username: str = Field(primary_key=True, max_length=64)
    role: str = Field(max_length=20)
    password_hash: str = Field(max_length=255)
    created_at: datetime = Field(default_factory=utcnow)


class AccessToken(SQLModel, table=True):
    """A staff bearer token, stored as its sha256: the token itself exists only at the client."""

    __tablename__ = "access_token"

    token_sha256: str = Field(primary_key=True, max_length=64)
    username: str = Field(foreign_key="staff_account.username", index=True, max_length=64)
    issued_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime = Field(index=True)


class CustomerCredential(SQLModel, table=True):
    """sha256(customer_token) → its session, so the gateway checks a customer without asking another service.
    """

    __tablename__ = "customer_credential"

    token_sha256: str = Field(primary_key=True, max_length=64)
    session_id: str = Field(index=True, unique=True, max_length=64)
    created_at: datetime = Field(default_factory=utcnow)


class SessionAssignment(SQLModel, table=True):
    """Who claimed a session through the gateway: lets that consultant end it while the session service is
    away.
    """

    __tablename__ = "session_assignment"

    session_id: str = Field(primary_key=True, max_length=64)
    consultant: str = Field(max_length=64)
    assigned_at: datetime = Field(default_factory=utcnow)


class FileTransfer(SQLModel, table=True):
    """A file transfer of a session as the relay saw it (issue #17): what was offered, how far it got, how it ended.
    The customer's page shows these (GET /api/v1/sessions/{id}/file-transfers); each outcome is audited too."""

    __tablename__ = "file_transfer"

    session_id: str = Field(primary_key=True, max_length=64)
    transfer_id: str = Field(primary_key=True, max_length=36)  # chosen by the sender: unique within its session only
    direction: str = Field(max_length=20)  # to_customer | from_customer
    name: str = Field(max_length=255)  # as offered (the agent saves it under a safe name)
    size: int = Field(sa_type=BigInteger)
    sha256: str = Field(max_length=64)  # the offer's
    received_sha256: str | None = Field(default=None, max_length=64)  # the receiver's, at `file.done`
    bytes_done: int = Field(default=0, sa_type=BigInteger)
    status: str = Field(max_length=20)  # offered | sending | done | refused | cancelled | failed
    reason: str | None = Field(default=None, max_length=200)
    consultant: str = Field(default="", max_length=64)
    offered_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Recording(SQLModel, table=True):
    """A session's recording (issue #19): where its objects are and how long they are kept. One per session, however
    many consultant connections (parts) wrote it; its objects are listed in `recording_object`. The row outlives
    its objects: erased or expired, it still says who erased it and when."""

    __tablename__ = "recording"

    session_id: str = Field(primary_key=True, max_length=64)
    retention_class: str = Field(default="standard", max_length=32)
    bucket: str = Field(max_length=64)  # the object store bucket of the retention class (recording/store.py)
    status: str = Field(default="recording", index=True, max_length=20)  # recording | closed | erased | expired
    started_at: datetime = Field(default_factory=utcnow)
    ended_at: datetime | None = Field(default=None)
    delete_after: datetime | None = Field(default=None)  # at close: ended_at + the class's retention
    bytes: int = Field(default=0, sa_type=BigInteger)  # of its objects, counted as each is written
    gaps: int = Field(default=0)  # frames left out: the recorder could not keep up
    erased_at: datetime | None = Field(default=None)
    erased_by: str | None = Field(default=None, max_length=20)  # customer | retention
    # The part that opened it last, while it records: only that part's end (or the session's) closes it, so a
    # replaced connection's late close never closes the recording its successor writes.
    open_part: str | None = Field(default=None, max_length=32)


class RecordingObject(SQLModel, table=True):
    """One object of a recording (a segment of one stream of one part), as written: reading lists these, never a
    bucket."""

    __tablename__ = "recording_object"

    session_id: str = Field(primary_key=True, max_length=64)
    name: str = Field(primary_key=True, max_length=255)  # <session_id>/<part_id>/<stream>/<seq:06d>
    stream: str = Field(max_length=16)  # terminal | screen | events
    part_id: str = Field(max_length=32)
    seq: int
    bytes: int = Field(sa_type=BigInteger)
    first_at: datetime  # the time of its first and last item
    last_at: datetime


TABLES = (
    StaffAccount.__table__,
    AccessToken.__table__,
    CustomerCredential.__table__,
    SessionAssignment.__table__,
    FileTransfer.__table__,
    Recording.__table__,
    RecordingObject.__table__,
    *PLATFORM_TABLES, *AUDIT_TABLES,
)
