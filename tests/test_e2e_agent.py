"""The real agent process (`assist agent`) against the whole system: terminal, screen, input, the kill switch."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess

import httpx
import pytest
from agent_flow import (ASSIST, PASSWORD, Forwarder, TwoMonitorXvfb, Xvfb, missing_x_tools, paint, screen_rgb,
                        session_view, start_session)
from assist_platform.testing import eventually
from public_api import bearer, close_code, login, next_control

from assist_agent import console, framing
from assist_agent.tiles import ScreenDecoder

pytestmark = pytest.mark.e2e
needs_x = pytest.mark.skipif(missing_x_tools() is not None, reason=missing_x_tools() or "")


@pytest.fixture
def xvfb():
    display = Xvfb(640, 480)
    yield display
    display.stop()


LEFT_SCREEN, RIGHT_SCREEN = 0x3366CC, 0xE8A33D


@pytest.fixture
def two_screens():
    """Screen 1 (1024×768, primary) in blue, screen 2 (800×600, at its right) in orange."""
    display = TwoMonitorXvfb()
    paint(display, [(0, 0, 1024, 768, LEFT_SCREEN), (1024, 0, 800, 600, RIGHT_SCREEN)])
    yield display
    display.stop()


async def test_a_command_typed_by_the_consultant_runs_in_the_agents_terminal(start_system, tmp_path, agents):
    system = start_system(shared=True)
    agent, consultant = await start_session(system, tmp_path, scopes=("view", "control"))
    agents.append(agent)
    assert consultant.agent_hello["protocol"] == framing.PROTOCOL
    assert "terminal" in consultant.agent_hello["channels"]
    await consultant.next_frame(framing.TERMINAL)  # the prompt: the shell reads from here on
    await consultant.send(console.resize(100, 30))
    await consultant.send(console.keystrokes("echo $((6 * 7))-from-the-pty; stty size\n"))
    output = await consultant.terminal_until("30 100")
    assert "42-from-the-pty" in output


async def test_with_view_only_keystrokes_are_refused_and_logged(start_system, tmp_path, agents):
    system = start_system(shared=True)
    agent, consultant = await start_session(system, tmp_path, scopes=("view",))
    agents.append(agent)
    assert "input" not in consultant.agent_hello["channels"]
    witness = tmp_path / "should-not-exist"
    await consultant.send(console.keystrokes(f"touch {witness}\n"))
    # The gateway refuses (and logs) it in place of forwarding it; the agent would refuse it too
    # (agent/tests/test_protocol.py).
    refused = await next_control(consultant.ws, "refused")
    assert refused["what"] == "terminal" and "view" in refused["reason"]
    assert not witness.exists(), "a keystroke reached the customer's shell"


async def test_the_customers_hotkey_ends_the_session_for_the_customer(start_system, tmp_path, agents):
    system = start_system(shared=True)
    agent, consultant = await start_session(system, tmp_path)
    agents.append(agent)
    agent.press(b"q")
    code, reason = await close_code(consultant.ws)
    assert code == 4410 and "customer" in reason
    assert await agent.wait_exit() == 0
    view = await session_view(system, consultant)
    assert view["status"] == "ended" and view["ended_by"] == "customer"
    assert "every channel is closed locally" in agent.log()


async def test_the_customers_c_key_takes_control_back_and_the_session_goes_on(start_system, tmp_path, agents):
    """#16 from the agent: C narrows the agent at once, and the gateway everywhere; the session stays active."""
    system = start_system(shared=True)
    agent, consultant = await start_session(system, tmp_path)
    agents.append(agent)
    agent.press(b"c")
    assert (await next_control(consultant.ws, "scopes"))["scopes"] == ["view"]
    await agent.wait_for_log("the customer took control back at the agent; the consultant may now: view")
    await consultant.send(console.keystrokes("echo after-c\n"))
    refused = await next_control(consultant.ws, "refused")
    assert refused["what"] == "terminal" and "view" in refused["reason"]

    async def narrowed():
        view = await session_view(system, consultant)
        return view if view["scopes"] == ["view"] else None

    view = await eventually(narrowed, what="the session's scopes narrowed")
    assert view["status"] == "active" and agent.process.poll() is None


async def test_a_step_up_is_asked_at_the_agent_and_y_lets_the_consultant_type(start_system, tmp_path, agents):
    """#16 step-up with the real agent: a view-only session, the consultant asks for control with a reason, the
    customer reads it in the agent's terminal and presses Y; keystrokes then run in the shell."""
    system = start_system(shared=True)
    agent, consultant = await start_session(system, tmp_path, scopes=("view",))
    agents.append(agent)
    await consultant.next_frame(framing.TERMINAL)  # the prompt
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=10) as staff:
        token = await login(staff, "maria", PASSWORD)
        asked = await staff.post(f"/api/v1/sessions/{consultant.session_id}/scope-requests", headers=bearer(token),
                                 json={"scopes": ["control"], "reason": "to fix \x1b[2Jthe printer queue"})
    assert asked.status_code == 201, asked.text
    await agent.wait_for_log("Consultant maria asks for permission: control (keyboard and mouse).")
    await agent.wait_for_log("Press Y to allow, N to refuse.")
    assert "\x1b[2J" not in agent.log()  # the consultant's reason reaches the terminal without its escapes
    witness = tmp_path / "typed-before-the-answer"
    await consultant.send(console.keystrokes(f"touch {witness}\n"))
    agent.press(b"y")
    assert (await next_control(consultant.ws, "scopes"))["scopes"] == ["view", "control"]
    await agent.wait_for_log("You allowed maria: control (keyboard and mouse).")
    await consultant.send(console.keystrokes("echo $((6 * 7))-stepped-up\n"))
    output = await consultant.terminal_until("42-stepped-up")
    assert "42-stepped-up" in output
    assert not witness.exists(), "a keystroke sent before the approval reached the customer's shell"
    view = await session_view(system, consultant)
    assert view["scopes"] == ["view", "control"] and view["scope_request"]["status"] == "approved"


async def test_n_at_the_agent_refuses_and_the_consultant_is_told(start_system, tmp_path, agents):
    system = start_system(shared=True)
    agent, consultant = await start_session(system, tmp_path, scopes=("view",), lang="bg")
    agents.append(agent)
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=10) as staff:
        token = await login(staff, "maria", PASSWORD)
        asked = await staff.post(f"/api/v1/sessions/{consultant.session_id}/scope-requests", headers=bearer(token),
                                 json={"scopes": ["control"], "reason": "за драйвера"})
    await agent.wait_for_log("Консултантът maria иска разрешение за: управление (клавиатура и мишка).")
    agent.press(b"n")
    answer = await next_control(consultant.ws, "scope_request")
    while answer["status"] == "pending":
        answer = await next_control(consultant.ws, "scope_request")
    assert (answer["request_id"], answer["status"]) == (asked.json()["request_id"], "refused")
    await agent.wait_for_log("Отказахте на maria: управление (клавиатура и мишка). Нищо не е променено.")
    view = await session_view(system, consultant)
    assert view["scopes"] == ["view"]


async def _frames_until(consultant, decoder: ScreenDecoder, expected: bytes, timeout: float = 15.0) -> None:
    """Apply screen messages until the decoded picture equals `expected` (after a whole frame)."""
    async with asyncio.timeout(timeout):
        while True:
            frame = await consultant.next_frame(framing.SCREEN)
            if decoder.apply(frame.payload) and bytes(decoder.rgb) == expected:
                return


@needs_x
async def test_the_screen_decoded_by_the_consultant_matches_the_display_pixel_for_pixel(
        start_system, tmp_path, agents, xvfb):
    system = start_system(shared=True)
    paint(xvfb, [(0, 0, 640, 480, 0x204060), (10, 20, 200, 100, 0xFF0000), (300, 200, 123, 77, 0x00FF7F)])
    agent, consultant = await start_session(system, tmp_path, scopes=("view",), env=xvfb.env())
    agents.append(agent)
    assert consultant.agent_hello["screen"] == {"width": 640, "height": 480}
    await consultant.send(console.screen_start(max_fps=10))
    decoder = ScreenDecoder()
    await _frames_until(consultant, decoder, screen_rgb(xvfb))
    assert (decoder.width, decoder.height) == (640, 480) and decoder.pixel(15, 25) == (255, 0, 0)
    # Later frames carry only what changed, and the picture still matches.
    paint(xvfb, [(500, 400, 30, 30, 0xFFFFFF)])
    await _frames_until(consultant, decoder, screen_rgb(xvfb))
    assert decoder.pixel(510, 410) == (255, 255, 255)


async def _whole_frame(consultant) -> ScreenDecoder:
    """The next whole screen frame, decoded on its own: it must start with its frame-begin message."""
    decoder = ScreenDecoder()
    first = (await consultant.next_frame(framing.SCREEN)).payload
    assert first[0] == 0, "a screen frame began with a tile of the frame before"
    decoder.apply(first)
    while not decoder.apply((await consultant.next_frame(framing.SCREEN)).payload):
        pass
    return decoder


def _rgb(colour: int) -> tuple[int, int, int]:
    return (colour >> 16) & 255, (colour >> 8) & 255, colour & 255


@needs_x
async def test_on_two_monitors_the_consultant_switches_screens_on_the_same_socket(
        start_system, tmp_path, agents, two_screens):
    """#17 Monitors: the hello lists both; the consultant sees screen 1, picks screen 2 and gets `screen.selected`,
    then whole frames of screen 2, without reconnecting; the pointer lands on screen 2; the customer is told."""
    system = start_system(shared=True)
    agent, consultant = await start_session(system, tmp_path, scopes=("view", "control"), env=two_screens.env())
    agents.append(agent)
    hello = consultant.agent_hello
    assert [(m["index"], m["left"], m["width"], m["height"], m["primary"]) for m in hello["monitors"]] == [
        (1, 0, 1024, 768, True), (2, 1024, 800, 600, False)]
    assert hello["monitor"] == 1 and hello["screen"] == {"width": 1024, "height": 768}

    await consultant.send(console.screen_start(max_fps=10))
    shown = await _whole_frame(consultant)
    assert (shown.width, shown.height) == (1024, 768) and shown.pixel(1023, 767) == _rgb(LEFT_SCREEN)
    await agent.wait_for_log("The consultant now sees screen 1 of 2 (1024×768).")

    await consultant.send(console.screen_select(2))
    assert await consultant.next_control("screen.selected") == {
        "type": "screen.selected", "monitor": 2, "width": 800, "height": 600}
    shown = await _whole_frame(consultant)
    assert (shown.width, shown.height) == (800, 600)
    assert shown.pixel(0, 0) == shown.pixel(799, 599) == _rgb(RIGHT_SCREEN)
    await agent.wait_for_log("The consultant now sees screen 2 of 2 (800×600).")
    await consultant.send(console.pointer_move(10, 20))  # on screen 2 now
    async with asyncio.timeout(10):
        while two_screens.pointer() != (1034, 20):
            await asyncio.sleep(0.05)

    # A screen the agent does not have, or not a number: refused by the agent, and screen 2 stays.
    for wrong in (3, "1"):
        await consultant.send(console.screen_select(wrong))
        refused = await consultant.next_control("refused")
        assert refused["what"] == "screen.select" and "screen" in refused["reason"], refused
    await agent.wait_for_log("refused screen.select from the consultant")
    await consultant.send(console.screen_start(max_fps=10))  # a fresh start: a whole frame of what is shown
    shown = await _whole_frame(consultant)
    assert (shown.width, shown.height) == (800, 600)


@needs_x
async def test_with_control_a_pointer_move_from_the_consultant_moves_the_pointer(start_system, tmp_path, agents, xvfb):
    system = start_system(shared=True)
    agent, consultant = await start_session(system, tmp_path, scopes=("view", "control"), env=xvfb.env())
    agents.append(agent)
    await consultant.send(console.pointer_move(123, 77))
    try:
        async with asyncio.timeout(10):
            while xvfb.pointer() != (123, 77):
                await asyncio.sleep(0.05)
    except TimeoutError:
        # Say where the move was lost: a refusal, a lapse or a reconnect is in these, an X failure in the log.
        pytest.fail(f"the pointer stayed at {xvfb.pointer()}; the consultant's pending frames: "
                    f"{[frame.payload[:200] for frames in consultant.pending.values() for frame in frames]}; "
                    f"the agent's log:\n{agent.log()}")


@needs_x
async def test_with_view_only_a_pointer_move_changes_nothing_and_is_logged(start_system, tmp_path, agents, xvfb):
    system = start_system(shared=True)
    agent, consultant = await start_session(system, tmp_path, scopes=("view",), env=xvfb.env())
    agents.append(agent)
    before = xvfb.pointer()
    await consultant.send(console.pointer_move(before[0] + 50, before[1] + 40))
    refused = await next_control(consultant.ws, "refused")  # from the gateway, which never forwarded it
    assert refused["what"] == "input"
    assert xvfb.pointer() == before


async def test_with_the_gateway_unreachable_the_hotkey_still_closes_the_channels_at_once(
        start_system, tmp_path, agents):
    system = start_system(shared=True)
    hop = Forwarder(int(system.gateway_url.rsplit(":", 1)[1]))
    agent, consultant = await start_session(system, tmp_path, gateway=await hop.start())
    agents.append(agent)
    await consultant.next_frame(framing.TERMINAL)  # the prompt: the shell reads from here on
    await consultant.send(console.keystrokes("echo SHELL-PID=$$.\n"))
    shell_pid = int(re.search(rb"SHELL-PID=(\d+)\.", await _terminal_matching(consultant, rb"SHELL-PID=\d+\.")).group(1))
    hop.frozen.set()  # the network goes silent: nothing reaches the gateway any more
    agent.press(b"q")
    await agent.wait_for_log("every channel is closed locally", timeout=2)
    async with asyncio.timeout(2):
        while _alive(shell_pid):
            await asyncio.sleep(0.02)
    assert await agent.wait_exit(timeout=30) == 0
    await hop.stop()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie has ended; only its parent has not reaped it yet.
    state = subprocess.run(["ps", "-o", "stat=", "-p", str(pid)], capture_output=True, text=True).stdout.strip()
    return bool(state) and not state.startswith("Z")


async def _terminal_matching(consultant, pattern: bytes, timeout: float = 10.0) -> bytes:
    seen = b""
    try:
        async with asyncio.timeout(timeout):
            while not re.search(pattern, seen):
                seen += (await consultant.next_frame(framing.TERMINAL)).payload
    except TimeoutError:
        raise AssertionError(f"the terminal showed {seen!r}, not {pattern!r}") from None
    return seen


async def test_the_gateway_offers_the_agent_wheel_and_the_check_passes_its_network_steps(start_system, tmp_path):
    wheels = tmp_path / "dist"
    wheels.mkdir()
    system = start_system(extra_env={"ASSIST_AGENT_DIST_DIR": str(wheels)})
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=10) as client:
        missing = await client.get("/downloads/assist-agent.whl")
        assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"
        (wheels / "assist_agent-0.1.0-py3-none-any.whl").write_bytes(b"PK wheel")
        found = await client.get("/downloads/assist-agent.whl")
        assert found.status_code == 200 and found.content == b"PK wheel"
        assert "assist_agent-0.1.0-py3-none-any.whl" in found.headers["content-disposition"]
    check = subprocess.run([ASSIST, "agent", "--check", "--gateway", system.gateway_url], capture_output=True,
                           text=True, timeout=60, env={**os.environ, "DISPLAY": ""})
    passed = [line.split()[1] for line in check.stdout.splitlines() if line.startswith("passed")]
    assert passed == ["dns", "tcp", "tls", "websocket", "latency"], check.stdout
