"""Cookie sessions of the pages: the staff cookie, CSRF tokens, and the Content Security Policy.

The staff cookie is the API's own access token (HttpOnly, SameSite=Strict, Secure over https). The CSRF token is
an HMAC of that token: a page gets it in a <meta> tag, scripts send it as `X-CSRF-Token`, forms as `csrf_token`.
Nobody can compute it without the HttpOnly token, so no server secret is needed and it dies with the session.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from assist_platform.problems import Problem, problem_response
from fastapi import Request, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from ..api.deps import TOKEN_COOKIE

CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
# Before login there is no token to sign: the login form uses a random double-submit cookie instead.
LOGIN_CSRF_COOKIE = "assist_login_csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# xterm.js writes its theme into a <style> element it creates, so styles need 'unsafe-inline'; scripts do not.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def csrf_for(token: str) -> str:
    return hmac.new(token.encode(), b"assist-csrf-v1", hashlib.sha256).hexdigest()


def csrf_matches(token: str | None, offered: str | None) -> bool:
    return bool(token and offered) and hmac.compare_digest(csrf_for(token), offered)


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


def _checked(path: str) -> bool:
    # The login takes a password, not the cookie, so it needs no CSRF token.
    return path.startswith("/api/") and path != "/api/v1/auth/token"


def bearer_in_header(authorization: str | None) -> bool:
    """Whether an Authorization header carries a bearer token: then that token is the request's only credential
    (api/deps.py `_token`) and the cookie is ignored. Any other Authorization header leaves the cookie in charge.
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


class CookieCsrfMiddleware:
    """Refuses (403) a state-changing API call that the staff cookie authenticates, without the CSRF header.

    The cookie authenticates whenever the Authorization header carries no bearer token, whatever else it says
    (`Authorization: Basic …` does not switch the check off). A bearer token is sent explicitly, so a foreign site
    cannot forge it, and with one the cookie is not looked at. `_token` in api/deps.py applies the same rule where
    the cookie is read; page forms (outside /api) check their `csrf_token` field in their own routes.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _checked(scope["path"]):
            request = Request(scope)
            problem = cookie_csrf_problem(scope["method"], request.cookies, request.headers)
            if problem is not None:
                await problem_response(problem)(scope, receive, send)
                return
        await self.app(scope, receive, send)
