"""The customer's browser share (issue #18) end to end through the public interfaces, the page's socket played by a
client that speaks as the page does: with nothing installed the session starts when the share meets its consultant,
every frame passes the gateway, and a terminate or a withdrawn `view` cuts it exactly as it cuts the agent: no
frame sent after the 200 reaches the consultant, on one replica or across two, and both sockets close with 4410.
The page itself, in chromium, is tests/test_ui_share.py."""

from __future__ import annotations

import time

import httpx
import pytest
from assist_platform.testing import eventually
from public_api import bearer, close_code, connect_consultant, next_control, stamped_stream, wait_for_status
from relay_flow import PASSWORD, next_binary
from share_flow import (
    BROWSER_SCREEN, consultant_waiting, connect_share, frame_begin, sharing, stamped_tile, tile_stamp,
)

pytestmark = pytest.mark.e2e

REPLICAS = pytest.mark.parametrize("across", [False, True], ids=["one-replica", "two-replicas"])


def _gateways(system, across: bool) -> tuple[str, str]:
    """(the share's gateway, the consultant's)."""
    first, second = system.gateway_urls
    return first, (second if across else first)


async def _ending_while_the_share_streams(share, consultant, end) -> None:
    """The share keeps sending stamped tiles; `end()` answers 200; none stamped after it reaches the consultant."""
    async with stamped_stream(share, consultant, stamped=stamped_tile, stamp=tile_stamp) as stream:

        async def flowing():
            return len(stream.received) > 10 or None

        await eventually(flowing, what="the share's frames to reach the consultant before the ending")
        answered_ns = await end()
    consultant_code, consultant_reason = stream.consultant_closed
    share_code, share_reason = stream.sender_closed
    late = stream.sent_after(answered_ns)
    assert late == [], f"frames sent after the 200 reached the consultant: {late[:10]}"
    assert consultant_code == 4410 and "customer" in consultant_reason
    assert share_code == 4410 and "customer" in share_reason


@REPLICAS
@pytest.mark.parametrize("ending", ["terminate", "view withdrawn"])
async def test_an_ending_cuts_the_share_as_it_cuts_the_agent(start_system, across, ending):
    system = start_system(gateways=2, shared=True)
    system.add_user("consultant", "maria", PASSWORD, check=False)
    share_gw, consultant_gw = _gateways(system, across)
    scene = await consultant_waiting(share_gw, consultant_gateway=consultant_gw)
    share = await sharing(share_gw, scene)
    request = scene.request

    async def end() -> int:
        async with httpx.AsyncClient(base_url=share_gw, timeout=15) as customer:
            if ending == "terminate":
                response = await customer.post(f"/api/v1/sessions/{request.session_id}/terminate",
                                               headers=bearer(request.customer_token))
            else:
                response = await customer.delete(f"/api/v1/sessions/{request.session_id}/scopes/view",
                                                 headers=bearer(request.customer_token))
            answered_ns = time.time_ns()
        assert response.status_code == 200, response.text
        return answered_ns

    await _ending_while_the_share_streams(share, scene.consultant, end)
    async with httpx.AsyncClient(base_url=share_gw, timeout=15) as customer:
        ended = await wait_for_status(customer, request.session_id, bearer(request.customer_token), "ended")
    assert ended["ended_by"] == "customer" and ended["started_at"]  # it ran: the share started it (billed)
    code, _reason = await close_code(await connect_share(share_gw, request.session_id, request.customer_token))
    assert code == 4410


@REPLICAS
async def test_nothing_installed_the_share_starts_the_session_and_its_stop_tells_the_consultant(start_system, across):
    system = start_system(gateways=2, shared=True)
    system.add_user("consultant", "maria", PASSWORD, check=False)
    share_gw, consultant_gw = _gateways(system, across)
    scene = await consultant_waiting(share_gw, consultant_gateway=consultant_gw)
    async with httpx.AsyncClient(base_url=share_gw, timeout=15) as customer:
        before = (await customer.get(f"/api/v1/sessions/{scene.request.session_id}",
                                     headers=bearer(scene.request.customer_token))).json()
    assert before["status"] == "assigned"  # no agent: nothing would ever start it
    share = await sharing(share_gw, scene)
    await share.send(frame_begin(1, 640, 360))  # sent at once: held until the session is active, never dropped
    assert await next_binary(scene.consultant) == bytes([BROWSER_SCREEN]) + frame_begin(1, 640, 360)[1:]
    async with httpx.AsyncClient(base_url=share_gw, timeout=15) as customer:
        await wait_for_status(customer, scene.request.session_id, bearer(scene.request.customer_token), "active")
    # The consultant reloads: the share hears it left and came back, and sends a whole picture again.
    await scene.consultant.close()
    await next_control(share, "peer_left")
    scene.consultant = await connect_consultant(consultant_gw, scene.request.session_id, scene.token)
    assert (await next_control(scene.consultant, "share"))["active"] is True
    await next_control(share, "peer_joined")
    await share.send(frame_begin(2, 640, 360))
    assert await next_binary(scene.consultant) == bytes([BROWSER_SCREEN]) + frame_begin(2, 640, 360)[1:]
    # The browser's own Stop (or a closed tab) closes the socket: the consultant is told at once.
    await share.close()
    assert (await next_control(scene.consultant, "share"))["active"] is False
    await scene.consultant.close()
