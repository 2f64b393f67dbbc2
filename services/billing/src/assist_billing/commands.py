"""The billing service's commands (docs/commands.md): one input model and one thin handler each."""

from __future__ import annotations

from datetime import UTC
from typing import Any, Literal

from assist_platform.audit import audit_command
from assist_platform.commands import refusals_as_problems
from assist_platform.envelope import rfc3339, utcnow
from assist_platform.problems import Problem
from assist_platform.retrying import on_conflict
from assist_platform.runtime import Command, ServiceRuntime
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from . import ledger, price_lists
from .domain import CreditRefused, InvalidCredit, InvalidPriceList, money, parse_price_list
from .export import COLUMNS, CREDIT_COLUMNS, RECORD_COLUMNS, credits_csv, matching_records_csv, records_csv
from .ledger import NotFound, RecordFilter
from .price_lists import VersionConflict
from .settings import Settings
from .views import credit_view, record_view, session_report

Dialect = Literal["rfc4180", "excel-bg"]
# The most records one filtered export holds (the page lists 500; its export takes every match up to this).
RECORDS_EXPORT_LIMIT = 10_000

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
    """The handlers, bound to one runtime: they open the transaction and wake the outbox after commit."""

    def __init__(self, runtime: ServiceRuntime, settings: Settings) -> None:
        self._runtime = runtime
        self._settings = settings
        self._database = runtime.database

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
        parallel = {"cmd.billing.credit"}
        return [
            *(Command(subject, model, _as_problems(handler), concurrent=subject in parallel)
              for subject, (model, handler) in table.items()),
            audit_command(service="billing", database=self._database),
        ]

    async def price_list(self, request: PriceListInput) -> dict:
        at = request.at.astimezone(UTC) if request.at else utcnow()
        async with self._database.session() as db:
            try:
                return (await price_lists.in_force(db=db, at=at)).to_document()
            except LookupError as exc:
                raise Problem(503, "Service unavailable", "No price list is stored yet.") from exc

    async def publish_price_list(self, request: PublishInput) -> dict:
        price_list = parse_price_list(request.model_dump(exclude={"published_by"}))
        async with self._database.transaction() as db:
            published = await price_lists.publish(
                db=db, price_list=price_list, now=utcnow(), published_by=request.published_by
            )
        return {"published": published, "price_list": price_list.to_document()}

    async def list_records(self, request: ListInput) -> dict:
        where = request.record_filter()
        async with self._database.session() as db:
            records, total = await ledger.list_records(db=db, where=where, limit=request.limit, offset=request.offset)
            credits = await ledger.credits_of(db=db, record_ids=[record.record_id for record in records])
            names = await _service_names(db)
        return {
            "records": [
                record_view(record, credits[record.record_id],
                            service_name=names.get((record.price_list_version, record.service_type)))
                for record in records
            ],
            "total": total,
            "limit": request.limit,
            "offset": request.offset,
        }

    async def get_record(self, request: RecordIdInput) -> dict:
        async with self._database.session() as db:
            record = await ledger.get_record(db=db, record_id=request.record_id)
            credits = await ledger.credits_of(db=db, record_ids=[record.record_id])
            names = await _service_names(db)
        return record_view(record, credits[record.record_id],
                           service_name=names.get((record.price_list_version, record.service_type)))

    async def export(self, request: ExportInput) -> dict:
        start, end = request.start.astimezone(UTC), request.end.astimezone(UTC)
        async with self._database.session() as db:
            records = await ledger.closed_between(db=db, ended_from=start, ended_to=end)
            names = await _service_names(db)
        text = records_csv(records, service_names=names, dialect=request.dialect)
        self._fits(text, len(records), "records")
        return {
            "from": rfc3339(start), "to": rfc3339(end), "rows": len(records), "columns": list(COLUMNS),
            "dialect": request.dialect,
            "filename": f"billing-{start:%Y%m%dT%H%M%SZ}-{end:%Y%m%dT%H%M%SZ}.csv", "csv": text,
        }

    def _fits(self, text: str, rows: int, what: str) -> None:
        if len(text.encode()) > self._settings.billing_export_max_bytes:
            raise Problem(
                413, "Export too large", f"{rows} {what} do not fit one reply; export a shorter period.",
                code="export_too_large",
            )

    async def export_records(self, request: RecordsExportInput) -> dict:
        where = request.record_filter()
        async with self._database.session() as db:
            records = await ledger.matching_records(db=db, where=where, limit=RECORDS_EXPORT_LIMIT + 1)
            if len(records) > RECORDS_EXPORT_LIMIT:
                raise Problem(
                    413, "Export too large",
                    f"more than {RECORDS_EXPORT_LIMIT} records match; narrow the filter.", code="export_too_large",
                )
            credits = await ledger.credits_of(db=db, record_ids=[record.record_id for record in records])
            names = await _service_names(db)
        text = matching_records_csv(records, credits, service_names=names, dialect=request.dialect)
        self._fits(text, len(records), "records")
        return {
            "rows": len(records), "columns": list(RECORD_COLUMNS), "dialect": request.dialect,
            "filename": f"billing-records-{utcnow():%Y%m%dT%H%M%SZ}.csv", "csv": text,
        }

    async def export_credits(self, request: ExportInput) -> dict:
        start, end = request.start.astimezone(UTC), request.end.astimezone(UTC)
        async with self._database.session() as db:
            credits = await ledger.credits_between(db=db, issued_from=start, issued_to=end)
            records = await ledger.records_of(db=db, record_ids=sorted({credit.record_id for credit in credits}))
            names = await _service_names(db)
        text = credits_csv(credits, records, service_names=names, dialect=request.dialect)
        self._fits(text, len(credits), "credit notes")
        return {
            "from": rfc3339(start), "to": rfc3339(end), "rows": len(credits), "columns": list(CREDIT_COLUMNS),
            "dialect": request.dialect,
            "filename": f"credit-notes-{start:%Y%m%dT%H%M%SZ}-{end:%Y%m%dT%H%M%SZ}.csv", "csv": text,
        }

    async def get_credit(self, request: CreditIdInput) -> dict:
        """A credit note as printed: the note, the record it credits (customer, session, service, amounts)."""
        async with self._database.session() as db:
            credit, record, credits = await ledger.credit_note(db=db, credit_id=request.credit_id)
            names = await _service_names(db)
        service_name = dict(names.get((record.price_list_version, record.service_type), {}))
        return {
            "credit": credit_view(credit),
            "record": record_view(record, credits, service_name=service_name),
            "service_name": service_name,
            "vat_rate": record.vat_rate,
            "issuer": self._settings.billing_issuer,
        }

    async def credit(self, request: CreditInput) -> dict:
        # The same credit_id raced in for another record: the second pass finds it and says so.
        async for attempt in on_conflict(attempts=2, when=lambda: request.credit_id is not None):
            with attempt:
                async with self._database.transaction() as db:
                    issued = await ledger.issue_credit(
                        db=db, record_id=request.record_id, amount=request.amount, reason=request.reason,
                        issued_by=request.issued_by, credit_id=request.credit_id,
                    )
        return {
            "credit": credit_view(issued.credit),
            "credited": money(issued.credited_total),
            "remaining": money(issued.remaining),
            "already_issued": issued.already_issued,
        }

    async def session_report(self, request: SessionReportInput) -> dict:
        async with self._database.session() as db:
            record = await ledger.record_of_session(db=db, session_id=request.session_id)
            credits = await ledger.credits_of(db=db, record_ids=[record.record_id])
            names = await _service_names(db)
        service_name = dict(names.get((record.price_list_version, record.service_type), {}))
        return session_report(record, credits[record.record_id], service_name=service_name)


async def _service_names(db) -> dict[tuple[str, str], dict[str, str]]:
    """(version, code) → {bg, en}: the names each record was sold under."""
    names: dict[tuple[str, str], dict[str, str]] = {}
    for row in await price_lists.list_versions(db=db):
        for item in row.document.get("service_types", []):
            names[(row.version, item["code"])] = item["name"]
    return names

