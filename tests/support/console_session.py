"""The console's session page (`/console/session/{id}`) in chromium against a real agent, for the UI and
security tests of the session view: a help request, the real `assist agent` (on an Xvfb display when given
one), a consultant who logs in through the page and claims, and the page once the agent is connected."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from agent_flow import AgentProcess
from browser import staff_login
from public_api import HelpRequest, bearer, login, request_help

CONNECTED = "Агентът е свързан"


@dataclass
class OpenSession:
    page: object
    agent: AgentProcess
    request: HelpRequest
    sent: list  # every frame the page sent on its relay sockets (bytes), in order


async def open_session(system, browser_page, tmp_path: Path, *, username: str, password: str,
                       scopes=("view", "control"), env=None, login_page: bool = True) -> OpenSession:
    """A request with `scopes`, its agent, claimed by `username`, and the page showing it, the agent there."""
    url = system.gateway_url
    async with httpx.AsyncClient(base_url=url, timeout=15) as client:
        request = await request_help(client, scopes=scopes)
    agent = AgentProcess(gateway=url, code=request.session_code, log_dir=tmp_path, env=env)
    await agent.wait_for_log("[waiting for the consultant]", timeout=30)
    async with httpx.AsyncClient(base_url=url, timeout=15) as staff:
        token = await login(staff, username, password)
        claimed = await staff.post(f"/api/v1/sessions/{request.session_id}/claim", headers=bearer(token))
        assert claimed.status_code == 200, claimed.text
    sent: list = []
    watch_frames(browser_page, sent)
    if login_page:
        await staff_login(browser_page, url, "/console", username, password)
    await browser_page.goto(f"{url}/console/session/{request.session_id}")
    await browser_page.wait_for_selector(f"#relay-state:has-text('{CONNECTED}')", timeout=30000)
    return OpenSession(page=browser_page, agent=agent, request=request, sent=sent)


def watch_frames(page, sent: list) -> None:
    """Records what the page sends on its relay sockets, as the browser's network layer saw it leave."""
    def on_socket(socket) -> None:
        if "/ws/v1/consultant/" in socket.url:
            socket.on("framesent", lambda payload: sent.append(payload))
    page.on("websocket", on_socket)


def channels(sent: list) -> list[int]:
    """The channel (first byte) of each binary frame sent; text frames count as -1."""
    return [payload[0] if isinstance(payload, bytes) else -1 for payload in sent]


async def terminal_lines(page) -> list[str]:
    """The terminal's whole buffer (scrollback and screen) as xterm holds it, one string per row."""
    return await page.evaluate("""() => {
        const buffer = window.AssistSessionView.terminal.buffer.active;
        const rows = [];
        for (let i = 0; i < buffer.length; i += 1) rows.push(buffer.getLine(i).translateToString(true));
        return rows;
    }""")


async def wait_for_lines(page, predicate, timeout: float = 20.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        lines = await terminal_lines(page)
        if predicate(lines):
            return lines
        if time.monotonic() > deadline:
            raise AssertionError("the terminal never showed what was expected:\n" + "\n".join(lines[-40:]))
        await asyncio.sleep(0.1)


async def session_status(system, request: HelpRequest) -> dict:
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=15) as client:
        response = await client.get(f"/api/v1/sessions/{request.session_id}",
                                    headers=bearer(request.customer_token))
        assert response.status_code == 200, response.text
        return response.json()
