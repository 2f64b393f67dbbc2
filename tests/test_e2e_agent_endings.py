"""Every way a session ends, seen by the customer in the real agent's window (issue #13).

The agent runs as the customer runs it (`assist agent --gateway URL --code CODE`): in an 80x24 tmux window, read
with capture-pane, or with its output in a file. Each ending must stop the agent (no reconnecting after an end),
tell the customer who ended the session and that access is closed, and exit 0 for an end, 1 for a refusal, 3 when
the gateway stayed out of reach past the grace period.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import httpx
import pytest
from agent_flow import PASSWORD, AgentProcess, TmuxAgent, consultant_joins, session_view
from public_api import bearer, login, request_help, wait_for_status
from system import own_system

from assist_agent import console, framing

sys.path.insert(0, str(Path(__file__).resolve().parent / "faults"))
from proxy import CuttableProxy  # noqa: E402  (the fault suite's cuttable TCP proxy, between agent and gateway)

pytestmark = pytest.mark.e2e
needs_tmux = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux (apt-get install -y tmux)")

GRACE = 3  # seconds, on both sides: the gateway's AGENT_GRACE_SECONDS and the agent's --grace
REQUEST_TTL = 20  # seconds a request nobody starts lives (SESSION_REQUEST_TTL_SECONDS): the system's own end


@pytest.fixture(scope="module")
def endings_system(tmp_path_factory):
    with own_system(tmp_path_factory.mktemp("endings"),
                    users=[("consultant", "maria", PASSWORD), ("supervisor", "sofia", PASSWORD)],
                    AGENT_GRACE_SECONDS=str(GRACE), SESSION_REQUEST_TTL_SECONDS=str(REQUEST_TTL),
                    SESSION_EXPIRY_INTERVAL_SECONDS="1") as system:
        yield system


@pytest.fixture
def cleanup():
    things = []
    yield things
    for thing in things:
        thing.stop()


async def _request(system):
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=10) as customer:
        return await request_help(customer, scopes=("view", "control"))


async def _end_as(system, session_id: str, username: str) -> None:
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=30) as staff:
        token = await login(staff, username, PASSWORD)
        ended = await staff.post(f"/api/v1/sessions/{session_id}/end", headers=bearer(token))
        assert ended.status_code == 200, ended.text


def _keep(tmp_path, name: str, screen: list[str]) -> None:
    """The captured screen, for a person to look at (`pytest -s` prints it; the file stays in tmp_path)."""
    (tmp_path / f"screen-{name}.txt").write_text("\n".join(screen) + "\n", encoding="utf-8")
    print(f"\n----- {name} -----\n" + "\n".join(screen))


WHO_ENDED = {
    "bg": {"consultant": "Консултантът приключи сесията.", "supervisor": "Супервайзър приключи сесията."},
    "en": {"consultant": "The consultant ended the session.", "supervisor": "A supervisor ended the session."},
}
ACCESS_CLOSED = {"bg": "Достъпът до този компютър е затворен.", "en": "Access to this computer is closed."}
HOTKEY = {"bg": "за край натиснете Q", "en": "to end press Q"}


@needs_tmux
@pytest.mark.parametrize(("language", "ender"), [("bg", "maria"), ("en", "sofia")])
async def test_in_an_80_column_window_the_customer_watches_the_shell_and_is_told_who_ended_it(
        endings_system, tmp_path, cleanup, language, ender):
    system = endings_system
    request = await _request(system)
    agent = TmuxAgent(gateway=system.gateway_url, code=request.session_code, log_dir=tmp_path,
                      lang="en" if language == "en" else None)  # Bulgarian by default, from a C.UTF-8 locale
    cleanup.append(agent)
    waiting = await agent.wait_for_screen(HOTKEY[language])
    assert HOTKEY[language] in waiting[23], waiting  # the status line: the bottom row
    assert f"{agent.log_file}" in "".join(waiting)  # the log file named once, the log lines in it
    consultant, _ = await consultant_joins(system.gateway_url, request)
    await consultant.next_frame(framing.TERMINAL)  # the prompt: the shell reads from here on
    await consultant.send(console.keystrokes("echo shared-$((6 * 7)); sleep 2; echo still-here\n"))
    # Two seconds of clock ticks between the two lines: the screen holds the shell and one status line at the bottom.
    screen = await agent.wait_for_screen("still-here", line=True)
    assert any("echo shared-$((6 * 7))" in line for line in screen[:23]), screen  # what the consultant typed
    assert sum(HOTKEY[language] in line for line in screen) == 1 and screen[23].endswith(HOTKEY[language]), screen
    assert "maria" in screen[23] and len(screen) == 24, screen
    assert screen.index("shared-42") < screen.index("still-here") < 23, screen
    _keep(tmp_path, f"during-{language}", screen)

    await _end_as(system, request.session_id, ender)
    view = await session_view(system, consultant)
    screen = await agent.wait_for_screen("EXIT=")
    _keep(tmp_path, f"ended-{language}", screen)
    said = "\n".join(screen)
    assert WHO_ENDED[language][view["ended_by"]] in said, said  # supervisor, or consultant where not yet told apart
    assert ACCESS_CLOSED[language] in said and "EXIT=0" in said, said
    if ender == "sofia":
        assert view["ended_by"] in ("supervisor", "consultant")
    log = agent.log_file.read_text()
    assert "reconnecting" not in log, log  # an end is never followed by a reconnect


async def test_the_customer_page_ending_stops_the_agent(endings_system, tmp_path, cleanup):
    system = endings_system
    request = await _request(system)
    agent = AgentProcess(gateway=system.gateway_url, code=request.session_code, log_dir=tmp_path, verbose=False)
    cleanup.append(agent)
    await agent.wait_for_log("[waiting for the consultant]", timeout=20)
    await consultant_joins(system.gateway_url, request)
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=30) as customer:
        ended = await customer.post(f"/api/v1/sessions/{request.session_id}/terminate",
                                    headers=bearer(request.customer_token))
        assert ended.status_code == 200, ended.text
    assert await agent.wait_exit() == 0
    assert "You ended the session.\nAccess to this computer is closed." in agent.log()
    assert "reconnecting" not in agent.log_file.read_text()


async def test_the_system_ending_a_request_nobody_started_stops_the_agent(endings_system, tmp_path, cleanup):
    system = endings_system
    request = await _request(system)
    agent = AgentProcess(gateway=system.gateway_url, code=request.session_code, log_dir=tmp_path, lang=None,
                         verbose=False, env={**os.environ, "LANG": "C.UTF-8", "LC_ALL": ""})
    cleanup.append(agent)
    await agent.wait_for_log("[чака консултанта]", timeout=20)
    assert await agent.wait_exit(timeout=REQUEST_TTL + 30) == 0
    assert ("Системата приключи сесията (изтече времето за изчакване).\nДостъпът до този компютър е затворен."
            in agent.log()), agent.log()
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=10) as customer:
        view = (await customer.get(f"/api/v1/sessions/{request.session_id}",
                                   headers=bearer(request.customer_token))).json()
    assert (view["status"], view["ended_by"], view["end_reason"]) == ("ended", "system", "expired"), view


async def test_an_agent_cut_off_past_the_grace_period_stops_and_says_so(endings_system, tmp_path, cleanup):
    system = endings_system
    proxy = CuttableProxy(int(system.gateway_url.rsplit(":", 1)[1]))
    await proxy.start()
    request = await _request(system)
    agent = AgentProcess(gateway=f"http://127.0.0.1:{proxy.port}", code=request.session_code, log_dir=tmp_path,
                         grace=GRACE, verbose=False)
    cleanup.append(agent)
    await agent.wait_for_log("[waiting for the consultant]", timeout=20)
    consultant, _ = await consultant_joins(system.gateway_url, request)
    await proxy.cut()  # the customer's network goes away, and stays away
    assert await agent.wait_exit(timeout=GRACE + 30) == 3
    assert (f"The connection was lost for more than {GRACE} s: the session is over.\n"
            "Access to this computer is closed." in agent.log()), agent.log()
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=10) as customer:
        view = await wait_for_status(customer, request.session_id, bearer(request.customer_token), "ended",
                                     timeout=GRACE + 20)
    assert (view["ended_by"], view["end_reason"]) == ("system", "agent_lost")


async def test_a_wrong_code_is_a_refusal(endings_system, tmp_path, cleanup):
    agent = AgentProcess(gateway=endings_system.gateway_url, code="000000001", log_dir=tmp_path, verbose=False)
    cleanup.append(agent)
    assert await agent.wait_exit() == 1
    assert "The code was not accepted:" in agent.log() and "Access to this computer is closed." in agent.log()
