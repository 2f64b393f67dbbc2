"""FastAPI dependencies, defined once as `Annotated` aliases: the runtime, the database, who is calling."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from assist_contract.session import SessionView
from assist_platform.problems import Problem
from assist_platform.runtime import ServiceRuntime
from fastapi import Depends, HTTPException, Request
from fastapi.security import OAuth2PasswordBearer

from assist_platform.audit import record_audit

from ..commands import get_session
from ..domain import SESSION_VIEWER_ROLES, may_read_session, read_is_audited
from ..edge import client_address  # noqa: F401 - the routes' one way to name the client (TRUSTED_PROXIES)
from ..identity import login_limiter, request_token, staff_of_token
from ..ratelimit import FailureBudget
from ..service import CustomerTokens
from ..settings import Settings
from ..staff import StaffIdentity

_bearer = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def _runtime(request: Request) -> ServiceRuntime:
    return request.app.state.runtime


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _relay_hub(request: Request) -> Any:
    return request.app.state.relay_hub


def _customer_tokens(request: Request) -> CustomerTokens:
    return request.app.state.customer_tokens


def _token(request: Request, header_token: Annotated[str | None, Depends(_bearer)]) -> str | None:
    """The bearer token, else the cookie's with its CSRF check (identity.request_token)."""
    return request_token(request, header_token)


RuntimeDep = Annotated[ServiceRuntime, Depends(_runtime)]
SettingsDep = Annotated[Settings, Depends(_settings)]
RelayHubDep = Annotated[Any, Depends(_relay_hub)]
CustomerTokensDep = Annotated[CustomerTokens, Depends(_customer_tokens)]
LoginLimiterDep = Annotated[FailureBudget, Depends(login_limiter)]
BearerToken = Annotated[str | None, Depends(_token)]


def not_authenticated(detail: str = "Send a valid bearer token.") -> HTTPException:
    # An HTTPException rather than a Problem: it carries the WWW-Authenticate header into the problem+json
    # answer.
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


async def _current_staff(runtime: RuntimeDep, token: BearerToken) -> StaffIdentity:
    identity = await staff_of_token(runtime.database, token)
    if identity is None:
        raise not_authenticated("Send a valid, unexpired staff access token.")
    return identity


CurrentStaff = Annotated[StaffIdentity, Depends(_current_staff)]


def require_role(*roles: str) -> Callable[..., Any]:
    """A dependency that lets through staff with one of `roles` (403 for the others)."""

    async def _check(staff: CurrentStaff) -> StaffIdentity:
        if staff.role not in roles:
            raise Problem(
                403, "Forbidden", f"This needs the role {' or '.join(roles)}; you are {staff.role}."
            )
        return staff

    return _check


@dataclass(frozen=True)
class SessionCaller:
    """Who asks about a session: its customer (staff is None) or a staff member."""

    session_id: str
    staff: StaffIdentity | None = None

    @property
    def is_customer(self) -> bool:
        return self.staff is None


def customer_only(caller: SessionCaller) -> None:
    """403 unless the caller is the session's customer (what only the customer decides: ending, withdrawing,
    answering a step-up, minting a playback link, erasing the recording)."""
    if not caller.is_customer:
        raise Problem(403, "Forbidden", "This needs the customer token of the session.")


async def _session_caller(session_id: str, runtime: RuntimeDep, customer_tokens: CustomerTokensDep,
                          token: BearerToken) -> SessionCaller:
    """The customer token of this session, or a staff token; 401 for neither, 403 for another session's token.
    """
    if not token:
        raise not_authenticated("Send the customer token of this session or a staff access token.")
    customer_session = await customer_tokens.session_of(token)
    if customer_session is not None:
        if customer_session != session_id:
            raise Problem(403, "Forbidden", "This customer token belongs to another session.")
        return SessionCaller(session_id=session_id)
    staff = await staff_of_token(runtime.database, token)
    if staff is None:
        raise not_authenticated("Send the customer token of this session or a staff access token.")
    return SessionCaller(session_id=session_id, staff=staff)


SessionCallerDep = Annotated[SessionCaller, Depends(_session_caller)]


@dataclass(frozen=True)
class SessionReader:
    """Who may read a session's full record, and the record when staff read it (already fetched to decide)."""

    caller: SessionCaller
    view: SessionView | None = None


async def _session_reader(caller: SessionCallerDep, runtime: RuntimeDep, request: Request) -> SessionReader:
    """The session's customer; its assigned consultant; a supervisor or admin, whose read is audited first (a
    read that cannot be recorded is refused). 403 for any other staff, a colleague's session included.
    """
    staff = caller.staff
    if staff is None:
        return SessionReader(caller=caller)
    if staff.role not in SESSION_VIEWER_ROLES:
        raise Problem(403, "Forbidden", f"The role {staff.role} does not look at sessions.")
    view = await get_session(runtime, session_id=caller.session_id)
    assigned = view.consultant
    if not may_read_session(username=staff.username, role=staff.role, assigned_consultant=assigned):
        raise Problem(403, "Forbidden", "Only the consultant assigned to this session reads its details.")
    if read_is_audited(username=staff.username, role=staff.role, assigned_consultant=assigned):
        await audit_read(runtime, staff, request, session_id=caller.session_id)
    return SessionReader(caller=caller, view=view)


async def audit_read(runtime: ServiceRuntime, staff: StaffIdentity, request: Request, *,
                     session_id: str | None = None) -> None:
    """`session.read` in the gateway's audit trail: an overseer read customers' data. Called before the data is
    answered, in a transaction of its own: a read that cannot be recorded fails instead."""
    await record_audit(runtime.database, action="session.read", actor=staff.username, session_id=session_id,
                       client_address=client_address(request),
                       detail={"role": staff.role, "path": request.url.path,
                               **({"query": str(request.url.query)} if request.url.query else {})})


SessionReaderDep = Annotated[SessionReader, Depends(_session_reader)]

