"""The first bytes are never lost (CONTRACT §3, issue #13): a frame sent before the other side has joined is held,
its sender not read further, and delivered in order once the relay is active.

Each side sends its first frames the moment it hears `attached`: the side that comes first sends before the other
has joined, the side that comes second before the session is active. 200 sessions on one replica and 200 across
two (the agent on one replica, the consultant on the other), ten in flight at a time, on one system started for the
module. The hold ends at once when the sender hangs up or ends the session: an agent's `end_session` queued behind
a held frame still ends it, and a held frame of an agent that hung up is never delivered.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
import websockets
from assist_platform.testing import eventually
from public_api import (
    bearer, close_code, connect_agent, connect_consultant, login, next_control, request_help, wait_for_status,
    ws_url,
)
from relay_flow import PASSWORD, next_binary
from system import own_system

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

ROUNDS = 200
# Sessions in flight at once: each round's order is its own session's, and a replica holding several sessions'
# first frames at a time is what a busy gateway does (and ten at a time takes a fifth of the time of one by one).
ROUNDS_AT_ONCE = 10
REPLICAS = pytest.mark.parametrize("across", [False, True], ids=["one replica", "two replicas"])


@pytest.fixture(scope="module")
def two_replicas(tmp_path_factory):
    """One system with two gateway replicas for the module's hundreds of sessions."""
    with own_system(tmp_path_factory.mktemp("first-frames"), gateways=2, users=[("consultant", "maria", PASSWORD)],
                    HELP_REQUESTS_PER_ADDRESS="100000") as system:
        yield system


class _Rounds:
    """One customer client on the agent's replica and one logged-in consultant on theirs, for many sessions."""

    def __init__(self, system, *, across: bool) -> None:
        self.agent_gw = system.gateway_urls[0]
        self.consultant_gw = system.gateway_urls[1 if across else 0]
        self.customer = httpx.AsyncClient(base_url=self.agent_gw, timeout=30)
        self.staff = httpx.AsyncClient(base_url=self.consultant_gw, timeout=30)
        self.token = ""

    async def __aenter__(self):
        self.token = await login(self.staff, "maria", PASSWORD)
        return self

    async def __aexit__(self, *_exc) -> None:
        await self.customer.aclose()
        await self.staff.aclose()

    async def claimed(self):
        request = await request_help(self.customer)
        claimed = await self.staff.post(f"/api/v1/sessions/{request.session_id}/claim", headers=bearer(self.token))
        assert claimed.status_code == 200, claimed.text
        return request

    async def end(self, request, *sockets) -> None:
        ended = await self.customer.post(f"/api/v1/sessions/{request.session_id}/terminate",
                                         headers=bearer(request.customer_token))
        assert ended.status_code == 200, ended.text
        await asyncio.gather(*(ws.close() for ws in sockets))


async def _attached_and_sending(connect, frames: list[bytes]):
    """Open a socket and send `frames` the moment `attached` arrives, without waiting for anyone."""
    ws = await connect()
    await next_control(ws, "attached")
    for frame in frames:
        await ws.send(frame)
    return ws


async def _received(ws, count: int) -> list[bytes]:
    """Up to `count` binary frames, as many as arrive within 10 s each."""
    received = []
    try:
        for _ in range(count):
            received.append(await next_binary(ws, timeout=10))
    except TimeoutError:
        pass
    return received


@REPLICAS
async def test_the_first_frames_of_either_side_arrive_in_order_every_time(two_replicas, across):
    async with _Rounds(two_replicas, across=across) as rounds:
        at_once = asyncio.Semaphore(ROUNDS_AT_ONCE)

        async def one_round(n: int) -> None:
            async with at_once:
                request = await rounds.claimed()
                # channel 0 (control) and 2 (screen) from the agent, 0 and 1 (keystrokes) from the console
                from_agent = [b"\x00agent %d first" % n, b"\x02agent %d second" % n]
                from_console = [b"\x00console %d first" % n, b"\x01console %d second" % n]
                open_agent = lambda: _attached_and_sending(  # noqa: E731
                    lambda: connect_agent(rounds.agent_gw, request.session_code), from_agent)
                open_console = lambda: _attached_and_sending(  # noqa: E731
                    lambda: connect_consultant(rounds.consultant_gw, request.session_id, rounds.token), from_console)
                agent_first = n % 2 == 0
                if agent_first:
                    agent = await open_agent()
                    consultant = await open_console()
                else:
                    consultant = await open_console()
                    agent = await open_agent()
                got_console, got_agent = await asyncio.gather(_received(consultant, 2), _received(agent, 2))
                who = "agent" if agent_first else "consultant"
                assert got_console == from_agent, f"round {n} ({who} first): the console got {got_console}"
                assert got_agent == from_console, f"round {n} ({who} first): the agent got {got_agent}"
                await rounds.end(request, agent, consultant)

        await asyncio.gather(*(one_round(n) for n in range(ROUNDS)))


@REPLICAS
async def test_an_end_session_behind_a_held_frame_still_ends_the_session(two_replicas, across):
    """The customer presses Q before any consultant is there: the agent's `bye` is held, and the `end_session`
    behind it must still end the session for the customer, not wait for a consultant who may never come."""
    async with _Rounds(two_replicas, across=across) as rounds:
        request = await rounds.claimed()
        consultant = await connect_consultant(rounds.consultant_gw, request.session_id, rounds.token)
        await next_control(consultant, "waiting_for_agent" if across else "attached")
        await consultant.close()  # the consultant came and went: the agent waits alone
        agent = await _attached_and_sending(lambda: connect_agent(rounds.agent_gw, request.session_code),
                                            [b'\x00{"type": "bye"}'])
        await agent.send('{"type": "end_session"}')
        code, reason = await close_code(agent)
        assert code == 4410 and "customer" in reason, (code, reason)
        ended = await wait_for_status(rounds.customer, request.session_id, bearer(request.customer_token), "ended")
        assert ended["ended_by"] == "customer"


@REPLICAS
async def test_a_held_frame_of_an_agent_that_hung_up_is_never_delivered(two_replicas, across):
    """The hold ends when its sender's socket closes: the agent is gone at once (the consultant who comes next is
    told to wait for it), and the frame it left behind goes nowhere, not to the consultant and not to its successor."""
    async with _Rounds(two_replicas, across=across) as rounds:
        request = await rounds.claimed()
        gone = await connect_agent(rounds.agent_gw, request.session_code)
        resume_token = (await next_control(gone, "attached"))["resume_token"]
        await gone.send(b"\x00from a socket that hung up")
        await gone.close()
        # The close handshake can end before the relay has let the socket go; the session says the agent is away
        # once it has (the relay reports the drop). A consultant who came earlier would still meet that agent.
        await eventually(lambda: _agent_is(rounds.customer, request, "away"), what="the agent to be away")
        consultant = await connect_consultant(rounds.consultant_gw, request.session_id, rounds.token)
        await next_control(consultant, "waiting_for_agent")
        await consultant.send(b"\x00console first")
        # The customer's agent comes back (its session's resume token): the relay opens with it alone.
        resumed = await websockets.connect(
            f"{ws_url(rounds.agent_gw)}/ws/v1/agent?session={request.session_id}&resume={resume_token}", max_size=None)
        await next_control(resumed, "peer_joined")
        await resumed.send(b"\x00from the agent that came back")
        assert await next_binary(resumed) == b"\x00console first"
        assert await next_binary(consultant) == b"\x00from the agent that came back"
        await wait_for_status(rounds.customer, request.session_id, bearer(request.customer_token), "active")
        await rounds.end(request, resumed, consultant)


async def _agent_is(customer: httpx.AsyncClient, request, presence: str) -> bool:
    view = await customer.get(f"/api/v1/sessions/{request.session_id}", headers=bearer(request.customer_token))
    return view.json().get("agent") == presence

