"""Cookie sessions of the pages: the login cookie's flags, CSRF on forms and on cookie-authenticated API calls."""

from __future__ import annotations

import re

import httpx
import pytest
from assist_gateway.web.security import csrf_for
from public_api import request_help

pytestmark = pytest.mark.e2e


def _login_form(client: httpx.Client) -> str:
    page = client.get("/console/login")
    assert page.status_code == 200
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


async def test_login_sets_an_httponly_strict_cookie_and_refuses_a_form_without_its_csrf_token(start_system):
    system = start_system(shared=True)
    system.add_user("consultant", "vera", "vera-pass-1")
    with httpx.Client(base_url=system.gateway_url) as client:
        client.get("/console/login")
        forged = client.post("/console/login", data={"username": "vera", "password": "vera-pass-1",
                                                      "csrf_token": "forged"})
        # The form comes back (403) with the reason, not a redirect: the username stays in the form, not in a URL.
        assert forged.status_code == 403 and 'id="login-error"' in forged.text
        assert "vera-pass-1" not in forged.text
        assert "assist_token" not in client.cookies

        token = _login_form(client)
        answer = client.post("/console/login", data={"username": "vera", "password": "vera-pass-1",
                                                      "csrf_token": token})
        assert answer.status_code == 303 and answer.headers["location"] == "/console"
        cookie = next(h for h in answer.headers.get_list("set-cookie") if h.startswith("assist_token="))
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
        assert "Secure" not in cookie  # plain http here; over https the flag is set

        console = client.get("/console")
        assert console.status_code == 200
        assert "content-security-policy" in console.headers
        page_csrf = re.search(r'name="csrf-token" content="([^"]+)"', console.text).group(1)
        assert page_csrf == csrf_for(client.cookies["assist_token"])


async def test_a_cookie_authenticated_api_call_needs_the_csrf_header(start_system):
    system = start_system(shared=True)
    system.add_user("consultant", "vera", "vera-pass-1")
    with httpx.Client(base_url=system.gateway_url) as client:
        client.post("/console/login", data={"username": "vera", "password": "vera-pass-1",
                                             "csrf_token": _login_form(client)})
        async with httpx.AsyncClient(base_url=system.gateway_url) as anonymous:
            help_request = await request_help(anonymous)
        claim = f"/api/v1/sessions/{help_request.session_id}/claim"

        assert client.post(claim).status_code == 403
        assert client.post(claim, headers={"X-CSRF-Token": "wrong"}).status_code == 403
        good = client.post(claim, headers={"X-CSRF-Token": csrf_for(client.cookies["assist_token"])})
        assert good.status_code == 200, good.text
