"""The customer page keeps the session id and customer token in the browser (localStorage) so that `/` leads back
to an open session. The stored token must open no more than it did: one customer who writes another session's id
(or another token) into their own browser sees and ends nothing of it, and the page forgets what it cannot open.
"""

from __future__ import annotations

import httpx
import pytest
from browser import chromium, new_page
from public_api import bearer, request_help

pytestmark = pytest.mark.e2e
STORE = "assist.customer.session"


async def put_in_storage(page, value: dict) -> None:
    await page.evaluate("([key, value]) => localStorage.setItem(key, JSON.stringify(value))", [STORE, value])


async def test_another_customers_session_cannot_be_resumed_seen_or_ended_from_the_page(system):
    base = system.gateway_url
    async with httpx.AsyncClient(base_url=base) as client:
        mine = await request_help(client)
        theirs = await request_help(client)
    errors: list[str] = []
    async with chromium() as browser:
        page = await new_page(browser, errors=errors)
        await page.goto(base + "/")
        seen: list[str] = []
        page.on("request", lambda request: seen.append(request.url))

        attempts = [
            # My token with their session id; their id with a made-up token; their id with my token in another form.
            {"session_id": theirs.session_id, "session_code": theirs.session_code,
             "customer_token": mine.customer_token},
            {"session_id": theirs.session_id, "session_code": theirs.session_code, "customer_token": "x" * 43},
            {"session_id": f"{theirs.session_id}/../{theirs.session_id}", "session_code": theirs.session_code,
             "customer_token": mine.customer_token},
        ]
        for attempt in attempts:
            await put_in_storage(page, {**attempt, "status": "waiting", "service": {
                "code": "consultation", "unitSeconds": 900, "unitPrice": 30, "minimumUnits": 1}})
            await page.reload()
            # The page asks, is refused, forgets the stored pair and shows the request form: nothing of theirs.
            await page.wait_for_selector("#resume-gone", state="visible")
            assert await page.is_visible("#request-section")
            assert await page.evaluate(f"() => localStorage.getItem('{STORE}')") is None
            assert await page.inner_text("#status-text") == ""
            assert await page.is_hidden("#end-session")
        # Nothing went anywhere but this gateway, and the session id stayed one path segment.
        assert seen and all(url.startswith(base) for url in seen), seen
        assert not any("/../" in url for url in seen), seen

    async with httpx.AsyncClient(base_url=base) as client:
        # My bearer credential opens my session only: not their view, end, report or receipt.
        for method, path in [("GET", ""), ("POST", "/terminate"), ("GET", "/report"), ("GET", "/consent-receipt")]:
            response = await client.request(method, f"/api/v1/sessions/{theirs.session_id}{path}",
                                            headers=bearer(mine.customer_token))
            assert response.status_code in (401, 403), f"{method} {path}: {response.status_code} {response.text}"
        still = await client.get(f"/api/v1/sessions/{theirs.session_id}", headers=bearer(theirs.customer_token))
        assert still.json()["status"] == "waiting"
        for request in (mine, theirs):
            await client.post(f"/api/v1/sessions/{request.session_id}/terminate",
                              headers=bearer(request.customer_token))
    # The browser logs each refused call; nothing else may go wrong on the page.
    assert all("Failed to load resource" in e and any(c in e for c in ("401", "403", "404")) for e in errors), errors
