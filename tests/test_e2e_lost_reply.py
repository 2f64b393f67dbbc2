"""An agent's attach whose answer is lost still attaches: the gateway asks again, and asking again is the same attach.

The session code is single use. Spending it and answering are one command on NATS; when the answer is lost (a NATS
node went down, or the session service answered too late), the gateway used to tell the agent to try again (1013)
and the agent's retry found its code spent. Now the gateway chooses the resume token and asks again with it, and
the session service recognises its own attach.
"""

from __future__ import annotations

import asyncio
import os
import signal

import httpx
import nats
import pytest
from public_api import connect_agent, next_control, request_help

pytestmark = pytest.mark.e2e


async def test_an_attach_whose_answer_was_lost_is_asked_again_and_attaches(start_system):
    system = start_system(extra_env={"COMMAND_TIMEOUT_SECONDS": "1"})
    gateway = system.gateway_url
    async with httpx.AsyncClient(base_url=gateway, timeout=10) as client:
        request = await request_help(client)

    observer = await nats.connect(system.nats_url)  # the operator's credentials, as tools use them
    asked = 0
    asked_again = asyncio.Event()

    async def count(_msg) -> None:
        nonlocal asked
        asked += 1
        if asked >= 2:
            asked_again.set()

    await observer.subscribe("cmd.session.attach_agent", cb=count)
    await observer.flush()
    session_pid = system.services["session"]["pid"]
    os.kill(session_pid, signal.SIGSTOP)  # the first request will be answered only after the gateway gave up on it
    try:
        agent = await connect_agent(gateway, request.session_code)
        await asyncio.wait_for(asked_again.wait(), timeout=10)
    finally:
        os.kill(session_pid, signal.SIGCONT)
        await observer.close()
    # The session service now spends the code for the first request (whose answer nobody waits for any more),
    # then answers the second: the same attach.
    attached = await next_control(agent, "attached", timeout=10)
    assert attached["session_id"] == request.session_id
    assert len(attached["resume_token"]) >= 32
    await agent.close()
