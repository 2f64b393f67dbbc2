"""The finance page: closed records with filters and totals, the CSV export link, credit notes by form."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Annotated
from urllib.parse import urlencode

from assist_platform.problems import Problem
from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from ..api.deps import RuntimeDep, audit_read
from ..commands import BILLING_CREDIT, BILLING_RECORDS, call, drop_none
from ..domain import ADMIN, FINANCE
from .pages import _NeedsLogin, staff_page, to_login
from .rendering import render
from .security import csrf_matches

FILTERS = ("status", "from", "to", "customer", "service_type")
MONEY_FIELDS = ("net", "vat", "gross", "credited")
router = APIRouter(include_in_schema=False)


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def record_query(params: dict[str, str]) -> dict:
    """The page's filters as `cmd.billing.records.list` input; dates are whole UTC days, `to` inclusive."""
    start, end = _day(params.get("from")), _day(params.get("to"))
    return drop_none(
        {
            "status": params.get("status") if params.get("status") in ("open", "closed") else "closed",
            "from": f"{start.isoformat()}T00:00:00+00:00" if start else None,
            "to": f"{(end + timedelta(days=1)).isoformat()}T00:00:00+00:00" if end else None,
            "customer": (params.get("customer") or "").strip()[:200] or None,
            "service_type": (params.get("service_type") or "").strip()[:40] or None,
            "limit": 500,
        }
    )


def totals(records: list[dict]) -> dict[str, Decimal]:
    sums = {field: Decimal("0.00") for field in MONEY_FIELDS}
    for record in records:
        for field in MONEY_FIELDS:
            try:
                sums[field] += Decimal(str(record.get(field) or "0"))
            except InvalidOperation:
                continue
    return sums


def export_href(params: dict[str, str]) -> str:
    """The API's CSV export for the same days (by when the sessions ended); without dates, everything so far."""
    start = _day(params.get("from")) or date(2000, 1, 1)
    end = (_day(params.get("to")) or date.today()) + timedelta(days=1)
    return "/api/v1/billing/export.csv?" + urlencode(
        {"from": f"{start.isoformat()}T00:00:00Z", "to": f"{end.isoformat()}T00:00:00Z"}
    )


@router.get("/finance")
async def finance(request: Request, runtime: RuntimeDep, notice: str = "", error: str = "") -> Response:
    try:
        staff, token = await staff_page(request, runtime, FINANCE, ADMIN)
    except _NeedsLogin:
        return to_login(request)
    params = {key: request.query_params.get(key, "") for key in FILTERS}
    failure = error
    try:
        found = await call(runtime, BILLING_RECORDS, record_query(params))
    except Problem as problem:
        found, failure = {"records": [], "total": 0}, problem.detail or problem.title
    if staff.role == ADMIN and found["records"]:
        await audit_read(runtime, staff, request)  # as for the API: an admin reading billing is on the record
    records = found.get("records", [])
    return render(
        request,
        "finance.html",
        staff=staff,
        token=token,
        records=records,
        total=found.get("total", len(records)),
        sums=totals(records),
        params=params,
        export_href=export_href(params),
        notice=notice,
        error=failure,
        credit_id=uuid.uuid4().hex,
    )


@router.post("/finance/credits")
async def credit(
    request: Request,
    runtime: RuntimeDep,
    record_id: Annotated[str, Form(max_length=64)],
    amount: Annotated[str, Form(max_length=20)],
    reason: Annotated[str, Form(max_length=500)],
    credit_id: Annotated[str, Form(max_length=64)],
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    try:
        staff, token = await staff_page(request, runtime, FINANCE, ADMIN)
    except _NeedsLogin:
        return to_login(request)
    if not csrf_matches(token, csrf_token):
        raise Problem(403, "Forbidden", "The form's CSRF token is missing or wrong; reload the page.")
    payload = {
        "record_id": record_id,
        "amount": amount.strip().replace(",", "."),
        "reason": reason.strip(),
        "issued_by": staff.username,
        "credit_id": credit_id,
    }
    try:
        await call(runtime, BILLING_CREDIT, payload)
    except Problem as problem:
        return RedirectResponse("/finance?" + urlencode({"error": problem.detail or problem.title}), 303)
    return RedirectResponse("/finance?notice=credit_issued", status_code=303)
