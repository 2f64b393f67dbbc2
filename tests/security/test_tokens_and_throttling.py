"""Credentials: a customer token opens only its own session; staff tokens expire and die at logout; guessing
passwords, session codes and resume tokens is throttled (only failures count, per address and in total), while
valid codes and resumes are never refused. A system of its own with a short token life and low attempt limits.
"""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
import websockets
from identities import PASSWORD, STAFF, module_system
from public_api import bearer, close_code, connect_agent, connect_consultant, login, next_control, request_help, ws_url

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

TOKEN_TTL = 3
ATTEMPTS = 5
# Failed session-code attempts from all addresses together per minute. The code tests below each guess from an
# address of their own (loopback 127.0.0.x); the total test runs last and uses up what the others left.
TOTAL_FAILURES = 25


@pytest.fixture(scope="module")
def strict_system(tmp_path_factory):
    with module_system(
        tmp_path_factory, STAFF_TOKEN_TTL_SECONDS=str(TOKEN_TTL), LOGIN_ATTEMPTS_PER_MINUTE=str(ATTEMPTS),
        CODE_FAILURES_PER_MINUTE=str(ATTEMPTS), CODE_FAILURES_PER_MINUTE_TOTAL=str(TOTAL_FAILURES),
    ) as system:
        yield system


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


async def test_an_open_consultant_socket_closes_when_its_login_expires(strict_system):
    """T69: the socket lives no longer than the login that opened it (tests/security/test_logins_that_end.py
    has the logouts)."""
    gateway = strict_system.gateway_url
    async with httpx.AsyncClient(base_url=gateway, timeout=30,
                                 transport=httpx.AsyncHTTPTransport(local_address="127.0.0.9")) as client:
        request = await request_help(client)
        token = await login(client, STAFF["consultant"], PASSWORD)
        assert (await client.post(f"/api/v1/sessions/{request.session_id}/claim",
                                  headers=bearer(token))).status_code == 200
        # A login lasts TOKEN_TTL (3 s) here, which a loaded machine can spend before the socket is admitted:
        # she logs in again until one is.
        for _ in range(5):
            consultant = await connect_consultant(gateway, request.session_id,
                                                  await login(client, STAFF["consultant"], PASSWORD))
            try:
                await next_control(consultant, "attached")
                break
            except websockets.ConnectionClosed:
                continue
        else:
            pytest.fail("no consultant socket was admitted with a fresh login")
    assert await close_code(consultant, timeout=TOKEN_TTL + 15) == (4401, "your login has ended: log in again")


async def test_password_guessing_is_throttled_even_for_the_right_password(strict_system):
    async with httpx.AsyncClient(base_url=strict_system.gateway_url, timeout=30) as client:
        statuses = [(await client.post("/api/v1/auth/token", data={"username": STAFF["finance"],
                                                                     "password": f"guess {i}"})).status_code
                    for i in range(ATTEMPTS + 3)]
        assert statuses[:ATTEMPTS] == [401] * ATTEMPTS and set(statuses[ATTEMPTS:]) == {429}, statuses
        blocked = await client.post("/api/v1/auth/token", data={"username": STAFF["finance"], "password": PASSWORD})
        assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) >= 1


async def test_parallel_password_guesses_cannot_all_pass_before_the_first_failure_is_counted(strict_system):
    # A burst from an address of its own: the check of each password (argon2) is slow, so a throttle that counts a
    # failure only once it is known lets a whole burst through.
    async with httpx.AsyncClient(base_url=strict_system.gateway_url, timeout=60,
                                 transport=httpx.AsyncHTTPTransport(local_address="127.0.0.8")) as client:
        answers = await asyncio.gather(*(
            client.post("/api/v1/auth/token", data={"username": STAFF["finance"], "password": f"burst {i}"})
            for i in range(ATTEMPTS * 4)))
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [401] * ATTEMPTS + [429] * (ATTEMPTS * 3), statuses


async def _agent_from(gateway_url: str, query: str, address: str):
    """A raw agent socket opened from a loopback address of its own (one client address per test)."""
    return await websockets.connect(f"{ws_url(gateway_url)}/ws/v1/agent?{query}", max_size=None,
                                    local_addr=(address, 0))


async def _guesses(gateway_url: str, address: str, count: int) -> list[int | None]:
    """Close codes of `count` wrong session codes sent from `address`."""
    codes = []
    for guess in range(count):
        codes.append((await close_code(await _agent_from(gateway_url, f"code={guess:09d}", address)))[0])
    return codes


async def _claimed_requests(gateway_url: str, count: int) -> list:
    # The consultant logs in from an address of her own: the password guessing test locks 127.0.0.1 out. A token
    # of this system lasts TOKEN_TTL (3 s), less than a dozen requests and claims take on a loaded machine: she
    # logs in again for each claim.
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30,
                                 transport=httpx.AsyncHTTPTransport(local_address="127.0.0.4")) as client:
        requests = [await request_help(client) for _ in range(count)]
        for request in requests:
            token = await login(client, STAFF["consultant"], PASSWORD)
            claimed = await client.post(f"/api/v1/sessions/{request.session_id}/claim", headers=bearer(token))
            assert claimed.status_code == 200, claimed.text
    return requests


async def test_session_code_guessing_is_throttled_even_for_the_right_code(strict_system):
    async with httpx.AsyncClient(base_url=strict_system.gateway_url, timeout=30) as client:
        request = await request_help(client)
    codes = await _guesses(strict_system.gateway_url, "127.0.0.1", ATTEMPTS + 2)
    assert codes == [4403] * ATTEMPTS + [4429] * 2, codes
    # Past the failures the right code is refused too, before it is looked at: a guesser learns nothing.
    agent = await connect_agent(strict_system.gateway_url, request.session_code)
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await next_control(agent, "attached")
    assert closed.value.rcvd.code == 4429


async def test_twelve_valid_agents_behind_one_address_attach_while_its_failures_are_still_throttled(strict_system):
    address = "127.0.0.5"
    requests = await _claimed_requests(strict_system.gateway_url, 12)
    started = time.monotonic()
    for request in requests:  # one office NAT: a dozen customers within the minute, more than ATTEMPTS
        agent = await _agent_from(strict_system.gateway_url, f"code={request.session_code}", address)
        assert (await next_control(agent, "attached"))["session_id"] == request.session_id
        await agent.close()
    assert time.monotonic() - started < 60
    # The address's failures are still counted and throttled: valid attaches spent none of its budget.
    assert await _guesses(strict_system.gateway_url, address, ATTEMPTS + 1) == [4403] * ATTEMPTS + [4429]


async def test_an_agent_whose_network_flaps_resumes_as_often_as_it_must(strict_system):
    address = "127.0.0.6"
    request, = await _claimed_requests(strict_system.gateway_url, 1)
    agent = await _agent_from(strict_system.gateway_url, f"code={request.session_code}", address)
    resume_token = (await next_control(agent, "attached"))["resume_token"]
    await agent.close()
    started = time.monotonic()
    for _ in range(15):  # three times the failure budget, within a minute
        agent = await _agent_from(strict_system.gateway_url, f"session={request.session_id}&resume={resume_token}",
                                  address)
        attached = await next_control(agent, "attached")
        assert attached["session_id"] == request.session_id and attached["resumed"] is True
        await agent.close()
    assert time.monotonic() - started < 60
    # A wrong resume token is a failure like a wrong code.
    wrong = [(await close_code(await _agent_from(strict_system.gateway_url,
                                                 f"session={request.session_id}&resume=guess{i}", address)))[0]
             for i in range(ATTEMPTS + 1)]
    assert wrong == [4403] * ATTEMPTS + [4429], wrong


async def test_failed_guesses_spread_over_many_addresses_are_throttled_in_total(strict_system):
    """Runs last in this module: it uses up the total failure budget (what the tests above left of it)."""
    request, = await _claimed_requests(strict_system.gateway_url, 1)
    failures, addresses = 0, iter(f"127.0.1.{n}" for n in range(1, 50))
    while True:  # each address stays under its own budget; together they exhaust the total
        codes = await _guesses(strict_system.gateway_url, next(addresses), ATTEMPTS - 1)
        failures += codes.count(4403)
        assert set(codes) <= {4403, 4429} and failures <= TOTAL_FAILURES, codes
        if 4429 in codes:
            break
    # A fresh address, never refused before, is refused with the right code while the total is used up.
    fresh = await _agent_from(strict_system.gateway_url, f"code={request.session_code}", "127.0.2.1")
    assert (await close_code(fresh))[0] == 4429
