"""A consultant's session socket lives no longer than the login that opened it (T69): a logout, from the API or
from the console's page in another tab, closes it (4401) on its own replica and on the others, while the session
itself goes on for the customer; another login of the same consultant keeps its own socket."""

from __future__ import annotations

import httpx
import pytest
from public_api import bearer, close_code, connect_consultant, login, next_control, wait_for_status
from relay_flow import PASSWORD, bytes_cross_both_ways, open_relay

pytestmark = pytest.mark.e2e


async def _socket_closed_for_the_login(relay) -> None:
    request, agent, consultant, _token = relay
    code, reason = await close_code(consultant)
    assert (code, reason) == (4401, "your login has ended: log in again")
    await next_control(agent, "peer_left")  # the agent is told the consultant left; the customer's session goes on


async def test_a_logout_closes_the_sockets_its_login_opened_on_every_replica_and_nothing_else(start_system):
    system = start_system(shared=True)
    here, there = system.gateway_urls[:2]
    by_page = await open_relay(system, agent_gateway=here, consultant_gateway=here)
    by_api = await open_relay(system, agent_gateway=here, consultant_gateway=there)
    untouched = await open_relay(system, agent_gateway=here, consultant_gateway=there)

    # The console's logout button in another tab: the cookie's login ends, and the socket it opened closes.
    async with httpx.AsyncClient(base_url=here, cookies={"assist_token": by_page[3]}) as page:
        assert (await page.post("/console/logout")).status_code == 303
    await _socket_closed_for_the_login(by_page)

    # The API's logout on one replica closes the socket that login holds on the other one.
    async with httpx.AsyncClient(base_url=here) as client:
        assert (await client.post("/api/v1/auth/logout", headers=bearer(by_api[3]))).status_code == 204
    await _socket_closed_for_the_login(by_api)

    async with httpx.AsyncClient(base_url=here) as client:
        for request, *_ in (by_page, by_api):
            await wait_for_status(client, request.session_id, bearer(request.customer_token), "active")
        # Logged in again, she opens the session again: the ended login refused, the new one admitted.
        token = await login(client, "maria", PASSWORD)
    request, agent, _consultant, _token = by_api
    for stale in (by_page[3], by_api[3]):
        refused = await connect_consultant(there, request.session_id, stale)
        assert (await close_code(refused))[0] == 4401
    again = await connect_consultant(there, request.session_id, token)
    await next_control(again, "attached")
    await next_control(agent, "peer_joined")  # what the agent sent while nobody was there went nowhere
    await bytes_cross_both_ways(agent, again)
    # Her other login's socket never stopped.
    await bytes_cross_both_ways(untouched[1], untouched[2])

