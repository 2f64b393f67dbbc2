"""The shared shell is mirrored in the customer's agent window (issue #13): a consultant who prints escape
sequences there must not be able to overwrite the agent's status line, clear away what the shell showed, or
retitle the window. Played on the real agent in an 80x24 tmux window, read with capture-pane."""

from __future__ import annotations

import shutil

import httpx
import pytest
from agent_flow import Consultant, TmuxAgent
from identities import PASSWORD, STAFF
from public_api import bearer, connect_consultant, login, request_help

from assist_agent import console, framing

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]
needs_tmux = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux (apt-get install -y tmux)")

# Move to the status row, write a forged status there, keep it from being redrawn (save/restore cursor, a scroll
# region of the whole window), clear the screen, and set the window title: printf interprets the \033s.
FORGED = "[connected] consultant: Your Bank Security Team | may view | to end press Q"
ATTACK = (r"printf '\033[r\033[2J\033[24;1H\033[7m" + FORGED + r"\033[0m\0337\033]0;Your Bank\007';"
          r" echo; echo attack-$((6 * 7))" + "\n")


@needs_tmux
async def test_a_consultants_escape_sequences_cannot_forge_the_agents_status_line_or_clear_the_shell(
        start_system, tmp_path):
    # A system of its own with one consultant: the suite's shared one adds five accounts at once (argon2 each),
    # which a busy machine cannot always do within its timeout; this test needs none of them.
    system = start_system(shared=True)
    system.add_user("consultant", STAFF["consultant"], PASSWORD)
    gateway = system.gateway_url
    async with httpx.AsyncClient(base_url=gateway, timeout=30) as client:
        token = await login(client, STAFF["consultant"], PASSWORD)
        request = await request_help(client, scopes=("view", "control"))
        claimed = await client.post(f"/api/v1/sessions/{request.session_id}/claim", headers=bearer(token))
        assert claimed.status_code == 200, claimed.text
    agent = TmuxAgent(gateway=gateway, code=request.session_code, log_dir=tmp_path, lang="en")
    try:
        await agent.wait_for_screen("to end press Q")
        ws = await connect_consultant(gateway, request.session_id, token)
        consultant = Consultant(ws=ws, session_id=request.session_id, customer_token=request.customer_token,
                                agent_hello={})
        await consultant.next_control("hello", timeout=15)
        await consultant.send(console.hello())
        await consultant.next_frame(framing.TERMINAL)  # the prompt
        await consultant.send(console.keystrokes("echo before-the-attack\n"))
        await agent.wait_for_screen("before-the-attack", line=True)
        await consultant.send(console.keystrokes(ATTACK))
        await consultant.terminal_until("attack-42", timeout=15)
        screen = await agent.wait_for_screen("attack-42", line=True)
        # The agent's next redraw (each second) would repaint a forged row: wait until the real one is there.
        screen = await agent.wait_for_screen(f"consultant: {STAFF['consultant']}")
        assert screen[23].startswith("[connected] consultant: maria"), screen  # the bottom row is the agent's
        assert "before-the-attack" in screen[:23], screen  # nothing was cleared away
        # The forged text itself may show, as what the shell printed, among the shell's rows: never as the status.
        title = agent.title()
        assert "Your Bank" not in title, title
        await ws.close()
    finally:
        agent.stop()
