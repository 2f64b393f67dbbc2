"""FastAPI dependencies, defined once as `Annotated` aliases: the runtime, the database, who is calling."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from assist_platform.problems import Problem
from assist_platform.runtime import ServiceRuntime
from fastapi import Depends, HTTPException, Request
from fastapi.security import OAuth2PasswordBearer

from .. import crud
from ..edge import client_address  # noqa: F401 - the routes' one way to name the client (TRUSTED_PROXIES)
from ..ratelimit import SlidingWindowLimiter
from ..settings import Settings
from ..staff import StaffIdentity, authenticate_token

TOKEN_COOKIE = "assist_token"
_bearer = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def _runtime(request: Request) -> ServiceRuntime:
    return request.app.state.runtime


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _relay_hub(request: Request) -> Any:
    return request.app.state.relay_hub


def _login_limiter(request: Request) -> SlidingWindowLimiter:
    return request.app.state.login_limiter


def _token(request: Request, header_token: Annotated[str | None, Depends(_bearer)]) -> str | None:
    """The bearer token of the Authorization header, else the web UI's cookie."""
    return header_token or request.cookies.get(TOKEN_COOKIE) or None


RuntimeDep = Annotated[ServiceRuntime, Depends(_runtime)]
SettingsDep = Annotated[Settings, Depends(_settings)]
RelayHubDep = Annotated[Any, Depends(_relay_hub)]
LoginLimiterDep = Annotated[SlidingWindowLimiter, Depends(_login_limiter)]
BearerToken = Annotated[str | None, Depends(_token)]


def not_authenticated(detail: str = "Send a valid bearer token.") -> HTTPException:
    # An HTTPException rather than a Problem: it carries the WWW-Authenticate header into the problem+json
    # answer.
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


async def _staff_of(runtime: ServiceRuntime, token: str) -> StaffIdentity | None:
    # A short session of its own: on SQLite even a read holds the single write lock, so no session may stay
    # open for the whole request while the route writes.
    async with runtime.database.session() as db:
        return await authenticate_token(db=db, token=token)


async def _current_staff(runtime: RuntimeDep, token: BearerToken) -> StaffIdentity:
    identity = await _staff_of(runtime, token) if token else None
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


async def _session_caller(session_id: str, runtime: RuntimeDep, token: BearerToken) -> SessionCaller:
    """The customer token of this session, or a staff token; 401 for neither, 403 for another session's token.
    """
    if not token:
        raise not_authenticated("Send the customer token of this session or a staff access token.")
    async with runtime.database.session() as db:
        customer_session = await crud.session_of_customer_token(db=db, customer_token=token)
    if customer_session is not None:
        if customer_session != session_id:
            raise Problem(403, "Forbidden", "This customer token belongs to another session.")
        return SessionCaller(session_id=session_id)
    staff = await _staff_of(runtime, token)
    if staff is None:
        raise not_authenticated("Send the customer token of this session or a staff access token.")
    return SessionCaller(session_id=session_id, staff=staff)


SessionCallerDep = Annotated[SessionCaller, Depends(_session_caller)]

