"""Staff login, logout and who-am-I."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from assist_platform.problem_docs import problem_responses

from ..identity import TOKEN_COOKIE, LoginRefused, clear_staff_cookie, log_in, log_out
from .deps import (
    BearerToken,
    CurrentStaff,
    LoginLimiterDep,
    RelayHubDep,
    RuntimeDep,
    SettingsDep,
    client_address,
    not_authenticated,
)

router = APIRouter(tags=["staff auth"])


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class StaffOut(BaseModel):
    username: str
    role: str


@router.post("/auth/token", response_model=TokenOut,
             responses=problem_responses(401, 422, 429, s401="Wrong username or password."))
async def login(
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    runtime: RuntimeDep,
    settings: SettingsDep,
    limiter: LoginLimiterDep,
) -> TokenOut:
    """OAuth2 password flow (identity.log_in, as the pages' login). Failed attempts are counted per client
    address; too many answer 429."""
    try:
        issued = await log_in(database=runtime.database, limiter=limiter,
                              ttl_seconds=settings.staff_token_ttl_seconds, username=form.username,
                              password=form.password, address=client_address(request))
    except LoginRefused as refused:
        if refused.retry_after is None:
            raise not_authenticated("Wrong username or password.") from None
        raise HTTPException(
            429,
            f"Too many failed logins from this address; try again in {refused.retry_after}s.",
            headers={"Retry-After": str(refused.retry_after)},
        ) from None
    return TokenOut(access_token=issued.access_token, expires_in=issued.expires_in)


@router.post("/auth/logout", status_code=204, response_class=Response, responses=problem_responses(401, 403))
async def logout(staff: CurrentStaff, token: BearerToken, runtime: RuntimeDep, relay_hub: RelayHubDep,
                 request: Request) -> Response:
    """Revoke the token in use and the cookie's token, which the answer clears: neither opens anything afterwards,
    and the session sockets they opened are closed (4401)."""
    relay_hub.close_signed_out(await log_out(runtime.database, token, request.cookies.get(TOKEN_COOKIE)))
    response = Response(status_code=204)
    clear_staff_cookie(response)
    return response


@router.get("/me", response_model=StaffOut, responses=problem_responses(401))
async def me(staff: CurrentStaff) -> StaffOut:
    return StaffOut(username=staff.username, role=staff.role)
