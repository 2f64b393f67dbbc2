"""The consultant's session page showing the customer's screen, with the real agent and an X reader behind it.

`remote_screen(system, tmp_path, scopes=...)` starts an Xvfb display with an `XReader` window on it, a help request
with those scopes, the real `assist agent` on that display, and Debian's chromium logged in as the consultant on the
session page, once the customer's screen is drawn on `#screen`.
"""

from __future__ import annotations

import json
from contextlib import asynccontextmanager

import httpx
from agent_flow import PASSWORD, AgentProcess, Xvfb
from browser import chromium, new_page, staff_login
from public_api import bearer, login, request_help, wait_for_status
from x_reader import XReader


# The page's relay socket, kept where a test can send on it: a frame sent there after the typed ones is handled by
# the gateway and the agent after them (one socket, one order), which makes it a barrier.
KEEP_SOCKET = """
(() => {
  const Native = window.WebSocket;
  window.WebSocket = function (...args) {
    const socket = new Native(...args);
    window.__relaySocket = socket;
    // The gateway's own (text) frames, for tests that wait for what it said.
    window.__gatewayTexts = [];
    socket.addEventListener("message", (event) => {
      if (typeof event.data === "string") window.__gatewayTexts.push(event.data);
    });
    return socket;
  };
  window.WebSocket.prototype = Native.prototype;
  Object.assign(window.WebSocket, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 });
})();
"""


class RemoteScreen:
    """The consultant's session page with the customer's screen shown, and the reader on the customer's display."""

    def __init__(self, page, display: Xvfb, reader: XReader, agent: AgentProcess, session_id: str,
                 errors: list[str]) -> None:
        self.page, self.display, self.reader, self.agent = page, display, reader, agent
        self.session_id, self.errors = session_id, errors

    async def click_reader(self) -> None:
        """A click on the reader's window, through the canvas (as the consultant would focus it)."""
        await self.page.click("#screen", position={"x": 40, "y": 10})
        await self.page.wait_for_function("() => document.activeElement === document.getElementById('screen')")

    async def send_control(self, message: dict) -> None:
        """A channel-0 message on the page's own relay socket, after everything the page sent before it."""
        await self.send_frame(0, message)

    async def send_frame(self, channel: int, message: dict) -> None:
        """A JSON message on `channel`, sent on the page's own relay socket as a forged page would."""
        await self.page.evaluate("""([channel, text]) => {
            const payload = new TextEncoder().encode(text);
            const frame = new Uint8Array(payload.length + 1);
            frame[0] = channel;
            frame.set(payload, 1);
            window.__relaySocket.send(frame);
        }""", [channel, json.dumps(message)])

    async def type_keys(self, key_events: list[dict]) -> None:
        """Raw key events as chromium gets them from the operating system (CDP): any keyboard layout, e.g. a
        Bulgarian one, which Playwright's own keyboard (US layout only) cannot press."""
        cdp = await self.page.context.new_cdp_session(self.page)
        for event in key_events:
            await cdp.send("Input.dispatchKeyEvent", event)
        await cdp.detach()


def layout_keys(text: str, codes: dict[str, str]) -> list[dict]:
    """What chromium gets from a keyboard layout for `text`: keyDown with the character, then keyUp."""
    events = []
    for char in text:
        code = codes.get(char.lower(), "")
        events.append({"type": "keyDown", "key": char, "code": code, "text": char, "unmodifiedText": char})
        events.append({"type": "keyUp", "key": char, "code": code})
    return events


# A few keys of the Bulgarian phonetic layout (the key each letter is on; the test needs only the letters it types).
BG_PHONETIC = {"з": "KeyZ", "д": "KeyD", "р": "KeyR", "а": "KeyA", "в": "KeyV", "е": "KeyE", "й": "KeyJ",
               "с": "KeyS", "я": "KeyQ", "т": "KeyT", ",": "Comma", " ": "Space"}


@asynccontextmanager
async def remote_screen(system, tmp_path, *, scopes=("view", "control")):
    display = Xvfb(640, 480)
    reader = XReader(display, tmp_path / "x-reader.jsonl")
    agent = None
    try:
        await reader.ready()
        url = system.gateway_url
        system.add_user("consultant", "maria", PASSWORD, check=False)
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            request = await request_help(client, scopes=scopes)
            agent = AgentProcess(gateway=url, code=request.session_code, log_dir=tmp_path, env=display.env())
            await agent.wait_for_log("[waiting for the consultant]", timeout=20)
            token = await login(client, "maria", PASSWORD)
            claimed = await client.post(f"/api/v1/sessions/{request.session_id}/claim", headers=bearer(token))
            assert claimed.status_code == 200, claimed.text
            errors: list[str] = []
            async with chromium() as browser:
                page = await new_page(browser, errors=errors)
                await page.add_init_script(KEEP_SOCKET)
                await staff_login(page, url, "/console", "maria", PASSWORD)
                await page.goto(f"{url}/console/session/{request.session_id}")
                await wait_for_status(client, request.session_id, bearer(request.customer_token), "active")
                # The screen is shown once its first frame set the canvas to the display's size.
                await page.wait_for_function("() => document.getElementById('screen').width === 640", timeout=20000)
                remote = RemoteScreen(page, display, reader, agent, request.session_id, errors)
                remote.customer_token = request.customer_token  # for the customer's own calls (a scope taken back)
                yield remote
    finally:
        if agent is not None:
            agent.stop()
        reader.stop()
        display.stop()
