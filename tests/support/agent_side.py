"""The agent under test on its own, without a gateway: an `Agent` on the running loop whose socket is a
`GatewaySide` that keeps every frame the agent sends, attached as the gateway would attach it (agent unit tests)."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Callable

from assist_agent import framing
from assist_agent.connection import Agent
from assist_agent.messages import Messages
from assist_agent.status import StatusLine


class GatewaySide:
    """The gateway's end of the agent's socket: every frame the agent sends, in order."""

    def __init__(self) -> None:
        self.sent: list[str | bytes] = []

    async def send(self, data) -> None:
        self.sent.append(data)

    def texts(self) -> list[str]:
        """The agent's text frames (its requests of the gateway: chat, scope decisions, withdrawals, the end)."""
        return [frame for frame in self.sent if isinstance(frame, str)]

    def on_channel(self, channel: int) -> list[dict]:
        """The JSON messages the agent sent on `channel` (framing.CONTROL, framing.CLIPBOARD, ...)."""
        return [json.loads(frame[1:]) for frame in self.sent
                if isinstance(frame, bytes) and frame[:1] == bytes((channel,))]

    def controls(self) -> list[dict]:
        return self.on_channel(framing.CONTROL)


def no_control_characters(text: str) -> bool:
    """Nothing in `text` that a terminal would act on: C0 controls but the line break, DEL, C1, bidi overrides."""
    return not any(ord(char) < 0x20 and char != "\n" or 0x7F <= ord(char) <= 0x9F or char == "\u202e"
                   for char in text)


async def attached_agent(*, scopes=("view",), language: str = "en", consultant: str = "elena",
                         stream: io.StringIO | None = None, joined: bool = False,
                         prepare: Callable[[Agent], None] | None = None,
                         **attached) -> tuple[Agent, io.StringIO]:
    """An agent the gateway has attached (with `scopes`, and any other fields of `attached`), its socket a
    `GatewaySide`; `prepare` is called before the attach (to give it a clipboard, say); `joined`: the consultant
    joined too (the agent said hello and opened its channels)."""
    stream = stream if stream is not None else io.StringIO()
    agent = Agent(gateway="http://127.0.0.1:1", code="123456789", status=StatusLine(stream, Messages(language)))
    agent._loop = asyncio.get_running_loop()
    agent._ws = GatewaySide()
    if prepare is not None:
        prepare(agent)
    await agent._on_gateway({"type": "attached", "session_id": "A", "resume_token": "t", "scopes": list(scopes),
                             "consultant": consultant, **attached})
    if joined:
        await agent._on_gateway({"type": "peer_joined", "consultant": consultant})
    return agent, stream
