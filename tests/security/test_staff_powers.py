"""Staff powers (issue #12): personal data is need-to-know, the cookie never authenticates a change without its CSRF
token, and logging out kills the token it clears. On the suite's one system, with the identities of identities.py.
"""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import websockets
from identities import PASSWORD, STAFF
from public_api import CUSTOMER, bearer, close_code, connect_agent, connect_consultant, login, next_control, \
    request_help, wait_for_status, ws_url
from relay_flow import bytes_cross_both_ways

from assist_gateway.web.security import csrf_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

# What the queue keeps from a colleague: how to reach the customer and what their problem is.
CONTACT_AND_PROBLEM = (CUSTOMER["email"], CUSTOMER["phone"], "Принтерът не печата")


def assert_no_personal_data(text: str) -> None:
    leaked = [value for value in CONTACT_AND_PROBLEM if value in text]
    assert not leaked, f"leaked {leaked}: {text[:300]}"


async def _claim(client: httpx.AsyncClient, session_id: str, token: str) -> None:
    claimed = await client.post(f"/api/v1/sessions/{session_id}/claim", headers=bearer(token))
    assert claimed.status_code == 200, claimed.text


async def _ended_billed_session(system, client: httpx.AsyncClient, token: str):
    """A session that `maria` claimed, that became active (agent and consultant relayed bytes) and that she ended."""
    request = await request_help(client)
    agent = await connect_agent(system.gateway_url, request.session_code)
    await next_control(agent, "attached")
    await _claim(client, request.session_id, token)
    consultant = await connect_consultant(system.gateway_url, request.session_id, token)
    await next_control(consultant, "peer_joined")
    await wait_for_status(client, request.session_id, bearer(request.customer_token), "active")
    await bytes_cross_both_ways(agent, consultant)
    ended = await client.post(f"/api/v1/sessions/{request.session_id}/end", headers=bearer(token))
    assert ended.status_code == 200, ended.text
    await close_code(agent)
    await close_code(consultant)
    return request


async def _report_when_ready(client: httpx.AsyncClient, session_id: str, headers: dict) -> httpx.Response:
    """The session's billing report once billing has closed its record (it follows the end by an event)."""
    for _ in range(100):
        report = await client.get(f"/api/v1/sessions/{session_id}/report", headers=headers)
        if report.status_code == 200 and report.json().get("gross"):
            return report
        await asyncio.sleep(0.1)  # billing closes the record on the session's end event: poll until it has
    raise AssertionError(f"no billing report for {session_id}: {report.status_code} {report.text}")


async def test_a_consultant_reads_no_colleagues_session_ongoing_or_ended(system):
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=30) as client:
        maria = await login(client, STAFF["consultant"], PASSWORD)
        olga = await login(client, STAFF["other_consultant"], PASSWORD)
        ongoing = await request_help(client)
        await _claim(client, ongoing.session_id, maria)
        ended = await _ended_billed_session(system, client, maria)
        # The assigned consultant reads her sessions in full, the ended one's billing report included.
        own = await client.get(f"/api/v1/sessions/{ongoing.session_id}", headers=bearer(maria))
        assert own.status_code == 200 and own.json()["customer"]["email"] == CUSTOMER["email"]
        assert (await _report_when_ready(client, ended.session_id, bearer(maria))).json()["gross"]
        for request in (ongoing, ended):
            for path in ("", "/report"):
                read = await client.get(f"/api/v1/sessions/{request.session_id}{path}", headers=bearer(olga))
                assert read.status_code in (403, 404), (path, read.status_code, read.text)
                assert_no_personal_data(read.text)
                assert "gross" not in read.json()
        # Nor in her own history: it lists only her sessions.
        history = await client.get("/api/v1/sessions", headers=bearer(olga))
        assert {ongoing.session_id, ended.session_id}.isdisjoint(s["session_id"] for s in history.json()["sessions"])


async def test_the_queue_shows_consultants_the_contact_and_nobody_the_description(system):
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=30) as client:
        olga = await login(client, STAFF["other_consultant"], PASSWORD)
        sam = await login(client, STAFF["supervisor"], PASSWORD)
        waiting = await request_help(client)
        queue = await client.get("/api/v1/queue", headers=bearer(olga))
        entry = next(s for s in queue.json()["sessions"] if s["session_id"] == waiting.session_id)
        # Who asks, for what, since when: enough to choose what to claim.
        assert entry["customer"] == {"name": CUSTOMER["name"], "company": CUSTOMER["company"]}
        assert entry["service_type"] == "consultation" and entry["requested_at"]
        assert_no_personal_data(queue.text)
        # The waiting request's record is nobody's yet: not a consultant's to read.
        assert (await client.get(f"/api/v1/sessions/{waiting.session_id}", headers=bearer(olga))).status_code == 403
        # The supervisor's list shows cards too; the full record is one audited read away.
        assert_no_personal_data((await client.get("/api/v1/sessions", headers=bearer(sam))).text)
    # The live queue the console follows (server-sent events) adds the contact (issue #14: a consultant calls the
    # customer back), never the description: that stays for the consultant who claims the request.
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=30, cookies={"assist_token": olga}) as browser:
        async with browser.stream("GET", "/console/events") as events:
            assert events.status_code == 200
            lines = events.aiter_lines()
            async for line in lines:
                if line == "event: queue":
                    data = json.loads((await anext(lines)).removeprefix("data: "))
                    break
    entry = next(s for s in data["sessions"] if s["session_id"] == waiting.session_id)
    assert entry["customer"] == {"name": CUSTOMER["name"], "company": CUSTOMER["company"],
                                 "email": CUSTOMER["email"], "phone": CUSTOMER["phone"]}
    assert "Принтерът не печата" not in json.dumps(data, ensure_ascii=False)
    assert "description" not in entry and "consent_id" not in entry


async def test_a_supervisors_read_of_anothers_session_is_audited(system):
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=30) as client:
        maria = await login(client, STAFF["consultant"], PASSWORD)
        sam = await login(client, STAFF["supervisor"], PASSWORD)
        ada = await login(client, STAFF["admin"], PASSWORD)
        request = await request_help(client)
        await _claim(client, request.session_id, maria)
        read = await client.get(f"/api/v1/sessions/{request.session_id}", headers=bearer(sam))
        assert read.status_code == 200 and read.json()["customer"]["email"] == CUSTOMER["email"]
        await client.get(f"/api/v1/sessions/{request.session_id}/report", headers=bearer(ada))
        # The assigned consultant's reads of her own session are her work, not an oversight to record.
        await client.get(f"/api/v1/sessions/{request.session_id}", headers=bearer(maria))
        trail = (await client.get("/api/v1/audit", params={"session_id": request.session_id},
                                  headers=bearer(ada))).json()
    reads = [(entry["actor"], entry["detail"]["path"]) for entry in trail["entries"]
             if entry["service"] == "gateway" and entry["action"] == "session.read"]
    assert reads == [(STAFF["supervisor"], f"/api/v1/sessions/{request.session_id}"),
                     (STAFF["admin"], f"/api/v1/sessions/{request.session_id}/report")], trail["entries"]


async def test_an_admins_read_of_billing_records_is_audited_and_finances_is_not(system):
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=30) as client:
        maria = await login(client, STAFF["consultant"], PASSWORD)
        fiona = await login(client, STAFF["finance"], PASSWORD)
        ada = await login(client, STAFF["admin"], PASSWORD)
        request = await _ended_billed_session(system, client, maria)
        await _report_when_ready(client, request.session_id, bearer(request.customer_token))
        records = (await client.get("/api/v1/billing/records", params={"limit": 500}, headers=bearer(fiona))).json()
        record = next(r for r in records["records"] if r["session_id"] == request.session_id)
        assert (await client.get(f"/api/v1/billing/records/{record['record_id']}", headers=bearer(fiona))).status_code \
            == 200
        read = await client.get(f"/api/v1/billing/records/{record['record_id']}", headers=bearer(ada))
        assert read.status_code == 200 and read.json()["gross"]
        trail = (await client.get("/api/v1/audit", params={"session_id": request.session_id},
                                  headers=bearer(ada))).json()
    reads = [(entry["actor"], entry["detail"]["path"]) for entry in trail["entries"]
             if entry["service"] == "gateway" and entry["action"] == "session.read"]
    assert reads == [(STAFF["admin"], f"/api/v1/billing/records/{record['record_id']}")], trail["entries"]


@pytest.mark.parametrize("authorization", ["Basic bWFyaWE6eA==", "Token 1234", "Bearer"])
async def test_a_cookie_authenticated_post_with_a_bogus_authorization_header_needs_the_csrf_token(system,
                                                                                                  authorization):
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=30) as client:
        maria = await login(client, STAFF["consultant"], PASSWORD)
        request = await request_help(client)
    claim = f"/api/v1/sessions/{request.session_id}/claim"
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=30, cookies={"assist_token": maria}) as browser:
        forged = await browser.post(claim, headers={"Authorization": authorization})
        assert forged.status_code == 403, forged.text
        # A bearer token that is no token does not hand over to the cookie either.
        bogus_bearer = await browser.post(claim, headers=bearer("not-a-token"))
        assert bogus_bearer.status_code in (401, 403), bogus_bearer.text
        view = await browser.get(f"/api/v1/sessions/{request.session_id}", headers=bearer(request.customer_token))
        assert view.json()["status"] == "waiting" and view.json()["consultant"] is None
        # With its CSRF token the same cookie does claim: the refusals above were the check, not a broken cookie.
        good = await browser.post(claim, headers={"Authorization": authorization, "X-CSRF-Token": csrf_for(maria)})
        assert good.status_code == 200, good.text


async def _refused_everywhere(system, token: str, session_id: str) -> None:
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=30, cookies={"assist_token": token}) as browser:
        assert (await browser.get("/api/v1/me")).status_code == 401
        assert (await browser.get("/api/v1/me", headers=bearer(token))).status_code == 401
    url = f"{ws_url(system.gateway_url)}/ws/v1/consultant/{session_id}"
    async with websockets.connect(url, additional_headers={"Cookie": f"assist_token={token}",
                                                           "Origin": system.gateway_url}) as ws:
        assert (await close_code(ws))[0] == 4401
    async with websockets.connect(url, additional_headers=bearer(token)) as ws:
        assert (await close_code(ws))[0] == 4401


async def test_the_ui_logout_revokes_the_cookies_token_even_from_a_page_without_its_csrf_token(system):
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=30) as client:
        token = await login(client, STAFF["consultant"], PASSWORD)
        request = await request_help(client)
        await _claim(client, request.session_id, token)
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=30, cookies={"assist_token": token}) as browser:
        out = await browser.post("/console/logout", data={})
        assert out.status_code == 303 and "assist_token" in out.headers.get("set-cookie", "")
    await _refused_everywhere(system, token, request.session_id)


async def test_the_api_logout_revokes_the_cookies_token_it_clears(system):
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=30) as client:
        header_token = await login(client, STAFF["consultant"], PASSWORD)
        cookie_token = await login(client, STAFF["consultant"], PASSWORD)
        request = await request_help(client)
        await _claim(client, request.session_id, header_token)
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=30,
                                 cookies={"assist_token": cookie_token}) as browser:
        out = await browser.post("/api/v1/auth/logout", headers=bearer(header_token))
        assert out.status_code == 204 and "assist_token" in out.headers.get("set-cookie", "")
    await _refused_everywhere(system, cookie_token, request.session_id)
    await _refused_everywhere(system, header_token, request.session_id)
