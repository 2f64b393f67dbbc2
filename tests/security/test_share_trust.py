"""The customer's browser share under attack (issue #18): only this session's customer token, sent in the first text
frame from the gateway's own page, opens `/ws/v1/share/{id}`, and only while the session's consultant is there; a
share sends screen updates and nothing else (input, keystrokes, control, clipboard, files and text are refused,
never forwarded); nothing ever reaches a share but the gateway's own text, whatever the consultant sends; the
consultant gets the share's picture on channel 6, apart from the agent's channel 2; observers get none of it."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import websockets
from identities import PASSWORD, STAFF
from public_api import bearer, close_code, connect_observer, login, next_control, request_help
from relay_flow import next_binary, open_relay
from share_flow import (
    BROWSER_SCREEN, consultant_waiting, connect_share, frame_begin, frame_end, sharing, tile,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]


async def _answer(ws) -> tuple[int, str]:
    """1000 and "" when the share was let in (`attached`), else the close code and reason it got."""
    try:
        await next_control(ws, "attached", timeout=15)
        return 1000, ""
    except websockets.ConnectionClosed as closed:
        return (closed.rcvd.code, closed.rcvd.reason) if closed.rcvd else (None, "")
    finally:
        await ws.close()


async def test_only_this_sessions_customer_token_from_the_gateways_own_page_opens_the_share(system):
    gateway = system.gateway_url
    scene = await consultant_waiting(gateway)
    sid, token = scene.request.session_id, scene.request.customer_token
    async with httpx.AsyncClient(base_url=gateway, timeout=15) as client:
        other = await request_help(client)
        tokens = {role: await login(client, username, PASSWORD) for role, username in STAFF.items()}
    refused = {
        "no token in time": (await _answer(await connect_share(gateway, sid, None)))[0],
        "a hello without a token": (await _answer(await connect_share(gateway, sid, None, hello={"type": "hello"})))[0],
        "a token that is no string": (await _answer(await connect_share(
            gateway, sid, None, hello={"type": "hello", "token": ["x"]})))[0],
        "a made-up token": (await _answer(await connect_share(gateway, sid, "not-a-token")))[0],
        "another session's customer token": (await _answer(await connect_share(gateway, sid,
                                                                                other.customer_token)))[0],
        "a foreign page's Origin": (await _answer(await connect_share(gateway, sid, token,
                                                                      origin="https://evil.example")))[0],
        "no Origin at all": (await _answer(await connect_share(gateway, sid, token, origin=None)))[0],
    }
    for role, staff_token in tokens.items():  # the consultant's own login included: a staff token is no customer's
        refused[f"the {role}'s token"] = (await _answer(await connect_share(gateway, sid, staff_token)))[0]
    # The token in the URL is not read (a URL is logged on the way): nothing came in the first frame.
    in_url = await websockets.connect(f"{gateway.replace('http', 'ws', 1)}/ws/v1/share/{sid}?token={token}",
                                      additional_headers={"Origin": gateway})
    refused["the token in the URL"] = (await _answer(in_url))[0]
    assert refused == {
        "no token in time": 4401, "a hello without a token": 4401, "a token that is no string": 4401,
        "a made-up token": 4401, "another session's customer token": 4403, "a foreign page's Origin": 4403,
        "no Origin at all": 4403, **{f"the {role}'s token": 4401 for role in STAFF}, "the token in the URL": 4401,
    }
    assert await _answer(await connect_share(gateway, sid, token)) == (1000, "")  # the right one, for contrast
    await scene.consultant.close()


async def test_a_share_waits_for_nobody_and_an_ended_session_is_closed(system):
    gateway = system.gateway_url
    async with httpx.AsyncClient(base_url=gateway, timeout=15) as client:
        waiting = await request_help(client)  # nobody has claimed it
        maria = await login(client, STAFF["consultant"], PASSWORD)
        claimed = await request_help(client)
        assert (await client.post(f"/api/v1/sessions/{claimed.session_id}/claim", headers=bearer(maria))).is_success
    code, reason = await _answer(await connect_share(gateway, waiting.session_id, waiting.customer_token))
    assert code == 4403 and "consultant" in reason
    # Claimed, but the consultant has not opened the session: the page says so, and asks to try again.
    code, reason = await _answer(await connect_share(gateway, claimed.session_id, claimed.customer_token))
    assert code == 4403 and "consultant" in reason
    scene = await consultant_waiting(gateway)
    async with httpx.AsyncClient(base_url=gateway, timeout=15) as customer:
        ended = await customer.post(f"/api/v1/sessions/{scene.request.session_id}/terminate",
                                    headers=bearer(scene.request.customer_token))
        assert ended.status_code == 200
    code, reason = await _answer(await connect_share(gateway, scene.request.session_id,
                                                     scene.request.customer_token))
    assert code == 4410 and "customer" in reason


async def test_a_share_sends_its_screen_only_and_the_consultant_tells_it_apart_from_the_agent(system):
    gateway = system.gateway_url
    request, agent, consultant, _maria = await open_relay(system, agent_gateway=gateway, consultant_gateway=gateway)
    async with httpx.AsyncClient(base_url=gateway, timeout=15) as client:
        observer = await connect_observer(gateway, request.session_id,
                                          await login(client, STAFF["supervisor"], PASSWORD))
    await next_control(observer, "attached")
    scene_share = await connect_share(gateway, request.session_id, request.customer_token)
    await next_control(scene_share, "attached")
    await next_control(scene_share, "peer_joined")
    assert (await next_control(consultant, "share"))["active"] is True
    heard: list = []  # everything the share's socket gets, until it closes

    async def listen() -> None:
        try:
            while True:
                heard.append(await scene_share.recv())
        except websockets.ConnectionClosed:
            return

    listening = asyncio.create_task(listen())
    forged = [bytes([3]) + b'{"type":"pointer_move","x":1,"y":1}', bytes([1]) + b"touch /tmp/pwned\n",
              bytes([0]) + b'{"type":"hello","protocol":1,"role":"agent"}', bytes([0]) + b'{"type":"bye"}',
              bytes([4, 0]) + b'{"type":"clipboard.put","id":"x","text":"x"}', bytes([5, 0]) + b"{}",
              bytes([BROWSER_SCREEN]) + frame_begin()[1:], frame_begin()[:-1], tile(b"x", w=4096),
              tile(b"x")[:11], b""]
    for frame in forged:
        await scene_share.send(frame)
    for text in ({"type": "end_session"}, {"type": "withdraw_scope", "scope": "control"},
                 {"type": "chat", "text": "hi"}, {"type": "hello", "token": request.customer_token}):
        await scene_share.send(json.dumps(text))
    # The share's real picture, then the agent's: the consultant gets the share's first, on channel 6, and the
    # agent's on channel 2. Nothing forged came before it.
    picture = [frame_begin(7, 320, 200), tile(b"\x78\x9c\x03\x00\x00\x00\x00\x01", w=1, h=1), frame_end(7)]
    for frame in picture:
        await scene_share.send(frame)
    for frame in picture:
        assert await next_binary(consultant) == bytes([BROWSER_SCREEN]) + frame[1:]
    await agent.send(bytes([2]) + b"agent's screen")
    assert await next_binary(consultant) == bytes([2]) + b"agent's screen"
    # Observers watch the agent, never the customer's browser.
    assert await next_binary(observer) == bytes([2]) + b"agent's screen"
    # The consultant drives the agent (control), and nothing of it reaches the share.
    await consultant.send(bytes([3]) + b'{"type":"pointer_move","x":5,"y":5}')
    await consultant.send(bytes([0]) + b'{"type":"screen.start"}')
    assert await next_binary(agent) == bytes([3]) + b'{"type":"pointer_move","x":5,"y":5}'
    assert await next_binary(agent) == bytes([0]) + b'{"type":"screen.start"}'
    async with httpx.AsyncClient(base_url=gateway, timeout=15) as customer:
        view = (await customer.get(f"/api/v1/sessions/{request.session_id}",
                                   headers=bearer(request.customer_token))).json()
    assert view["status"] == "active" and view["scopes"] == ["view", "control"]  # nothing forged took effect
    await scene_share.close()
    assert (await next_control(consultant, "share"))["active"] is False  # the share gone: the consultant is told
    await listening
    assert all(isinstance(message, str) for message in heard), heard  # only the gateway's text, ever
    told = [json.loads(message)["type"] for message in heard]
    assert "refused" in told  # the forged frames were refused, and it was told so
    for ws in (observer, agent, consultant):
        await ws.close()


async def test_a_newer_share_replaces_the_older_and_the_consultant_hears_of_each(system):
    gateway = system.gateway_url
    scene = await consultant_waiting(gateway)
    first = await sharing(gateway, scene)
    second = await connect_share(gateway, scene.request.session_id, scene.request.customer_token)
    await next_control(second, "peer_joined")
    assert (await close_code(first))[0] == 4409
    assert (await next_control(scene.consultant, "share"))["active"] is True  # the newer one, said again
    await second.send(frame_begin(1, 64, 64))
    assert (await next_binary(scene.consultant))[:2] == bytes([BROWSER_SCREEN, 0])
    await second.close()
    await scene.consultant.close()
