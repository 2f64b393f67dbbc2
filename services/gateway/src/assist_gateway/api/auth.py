"""Staff login, logout and who-am-I."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from assist_platform.audit import append_audit
from assist_platform.problem_docs import problem_responses

from ..ratelimit import OverBudget
from ..staff import check_password, find_account, issue_token, revoke_token
from .deps import (
    TOKEN_COOKIE,
    BearerToken,
    CurrentStaff,
    LoginLimiterDep,
    RuntimeDep,
    SettingsDep,
    client_address,
    not_authenticated,
)

router = APIRouter(tags=["staff auth"])
# How long a login waits for others from its address still being checked before it is refused with 429.
LOGIN_WAIT_SECONDS = 10.0


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
    """OAuth2 password flow. Failed attempts are counted per client address; too many answer 429."""
    address = client_address(request)
    try:
        async with limiter.attempt(address, wait_seconds=LOGIN_WAIT_SECONDS) as attempt:
            async with runtime.database.session() as db:
                account = await find_account(db=db, username=form.username)
            # Verified with no transaction open: argon2 takes a while, and SQLite has one writer.
            identity = await check_password(account, form.password)
            attempt.failed = identity is None
    except OverBudget:
        wait = math.ceil(limiter.retry_after(address)) or 1
        raise HTTPException(
            429,
            f"Too many failed logins from this address; try again in {wait}s.",
            headers={"Retry-After": str(wait)},
        ) from None
    if identity is None:
        raise not_authenticated("Wrong username or password.")
    async with runtime.database.transaction() as db:
        issued = await issue_token(db=db, identity=identity, ttl_seconds=settings.staff_token_ttl_seconds)
        await append_audit(db, action="staff.login", actor=identity.username, client_address=address,
                           detail={"role": identity.role})
    return TokenOut(access_token=issued.access_token, expires_in=issued.expires_in)


@router.post("/auth/logout", status_code=204, response_class=Response, responses=problem_responses(401, 403))
async def logout(staff: CurrentStaff, token: BearerToken, runtime: RuntimeDep, request: Request) -> Response:
    """Revoke the token in use and the cookie's token, which the answer clears: neither opens anything afterwards.
    """
    cleared = request.cookies.get(TOKEN_COOKIE)
    async with runtime.database.transaction() as db:
        for revoked in {token, cleared} - {None, ""}:
            await revoke_token(db=db, token=revoked)
    response = Response(status_code=204)
    response.delete_cookie(TOKEN_COOKIE)
    return response


@router.get("/me", response_model=StaffOut, responses=problem_responses(401))
async def me(staff: CurrentStaff) -> StaffOut:
    return StaffOut(username=staff.username, role=staff.role)
