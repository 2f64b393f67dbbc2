"""One gateway cut off from NATS (a TCP proxy between them is cut): its relays fail closed within one lease, the
other gateway's relays carry on, a terminate through the healthy gateway answers, and the cut gateway recovers
by itself once the network is back.
"""

from __future__ import annotations

import asyncio
import time

import httpx
import nats
import pytest
from assist_platform.ports import free_port
from assist_platform.testing import eventually, ready
from proxy import ProxyThread
from public_api import (
    bearer, close_code, connect_agent, connect_consultant, frame_stamp, next_control, stamped_frame, wait_for_status,
)
from relay_flow import bytes_cross_both_ways, claimed_request, next_binary, open_relay
from stream import Outcome, assert_invariants

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

LEASE_SECONDS = 5.0


@pytest.fixture
def partitioned(stack_factory):
    nats_port = free_port()
    proxy = ProxyThread(nats_port).start()
    try:
        yield stack_factory(gateways=2, nats_port=nats_port, gateway_nats_urls={2: proxy.url}), proxy
    finally:
        proxy.stop()


async def _terminate(gateway: str, request) -> float:
    async with httpx.AsyncClient(base_url=gateway, timeout=30) as customer:
        started = time.monotonic()
        response = await customer.post(f"/api/v1/sessions/{request.session_id}/terminate",
                                        headers=bearer(request.customer_token))
        assert response.status_code == 200, response.text
        return time.monotonic() - started


async def _ready(url: str, timeout: float = 30.0) -> None:
    """Until the gateway at `url` is ready again (it reconnects to NATS by itself)."""
    await eventually(lambda: asyncio.to_thread(ready, url), timeout=timeout, what=f"{url} recovering")


async def test_a_gateway_cut_off_from_nats_fails_closed_and_recovers_by_itself(partitioned):
    stack, proxy = partitioned
    healthy, isolated = stack.gateway_urls
    cut_req, cut_agent, cut_consultant, _ = await open_relay(stack, agent_gateway=isolated, consultant_gateway=isolated)
    ok_req, ok_agent, ok_consultant, _ = await open_relay(stack, agent_gateway=healthy, consultant_gateway=healthy)

    await asyncio.to_thread(proxy.cut)
    cut_at = time.monotonic()
    codes = await asyncio.gather(close_code(cut_agent, timeout=LEASE_SECONDS + 3),
                                 close_code(cut_consultant, timeout=LEASE_SECONDS + 3))
    assert [code for code, _ in codes] == [4408, 4408], codes
    assert time.monotonic() - cut_at <= LEASE_SECONDS + 0.5, "the cut-off relay outlived its lease"

    # The healthy gateway's relay never noticed, and a terminate of either session answers there.
    await bytes_cross_both_ways(ok_agent, ok_consultant)
    assert await _terminate(healthy, cut_req) <= LEASE_SECONDS + 1
    await _terminate(healthy, ok_req)
    assert [(await close_code(ws, timeout=1))[0] for ws in (ok_agent, ok_consultant)] == [4410, 4410]

    # The network comes back: no manual step, the cut-off gateway serves relays again (across replicas, too).
    await asyncio.to_thread(proxy.start)
    await _ready(isolated)
    back_req, back_agent, back_consultant, _ = await open_relay(stack, agent_gateway=isolated,
                                                                consultant_gateway=healthy)
    await _terminate(isolated, back_req)
    assert [(await close_code(ws, timeout=1))[0] for ws in (back_agent, back_consultant)] == [4410, 4410]

    outcomes = [Outcome(cut_req.session_id, relayed=True), Outcome(ok_req.session_id, relayed=True),
                Outcome(back_req.session_id, relayed=True)]
    await assert_invariants(stack.nats.url, outcomes)
    stack.all_alive()


async def test_a_consultant_whose_replica_missed_the_agents_arrival_still_joins_it(partitioned):
    """The bridge is core NATS: the home's `up` (and a join or its reply) can be lost while a replica is away from
    NATS. The consultant's replica keeps asking the home until it answers, so the pair meets anyway."""
    stack, proxy = partitioned
    home, isolated = stack.gateway_urls
    request, token = await claimed_request(home)
    consultant = await connect_consultant(isolated, request.session_id, token)
    await next_control(consultant, "waiting_for_agent")

    observer = await nats.connect(stack.nats.url)
    try:
        announced = asyncio.get_running_loop().create_future()

        async def on_home(msg) -> None:
            if not announced.done():
                announced.set_result(msg.data)

        await observer.subscribe(f"relay.{request.session_id}.home", cb=on_home)
        await observer.flush()
        await asyncio.to_thread(proxy.cut)
        agent = await connect_agent(home, request.session_code)
        await next_control(agent, "attached")
        assert await asyncio.wait_for(announced, 10) == b"up"  # published while the consultant's replica was away
    finally:
        await observer.close()
    await asyncio.to_thread(proxy.start)

    await _meet_then_end(stack, home, request, agent, consultant)


async def _meet_then_end(stack, gateway: str, request, agent, consultant) -> None:
    """The two sides meet (each hears `peer_joined`), the session goes active, bytes cross, the end cuts both."""
    await next_control(consultant, "peer_joined", timeout=15)
    await next_control(agent, "peer_joined", timeout=5)
    async with httpx.AsyncClient(base_url=gateway, timeout=10) as customer:
        await wait_for_status(customer, request.session_id, bearer(request.customer_token), "active")
    await bytes_cross_both_ways(agent, consultant)
    await _terminate(gateway, request)
    assert [(await close_code(ws, timeout=5))[0] for ws in (agent, consultant)] == [4410, 4410]
    await assert_invariants(stack.nats.url, [Outcome(request.session_id, relayed=True)])


async def _not_ready(url: str, timeout: float = 10.0) -> None:
    """Until the gateway at `url` has noticed that NATS went away (it answers /readyz with 503)."""
    async def noticed() -> bool:
        return not await asyncio.to_thread(ready, url)

    await eventually(noticed, timeout=timeout, what=f"{url} noticing that NATS went away")


async def test_a_frame_sent_while_the_gateway_reconnects_to_nats_neither_drops_the_socket_nor_is_lost(partitioned):
    """A consultant typing while their gateway's NATS connection blinks: the frame waits in the client's reconnect
    buffer and crosses once NATS is back; the socket stays open (it used to be dropped without a close frame)."""
    stack, proxy = partitioned
    home, isolated = stack.gateway_urls
    request, agent, consultant, _ = await open_relay(stack, agent_gateway=home, consultant_gateway=isolated)

    await asyncio.to_thread(proxy.cut)
    await _not_ready(isolated)
    typed = b"typed while NATS was away"
    await consultant.send(typed)
    await asyncio.to_thread(proxy.start)
    await _ready(isolated)

    assert await next_binary(agent, timeout=5) == typed
    await bytes_cross_both_ways(agent, consultant)
    await _terminate(home, request)
    assert [(await close_code(ws, timeout=5))[0] for ws in (agent, consultant)] == [4410, 4410]
    await assert_invariants(stack.nats.url, [Outcome(request.session_id, relayed=True)])


async def test_an_agent_told_attached_as_its_gateway_loses_nats_stays_attached_and_is_joined(partitioned):
    """The gateway tells the agent `attached`, then subscribes the relay on the bridge. NATS going away in between
    used to close the agent's socket with 1013 right after `attached` and leave the relay holding it, so the
    consultant waited for it forever (a CI failure of the scale-out test). Now the subscription waits out the
    blink in the NATS client, as a frame does."""
    stack, proxy = partitioned
    healthy, isolated = stack.gateway_urls
    request, token = await claimed_request(healthy)

    # The consent lease's answer, the agent's last NATS reply before attaching: `"lease_id"` is in it alone (the
    # periodic renewals' answers carry `"ttl_seconds"` too, and one of them could cut NATS before the lease).
    proxy.cut_after(b'"lease_id"')
    agent = await connect_agent(isolated, request.session_code)
    await next_control(agent, "attached")
    await eventually(proxy.is_cut, what="the proxy seeing the lease's answer")
    await asyncio.to_thread(proxy.start)

    consultant = await connect_consultant(healthy, request.session_id, token)
    await _meet_then_end(stack, healthy, request, agent, consultant)



async def test_control_taken_back_while_the_relays_gateway_is_cut_off_holds_within_one_lease(partitioned):
    """#16, "leases per scope": the replica that carries the relay never hears the withdrawal (NATS is cut), so the
    consent service answers only once that replica's leases have run out; by the 200 it has stopped forwarding, and
    no input frame the consultant sends after it reaches the agent."""
    stack, proxy = partitioned
    healthy, isolated = stack.gateway_urls
    request, agent, consultant, _ = await open_relay(stack, agent_gateway=isolated, consultant_gateway=isolated)
    received: list[tuple[int, int]] = []

    async def consultant_types() -> None:
        seq = 0
        while True:
            try:
                await consultant.send(bytes([3]) + stamped_frame(seq, size=64))
            except Exception:
                return  # the socket was closed under it
            seq += 1
            await asyncio.sleep(0.002)

    async def agent_collects() -> int | None:
        try:
            while True:
                message = await agent.recv()
                if isinstance(message, bytes) and message[0] == 3:
                    received.append(frame_stamp(message[1:]))
        except Exception as closed:
            rcvd = getattr(closed, "rcvd", None)
            return rcvd.code if rcvd else None

    typing = asyncio.create_task(consultant_types())
    collecting = asyncio.create_task(agent_collects())
    await eventually(lambda: len(received) > 10, what="input flowing before the cut")
    await asyncio.to_thread(proxy.cut)
    async with httpx.AsyncClient(base_url=healthy, timeout=30) as customer:
        started = time.monotonic()
        response = await customer.delete(f"/api/v1/sessions/{request.session_id}/scopes/control",
                                         headers=bearer(request.customer_token))
        took = time.monotonic() - started
    answered_ns = time.time_ns()
    assert response.status_code == 200, response.text
    assert response.json()["scopes"] == ["view"]
    assert took <= LEASE_SECONDS + 2, f"the withdrawal took {took:.1f} s"
    assert await asyncio.wait_for(collecting, LEASE_SECONDS + 3) == 4408  # the cut-off relay lapsed
    typing.cancel()
    await asyncio.gather(typing, return_exceptions=True)
    late = [seq for sent_ns, seq in received if sent_ns > answered_ns]
    assert late == [], f"{len(late)} input frames sent after the 200 reached the agent"
    await asyncio.to_thread(proxy.start)
    await _ready(isolated)
    stack.all_alive()
