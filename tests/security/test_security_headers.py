"""Security headers on every page and every API answer: the pages are found in the app's routes (they are not in
the OpenAPI schema), so a new page is checked without anyone listing it here.
"""

from __future__ import annotations

import httpx
import pytest
from fastapi.routing import APIRoute
from gateway_routes import gateway_routes
from identities import PASSWORD, STAFF

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

EVERY_ANSWER = {"x-content-type-options": "nosniff", "referrer-policy": "no-referrer", "x-frame-options": "DENY"}
# What a page (HTML) must also carry: no inline script, not framed by another site.
PAGE_CSP_PARTS = ("default-src 'self'", "script-src 'self'", "object-src 'none'", "frame-ancestors 'none'")


def _page_paths() -> list[str]:
    return sorted({path for path, route in gateway_routes()
                   if isinstance(route, APIRoute) and not route.include_in_schema and "GET" in route.methods})


def _missing(response: httpx.Response) -> list[str]:
    wrong = [f"{name}: {response.headers.get(name)!r}" for name, value in EVERY_ANSWER.items()
             if response.headers.get(name) != value]
    if response.headers.get("content-type", "").startswith("text/html"):
        csp = response.headers.get("content-security-policy", "")
        wrong += [f"CSP lacks {part}" for part in PAGE_CSP_PARTS if part not in csp]
    return wrong


def test_every_page_carries_the_security_headers_for_anonymous_and_staff_visitors(system):
    pages = _page_paths()
    assert {"/", "/console", "/console/login", "/finance", "/supervisor"} <= set(pages), pages
    token = httpx.post(f"{system.gateway_url}/api/v1/auth/token",
                       data={"username": STAFF["supervisor"], "password": PASSWORD}).json()["access_token"]
    wrong = []
    for cookies in ({}, {"assist_token": token}):
        with httpx.Client(base_url=system.gateway_url, cookies=cookies, timeout=30) as client:
            for path in pages:
                if path.endswith("/events"):
                    continue  # a server-sent event stream: checked below without reading it to the end
                response = client.get(path.replace("{session_id}", "0" * 32))
                wrong += [f"{path} ({'staff' if cookies else 'anonymous'}, {response.status_code}): {problem}"
                          for problem in _missing(response)]
            with client.stream("GET", "/console/events") as stream:
                wrong += [f"/console/events: {problem}" for problem in _missing(stream)]
    assert not wrong, "\n".join(wrong)


def test_api_answers_and_errors_carry_the_security_headers(system):
    with httpx.Client(base_url=system.gateway_url, timeout=30) as client:
        answers = [client.get("/api/v1/terms"), client.get("/api/v1/queue"), client.get("/no/such/page"),
                   client.post("/api/v1/help-requests", json={}), client.get("/openapi.json")]
    wrong = [f"{answer.request.url.path} ({answer.status_code}): {problem}"
             for answer in answers for problem in _missing(answer)]
    assert not wrong, "\n".join(wrong)
