"""The finance pages: records with filters and totals, three CSV exports, credit notes by form, and the printable
credit note (docs/finance.md).

A refused credit re-renders the page (never a redirect): the error in the page's language beside the form it
came from, what was typed still in that form, and the filters as they were. The billing service names each
refusal with a `code`; the words `problem_<code>` (web/words/finance.py) say it.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Annotated
from urllib.parse import urlencode

from assist_contract.billing import name_in
from assist_platform.problems import Problem
from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from ..api.deps import RuntimeDep, audit_read
from ..api.finance import csv_download
from ..commands import BILLING_CREDIT, BILLING_CREDIT_GET, BILLING_RECORDS, BILLING_RECORDS_EXPORT, call, drop_none
from ..domain import ADMIN, FINANCE
from .i18n import MESSAGES, language
from .pages import _NeedsLogin, staff_page, to_login
from .price_table import amount_text
from .rendering import render, render_problem_page
from .security import csrf_matches

FILTERS = ("status", "from", "to", "customer", "service_type")
MONEY_FIELDS = ("net", "vat", "gross", "credited")
# The fields of billing's problems that are amounts (`credit_over_remaining`), written as the page writes money.
MONEY_PLACEHOLDERS = frozenset({"amount", "remaining"})
STATUSES = ("closed", "open")
# What the form takes before the billing service sees it (longer input is refused here, in words).
AMOUNT_MAX_CHARS = 32
REASON_MAX_CHARS = 500
router = APIRouter(include_in_schema=False)


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def page_filters(request: Request) -> dict[str, str]:
    """The filters as the page got them (query string), each cut to a sane length."""
    return {key: request.query_params.get(key, "")[:200] for key in FILTERS}


def record_filter(params: dict[str, str]) -> dict:
    """The page's filters as billing input; dates are whole UTC days of the session's start, `to` inclusive."""
    start, end = _day(params.get("from")), _day(params.get("to"))
    return drop_none(
        {
            "status": params.get("status") if params.get("status") in STATUSES else "closed",
            "from": f"{start.isoformat()}T00:00:00+00:00" if start else None,
            "to": f"{(end + timedelta(days=1)).isoformat()}T00:00:00+00:00" if end else None,
            "customer": (params.get("customer") or "").strip()[:200] or None,
            "service_type": (params.get("service_type") or "").strip()[:40] or None,
        }
    )


def record_query(params: dict[str, str]) -> dict:
    """`cmd.billing.records.list` input: the filter and one page of 500."""
    return {**record_filter(params), "limit": 500}


def totals(records: list[dict]) -> dict[str, Decimal]:
    sums = {field: Decimal("0.00") for field in MONEY_FIELDS}
    for record in records:
        for field in MONEY_FIELDS:
            try:
                sums[field] += Decimal(str(record.get(field) or "0"))
            except InvalidOperation:
                continue
    return sums


def hms(seconds: object) -> str:
    """h:mm:ss, as the exports' `duration` column and `duration()` in common.js: 103 → 0:01:43."""
    if not isinstance(seconds, int) or isinstance(seconds, bool) or seconds < 0:
        return "—"
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def _period(params: dict[str, str]) -> tuple[date, date]:
    """The filter's days as a half-open period [start, end); without dates, everything so far."""
    start = _day(params.get("from")) or date(2000, 1, 1)
    end = (_day(params.get("to")) or date.today()) + timedelta(days=1)
    return start, end


def export_href(params: dict[str, str]) -> str:
    """The API's period export (by when the sessions ended) for the filter's days, in the spreadsheet dialect."""
    start, end = _period(params)
    return "/api/v1/billing/export.csv?" + urlencode(
        {"from": f"{start.isoformat()}T00:00:00Z", "to": f"{end.isoformat()}T00:00:00Z", "dialect": "excel-bg"}
    )


def credits_export_href(params: dict[str, str]) -> str:
    """The API's credit notes export (by issue date) for the filter's days, in the spreadsheet dialect."""
    start, end = _period(params)
    return "/api/v1/billing/credits.csv?" + urlencode(
        {"from": f"{start.isoformat()}T00:00:00Z", "to": f"{end.isoformat()}T00:00:00Z", "dialect": "excel-bg"}
    )


def _query(params: dict[str, str]) -> str:
    return urlencode({key: value for key, value in params.items() if value})


class _Placeholders(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def problem_text(request: Request, problem: Problem) -> str:
    """A problem in the page's language: `problem_<code>` when the words have it, else a general sentence."""
    lang = language(request)
    words = MESSAGES[lang]
    code = problem.extra.get("code")
    if isinstance(code, str) and f"problem_{code}" in words:
        values = {key: amount_text(value, lang) if key in MONEY_PLACEHOLDERS else str(value)
                  for key, value in problem.extra.items() if isinstance(value, str | int)}
        return words[f"problem_{code}"].format_map(_Placeholders(values))
    if problem.status == 503:
        return words["fi_error_unavailable"]
    return words["fi_error_other"].format(detail=problem.detail or problem.title)


async def _finance_page(
    request: Request, runtime, staff, token: str, params: dict[str, str], *, notice: str = "",
    issued: dict | None = None, failed: dict | None = None, status_code: int = 200,
) -> Response:
    page_error = ""
    records: list[dict] = []
    total = 0
    sums = totals([])
    try:
        found = await call(runtime, BILLING_RECORDS, record_query(params))
        records, total = [record.model_dump() for record in found.records], found.total
        # Over every matching record, not the page's 500: billing adds them up (an older billing does not).
        sums = found.sums.model_dump() if found.sums else totals(records)
    except Problem as problem:
        page_error = problem_text(request, problem)
    if staff.role == ADMIN and records:
        await audit_read(runtime, staff, request)  # as for the API: an admin reading billing is on the record
    if failed and not any(record["record_id"] == failed["record_id"] for record in records):
        page_error = failed["message"]  # its row is not shown (an unknown record): say it at the top
    words = MESSAGES[language(request)]
    start, end = _period(params)
    return render(
        request,
        "finance.html",
        staff=staff,
        token=token,
        status_code=status_code,
        records=records,
        total=total,
        sums=sums,
        params=params,
        statuses=STATUSES,
        hms=hms,
        query=_query(params),
        records_export_href="/finance/records.csv" + (f"?{_query(params)}" if _query(params) else ""),
        export_href=export_href(params),
        credits_export_href=credits_export_href(params),
        period_text=words["fi_period"].format(start=start.isoformat(), end=(end - timedelta(days=1)).isoformat()),
        notice=notice,
        issued=issued,
        error=page_error,
        failed=failed or {},
        credit_id=uuid.uuid4().hex,
    )


@router.get("/finance")
async def finance(request: Request, runtime: RuntimeDep, notice: str = "", credit: str = "") -> Response:
    try:
        staff, token = await staff_page(request, runtime, FINANCE, ADMIN)
    except _NeedsLogin:
        return to_login(request)
    issued = None
    if notice == "credit_issued" and credit:
        try:  # the number comes from billing, never from the address
            issued = (await call(runtime, BILLING_CREDIT_GET, {"credit_id": credit[:64]})).credit.model_dump()
        except Problem:
            issued = None
    return await _finance_page(
        request, runtime, staff, token, page_filters(request), notice=notice if notice == "credit_issued" else "",
        issued=issued,
    )


@router.post("/finance/credits")
async def credit(
    request: Request,
    runtime: RuntimeDep,
    record_id: Annotated[str, Form(max_length=64)],
    credit_id: Annotated[str, Form(max_length=64)],
    amount: Annotated[str, Form(max_length=4000)] = "",
    reason: Annotated[str, Form(max_length=4000)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Issue a credit note. The filters ride in the form's address, so every answer keeps them."""
    try:
        staff, token = await staff_page(request, runtime, FINANCE, ADMIN)
    except _NeedsLogin:
        return to_login(request)
    params = page_filters(request)
    words = MESSAGES[language(request)]
    typed = {"record_id": record_id, "amount": amount, "reason": reason, "credit_id": credit_id}

    def refused(message: str, status_code: int) -> Response:
        failed = {**typed, "message": message}
        return _finance_page(request, runtime, staff, token, params, failed=failed, status_code=status_code)

    if not csrf_matches(token, csrf_token):
        return await refused(words["csrf_failed"], 403)
    if len(amount.strip()) > AMOUNT_MAX_CHARS:
        return await refused(words["problem_credit_amount_invalid"], 422)
    if len(reason.strip()) > REASON_MAX_CHARS:
        return await refused(words["problem_credit_reason_too_long"].format(max=REASON_MAX_CHARS), 422)
    payload = {
        "record_id": record_id,
        "amount": amount.strip().replace(" ", "").replace(",", "."),  # "12,50" as a Bulgarian writes it
        "reason": reason.strip(),
        "issued_by": staff.username,
        "credit_id": credit_id,
    }
    try:
        issued = await call(runtime, BILLING_CREDIT, payload)
    except Problem as problem:
        return await refused(problem_text(request, problem), problem.status if problem.status < 500 else 503)
    query = {**{key: value for key, value in params.items() if value}, "notice": "credit_issued",
             "credit": issued.credit.credit_id}
    return RedirectResponse("/finance?" + urlencode(query), status_code=303)


@router.get("/finance/records.csv")
async def records_export(request: Request, runtime: RuntimeDep) -> Response:
    """The records the page's filter matches (all of them, not only the 500 listed), with their credits."""
    try:
        staff, _token = await staff_page(request, runtime, FINANCE, ADMIN)
    except _NeedsLogin:
        return to_login(request)
    try:
        export = await call(runtime, BILLING_RECORDS_EXPORT, {**record_filter(page_filters(request)),
                                                              "dialect": "excel-bg"})
    except Problem as problem:
        return render_problem_page(
            request, status_code=problem.status, title=MESSAGES[language(request)]["fi_export_failed"],
            detail=problem_text(request, problem), back_href="/finance", staff=staff,
        )
    if staff.role == ADMIN:
        await audit_read(runtime, staff, request)
    return csv_download(export)


@router.get("/finance/credits/{credit_id}")
async def credit_note(credit_id: str, request: Request, runtime: RuntimeDep) -> Response:
    """One credit note as a document to print (templates/credit_note.html)."""
    try:
        staff, token = await staff_page(request, runtime, FINANCE, ADMIN)
    except _NeedsLogin:
        return to_login(request)
    words = MESSAGES[language(request)]
    try:
        note = await call(runtime, BILLING_CREDIT_GET, {"credit_id": credit_id[:64]})
    except Problem as problem:
        return render_problem_page(
            request, status_code=problem.status, title=words["fi_note_unavailable"],
            detail=problem_text(request, problem), back_href="/finance", back_label=words["fi_back_to_finance"],
            staff=staff,
        )
    if staff.role == ADMIN:
        await audit_read(runtime, staff, request, session_id=note.record.session_id)
    document = note.model_dump()
    return render(
        request, "credit_note.html", staff=staff, token=token, note=document, credit=document["credit"],
        record=document["record"], service_name=name_in(note.service_name, language(request)),
        vat_percent=_percent(note.vat_rate), hms=hms,
    )


def _percent(rate: object) -> str:
    try:
        return f"{(Decimal(str(rate)) * 100).normalize():f}"
    except InvalidOperation:
        return "—"
