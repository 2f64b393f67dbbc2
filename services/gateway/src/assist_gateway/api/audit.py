"""`GET /api/v1/audit?session_id=`: the audit trail of one session, from every service's chain, merged by time."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated

from assist_contract import billing, consent, session
from assist_platform.audit import audit_trail
from assist_platform.problem_docs import problem_responses
from assist_platform.problems import Problem
from fastapi import APIRouter, Depends, Query

from ..commands import call
from ..domain import ADMIN, SUPERVISOR
from ..schemas import AuditTrailOut
from ..staff import StaffIdentity
from .deps import RuntimeDep, require_role

router = APIRouter(tags=["audit"])

AuditReader = Annotated[StaffIdentity, Depends(require_role(SUPERVISOR, ADMIN))]
# Services whose chains hold entries about sessions, besides the gateway's own (docs/operations.md).
AUDITED_SERVICES = {"consent": consent.audit, "session": session.audit, "billing": billing.audit}


@router.get("/audit", response_model=AuditTrailOut, response_model_exclude_unset=True,
            responses=problem_responses(401, 403, 422, 503))
async def session_audit(
    staff: AuditReader, runtime: RuntimeDep,
    session_id: Annotated[str, Query(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")],
) -> dict:
    """Who did what to the session, when and from where: consent, session, billing and gateway entries, oldest
    first."""
    own = (await audit_trail(runtime.database, service="gateway", session_id=session_id)).entries
    answers = await asyncio.gather(
        *(call(runtime, command, {"session_id": session_id}) for command in AUDITED_SERVICES.values()),
        return_exceptions=True,
    )
    entries, missing = list(own), []
    for service, answer in zip(AUDITED_SERVICES, answers):
        if isinstance(answer, Problem):
            missing.append(service)
        elif isinstance(answer, BaseException):
            raise answer
        else:
            entries.extend(answer.entries)
    if not entries and missing:
        raise Problem(503, "Service unavailable", f"The audit trail of {', '.join(missing)} is unavailable.")
    entries.sort(key=lambda entry: (datetime.fromisoformat(entry.at), entry.service, entry.id))
    return {"session_id": session_id, "entries": [entry.model_dump() for entry in entries], "unavailable": missing}
