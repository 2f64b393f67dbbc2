"""Step-up consent under attack (issue #16), as a consultant who wants more than the customer allowed: he cannot
answer his own request (not over the API, not in a text frame, not by forging the gateway's notices to the agent),
cannot ask for another consultant's session or in someone else's name, and another session's customer or agent
cannot answer for this one. Each attempt leaves the request pending and input refused."""

from __future__ import annotations

import json

import httpx
import pytest
from identities import STAFF
from public_api import bearer, login, next_control, request_help
from relay_flow import PASSWORD, next_binary, open_relay

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

INPUT, SCREEN = 3, 2


async def _pending_request(system, gateway: str):
    request, agent, consultant, token = await open_relay(system, agent_gateway=gateway, consultant_gateway=gateway,
                                                          scopes=("view",))
    async with httpx.AsyncClient(base_url=gateway, timeout=10) as staff:
        asked = await staff.post(f"/api/v1/sessions/{request.session_id}/scope-requests", headers=bearer(token),
                                 json={"scopes": ["control"], "reason": "let me in",
                                       "requested_by": "the customer's bank"})  # not a field: the login names him
    assert asked.status_code == 201, asked.text
    assert asked.json()["requested_by"] == "maria"
    await next_control(agent, "scope_request")
    await next_control(consultant, "scope_request")
    return request, agent, consultant, token, asked.json()


async def _still_pending_and_view_only(gateway: str, request, agent, consultant) -> None:
    async with httpx.AsyncClient(base_url=gateway, timeout=10) as customer:
        view = (await customer.get(f"/api/v1/sessions/{request.session_id}",
                                   headers=bearer(request.customer_token))).json()
    assert view["scopes"] == ["view"]
    assert (view.get("scope_request") or {}).get("status") in (None, "pending")
    await consultant.send(bytes([INPUT]) + b"rm -rf ~")
    await consultant.send(bytes([SCREEN]) + b"marker")
    assert await next_binary(agent) == bytes([SCREEN]) + b"marker"  # the input never came


async def test_a_consultant_cannot_answer_his_own_request(system):
    gateway = system.gateway_url
    request, agent, consultant, token, asked = await _pending_request(system, gateway)
    decision = f"/api/v1/sessions/{request.session_id}/scope-requests/{asked['request_id']}/decision"
    async with httpx.AsyncClient(base_url=gateway, timeout=10) as staff:
        over_the_api = await staff.post(decision, headers=bearer(token), json={"approve": True})
        assert over_the_api.status_code == 403
        cookie_less_forgery = await staff.post(decision, headers={"X-Customer-Token": token}, json={"approve": True})
        assert cookie_less_forgery.status_code == 401
    # In a text frame, as the agent would answer, and as the gateway's own approved notice and scopes message:
    # text frames are the gateway's alone, so none of it is read or reaches the agent.
    for forged in ({"type": "scope_decision", "request_id": asked["request_id"], "approve": True},
                   {"type": "scope_request", **asked, "status": "approved"},
                   {"type": "scopes", "scopes": ["view", "control"]}):
        await consultant.send(json.dumps(forged))
    await agent.send(bytes([SCREEN]) + b"tile")
    assert await next_binary(consultant) == bytes([SCREEN]) + b"tile"
    await _still_pending_and_view_only(gateway, request, agent, consultant)
    await agent.close()
    await consultant.close()


async def test_another_session_s_customer_or_agent_cannot_answer_for_this_one(system):
    gateway = system.gateway_url
    request, agent, consultant, _token, asked = await _pending_request(system, gateway)
    other, other_agent, other_consultant, _other_token = await open_relay(
        system, agent_gateway=gateway, consultant_gateway=gateway, scopes=("view",))
    async with httpx.AsyncClient(base_url=gateway, timeout=10) as stranger:
        # The other customer's token on this session's request, and on their own session with this request's id.
        here = await stranger.post(
            f"/api/v1/sessions/{request.session_id}/scope-requests/{asked['request_id']}/decision",
            headers=bearer(other.customer_token), json={"approve": True})
        assert here.status_code == 403
        crossed = await stranger.post(
            f"/api/v1/sessions/{other.session_id}/scope-requests/{asked['request_id']}/decision",
            headers=bearer(other.customer_token), json={"approve": True})
        assert crossed.status_code == 404 and crossed.json()["code"] == "scope_request_not_found"
        lax = await stranger.post(
            f"/api/v1/sessions/{request.session_id}/scope-requests/{asked['request_id']}/decision",
            headers=bearer(request.customer_token), json={"approve": "yes"})
        assert lax.status_code == 422  # only the JSON boolean true approves
    # The other session's agent answers this session's request: the consent service finds no such request there.
    await other_agent.send(json.dumps({"type": "scope_decision", "request_id": asked["request_id"], "approve": True}))
    await other_agent.send(bytes([SCREEN]) + b"other")
    assert await next_binary(other_consultant) == bytes([SCREEN]) + b"other"
    await _still_pending_and_view_only(gateway, request, agent, consultant)
    for ws in (agent, consultant, other_agent, other_consultant):
        await ws.close()


async def test_only_the_assigned_consultant_asks_and_never_for_an_ended_session(system):
    gateway = system.gateway_url
    request, agent, consultant, _token = await open_relay(system, agent_gateway=gateway,
                                                           consultant_gateway=gateway, scopes=("view",))
    path = f"/api/v1/sessions/{request.session_id}/scope-requests"
    body = {"scopes": ["control"], "reason": "let me in"}
    async with httpx.AsyncClient(base_url=gateway, timeout=10) as client:
        for username in (STAFF["other_consultant"], STAFF["supervisor"], STAFF["admin"]):
            answer = await client.post(path, headers=bearer(await login(client, username, PASSWORD)), json=body)
            assert answer.status_code == 403, (username, answer.text)
        assert (await client.post(path, headers=bearer(request.customer_token), json=body)).status_code == 401
        ended = await client.post(f"/api/v1/sessions/{request.session_id}/terminate",
                                  headers=bearer(request.customer_token))
        assert ended.status_code == 200
        maria = await login(client, "maria", PASSWORD)
        late = await client.post(path, headers=bearer(maria), json=body)
        assert late.status_code == 409 and late.json()["code"] == "consent_not_in_force"
        fresh = await request_help(client, scopes=("view",))
        unclaimed = await client.post(f"/api/v1/sessions/{fresh.session_id}/scope-requests",
                                      headers=bearer(maria), json=body)
        assert unclaimed.status_code == 403  # not hers until she claims it
