"""The two ways in, the API's password form and the pages' login form, are one login (assist_gateway.identity):
both audited alike, both refused alike, one throttle, and each logout revokes the token it clears."""

from __future__ import annotations

import re

import httpx
from assist_platform.audit import AuditEntry
from sqlmodel import select

PASSWORD = "correct horse battery"  # the password conftest gives every staff account


async def _login_entries(gateway) -> list[AuditEntry]:
    async with gateway.runtime.database.session() as db:
        return list((await db.exec(select(AuditEntry).where(AuditEntry.action == "staff.login")
                                   .order_by(AuditEntry.id))).all())


async def _page_login(client: httpx.AsyncClient, username: str, password: str = PASSWORD) -> httpx.Response:
    """The pages' login as a browser does it: the form (its double-submit CSRF pair), then the post."""
    form = await client.get("/console/login")
    assert form.status_code == 200
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    return await client.post("/console/login", data={"username": username, "password": password,
                                                      "csrf_token": csrf, "next": ""})


async def test_a_page_login_and_an_api_login_each_leave_the_same_audit_entry(gateway) -> None:
    await gateway.add_staff("alice", "supervisor")
    await gateway.add_staff("bob", "consultant")
    assert (await gateway.login("alice")).status_code == 200
    answer = await _page_login(gateway.client, "bob")
    assert answer.status_code == 303 and answer.headers["location"] == "/console"
    assert "assist_token" in gateway.client.cookies

    api, page = await _login_entries(gateway)
    assert (api.actor, api.detail) == ("alice", {"role": "supervisor"})
    assert (page.actor, page.detail) == ("bob", {"role": "consultant"})
    assert api.client_address == page.client_address is not None
    assert api.session_id is None and page.session_id is None


async def test_failed_logins_on_either_path_issue_nothing_and_are_not_audited(gateway) -> None:
    await gateway.add_staff("alice", "consultant")
    assert (await gateway.login("alice", "wrong password")).status_code == 401
    answer = await _page_login(gateway.client, "alice", "wrong password")
    assert answer.status_code == 401 and 'id="login-error"' in answer.text
    assert "assist_token" not in gateway.client.cookies
    assert await _login_entries(gateway) == []


async def test_failures_on_the_login_form_count_against_the_apis_login_throttle(gateway) -> None:
    await gateway.add_staff("alice", "consultant")
    limit = gateway.app.state.settings.login_attempts_per_minute
    for _ in range(limit):
        assert (await _page_login(gateway.client, "alice", "wrong password")).status_code == 401
    throttled = await gateway.login("alice")  # the right password, on the other path: still throttled
    assert throttled.status_code == 429
    assert 1 <= int(throttled.headers["retry-after"]) <= 60
    page = await _page_login(gateway.client, "alice")
    assert page.status_code == 429 and 1 <= int(page.headers["retry-after"]) <= 60
    assert await _login_entries(gateway) == []


async def test_the_pages_logout_revokes_the_token_of_an_api_login_held_in_the_cookie(gateway) -> None:
    await gateway.add_staff("alice", "consultant")
    token = (await gateway.login("alice")).json()["access_token"]
    gateway.client.cookies.set("assist_token", token)
    answer = await gateway.client.post("/console/logout")
    assert answer.status_code == 303 and answer.headers["location"] == "/console/login"
    gateway.client.cookies.clear()
    me = await gateway.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 401
