"""Customer routes: terms, price list, help requests, and the customer's own session."""

from __future__ import annotations

import math
from typing import Annotated, Literal

from assist_platform.problem_docs import problem_responses
from assist_platform.problems import Problem
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from ..commands import BILLING_SESSION_REPORT, CONSENT_RECEIPT, PRICE_LIST, TERMS, call, get_session
from ..domain import CUSTOMER_ENDING, public_session_view
from ..ratelimit import SlidingWindowLimiter
from ..schemas import (
    ConsentReceiptOut,
    EndedOut,
    ScopeDecisionIn,
    ScopeDecisionOut,
    ScopesOut,
    HelpRequestIn,
    HelpRequestOut,
    Scope,
    PriceListOut,
    SessionOut,
    SessionReportOut,
    TermsOut,
)
from ..service import answer_scope_request, request_help
from ..termination import end_session_everywhere, withdraw_scope_everywhere
from .recordings import recording_summary
from .deps import (
    CustomerTokensDep, RelayHubDep, RuntimeDep, SessionCallerDep, SessionReaderDep, client_address, customer_only,
)

router = APIRouter(tags=["customer"])


@router.get("/terms", response_model=TermsOut, response_model_exclude_unset=True,
            responses=problem_responses(422, 503))
async def terms(runtime: RuntimeDep, lang: Literal["bg", "en"] = "bg") -> dict:
    return (await call(runtime, TERMS, {"lang": lang})).model_dump()


@router.get("/price-list", response_model=PriceListOut, response_model_exclude_unset=True,
            responses=problem_responses(422, 503, s503="Messaging is away, or no price list is stored yet."))
async def price_list(runtime: RuntimeDep, lang: Literal["bg", "en"] = "bg") -> dict:
    """The price list in force now; each `name` in `lang` (Bulgarian by default), every language in `names`."""
    prices = await call(runtime, PRICE_LIST, {})
    document = prices.model_dump()
    for shown, service_type in zip(document["service_types"], prices.service_types, strict=True):
        shown["names"], shown["name"] = service_type.name, service_type.name_in(lang)
    return document


def _help_request_limiter(request: Request) -> SlidingWindowLimiter:
    return request.app.state.help_request_limiter


HelpRequestLimiterDep = Annotated[SlidingWindowLimiter, Depends(_help_request_limiter)]


def _count_help_request(limiter: SlidingWindowLimiter, address: str) -> None:
    """Count one help request of `address`; 429 with Retry-After once it has made too many in the window."""
    if not limiter.hit(address):
        wait = math.ceil(limiter.retry_after(address)) or 1
        raise Problem(
            429, "Too many requests",
            f"Too many help requests from your network address; please try again in {wait} seconds.",
            retry_after=wait, code="help_requests_throttled",
        )


@router.post(
    "/help-requests", status_code=201, response_model=HelpRequestOut,
    responses=problem_responses(
        403, 409, 422, 429, 503,
        s409="The terms version is not the current one (`code`: terms_version_not_current).",
        s429="Too many help requests from this address, or too many waiting for a consultant.",
    ),
)
async def create_help_request(
    body: HelpRequestIn, request: Request, runtime: RuntimeDep, customer_tokens: CustomerTokensDep,
    limiter: HelpRequestLimiterDep,
) -> dict:
    """A help request that passed the schema counts against its address (a 422 does not: a customer who fixes a
    typo is no flood); the session service also caps the requests waiting for a consultant."""
    address = client_address(request)
    _count_help_request(limiter, address)
    return await request_help(
        runtime=runtime,
        customer_tokens=customer_tokens,
        request=body,
        client_address=address,
        user_agent=request.headers.get("user-agent", ""),
    )


@router.get("/sessions/{session_id}", response_model=SessionOut, response_model_exclude_unset=True,
            responses=problem_responses(401, 403, 404, 422, 503))
async def session_detail(session_id: str, reader: SessionReaderDep, runtime: RuntimeDep) -> dict:
    """The customer sees the contract's fields and the scopes; the assigned consultant, supervisors and admins
    (audited) also see who asked and why. Everyone sees the session's `recording` (#19), null without one."""
    if reader.view is not None:
        shown = reader.view.model_dump(mode="json")
    else:
        shown = public_session_view(await get_session(runtime, session_id=session_id),
                                    agent_grace_seconds=runtime.settings.agent_grace_seconds)
    return {**shown, "recording": await recording_summary(runtime.database, session_id)}


@router.get(
    "/sessions/{session_id}/consent-receipt", response_model=ConsentReceiptOut, response_class=JSONResponse,
    responses={
        200: {"description": "The receipt, as a JSON file to keep.", "headers": {"Content-Disposition": {
            "required": True, "schema": {"type": "string"}, "description": "attachment; filename=..."}}},
        **problem_responses(401, 403, 404, 422, 503),
    },
)
async def consent_receipt(session_id: str, caller: SessionCallerDep, runtime: RuntimeDep) -> JSONResponse:
    customer_only(caller)
    receipt = await call(runtime, CONSENT_RECEIPT, {"session_id": session_id})
    return JSONResponse(
        receipt.model_dump(),
        headers={"Content-Disposition": f'attachment; filename="consent-receipt-{session_id}.json"'},
    )


@router.get("/sessions/{session_id}/report", response_model=SessionReportOut, response_model_exclude_unset=True,
            responses=problem_responses(401, 403, 404, 422, 503,
                                        s404="No such session, or it never became active (nothing billed)."))
async def session_report(session_id: str, reader: SessionReaderDep, runtime: RuntimeDep) -> dict:
    """Times, consultant, duration, service type, units and amounts of a session that became active: for its
    customer, its assigned consultant, supervisors and admins (audited)."""
    return (await call(runtime, BILLING_SESSION_REPORT, {"session_id": session_id})).model_dump()


@router.post("/sessions/{session_id}/terminate", response_model=EndedOut,
             responses=problem_responses(401, 403, 404, 409, 422, 503))
async def terminate(
    session_id: str, caller: SessionCallerDep, runtime: RuntimeDep, relay_hub: RelayHubDep, request: Request
) -> EndedOut:
    """200 means cut: no byte passes between agent and consultant anywhere once this answers."""
    customer_only(caller)
    ended_by = await end_session_everywhere(
        runtime=runtime, relay_hub=relay_hub, session_id=session_id, ending=CUSTOMER_ENDING,
        actor="customer", client_address=client_address(request),
    )
    return EndedOut(ended_by=ended_by)


@router.delete("/sessions/{session_id}/scopes/{scope}", response_model=ScopesOut,
               responses=problem_responses(
                   401, 403, 404, 409, 422, 503,
                   s409="The session has ended (`code`: consent_not_in_force): nothing is left to withdraw."))
async def withdraw_scope(
    session_id: str, scope: Scope, caller: SessionCallerDep, runtime: RuntimeDep,
    relay_hub: RelayHubDep, request: Request,
) -> ScopesOut:
    """The customer takes back one scope of their consent and the session goes on with the rest. 200 means no
    frame of that scope passes anywhere from now on (as for terminate); withdrawing `view` leaves no access, so
    it ends the session (`ended`)."""
    customer_only(caller)
    scopes, ended = await withdraw_scope_everywhere(
        runtime=runtime, relay_hub=relay_hub, session_id=session_id, scope=scope, ending=CUSTOMER_ENDING,
        actor="customer", client_address=client_address(request),
    )
    return ScopesOut(session_id=session_id, scopes=scopes, ended=ended)


@router.post("/sessions/{session_id}/scope-requests/{request_id}/decision", response_model=ScopeDecisionOut,
             responses=problem_responses(
                 401, 403, 404, 409, 422, 503,
                 s404="No such session, or no such request of it (`code`: scope_request_not_found).",
                 s409="The request was answered already, here or at the agent (`code`: scope_request_decided), or "
                      "the session has ended (consent_not_in_force)."))
async def decide_scope_request(
    session_id: str, request_id: str, body: ScopeDecisionIn, caller: SessionCallerDep, runtime: RuntimeDep,
    request: Request,
) -> dict:
    """The customer approves or refuses a consultant's step-up request. An approval is a new grant of its own (in
    the receipt and the audit trail); a refusal is final for that request. Only the customer answers: a consultant
    cannot approve on the customer's behalf."""
    customer_only(caller)
    return await answer_scope_request(runtime=runtime, session_id=session_id, request_id=request_id,
                                      approve=body.approve, client_address=client_address(request),
                                      user_agent=request.headers.get("user-agent", "")[:1000])
