"""Step-up consent end to end (issue #16): a session that started with `view` alone, the consultant asks for
`control` with a reason, both sides are told, and only the customer's approval (page or agent) lets input pass,
on every replica; a refusal is final for its request and is shown to the consultant."""

from __future__ import annotations

import json

import httpx
import pytest
from public_api import bearer, customer_view_until, next_control
from relay_flow import next_binary, open_relay

pytestmark = pytest.mark.e2e

INPUT, SCREEN = 3, 2
REASON = "Да инсталирам драйвера на принтера"


async def ask(gateway: str, token: str, session_id: str, reason: str = REASON) -> httpx.Response:
    async with httpx.AsyncClient(base_url=gateway, timeout=10) as staff:
        return await staff.post(f"/api/v1/sessions/{session_id}/scope-requests", headers=bearer(token),
                                json={"scopes": ["control"], "reason": reason})


async def decide(gateway: str, request, request_id: str, approve: bool) -> httpx.Response:
    async with httpx.AsyncClient(base_url=gateway, timeout=10) as customer:
        return await customer.post(
            f"/api/v1/sessions/{request.session_id}/scope-requests/{request_id}/decision",
            headers=bearer(request.customer_token), json={"approve": approve})


async def input_is_refused(agent, consultant) -> None:
    """An input frame the consultant sends is dropped, and a screen-channel frame sent after it is the next frame
    the agent gets: nothing of the input reached it."""
    await consultant.send(bytes([INPUT]) + b"typed")
    await consultant.send(bytes([SCREEN]) + b"marker")
    assert await next_binary(agent) == bytes([SCREEN]) + b"marker"


async def test_view_steps_up_to_control_only_when_the_customer_approves(start_system):
    system = start_system(gateways=2, shared=True)
    agent_gw, consultant_gw = system.gateway_urls
    request, agent, consultant, token = await open_relay(system, agent_gateway=agent_gw,
                                                          consultant_gateway=consultant_gw, scopes=("view",))
    await input_is_refused(agent, consultant)

    asked = await ask(consultant_gw, token, request.session_id)
    assert asked.status_code == 201, asked.text
    pending = asked.json()
    assert pending["status"] == "pending" and pending["scopes"] == ["control"] and pending["requested_by"] == "maria"
    for side in (agent, consultant):  # both sides are told, on their own replicas
        told = await next_control(side, "scope_request")
        assert (told["request_id"], told["status"], told["reason"]) == (pending["request_id"], "pending", REASON)
    shown = await customer_view_until(agent_gw, request, lambda view: view.get("scope_request"))
    assert shown["scope_request"]["reason"] == REASON and shown["scopes"] == ["view"]
    again = await ask(consultant_gw, token, request.session_id, reason="please")
    assert again.status_code == 409 and again.json()["code"] == "scope_request_pending"
    await input_is_refused(agent, consultant)  # asking grants nothing

    approved = await decide(agent_gw, request, pending["request_id"], approve=True)
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved" and approved.json()["scopes_in_force"] == ["view", "control"]
    for side in (agent, consultant):
        assert (await next_control(side, "scopes"))["scopes"] == ["view", "control"]
    assert (await next_control(consultant, "scope_request"))["status"] == "approved"
    await consultant.send(bytes([INPUT]) + b"now typed")
    assert await next_binary(agent) == bytes([INPUT]) + b"now typed"
    view = await customer_view_until(agent_gw, request, lambda view: view["scopes"] == ["view", "control"])
    assert view["scope_request"]["status"] == "approved"
    twice = await decide(agent_gw, request, pending["request_id"], approve=False)
    assert twice.status_code == 409 and twice.json()["code"] == "scope_request_decided"
    async with httpx.AsyncClient(base_url=agent_gw, timeout=10) as customer:
        receipt = (await customer.get(f"/api/v1/sessions/{request.session_id}/consent-receipt",
                                      headers=bearer(request.customer_token))).json()
    assert receipt["scopes"] == ["view"] and receipt["scopes_in_force"] == ["view", "control"]
    assert [change["request_id"] for change in receipt["scope_changes"]] == [pending["request_id"]]
    await agent.close()
    await consultant.close()


async def test_a_refusal_at_the_agent_is_final_and_shown_to_the_consultant(start_system):
    system = start_system(gateways=1, shared=True)
    gateway = system.gateway_urls[0]
    request, agent, consultant, token = await open_relay(system, agent_gateway=gateway, consultant_gateway=gateway,
                                                          scopes=("view",))
    pending = (await ask(gateway, token, request.session_id)).json()
    await next_control(agent, "scope_request")
    await agent.send(json.dumps({"type": "scope_decision", "request_id": pending["request_id"], "approve": False}))
    refused = await next_control(consultant, "scope_request")
    while refused["status"] == "pending":
        refused = await next_control(consultant, "scope_request")
    assert (refused["request_id"], refused["status"]) == (pending["request_id"], "refused")
    await input_is_refused(agent, consultant)
    late = await decide(gateway, request, pending["request_id"], approve=True)
    assert late.status_code == 409 and late.json()["code"] == "scope_request_decided"
    view = await customer_view_until(gateway, request, lambda view: (view.get("scope_request") or {}).get("status")
                               == "refused")
    assert view["scopes"] == ["view"]
    await agent.close()
    await consultant.close()
