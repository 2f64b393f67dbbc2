"""The consultant's side of channel 4 (the clipboard) against the real agent on an Xvfb display of its own: a
session under given scopes, the frames sent and answered, the gateway's refusals, and a barrier through the
customer's shell."""

from __future__ import annotations

import asyncio
import json
from contextlib import asynccontextmanager

from agent_flow import Xvfb, start_session

from assist_agent import framing


@asynccontextmanager
async def clipboard_session(system, tmp_path, *, scopes):
    """(agent, consultant, display): the real agent on a display of its own, in a session under `scopes`; the
    agent stopped, the console closed and the display gone when the block ends."""
    display = Xvfb(640, 480)
    try:
        agent, consultant = await start_session(system, tmp_path, scopes=scopes, env=display.env())
        try:
            yield agent, consultant, display
        finally:
            agent.stop()
            await consultant.ws.close()
    finally:
        display.stop()


async def send(consultant, message: dict) -> None:
    await consultant.send(framing.encode_json(framing.CLIPBOARD, message))


async def answer(consultant, timeout: float = 20.0) -> dict:
    return (await consultant.next_frame(framing.CLIPBOARD, timeout)).json()


async def gateway_refusals(consultant, count: int, timeout: float = 10.0) -> list[dict]:
    """The gateway's next `count` `refused` text frames to the consultant (binary frames on the way, but the
    screen's, wait in `pending`)."""
    told: list[dict] = []
    async with asyncio.timeout(timeout):
        while len(told) < count:
            message = await consultant.ws.recv()
            if isinstance(message, str) and json.loads(message).get("type") == "refused":
                told.append(json.loads(message))
            elif isinstance(message, bytes) and message[:1] != bytes((framing.SCREEN,)):
                frame = framing.decode(message)
                consultant.pending.setdefault(frame.channel, []).append(frame)
    return told


async def gateway_refusal(consultant, timeout: float = 10.0) -> dict:
    """The gateway's next `refused` text frame to the consultant."""
    return (await gateway_refusals(consultant, 1, timeout))[0]


async def barrier(consultant, marker: str) -> None:
    """Keystrokes behind what was sent before, echoed by the customer's shell: everything before them was handled."""
    await consultant.send(framing.encode(framing.TERMINAL, f"echo {marker}-$((6 * 7))\n".encode()))
    await consultant.terminal_until(f"{marker}-42")
