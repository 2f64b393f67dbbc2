"""The pages' protections: the Content Security Policy, and the cookie's CSRF check at the door of the API.

The staff cookie, its CSRF token and the rule of when it is checked are the identity module's
(`assist_gateway.identity`); `csrf_for` and `csrf_matches` are re-exported here for the pages.
"""

from __future__ import annotations

from assist_platform.problems import problem_response
from fastapi import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from ..identity import cookie_csrf_problem
from ..identity import csrf_for as csrf_for  # re-exported: the pages (rendering, finance) and their tests
from ..identity import csrf_matches as csrf_matches

# xterm.js writes its theme into a <style> element it creates, so styles need 'unsafe-inline'; scripts do not.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def _checked(path: str) -> bool:
    # The login takes a password, not the cookie, so it needs no CSRF token.
    return path.startswith("/api/") and path != "/api/v1/auth/token"


class CookieCsrfMiddleware:
    """Refuses (403) a state-changing API call that the staff cookie authenticates, without the CSRF header.

    The cookie authenticates whenever the Authorization header carries no bearer token, whatever else it says
    (`Authorization: Basic …` does not switch the check off). A bearer token is sent explicitly, so a foreign site
    cannot forge it, and with one the cookie is not looked at. `identity.request_token` applies the same rule
    where the API reads the cookie; page forms (outside /api) check their `csrf_token` field in their own routes.
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
