"""Who a staff caller is, decided in one place for the API, the pages and the relay's consultant socket.

- **Token**: an opaque access token (staff.py keeps it hashed), sent as `Authorization: Bearer …` or, by the pages,
  in the session cookie `assist_token`. A bearer token in the header is the request's only credential; without
  one, the cookie is.
- **Cookie**: the API's own token, HttpOnly, SameSite=Strict, Secure over https, for the whole site.
- **CSRF**: the cookie travels by itself, so whatever the cookie authenticates and changes state needs proof that
  the gateway's own page sent it: the HMAC of the cookie's token, which a page gets in a <meta> tag and sends as
  `X-CSRF-Token` (scripts) or `csrf_token` (forms). Nobody can compute it without the HttpOnly token, so no server
  secret is needed and it dies with the session. Before login there is no token to sign: the login form uses a
  random double-submit cookie instead.
- **Login**: one path for the API's password form and the pages' login form: the throttle of failed logins per
  address, the argon2 check outside any transaction, then the token and its `staff.login` audit entry in one
  transaction. **Logout** revokes every token it is given.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass

from assist_platform.audit import append_audit
from assist_platform.db import Database
from assist_platform.problems import Problem
from fastapi import Request, Response

from .ratelimit import FailureBudget, OverBudget
from .domain import token_digest
from .staff import (
    StaffIdentity,
    authenticate_token,
    check_password,
    find_account,
    issue_token,
    live_token_digests,
    revoke_token,
)

TOKEN_COOKIE = "assist_token"
LOGIN_CSRF_COOKIE = "assist_login_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# How long a login waits for others from its address still being checked before it is refused with 429.
LOGIN_WAIT_SECONDS = 10.0
LOGIN_AUDIT_ACTION = "staff.login"


# --- the cookie -----------------------------------------------------------------------------------------------------

def is_https(request: Request) -> bool:
    return request.url.scheme == "https"


def set_staff_cookie(response: Response, request: Request, token: str, max_age: int) -> None:
    response.set_cookie(
        TOKEN_COOKIE,
        token,
        max_age=max_age,
        httponly=True,
        samesite="strict",
        secure=is_https(request),
        path="/",
    )


def clear_staff_cookie(response: Response) -> None:
    response.delete_cookie(TOKEN_COOKIE, path="/")


# --- CSRF -----------------------------------------------------------------------------------------------------------

def csrf_for(token: str) -> str:
    return hmac.new(token.encode(), b"assist-csrf-v1", hashlib.sha256).hexdigest()


def csrf_matches(token: str | None, offered: str | None) -> bool:
    return bool(token and offered) and hmac.compare_digest(csrf_for(token), offered)


def new_login_csrf_value() -> str:
    return secrets.token_urlsafe(24)


def set_login_csrf(response: Response, request: Request, value: str) -> None:
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        value,
        max_age=3600,
        httponly=True,
        samesite="strict",
        secure=is_https(request),
        path="/console/login",
    )


def login_csrf_matches(request: Request, offered: str | None) -> bool:
    expected = request.cookies.get(LOGIN_CSRF_COOKIE)
    return bool(expected and offered) and hmac.compare_digest(expected, offered)


def bearer_in_header(authorization: str | None) -> bool:
    """Whether an Authorization header carries a bearer token: then that token is the request's only credential
    (`request_token`) and the cookie is ignored. Any other Authorization header leaves the cookie in charge.
    """
    scheme, _, credential = (authorization or "").strip().partition(" ")
    return scheme.lower() == "bearer" and bool(credential.strip())


def cookie_csrf_problem(method: str, cookies: dict, headers) -> Problem | None:
    """403 for a state-changing request that the staff cookie would authenticate without the CSRF header."""
    token = cookies.get(TOKEN_COOKIE)
    if (
        method not in SAFE_METHODS
        and token
        and not bearer_in_header(headers.get("authorization"))
        and not csrf_matches(token, headers.get(CSRF_HEADER))
    ):
        return Problem(403, "Forbidden", "A cookie-authenticated call needs the X-CSRF-Token header.")
    return None


# --- the token of a request, and whose it is ------------------------------------------------------------------------

def request_token(request: Request, header_token: str | None) -> str | None:
    """The bearer token of the Authorization header, else the cookie's, which must come with the CSRF header on
    anything that changes state (403): whatever else the request carries, if the cookie is what authenticates,
    CSRF is checked. A bearer token, valid or not, is the only credential looked at.
    """
    if header_token:
        return header_token
    problem = cookie_csrf_problem(request.method, request.cookies, request.headers)
    if problem is not None:
        raise problem
    return request.cookies.get(TOKEN_COOKIE) or None


async def staff_of_token(database: Database, token: str | None) -> StaffIdentity | None:
    """The staff member a token belongs to; None when it is unknown, revoked or expired."""
    if not token:
        return None
    # A short session of its own: on SQLite even a read holds the single write lock, so no session may stay
    # open for the whole request while the route writes.
    async with database.session() as db:
        return await authenticate_token(db=db, token=token)


async def cookie_staff(request: Request, database: Database) -> tuple[StaffIdentity | None, str | None]:
    """The staff member of a page's cookie and its token (None, None without a cookie). A page only reads: the
    forms it posts check their own `csrf_token` field."""
    token = request.cookies.get(TOKEN_COOKIE)
    if not token:
        return None, None
    return await staff_of_token(database, token), token


# --- login and logout -----------------------------------------------------------------------------------------------

def login_limiter(request: Request) -> FailureBudget:
    """Failed logins per address, kept in the app's login limiter; made once per app, shared by the API's login
    and the pages'. A login in flight counts until its (slow, argon2) check settles, so parallel guesses cannot
    all pass before the first failure is known.
    """
    state = request.app.state
    budget = getattr(state, "login_failures", None)
    if budget is None:
        budget = state.login_failures = FailureBudget(failures=state.login_limiter, total=None)
    return budget


class LoginRefused(Exception):
    """A login that issued nothing: the address is throttled (`retry_after` seconds, 429), or the name or the
    password is wrong (`retry_after` None, 401)."""

    def __init__(self, retry_after: int | None = None) -> None:
        super().__init__("throttled" if retry_after else "wrong username or password")
        self.retry_after = retry_after


@dataclass(frozen=True)
class Login:
    identity: StaffIdentity
    access_token: str
    expires_in: int


async def log_in(
    *, database: Database, limiter: FailureBudget, ttl_seconds: int, username: str, password: str, address: str
) -> Login:
    """Check the password under the address's throttle; on success issue a token and audit `staff.login` in one
    transaction. Raises LoginRefused. Failed logins are counted by the throttle, not written to the audit trail.
    """
    try:
        async with limiter.attempt(address, wait_seconds=LOGIN_WAIT_SECONDS) as attempt:
            async with database.session() as db:
                account = await find_account(db=db, username=username)
            # Verified with no transaction open: argon2 takes a while, and SQLite has one writer.
            identity = await check_password(account, password)
            attempt.failed = identity is None
    except OverBudget:
        raise LoginRefused(retry_after=math.ceil(limiter.retry_after(address)) or 1) from None
    if identity is None:
        raise LoginRefused()
    async with database.transaction() as db:
        issued = await issue_token(db=db, identity=identity, ttl_seconds=ttl_seconds)
        await append_audit(db, action=LOGIN_AUDIT_ACTION, actor=identity.username, client_address=address,
                           detail={"role": identity.role})
    return Login(identity=identity, access_token=issued.access_token, expires_in=issued.expires_in)


async def log_out(database: Database, *tokens: str | None) -> set[str]:
    """Revoke each token given (none of them opens anything afterwards); empty ones are skipped. The digests of
    those revoked, by which the relay closes what they had opened (`RelayHub.close_signed_out`)."""
    revoked = {token for token in tokens if token}
    if revoked:
        async with database.transaction() as db:
            for token in revoked:
                await revoke_token(db=db, token=token)
    return {token_digest(token) for token in revoked}


async def still_signed_in(database: Database, digests: set[str]) -> set[str]:
    """Those of the token digests whose login has not ended (logged out, expired, account removed)."""
    async with database.session() as db:
        return await live_token_digests(db=db, digests=digests)
