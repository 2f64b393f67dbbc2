"""The session's chat end to end (issue #17), across two replicas: the customer writes while waiting, the
consultant who claims reads it and answers, the agent (on another replica) gets every message as the gateway's
`chat` text frame and writes as the customer; the chat is kept after the end, closed to new messages, and read
only by whoever may read the session."""

from __future__ import annotations

import json

import httpx
import pytest
from public_api import bearer, login, next_control, request_help
from relay_flow import PASSWORD, open_relay

pytestmark = pytest.mark.e2e


async def chat_of(gateway: str, session_id: str, headers: dict, after: int = 0) -> httpx.Response:
    async with httpx.AsyncClient(base_url=gateway, timeout=10) as client:
        return await client.get(f"/api/v1/sessions/{session_id}/chat", params={"after": after}, headers=headers)


async def write(gateway: str, session_id: str, headers: dict, text: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=gateway, timeout=10) as client:
        return await client.post(f"/api/v1/sessions/{session_id}/chat/messages", headers=headers,
                                 json={"text": text})


async def test_customer_agent_and_consultant_chat_across_replicas_and_the_chat_outlives_the_session(start_system):
    system = start_system(gateways=2, shared=True)
    agent_gw, consultant_gw = system.gateway_urls
    async with httpx.AsyncClient(base_url=agent_gw, timeout=10) as client:
        waiting = await request_help(client)
    early = await write(agent_gw, waiting.session_id, bearer(waiting.customer_token), "Здравейте, чакам <b>тук</b>.")
    assert early.status_code == 201, early.text
    assert (early.json()["seq"], early.json()["role"]) == (1, "customer")

    request, agent, consultant, maria = await open_relay(system, agent_gateway=agent_gw,
                                                          consultant_gateway=consultant_gw)
    answer = await write(consultant_gw, request.session_id, bearer(maria), "Моля, изчакайте минута.")
    assert answer.status_code == 201, answer.text
    for side in (agent, consultant):  # each replica tells its own endpoints
        told = (await next_control(side, "chat"))["message"]
        assert (told["seq"], told["role"], told["author"], told["text"]) == (
            1, "consultant", "maria", "Моля, изчакайте минута.")
    await agent.send(json.dumps({"type": "chat", "text": "Добре, благодаря!"}, ensure_ascii=False))
    from_agent = (await next_control(consultant, "chat"))["message"]
    assert (from_agent["role"], from_agent["text"]) == ("customer", "Добре, благодаря!")
    assert from_agent["author"] == "Иван Петров"  # the customer's name from the request, not anything the agent says

    history = (await chat_of(agent_gw, request.session_id, bearer(request.customer_token))).json()["messages"]
    assert [(m["seq"], m["role"], m["text"]) for m in history] == [
        (1, "consultant", "Моля, изчакайте минута."), (2, "customer", "Добре, благодаря!")]
    async with httpx.AsyncClient(base_url=agent_gw, timeout=10) as customer:
        view = (await customer.get(f"/api/v1/sessions/{request.session_id}",
                                   headers=bearer(request.customer_token))).json()
    assert view["chat_seq"] == 2

    system.add_user("consultant", "olga", PASSWORD, check=False)
    system.add_user("supervisor", "sam", PASSWORD, check=False)
    async with httpx.AsyncClient(base_url=agent_gw, timeout=10) as client:
        olga, sam = await login(client, "olga", PASSWORD), await login(client, "sam", PASSWORD)
    assert (await chat_of(agent_gw, request.session_id, bearer(olga))).status_code == 403
    assert (await write(agent_gw, request.session_id, bearer(olga), "hi")).status_code == 403
    assert (await write(agent_gw, request.session_id, bearer(sam), "hi")).status_code == 403  # reads, never writes
    assert len((await chat_of(agent_gw, request.session_id, bearer(sam))).json()["messages"]) == 2

    async with httpx.AsyncClient(base_url=agent_gw, timeout=15) as customer:
        assert (await customer.post(f"/api/v1/sessions/{request.session_id}/terminate",
                                    headers=bearer(request.customer_token))).status_code == 200
    closed = await write(agent_gw, request.session_id, bearer(request.customer_token), "one more thing")
    assert closed.status_code == 409 and closed.json()["code"] == "session_ended"
    kept = (await chat_of(agent_gw, request.session_id, bearer(maria), after=1)).json()["messages"]
    assert [m["seq"] for m in kept] == [2]
    first = (await chat_of(agent_gw, waiting.session_id, bearer(waiting.customer_token))).json()["messages"]
    assert first[0]["text"] == "Здравейте, чакам <b>тук</b>."  # kept as typed; every page shows it as text
