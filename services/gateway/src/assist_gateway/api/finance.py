"""Finance routes: billing records, the CSV export, credit notes, and publishing a price list (admin)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from assist_contract.billing import CsvExport
from assist_platform.problem_docs import problem_responses
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from ..commands import (
    BILLING_CREDIT,
    BILLING_CREDITS_EXPORT,
    BILLING_EXPORT,
    BILLING_RECORD,
    BILLING_RECORDS,
    PRICE_LIST_PUBLISH,
    call,
    drop_none,
)
from ..domain import ADMIN, FINANCE
from ..schemas import BillingRecordOut, BillingRecordsOut, CreditIssuedOut, PriceListPublishedOut
from ..staff import StaffIdentity
from .deps import RuntimeDep, audit_read, require_role

router = APIRouter(tags=["finance"])

FinanceStaff = Annotated[StaffIdentity, Depends(require_role(FINANCE, ADMIN))]
Admin = Annotated[StaffIdentity, Depends(require_role(ADMIN))]
# docs/finance.md: `rfc4180` (comma, no BOM, decimal point; the default, unchanged) or `excel-bg` (UTF-8 BOM, `;`,
# decimal comma: what a spreadsheet in a Bulgarian locale opens as it is).
CsvDialect = Annotated[Literal["rfc4180", "excel-bg"], Query(description="rfc4180 (default) or excel-bg")]


# An export is a file: UTF-8 CSV (columns: docs/finance.md).
CSV_RESPONSES = {
    200: {
        "description": "The CSV file (Content-Disposition names it).",
        "content": {"text/csv": {"schema": {"type": "string"}}},
        "headers": {"Content-Disposition": {"required": True, "schema": {"type": "string"}}},
    },
    **problem_responses(401, 403, 413, 422, 503, s413="The period holds more than one file may; take a shorter one."),
}


MAX_OFFSET = 2**31 - 1


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


@router.get("/billing/records", response_model=BillingRecordsOut, response_model_exclude_unset=True,
            responses=problem_responses(401, 403, 422, 503))
async def billing_records(
    staff: FinanceStaff,
    runtime: RuntimeDep,
    request: Request,
    status: Literal["open", "closed"] | None = None,
    started_from: Annotated[datetime | None, Query(alias="from")] = None,
    started_to: Annotated[datetime | None, Query(alias="to")] = None,
    customer: Annotated[str | None, Query(max_length=200)] = None,
    service_type: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    # Bounded: an offset past any database's integers was a 500 (SQLite's overflow), not an empty page.
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> dict:
    """Records filtered by status, by when the session started (`from`, `to`), customer and service type."""
    query = {
        "status": status, "from": _iso(started_from), "to": _iso(started_to), "customer": customer,
        "service_type": service_type, "limit": limit, "offset": offset,
    }
    found = await call(runtime, BILLING_RECORDS, drop_none(query))
    await _audit_if_overseer(runtime, staff, request)
    return found.model_dump()


@router.get("/billing/records/{record_id}", response_model=BillingRecordOut, response_model_exclude_unset=True,
            responses=problem_responses(401, 403, 404, 422, 503))
async def billing_record(record_id: str, staff: FinanceStaff, runtime: RuntimeDep, request: Request) -> dict:
    record = await call(runtime, BILLING_RECORD, {"record_id": record_id})
    await _audit_if_overseer(runtime, staff, request, session_id=record.session_id)
    return record.model_dump()


async def _audit_if_overseer(runtime, staff: StaffIdentity, request: Request, *, session_id: str | None = None) -> None:
    # Billing records are finance's work; an admin reading customers' records and amounts is on the record
    # (issue #12: overseers' reads of sessions are audited).
    if staff.role == ADMIN:
        await audit_read(runtime, staff, request, session_id=session_id)


@router.get("/billing/export.csv", response_class=Response, responses=CSV_RESPONSES)
async def billing_export(
    staff: FinanceStaff,
    runtime: RuntimeDep,
    request: Request,
    ended_from: Annotated[datetime, Query(alias="from")],
    ended_to: Annotated[datetime, Query(alias="to")],
    dialect: CsvDialect = "rfc4180",
) -> Response:
    """Closed records whose session ended in [from, to), one CSV row each (columns: docs/finance.md).

    The same period gives the same file whenever it is taken (credits are not in it)."""
    query = {"from": ended_from.isoformat(), "to": ended_to.isoformat(), "dialect": dialect}
    export = await call(runtime, BILLING_EXPORT, query)
    await _audit_if_overseer(runtime, staff, request)
    return csv_download(export)


@router.get("/billing/credits.csv", response_class=Response, responses=CSV_RESPONSES)
async def credit_notes_export(
    staff: FinanceStaff,
    runtime: RuntimeDep,
    request: Request,
    issued_from: Annotated[datetime, Query(alias="from")],
    issued_to: Annotated[datetime, Query(alias="to")],
    dialect: CsvDialect = "rfc4180",
) -> Response:
    """Credit notes issued in [from, to), in number order, one CSV row each (columns: docs/finance.md)."""
    query = {"from": issued_from.isoformat(), "to": issued_to.isoformat(), "dialect": dialect}
    export = await call(runtime, BILLING_CREDITS_EXPORT, query)
    await _audit_if_overseer(runtime, staff, request)
    return csv_download(export)


def csv_download(export: CsvExport) -> Response:
    """An export command's reply as a file: UTF-8 bytes (the `excel-bg` text starts with its BOM)."""
    return Response(
        export.csv.encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{export.filename}"'},
    )


class CreditIn(BaseModel):
    amount: Decimal = Field(gt=0, max_digits=12, decimal_places=2, description="gross, VAT included")
    reason: str = Field(min_length=3, max_length=500)
    credit_id: str | None = Field(default=None, max_length=64, description="makes a retried request safe")


@router.post(
    "/billing/records/{record_id}/credits", status_code=201, response_model=CreditIssuedOut,
    response_model_exclude_unset=True,
    responses=problem_responses(401, 403, 404, 409, 422, 503,
                                s409="The credit is refused (more than remains, or the record is still open)."),
)
async def issue_credit(record_id: str, body: CreditIn, staff: FinanceStaff, runtime: RuntimeDep) -> dict:
    """A credit note against a closed record; the record itself is never edited."""
    payload = {"record_id": record_id, "amount": f"{body.amount:.2f}", "reason": body.reason,
               "issued_by": staff.username, "credit_id": body.credit_id}
    return (await call(runtime, BILLING_CREDIT, drop_none(payload))).model_dump()


class ServiceTypePriceIn(BaseModel):
    code: str = Field(min_length=1, max_length=40)
    name: dict[str, str] | str
    # Strict: a price is never read from a boolean (lax ints take true as 1) nor from "60" or 60.0. Decimals
    # take JSON numbers and decimal strings but refuse booleans by themselves.
    unit_seconds: int = Field(gt=0, strict=True)
    unit_price: Decimal = Field(ge=0, max_digits=12, decimal_places=2)
    minimum_units: int = Field(ge=0, strict=True)


class PriceListIn(BaseModel):
    version: str = Field(min_length=1, max_length=40)
    effective_from: datetime
    currency: str = Field(min_length=3, max_length=3)
    vat_rate: Decimal = Field(ge=0, le=1)
    service_types: list[ServiceTypePriceIn] = Field(min_length=1, max_length=50)


@router.post(
    "/price-lists", status_code=201, response_model=PriceListPublishedOut, response_model_exclude_unset=True,
    responses=problem_responses(401, 403, 409, 422, 503,
                                s409="This version exists with other content, or clashes with another."),
)
async def publish_price_list(body: PriceListIn, staff: Admin, runtime: RuntimeDep) -> dict:
    """A new price list version, in force from `effective_from` (not in the past) for sessions that start then."""
    payload = body.model_dump(mode="json")
    payload["vat_rate"] = str(body.vat_rate)
    for item, given in zip(payload["service_types"], body.service_types, strict=True):
        item["unit_price"] = f"{given.unit_price:.2f}"
    payload["published_by"] = staff.username
    return (await call(runtime, PRICE_LIST_PUBLISH, payload)).model_dump()
