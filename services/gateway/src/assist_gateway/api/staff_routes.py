"""Staff routes: the queue, claiming and ending sessions, session history."""

from __future__ import annotations

from typing import Annotated, Literal

from assist_platform.problem_docs import problem_responses
from fastapi import APIRouter, Depends, Request

from ..commands import (
    SESSION_LIST,
    SESSION_QUEUE,
    call,
)
from ..domain import ADMIN, CONSULTANT, SUPERVISOR, session_card, staff_ending
from ..schemas import ClaimedOut, EndedOut, ScopeRequestIn, ScopeRequestOut, SessionsOut
from ..service import ask_customer_for_scopes, authorize_staff_end, claim_session
from ..staff import StaffIdentity
from ..termination import end_session_everywhere
from .deps import CurrentStaff, RelayHubDep, RuntimeDep, client_address, require_role

router = APIRouter(tags=["staff"])

Consultant = Annotated[StaffIdentity, Depends(require_role(CONSULTANT))]
QueueWatcher = Annotated[StaffIdentity, Depends(require_role(CONSULTANT, SUPERVISOR))]
SessionHistoryReader = Annotated[StaffIdentity, Depends(require_role(CONSULTANT, SUPERVISOR, ADMIN))]
SessionStatus = Literal["waiting", "assigned", "active", "ended"]


@router.get("/queue", response_model=SessionsOut, response_model_exclude_unset=True,
            responses=problem_responses(401, 403, 503))
async def queue(staff: QueueWatcher, runtime: RuntimeDep) -> dict:
    """Waiting sessions, oldest first, as cards: who asks (name, company), for what, since when. The email,
    phone and description are for the consultant who claims the session (`GET /sessions/{id}`)."""
    found = await call(runtime, SESSION_QUEUE, {})
    return {"sessions": [session_card(view) for view in found.sessions]}


@router.post("/sessions/{session_id}/claim", response_model=ClaimedOut,
             responses=problem_responses(401, 403, 404, 409, 422, 503, s409="Another consultant has it, or it ended."))
async def claim(session_id: str, staff: Consultant, runtime: RuntimeDep, request: Request) -> ClaimedOut:
    view = await claim_session(runtime=runtime, session_id=session_id, consultant=staff.username,
                               client_address=client_address(request))
    return ClaimedOut(session_id=session_id, status=view.status, consultant=view.consultant)


@router.post("/sessions/{session_id}/end", response_model=EndedOut,
             responses=problem_responses(401, 403, 404, 409, 422, 503))
async def end(
    session_id: str, staff: CurrentStaff, runtime: RuntimeDep, relay_hub: RelayHubDep, request: Request
) -> EndedOut:
    """The assigned consultant, or a supervisor or admin, ends the session; 200 means cut, as for terminate.
    """
    await authorize_staff_end(runtime=runtime, session_id=session_id, staff=staff)
    ended_by = await end_session_everywhere(
        runtime=runtime, relay_hub=relay_hub, session_id=session_id, ending=staff_ending(role=staff.role),
        actor=staff.username, client_address=client_address(request),
    )
    return EndedOut(ended_by=ended_by)


@router.post("/sessions/{session_id}/scope-requests", status_code=201, response_model=ScopeRequestOut,
             responses=problem_responses(
                 401, 403, 404, 409, 422, 503,
                 s409="A request waits for the customer's answer (`code`: scope_request_pending), the consent allows "
                      "it already (scopes_already_held), or the session has ended (consent_not_in_force)."))
async def ask_for_scopes(session_id: str, body: ScopeRequestIn, staff: Consultant, runtime: RuntimeDep) -> dict:
    """The assigned consultant asks the customer for more than they consented to (a step-up: `control` after
    `view`), saying why. The customer sees the request in their page and their agent and answers it; nothing is
    granted until they approve."""
    return await ask_customer_for_scopes(runtime=runtime, session_id=session_id, staff=staff,
                                         scopes=list(body.scopes), reason=body.reason)


@router.get("/sessions", response_model=SessionsOut, response_model_exclude_unset=True,
            responses=problem_responses(401, 403, 422, 503))
async def sessions(
    staff: SessionHistoryReader, runtime: RuntimeDep, status: SessionStatus | None = None
) -> dict:
    """Newest first: a consultant their own sessions in full; supervisors and admins every session as a card
    (no email, phone or description: the full record is one audited `GET /sessions/{id}` away)."""
    query: dict = {"status": status} if status else {}
    if staff.role == CONSULTANT:
        query["consultant"] = staff.username
        return (await call(runtime, SESSION_LIST, query)).model_dump(mode="json")
    found = await call(runtime, SESSION_LIST, query)
    return {"sessions": [session_card(view) for view in found.sessions]}
