"""The billing service's public face: the commands it answers (`cmd.billing.*`) and the events it publishes
(stream BILLING). docs/commands.md, docs/events.md and docs/finance.md describe each. Results are billing's views
(records, credits, exports, the price list), not typed here yet.
"""

from __future__ import annotations

from typing import Any, Literal

from assist_platform.audit import AuditQuery
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from .spec import CommandSpec, EventSpec, JsonObject

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


price_list: CommandSpec[PriceListInput, JsonObject] = CommandSpec("cmd.billing.price_list", PriceListInput)
price_list_publish: CommandSpec[PublishInput, JsonObject] = CommandSpec("cmd.billing.price_list.publish",
                                                                         PublishInput)
records_list: CommandSpec[ListInput, JsonObject] = CommandSpec("cmd.billing.records.list", ListInput)
record_get: CommandSpec[RecordIdInput, JsonObject] = CommandSpec("cmd.billing.records.get", RecordIdInput)
export: CommandSpec[ExportInput, JsonObject] = CommandSpec("cmd.billing.export", ExportInput)
records_export: CommandSpec[RecordsExportInput, JsonObject] = CommandSpec("cmd.billing.records.export",
                                                                           RecordsExportInput)
credit: CommandSpec[CreditInput, JsonObject] = CommandSpec("cmd.billing.credit", CreditInput)
credit_get: CommandSpec[CreditIdInput, JsonObject] = CommandSpec("cmd.billing.credit.get", CreditIdInput)
credits_export: CommandSpec[ExportInput, JsonObject] = CommandSpec("cmd.billing.credits.export", ExportInput)
session_report: CommandSpec[SessionReportInput, JsonObject] = CommandSpec("cmd.billing.session_report",
                                                                           SessionReportInput)

# Its entries of the audit chain about one session (the platform's audit_handler answers it).
audit: CommandSpec[AuditQuery, JsonObject] = CommandSpec("cmd.billing.audit", AuditQuery)

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


class RecordCredited(BaseModel):
    credit_id: str
    number: str | int
    record_id: str
    session_id: str
    amount: str
    net: str
    vat: str
    currency: str
    reason: str
    issued_by: str | None = None
    credited_at: AwareDatetime
    credited_total: str
    remaining: str


RECORD_OPENED = EventSpec("billing.record.opened", STREAM, RecordOpened)
RECORD_CLOSED = EventSpec("billing.record.closed", STREAM, RecordClosed)
RECORD_CREDITED = EventSpec("billing.record.credited", STREAM, RecordCredited)
