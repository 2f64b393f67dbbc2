"""Credentials: a customer token opens only its own session; staff tokens expire and die at logout; guessing
passwords and session codes is throttled. A system of its own with a short token life and low attempt limits.
"""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
import websockets
from conftest import start_module_system
from identities import PASSWORD, STAFF
from public_api import bearer, close_code, connect_agent, login, next_control, request_help, ws_url

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

TOKEN_TTL = 3
ATTEMPTS = 5


@pytest.fixture(scope="module")
def strict_system(tmp_path_factory):
    system, location = start_module_system(
        tmp_path_factory, STAFF_TOKEN_TTL_SECONDS=str(TOKEN_TTL), LOGIN_ATTEMPTS_PER_MINUTE=str(ATTEMPTS),
        CODE_ATTEMPTS_PER_MINUTE=str(ATTEMPTS),
    )
    try:
        yield system
    finally:
        try:
            system.stop()
        finally:
            location.drop()


async def test_a_customer_token_cannot_read_or_end_another_session(strict_system):
    async with httpx.AsyncClient(base_url=strict_system.gateway_url, timeout=30) as client:
        mine, theirs = await request_help(client), await request_help(client)
        attacker = bearer(mine.customer_token)
        for method, path in (("GET", ""), ("GET", "/consent-receipt"), ("GET", "/report"), ("POST", "/terminate")):
            response = await client.request(method, f"/api/v1/sessions/{theirs.session_id}{path}", headers=attacker)
            assert response.status_code == 403, (method, path, response.text)
            assert theirs.customer_token not in response.text
        # A customer token is no staff credential either: it cannot end a session as staff.
        ended = await client.post(f"/api/v1/sessions/{theirs.session_id}/end", headers=attacker)
        assert ended.status_code == 401
        victim = await client.get(f"/api/v1/sessions/{theirs.session_id}", headers=bearer(theirs.customer_token))
        assert victim.json()["status"] == "waiting"


async def test_a_staff_token_is_useless_after_logout_on_the_api_and_at_the_consultant_door(strict_system):
    async with httpx.AsyncClient(base_url=strict_system.gateway_url, timeout=30) as client:
        token = await login(client, STAFF["consultant"], PASSWORD)
        request = await request_help(client)
        assert (await client.post(f"/api/v1/sessions/{request.session_id}/claim", headers=bearer(token))).status_code == 200
        assert (await client.post("/api/v1/auth/logout", headers=bearer(token))).status_code == 204
        assert (await client.get("/api/v1/me", headers=bearer(token))).status_code == 401
        assert (await client.get("/api/v1/queue", headers=bearer(token))).status_code == 401
    async with httpx.AsyncClient(base_url=strict_system.gateway_url, cookies={"assist_token": token}) as browser:
        assert (await browser.get("/api/v1/me")).status_code == 401  # the UI's cookie is the same dead token
    url = f"{ws_url(strict_system.gateway_url)}/ws/v1/consultant/{request.session_id}"
    async with websockets.connect(url, additional_headers=bearer(token)) as ws:
        assert (await close_code(ws))[0] == 4401


async def test_a_staff_token_expires_by_itself(strict_system):
    async with httpx.AsyncClient(base_url=strict_system.gateway_url, timeout=30) as client:
        response = await client.post("/api/v1/auth/token", data={"username": STAFF["admin"], "password": PASSWORD})
        assert response.json()["expires_in"] == TOKEN_TTL
        token = response.json()["access_token"]
        assert (await client.get("/api/v1/me", headers=bearer(token))).status_code == 200
        deadline = time.monotonic() + TOKEN_TTL + 5
        while (await client.get("/api/v1/me", headers=bearer(token))).status_code == 200:
            assert time.monotonic() < deadline, "the token outlived its expires_in"
            await asyncio.sleep(0.2)  # polling until the token lapses
        assert (await client.get("/api/v1/audit", params={"session_id": "x"}, headers=bearer(token))).status_code == 401


async def test_password_guessing_is_throttled_even_for_the_right_password(strict_system):
    async with httpx.AsyncClient(base_url=strict_system.gateway_url, timeout=30) as client:
        statuses = [(await client.post("/api/v1/auth/token", data={"username": STAFF["finance"],
                                                                     "password": f"guess {i}"})).status_code
                    for i in range(ATTEMPTS + 3)]
        assert statuses[:ATTEMPTS] == [401] * ATTEMPTS and set(statuses[ATTEMPTS:]) == {429}, statuses
        blocked = await client.post("/api/v1/auth/token", data={"username": STAFF["finance"], "password": PASSWORD})
        assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) >= 1


async def test_session_code_guessing_is_throttled_even_for_the_right_code(strict_system):
    async with httpx.AsyncClient(base_url=strict_system.gateway_url, timeout=30) as client:
        request = await request_help(client)
    base = f"{ws_url(strict_system.gateway_url)}/ws/v1/agent?code="
    codes = []
    for guess in range(ATTEMPTS + 2):
        async with websockets.connect(f"{base}{guess:09d}") as ws:
            codes.append((await close_code(ws))[0])
    assert codes == [4403] * ATTEMPTS + [4429] * 2, codes
    agent = await connect_agent(strict_system.gateway_url, request.session_code)
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await next_control(agent, "attached")
    assert closed.value.rcvd.code == 4429
