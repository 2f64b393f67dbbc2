"""The staff pages as an attacker sees them (issue #14): a page that is not for the role is an HTML 403 page with
nothing of that page's data; the login form that comes back after a failure never echoes the password, escapes the
username and keeps only a destination on this site; the live feed is for staff only; the customer's contact is in
the consultants' queue and nowhere else, the description nowhere. On the suite's one system (conftest.py).
"""

from __future__ import annotations

import json
import re
import uuid

import httpx
import pytest
from identities import PASSWORD, STAFF
from public_api import CUSTOMER, bearer, login, request_help

from assist_gateway.web.i18n import MESSAGES

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]
BG, EN = MESSAGES["bg"], MESSAGES["en"]
DESCRIPTION = "Принтерът не печата"  # what public_api.request_help writes
HOME = {"consultant": "/console", "supervisor": "/supervisor", "finance": "/finance", "admin": "/supervisor"}
# Each page's own parts: none of them may be in the 403 page that stands in for it.
MARKERS = {"/console": ('id="queue-rows"', "console.js"), "/supervisor": ('id="session-rows"', "supervisor.js"),
           "/finance": ('id="records"', "finance.js", "export-csv")}


def as_staff(system, token: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=system.gateway_url, timeout=30, cookies={"assist_token": token})


def assert_forbidden_page(answer: httpx.Response, *, role: str, words: dict, detail: str) -> None:
    assert answer.status_code == 403, (answer.request.url, answer.status_code)
    assert answer.headers["content-type"].startswith("text/html"), answer.headers["content-type"]
    assert "content-security-policy" in answer.headers and answer.headers["cache-control"] == "no-store"
    page = answer.text
    assert f'<h1 id="error-title">{words["cq_forbidden_title"]}</h1>' in page
    assert detail in page
    assert f'id="error-back" href="{HOME[role]}">{words[f"cq_back_{role}"]}</a>' in page
    # No CSRF token of the staff member's cookie in a page that is not theirs to use.
    assert 'name="csrf-token"' not in page


async def test_a_page_not_for_the_role_is_an_html_403_with_the_way_back_and_no_data(system):
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=30) as client:
        tokens = {role: await login(client, STAFF[role], PASSWORD) for role in ("consultant", "supervisor", "finance")}
    refused = {"consultant": ("/supervisor", "/finance"), "finance": ("/console", "/supervisor"),
               "supervisor": ("/console", "/finance")}
    for role, paths in refused.items():
        async with as_staff(system, tokens[role]) as staff:
            for path in paths:
                for lang, words in (("bg", BG), ("en", EN)):
                    answer = await staff.get(path, params={"lang": lang})
                    detail = words["cq_forbidden_role"].format(role=words[f"cq_role_{role}"])
                    assert_forbidden_page(answer, role=role, words=words, detail=detail)
                    assert not [marker for marker in MARKERS[path] if marker in answer.text], (role, path)
                    assert STAFF[role] in answer.text  # the header says who is logged in
            # Their own page still opens.
            assert (await staff.get(HOME[role])).status_code == 200
    # The live feed stays an API (EventSource reads it): problem+json, not a page.
    async with as_staff(system, tokens["finance"]) as finance:
        feed = await finance.get("/console/events")
        assert feed.status_code == 403 and feed.headers["content-type"] == "application/problem+json"


async def test_a_colleagues_session_page_is_an_html_403_without_the_customer(system):
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=30) as client:
        maria = await login(client, STAFF["consultant"], PASSWORD)
        olga = await login(client, STAFF["other_consultant"], PASSWORD)
        request = await request_help(client)
        claimed = await client.post(f"/api/v1/sessions/{request.session_id}/claim", headers=bearer(maria))
        assert claimed.status_code == 200
        waiting = await request_help(client)
    async with as_staff(system, olga) as colleague:
        for session_id in (request.session_id, waiting.session_id):  # claimed by maria; claimed by nobody
            answer = await colleague.get(f"/console/session/{session_id}")
            assert_forbidden_page(answer, role="consultant", words=BG, detail=BG["cq_forbidden_session"])
            leaked = [value for value in (CUSTOMER["name"], CUSTOMER["email"], CUSTOMER["phone"], DESCRIPTION,
                                          request.session_code, waiting.session_code) if value in answer.text]
            assert not leaked, leaked
        # A session that is not there (or not even an id): a page that says so, with the way back.
        for missing in (str(uuid.uuid4()), "not-a-session"):
            answer = await colleague.get(f"/console/session/{missing}")
            assert answer.status_code == 404 and answer.headers["content-type"].startswith("text/html")
            assert BG["cq_session_missing"] in answer.text and 'href="/console"' in answer.text
    async with as_staff(system, maria) as own:
        assert (await own.get(f"/console/session/{request.session_id}")).status_code == 200


async def _login_form(client: httpx.AsyncClient, path: str = "/console/login") -> str:
    page = await client.get(path)
    assert page.status_code == 200
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def _hidden_next(page: str) -> str:
    return re.search(r'name="next" value="([^"]*)"', page).group(1)


async def test_the_login_form_never_echoes_the_password_and_escapes_the_username(system):
    attack = '"><script>alert(1)</script>'
    secret = "the-typed-password-<b>x</b>"
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=30) as client:
        # A wrong password, then a forged (or stale) form: each time the form again, never a redirect.
        wrong = await client.post("/console/login", data={
            "username": attack, "password": secret, "next": "/supervisor", "csrf_token": await _login_form(client)})
        forged = await client.post("/console/login", data={
            "username": attack, "password": secret, "next": "/supervisor", "csrf_token": "forged"})
    for answer, status, error in ((wrong, 401, "login_failed"), (forged, 403, "csrf_failed")):
        assert answer.status_code == status and "location" not in answer.headers
        assert answer.headers["content-type"].startswith("text/html")
        assert BG[error] in answer.text
        assert secret not in answer.text and "the-typed-password" not in answer.text
        assert "<script>alert(1)" not in answer.text
        assert 'value="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in answer.text
        assert _hidden_next(answer.text) == "/supervisor"
        # A fresh double-submit pair: the cookie and the field match, so the next attempt is not refused as forged.
        field = re.search(r'name="csrf_token" value="([^"]+)"', answer.text).group(1)
        cookie = next(h for h in answer.headers.get_list("set-cookie") if h.startswith("assist_login_csrf="))
        assert cookie.startswith(f"assist_login_csrf={field};")


async def test_next_never_leads_off_the_site_even_across_a_failed_attempt(system):
    for target in ("//evil.example", "https://evil.example/", "/\\evil.example", "http:/evil.example", "evil"):
        async with httpx.AsyncClient(base_url=system.gateway_url, timeout=30) as client:
            page = await client.get("/console/login", params={"next": target})
            assert _hidden_next(page.text) == "", target
            failed = await client.post("/console/login", data={
                "username": STAFF["consultant"], "password": "not the password", "next": target,
                "csrf_token": await _login_form(client)})
            assert failed.status_code == 401 and _hidden_next(failed.text) == "", target
            token = re.search(r'name="csrf_token" value="([^"]+)"', failed.text).group(1)
            logged_in = await client.post("/console/login", data={
                "username": STAFF["consultant"], "password": PASSWORD, "next": target, "csrf_token": token})
            assert logged_in.status_code == 303 and logged_in.headers["location"] == "/console", target
    # A path of this site is kept through the failure and followed after it.
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=30) as client:
        failed = await client.post("/console/login", data={
            "username": STAFF["supervisor"], "password": "nope", "next": "/supervisor?lang=en",
            "csrf_token": await _login_form(client)})
        token = re.search(r'name="csrf_token" value="([^"]+)"', failed.text).group(1)
        logged_in = await client.post("/console/login", data={
            "username": STAFF["supervisor"], "password": PASSWORD, "next": _hidden_next(failed.text),
            "csrf_token": token})
        assert logged_in.headers["location"] == "/supervisor?lang=en"


async def test_the_live_feed_is_refused_to_customers_and_anonymous(system):
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=30) as client:
        customer = await request_help(client)
        answers = [
            await client.get("/console/events"),
            await client.get("/console/events", headers=bearer(customer.customer_token)),
            await client.get("/console/events", cookies={"assist_token": customer.customer_token}),
            await client.get("/console/events", cookies={"assist_token": "forged"}),
        ]
    for answer in answers:
        assert answer.status_code == 401, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert CUSTOMER["email"] not in answer.text and "event:" not in answer.text


async def _first_event(system, token: str, name: str) -> dict:
    async with as_staff(system, token) as staff, staff.stream("GET", "/console/events") as events:
        assert events.status_code == 200
        lines = events.aiter_lines()
        async for line in lines:
            if line == f"event: {name}":
                return json.loads((await anext(lines)).removeprefix("data: "))
    raise AssertionError(f"no {name} event")


async def test_the_contact_is_in_the_consultants_queue_only(system):
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=30) as client:
        maria = await login(client, STAFF["consultant"], PASSWORD)
        sam = await login(client, STAFF["supervisor"], PASSWORD)
        ada = await login(client, STAFF["admin"], PASSWORD)
        waiting = await request_help(client)
        running = await request_help(client)
        claimed = await client.post(f"/api/v1/sessions/{running.session_id}/claim", headers=bearer(maria))
        assert claimed.status_code == 200
        # The API's lists stay cards for everyone (the console's live queue is where the contact is shown).
        api_lists = [(await client.get("/api/v1/queue", headers=bearer(maria))).text,
                     (await client.get("/api/v1/queue", headers=bearer(sam))).text,
                     (await client.get("/api/v1/sessions", headers=bearer(sam))).text]
    queue = await _first_event(system, maria, "queue")
    entry = next(s for s in queue["sessions"] if s["session_id"] == waiting.session_id)
    assert (entry["customer"]["email"], entry["customer"]["phone"]) == (CUSTOMER["email"], CUSTOMER["phone"])
    assert running.session_id not in [s["session_id"] for s in queue["sessions"]]  # claimed: off the queue
    assert DESCRIPTION not in json.dumps(queue, ensure_ascii=False)
    # The overseers' live list: who, for what, since when; not how to reach them, nor the problem.
    for token in (sam, ada):
        overseen = await _first_event(system, token, "sessions")
        assert running.session_id in [s["session_id"] for s in overseen["sessions"]]
        text = json.dumps(overseen, ensure_ascii=False)
        assert not [value for value in (CUSTOMER["email"], CUSTOMER["phone"], DESCRIPTION) if value in text]
    for text in api_lists:
        assert not [value for value in (CUSTOMER["email"], CUSTOMER["phone"], DESCRIPTION) if value in text]
