"""The billing service's commands (docs/commands.md): one input model and one thin handler each."""

from __future__ import annotations

from datetime import UTC
from typing import Any, Literal

from assist_platform.commands import refusals_as_problems
from assist_platform.runtime import Command, command_table
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from .domain import CreditRefused, InvalidCredit, InvalidPriceList
from .ledger import NotFound, RecordFilter
from .price_lists import VersionConflict
from .service import BillingService

Dialect = Literal["rfc4180", "excel-bg"]

_ID = Field(min_length=1, max_length=64)


class PriceListInput(BaseModel):
    at: AwareDatetime | None = None  # default: now


class PublishInput(BaseModel):
    """A new price list version; the document is checked field by field by the pricing rules."""

    version: str = Field(max_length=64)
    effective_from: str = Field(max_length=64)
    currency: str = Field(max_length=8)
    vat_rate: str = Field(max_length=16)
    service_types: list[dict[str, Any]] = Field(max_length=100)
    published_by: str | None = Field(default=None, max_length=200)


class _Period(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    start: AwareDatetime | None = Field(default=None, alias="from")
    end: AwareDatetime | None = Field(default=None, alias="to")

    @model_validator(mode="after")
    def _ordered(self):
        if self.start and self.end and self.start >= self.end:
            raise ValueError("'from' must be before 'to'")
        return self


class RecordQuery(_Period):
    """Which records (`from`/`to`: when the session started): the records page's filter, listed or exported."""

    status: Literal["open", "closed"] | None = None
    customer: str | None = Field(default=None, max_length=200)
    service_type: str | None = Field(default=None, max_length=64)

    def record_filter(self) -> RecordFilter:
        customer = self.customer.strip() if self.customer else None
        return RecordFilter(
            status=self.status,
            started_from=self.start.astimezone(UTC) if self.start else None,
            started_to=self.end.astimezone(UTC) if self.end else None,
            customer=customer or None,
            service_type=self.service_type,
        )


class ListInput(RecordQuery):
    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0)


class RecordIdInput(BaseModel):
    record_id: str = _ID


class ExportInput(_Period):
    start: AwareDatetime = Field(alias="from")
    end: AwareDatetime = Field(alias="to")
    dialect: Dialect = "rfc4180"


class RecordsExportInput(RecordQuery):
    """The filter of `cmd.billing.records.list`, without paging."""

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


_STATUS: list[tuple[type[Exception], int, str]] = [
    (InvalidPriceList, 422, "Invalid price list"),
    (InvalidCredit, 422, "Invalid credit"),
    (CreditRefused, 409, "Credit refused"),
    (VersionConflict, 409, "Conflict"),
    (NotFound, 404, "Not found"),
]


# A refusal of the rules leaves as the problem a caller can act on (404, 409, 422), never as a 500; its `code`
# and values go along, so a page says it in its reader's language with the words `problem_<code>`.
_as_problems = refusals_as_problems(_STATUS)


class BillingCommands:
    """The handlers: each translates its input into one call of the service, which owns the transaction."""

    def __init__(self, service: BillingService) -> None:
        self._service = service

    def commands(self) -> list[Command]:
        table = {
            "cmd.billing.price_list": (PriceListInput, self.price_list),
            "cmd.billing.price_list.publish": (PublishInput, self.publish_price_list),
            "cmd.billing.records.list": (ListInput, self.list_records),
            "cmd.billing.records.get": (RecordIdInput, self.get_record),
            "cmd.billing.export": (ExportInput, self.export),
            "cmd.billing.records.export": (RecordsExportInput, self.export_records),
            "cmd.billing.credit": (CreditInput, self.credit),
            "cmd.billing.credit.get": (CreditIdInput, self.get_credit),
            "cmd.billing.credits.export": (ExportInput, self.export_credits),
            "cmd.billing.session_report": (SessionReportInput, self.session_report),
        }
        # Credits are answered in parallel: each waits on its database transaction (the record's row lock and the
        # number's, on PostgreSQL), not on the others' replies.
        return command_table(table, wrap=_as_problems, concurrent={"cmd.billing.credit"})

    async def price_list(self, request: PriceListInput) -> dict:
        return await self._service.price_list(at=request.at.astimezone(UTC) if request.at else None)

    async def publish_price_list(self, request: PublishInput) -> dict:
        return await self._service.publish_price_list(
            document=request.model_dump(exclude={"published_by"}), published_by=request.published_by
        )

    async def list_records(self, request: ListInput) -> dict:
        return await self._service.list_records(
            where=request.record_filter(), limit=request.limit, offset=request.offset
        )

    async def get_record(self, request: RecordIdInput) -> dict:
        return await self._service.get_record(record_id=request.record_id)

    async def export(self, request: ExportInput) -> dict:
        return await self._service.export(
            start=request.start.astimezone(UTC), end=request.end.astimezone(UTC), dialect=request.dialect
        )

    async def export_records(self, request: RecordsExportInput) -> dict:
        return await self._service.export_records(where=request.record_filter(), dialect=request.dialect)

    async def export_credits(self, request: ExportInput) -> dict:
        return await self._service.export_credits(
            start=request.start.astimezone(UTC), end=request.end.astimezone(UTC), dialect=request.dialect
        )

    async def get_credit(self, request: CreditIdInput) -> dict:
        return await self._service.get_credit(credit_id=request.credit_id)

    async def credit(self, request: CreditInput) -> dict:
        return await self._service.credit(
            record_id=request.record_id, amount=request.amount, reason=request.reason,
            issued_by=request.issued_by, credit_id=request.credit_id,
        )

    async def session_report(self, request: SessionReportInput) -> dict:
        return await self._service.session_report(session_id=request.session_id)
