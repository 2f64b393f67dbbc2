"""The billing service's tables. Money is stored as the exact decimal string it was computed as."""

from __future__ import annotations

from datetime import datetime

from assist_platform.audit import AUDIT_TABLES
from assist_platform.envelope import utcnow
from assist_platform.outbox import PLATFORM_TABLES
from sqlalchemy import JSON, Column, Text
from sqlmodel import Field, SQLModel

_MONEY = 32


class PriceListVersion(SQLModel, table=True):
    """One published version of the price list; never edited once stored."""

    __tablename__ = "price_list_version"

    version: str = Field(primary_key=True, max_length=64)
    # Unique: two versions taking effect at the same moment would make "the version in force" ambiguous.
    effective_from: datetime = Field(index=True, unique=True)
    document: dict = Field(sa_column=Column(JSON, nullable=False))
    source: str = Field(max_length=16)  # "bundled" (a file in the package) or "published" (the command)
    published_by: str | None = Field(default=None, max_length=200)
    published_at: datetime = Field(default_factory=utcnow)


class BillingRecord(SQLModel, table=True):
    """The billable record of one started session: opened at its start, closed once at its end."""

    __tablename__ = "billing_record"

    record_id: str = Field(primary_key=True, max_length=64)
    # The backstop of "exactly one record per session": a second insert fails whatever raced it.
    session_id: str = Field(unique=True, max_length=64)
    status: str = Field(index=True, max_length=8)  # open | closed
    service_type: str = Field(index=True, max_length=64)
    customer: dict = Field(sa_column=Column(JSON, nullable=False))
    # casefold(name + " " + email): SQLite's lower() folds ASCII only, so Cyrillic search is folded here.
    customer_search: str = Field(sa_column=Column(Text, nullable=False))
    consultant: str | None = Field(default=None, max_length=200)
    price_list_version: str = Field(max_length=64)
    currency: str = Field(max_length=3)
    started_at: datetime = Field(index=True)
    ended_at: datetime | None = Field(default=None, index=True)
    ended_by: str | None = Field(default=None, max_length=16)
    end_reason: str | None = Field(default=None, max_length=64)
    billable_seconds: int | None = None
    units: int | None = None
    # The prices the record opened with: a version published later never reaches an open record.
    unit_seconds: int
    minimum_units: int
    unit_price: str = Field(max_length=_MONEY)
    vat_rate: str = Field(max_length=_MONEY)
    net: str | None = Field(default=None, max_length=_MONEY)
    vat: str | None = Field(default=None, max_length=_MONEY)
    gross: str | None = Field(default=None, max_length=_MONEY)
    opened_at: datetime = Field(default_factory=utcnow)
    closed_at: datetime | None = None


class Credit(SQLModel, table=True):
    """A credit note against a closed record; the record itself is never edited."""

    __tablename__ = "billing_credit"

    credit_id: str = Field(primary_key=True, max_length=64)
    # `CN-<year>-<6 digits>`: the credit note's number, from `CreditNumberSequence` in the same transaction.
    number: str = Field(unique=True, max_length=32)
    record_id: str = Field(index=True, max_length=64, foreign_key="billing_record.record_id")
    session_id: str = Field(max_length=64)
    amount: str = Field(max_length=_MONEY)
    net: str = Field(max_length=_MONEY)
    vat: str = Field(max_length=_MONEY)
    currency: str = Field(max_length=3)
    reason: str = Field(sa_column=Column(Text, nullable=False))
    issued_by: str | None = Field(default=None, max_length=200)
    issued_at: datetime = Field(default_factory=utcnow)


class CreditNumberSequence(SQLModel, table=True):
    """The last credit note number given in each year (UTC). A row, not a database sequence: the increment is part
    of the transaction that records the credit, so a rolled back credit gives its number back (no gaps)."""

    __tablename__ = "billing_credit_sequence"

    year: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    last: int


TABLES = (
    PriceListVersion.__table__, BillingRecord.__table__, Credit.__table__, CreditNumberSequence.__table__,
    *PLATFORM_TABLES, *AUDIT_TABLES,
)
