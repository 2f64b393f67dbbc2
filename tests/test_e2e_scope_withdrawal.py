"""The customer takes `control` back while the consultant types (issue #16): once the answer is 200 no keystroke or
input frame passes on any replica, both sides are told, the screen goes on, and the session's view says so; taking
`view` back leaves no access, so it ends the session like a terminate."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest
from public_api import bearer, close_code, frame_stamp, next_control, stamped_frame, wait_for_status
from relay_flow import next_binary, open_relay

pytestmark = pytest.mark.e2e

INPUT, SCREEN = 3, 2


async def _withdraw_while_the_consultant_types(request, agent, consultant, gateway: str) -> httpx.Response:
    """The consultant sends stamped input frames all along; none stamped after the 200 may reach the agent. The
    gateway's text frames the agent receives meanwhile are kept in `agent.texts`."""
    received: list[tuple[int, int]] = []
    agent.texts = []
    stop = asyncio.Event()

    async def consultant_types() -> None:
        seq = 0
        while not stop.is_set():
            await consultant.send(bytes([INPUT]) + stamped_frame(seq, size=64))
            seq += 1
            await asyncio.sleep(0.002)

    async def agent_collects() -> None:
        while True:
            message = await agent.recv()
            if isinstance(message, str):
                agent.texts.append(json.loads(message))
            elif message[0] == INPUT:
                received.append(frame_stamp(message[1:]))

    typing = asyncio.create_task(consultant_types())
    collecting = asyncio.create_task(agent_collects())
    await asyncio.sleep(0.3)  # input really flows before the withdrawal
    before = len(received)
    async with httpx.AsyncClient(base_url=gateway, timeout=15) as customer:
        response = await customer.delete(f"/api/v1/sessions/{request.session_id}/scopes/control",
                                         headers=bearer(request.customer_token))
    answered_ns = time.time_ns()
    await asyncio.sleep(0.5)  # typing goes on after the answer: the gateway must drop all of it
    stop.set()
    await typing
    collecting.cancel()
    await asyncio.gather(collecting, return_exceptions=True)
    assert before > 10, "the consultant's input did not reach the agent before the withdrawal"
    late = [seq for sent_ns, seq in received if sent_ns > answered_ns]
    assert late == [], f"{len(late)} input frames sent after the 200 reached the agent"
    return response


@pytest.mark.parametrize("withdraw_on", [0, 1], ids=["on-the-agent-replica", "on-the-consultant-replica"])
async def test_control_taken_back_stops_input_on_every_replica_and_the_session_goes_on(start_system, withdraw_on):
    system = start_system(gateways=2, shared=True)
    agent_gw, consultant_gw = system.gateway_urls
    request, agent, consultant, _token = await open_relay(system, agent_gateway=agent_gw,
                                                           consultant_gateway=consultant_gw)
    response = await _withdraw_while_the_consultant_types(request, agent, consultant,
                                                          system.gateway_urls[withdraw_on])
    assert response.status_code == 200, response.text
    assert response.json() == {"session_id": request.session_id, "scopes": ["view"], "ended": False}
    # Both sides are told what the consent allows now (the agent narrows its own gate with it).
    told = [text for text in agent.texts if text.get("type") == "scopes"] or [await next_control(agent, "scopes")]
    assert [text["scopes"] for text in told] == [["view"]]
    assert (await next_control(consultant, "scopes"))["scopes"] == ["view"]
    # The screen goes on, and a frame the consultant sends on a channel that needs no control still passes,
    # behind the refused input: nothing of the input came first.
    await agent.send(bytes([SCREEN]) + b"tile")
    assert await next_binary(consultant) == bytes([SCREEN]) + b"tile"
    await consultant.send(bytes([INPUT]) + b"refused")
    await consultant.send(bytes([SCREEN]) + b"after")
    assert await next_binary(agent) == bytes([SCREEN]) + b"after"
    async with httpx.AsyncClient(base_url=agent_gw, timeout=10) as customer:
        session = await wait_for_status(customer, request.session_id, bearer(request.customer_token), "active")
        for _ in range(50):
            if session["scopes"] == ["view"]:
                break
            await asyncio.sleep(0.1)
            session = (await customer.get(f"/api/v1/sessions/{request.session_id}",
                                          headers=bearer(request.customer_token))).json()
        assert session["scopes"] == ["view"], session
        again = await customer.delete(f"/api/v1/sessions/{request.session_id}/scopes/control",
                                      headers=bearer(request.customer_token))
        assert again.status_code == 200 and again.json()["scopes"] == ["view"]
    await agent.close()
    await consultant.close()


async def test_taking_view_back_ends_the_session_as_a_terminate_does(start_system):
    system = start_system(gateways=1, shared=True)
    gateway = system.gateway_urls[0]
    request, agent, consultant, _token = await open_relay(system, agent_gateway=gateway, consultant_gateway=gateway)
    async with httpx.AsyncClient(base_url=gateway, timeout=15) as customer:
        response = await customer.delete(f"/api/v1/sessions/{request.session_id}/scopes/view",
                                         headers=bearer(request.customer_token))
        assert response.status_code == 200, response.text
        assert response.json() == {"session_id": request.session_id, "scopes": [], "ended": True}
        assert (await close_code(consultant))[0] == 4410
        assert (await close_code(agent))[0] == 4410
        ended = await wait_for_status(customer, request.session_id, bearer(request.customer_token), "ended")
        assert ended["ended_by"] == "customer"
        after = await customer.delete(f"/api/v1/sessions/{request.session_id}/scopes/control",
                                      headers=bearer(request.customer_token))
        assert after.status_code == 409, after.text
