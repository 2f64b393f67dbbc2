"""The billing service's public face: the commands it answers (`cmd.billing.*`) and the events it publishes
(stream BILLING). docs/commands.md, docs/events.md and docs/finance.md describe each. Amounts and rates travel as
decimal strings (two places for money), never as floats; times as RFC 3339.
"""

from __future__ import annotations

from typing import Any, Literal

from assist_platform.audit import AuditQuery, AuditTrail
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from .spec import CommandSpec, EventSpec

STREAM = "BILLING"
COMMANDS = "cmd.billing.>"
EVENTS = "billing.>"

Dialect = Literal["rfc4180", "excel-bg"]

_ID = Field(min_length=1, max_length=64)


class PriceListInput(BaseModel):
    at: AwareDatetime | None = None  # default: now


class PublishInput(BaseModel):
    """A new price list version; the document is checked field by field by billing's pricing rules."""

    version: str = Field(max_length=64)
    effective_from: str = Field(max_length=64)
    currency: str = Field(max_length=8)
    vat_rate: str = Field(max_length=16)
    service_types: list[dict[str, Any]] = Field(max_length=100)
    published_by: str | None = Field(default=None, max_length=200)


class Period(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    start: AwareDatetime | None = Field(default=None, alias="from")
    end: AwareDatetime | None = Field(default=None, alias="to")

    @model_validator(mode="after")
    def _ordered(self):
        if self.start and self.end and self.start >= self.end:
            raise ValueError("'from' must be before 'to'")
        return self


class RecordQuery(Period):
    """Which records (`from`/`to`: when the session started): the records page's filter, listed or exported."""

    status: Literal["open", "closed"] | None = None
    customer: str | None = Field(default=None, max_length=200)
    service_type: str | None = Field(default=None, max_length=64)


class ListInput(RecordQuery):
    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0)


class RecordIdInput(BaseModel):
    record_id: str = _ID


class ExportInput(Period):
    start: AwareDatetime = Field(alias="from")
    end: AwareDatetime = Field(alias="to")
    dialect: Dialect = "rfc4180"


class RecordsExportInput(RecordQuery):
    """The filter of `records_list`, without paging."""

    dialect: Dialect = "excel-bg"


class CreditIdInput(BaseModel):
    credit_id: str = _ID


class CreditInput(BaseModel):
    record_id: str = _ID
    amount: str = Field(max_length=32)
    reason: str = Field(min_length=1, max_length=2000)
    issued_by: str | None = Field(default=None, max_length=200)
    credit_id: str | None = Field(default=None, min_length=1, max_length=64)  # makes a retry safe


class SessionReportInput(BaseModel):
    session_id: str = _ID


# --- What the commands answer ------------------------------------------------------------------------------------
# Times are RFC 3339 strings as written on the wire, as consent's outputs (a model that parsed them would write them
# anew); money and rates decimal strings.

# A service type's name in each language of the pages: {"bg": ..., "en": ...}.
ServiceName = dict[str, str]  # language -> the service type's name in it


def name_in(names: ServiceName, lang: str) -> str:
    """The name in `lang`, else in the first language the price list names the service in."""
    return names.get(lang) or next(iter(names.values()), "")


class ServiceTypePrice(BaseModel):
    code: str
    name: ServiceName
    unit_seconds: int
    unit_price: str
    minimum_units: int

    def name_in(self, lang: str) -> str:
        return name_in(self.name, lang)


class PriceList(BaseModel):
    """One version of the price list, and when it took effect."""

    version: str
    effective_from: str
    currency: str
    vat_rate: str
    service_types: list[ServiceTypePrice]


class PriceListPublished(BaseModel):
    published: bool  # false: this very version was published before
    price_list: PriceList


class CreditNote(BaseModel):
    """A credit note, as the commands answer it and `billing.record.credited` carries it."""

    credit_id: str
    number: str | int
    record_id: str
    session_id: str
    amount: str  # gross, VAT included
    net: str
    vat: str
    currency: str
    reason: str
    issued_by: str | None = None
    credited_at: str


class Priced(BaseModel):
    """How a session is priced: units of so many seconds, at least so many, at a price; net, VAT and gross. The
    amounts are null while the record is open."""

    units: int | None
    unit_seconds: int | None
    minimum_units: int | None
    unit_price: str | None
    net: str | None
    vat_rate: str | None
    vat: str | None
    gross: str | None


class Record(Priced):
    """A billing record (docs/commands.md, "Record"): the end and the amounts are null while it is open."""

    record_id: str
    session_id: str
    status: Literal["open", "closed"]
    service_type: str
    service_name: ServiceName  # as in the price list version used
    customer: dict | None
    consultant: str | None
    price_list_version: str
    started_at: str
    ended_at: str | None
    ended_by: str | None
    end_reason: str | None
    billable_seconds: int | None
    currency: str
    credits: list[CreditNote]
    credited: str
    remaining: str | None
    opened_at: str | None
    closed_at: str | None


class RecordSums(BaseModel):
    """Money over every record a filter matches (not one page), credits included."""

    net: str
    vat: str
    gross: str
    credited: str


class RecordPage(BaseModel):
    records: list[Record]
    total: int
    limit: int
    offset: int
    sums: RecordSums | None = None  # None from a billing older than the sums (a rolling upgrade)


class CsvExport(BaseModel):
    """A CSV file in one reply."""

    rows: int
    columns: list[str]
    dialect: Dialect
    filename: str
    csv: str


class PeriodExport(CsvExport):
    """The CSV of a period, `[from, to)`."""

    model_config = ConfigDict(populate_by_name=True)

    start: str = Field(alias="from")
    end: str = Field(alias="to")


class CreditIssued(BaseModel):
    credit: CreditNote
    credited: str  # the record's credits so far, this one included
    remaining: str
    already_issued: bool  # the same `credit_id` was issued before: this is that credit note


class CreditNoteDocument(BaseModel):
    """A credit note as printed: the note, the record it credits, and who issues it."""

    credit: CreditNote
    record: Record
    service_name: ServiceName
    vat_rate: str | None
    issuer: str


class SessionReport(Priced):
    """The customer's account of one session: when, who, how long, and what it costs."""

    session_id: str
    status: Literal["open", "closed"]
    service_type: str
    service_name: ServiceName
    consultant: str | None
    started_at: str
    ended_at: str | None
    ended_by: str | None
    duration_seconds: int | None
    credited: str
    currency: str
    price_list_version: str


price_list = CommandSpec("cmd.billing.price_list", PriceListInput, PriceList)
price_list_publish = CommandSpec("cmd.billing.price_list.publish", PublishInput, PriceListPublished)
records_list = CommandSpec("cmd.billing.records.list", ListInput, RecordPage)
record_get = CommandSpec("cmd.billing.records.get", RecordIdInput, Record)
export = CommandSpec("cmd.billing.export", ExportInput, PeriodExport)
records_export = CommandSpec("cmd.billing.records.export", RecordsExportInput, CsvExport)
credit = CommandSpec("cmd.billing.credit", CreditInput, CreditIssued)
credit_get = CommandSpec("cmd.billing.credit.get", CreditIdInput, CreditNoteDocument)
credits_export = CommandSpec("cmd.billing.credits.export", ExportInput, PeriodExport)
session_report = CommandSpec("cmd.billing.session_report", SessionReportInput, SessionReport)

# Its entries of the audit chain about one session (the platform's audit_handler answers it).
audit = CommandSpec("cmd.billing.audit", AuditQuery, AuditTrail)


class RecordOpened(BaseModel):
    record_id: str
    session_id: str
    service_type: str
    price_list_version: str
    started_at: AwareDatetime


class RecordClosed(RecordOpened):
    """The opened record's fields, then the end and the money: decimal strings with two places (CONTRACT §4)."""

    customer: dict | None = None
    consultant: str | None = None
    ended_at: AwareDatetime
    ended_by: str | None = None
    end_reason: str | None = None
    billable_seconds: int
    units: int
    unit_seconds: int
    unit_price: str
    net: str
    vat_rate: str
    vat: str
    gross: str
    currency: str


class RecordCredited(CreditNote):
    """The credit note, and what the record has been credited in all and what remains of it."""

    credited_at: AwareDatetime
    credited_total: str
    remaining: str


RECORD_OPENED = EventSpec("billing.record.opened", STREAM, RecordOpened)
RECORD_CLOSED = EventSpec("billing.record.closed", STREAM, RecordClosed)
RECORD_CREDITED = EventSpec("billing.record.credited", STREAM, RecordCredited)
