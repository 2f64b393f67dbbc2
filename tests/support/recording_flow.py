"""A relayed session that the gateway records (issue #19), through the public interfaces: a help request, an agent's
socket, a claiming consultant's socket, the session active; and waiting for its recording to reach a state."""

from __future__ import annotations

import httpx
from assist_platform.testing import eventually
from public_api import bearer, connect_agent, connect_consultant, login, next_control, request_help, wait_for_status

PASSWORD = "a long enough password"


async def active_session(base: str, consultant_name: str, *, password: str = PASSWORD):
    """A session relayed between an agent's socket and `consultant_name`'s, active (billed from now), its consultant
    told it is recorded: (request, agent, consultant)."""
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        request = await request_help(client)
        agent = await connect_agent(base, request.session_code)
        await next_control(agent, "attached")
        token = await login(client, consultant_name, password)
        claimed = await client.post(f"/api/v1/sessions/{request.session_id}/claim", headers=bearer(token))
        assert claimed.status_code == 200, claimed.text
        consultant = await connect_consultant(base, request.session_id, token)
        assert (await next_control(consultant, "attached")).get("recording") is True
        await next_control(consultant, "peer_joined")
        await wait_for_status(client, request.session_id, bearer(request.customer_token), "active")
    return request, agent, consultant


async def recording_of(client: httpx.AsyncClient, request) -> dict | None:
    """The session view's `recording` as its customer reads it."""
    view = await client.get(f"/api/v1/sessions/{request.session_id}", headers=bearer(request.customer_token))
    assert view.status_code == 200, view.text
    return view.json().get("recording")


async def until_recording(client: httpx.AsyncClient, request, status: str, *, timeout: float = 20.0) -> dict:
    async def reached():
        recording = await recording_of(client, request)
        return recording if recording and recording["status"] == status else None

    return await eventually(reached, timeout=timeout, what=f"the recording {status}")


async def index_when(client: httpx.AsyncClient, request, predicate, *, what: str, timeout: float = 20.0) -> dict:
    """The recording's index once `predicate(index)` holds: what the recorder has written so far (its segments)."""
    async def kept():
        response = await client.get(f"/api/v1/sessions/{request.session_id}/recording",
                                    headers=bearer(request.customer_token))
        return response.json() if response.status_code == 200 and predicate(response.json()) else None

    return await eventually(kept, timeout=timeout, what=what)


# The playback page's terminal as text: the player's rows' text content (innerText leaves out rows drawn over its
# canvas).
PLAYER_TEXT = "() => document.querySelector('#player .ap-term-text').textContent"


async def player_text(page) -> str:
    return await page.evaluate(PLAYER_TEXT)


async def player_shows(page, text: str, timeout: float = 10000) -> None:
    """Until the playback page's terminal shows `text`."""
    await page.wait_for_function(f"text => ({PLAYER_TEXT})().includes(text)", arg=text, timeout=timeout)
