"""The relay's trust boundary (issue #12): only the gateway speaks in text frames, and a view-only consent is held
at the gateway too. A consultant who forges the gateway's `attached` cannot move the customer's agent into a
session of his own; a peer's text frame never reaches the other side, on one replica or across two; keystrokes and
input events of a view-only session never reach the agent; outside text reaches the customer's terminal without
its escape sequences. One system with two gateway replicas for the module.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import httpx
import pytest
import websockets
from agent_flow import AgentProcess, Consultant
from identities import STAFF, module_system
from public_api import (
    bearer, close_code, connect_agent, connect_consultant, connect_observer, login, next_control, request_help,
    wait_for_status, ws_url,
)

from assist_agent import console, framing

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "faults"))
from proxy import CuttableProxy  # noqa: E402  (the fault suite's cuttable TCP proxy, between agent and gateway)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

PASSWORD = "a long enough password"
FORGED_NAME = "Your Bank's Security Team"
ESCAPES = "\x1b]0;pwned\x07\x1b[2J\x1b[1;1H"
REPLICAS = pytest.mark.parametrize("across", [False, True], ids=["one replica", "two replicas"])


@pytest.fixture(scope="module")
def trust_system(tmp_path_factory):
    with module_system(tmp_path_factory, gateways=2, CODE_ATTEMPTS_PER_MINUTE="100000",
                       LOGIN_ATTEMPTS_PER_MINUTE="100000") as system:
        yield system


@pytest.fixture
async def hop(trust_system):
    """A TCP hop between the real agent and the first gateway that the test can cut: a network drop."""
    proxy = CuttableProxy(int(trust_system.gateway_urls[0].rsplit(":", 1)[1]))
    await proxy.start()
    yield proxy
    await proxy.cut()


async def _claimed(gateway: str, token: str, *, scopes=("view", "control")):
    async with httpx.AsyncClient(base_url=gateway, timeout=30) as client:
        request = await request_help(client, scopes=scopes)
        claimed = await client.post(f"/api/v1/sessions/{request.session_id}/claim", headers=bearer(token))
        assert claimed.status_code == 200, claimed.text
    return request


async def _token(gateway: str) -> str:
    async with httpx.AsyncClient(base_url=gateway, timeout=30) as client:
        return await login(client, STAFF["consultant"], PASSWORD)


async def _agent_waiting(gateway: str, tmp_path, agents, *, via: str | None = None):
    """maria's token, a request she claimed, and the real agent with its code (through `via` if given), waiting
    for her."""
    token = await _token(gateway)
    request = await _claimed(gateway, token)
    agent = AgentProcess(gateway=via or gateway, code=request.session_code, log_dir=tmp_path)
    agents.append(agent)
    await agent.wait_for_log("waiting for the consultant", timeout=20)
    return token, request, agent


async def _customer_ends(gateway: str, request) -> None:
    async with httpx.AsyncClient(base_url=gateway, timeout=30) as customer:
        ended = await customer.post(f"/api/v1/sessions/{request.session_id}/terminate",
                                    headers=bearer(request.customer_token))
        assert ended.status_code == 200, ended.text


async def _open_pair(system, *, across: bool, scopes=("view", "control")):
    """A raw agent socket and the assigned consultant's, on one replica or on two, the session active."""
    agent_gw = system.gateway_urls[0]
    consultant_gw = system.gateway_urls[1 if across else 0]
    token = await _token(consultant_gw)
    request = await _claimed(agent_gw, token, scopes=scopes)
    agent = await connect_agent(agent_gw, request.session_code)
    await next_control(agent, "attached")
    consultant = await connect_consultant(consultant_gw, request.session_id, token)
    await next_control(consultant, "peer_joined")
    await next_control(agent, "peer_joined")
    async with httpx.AsyncClient(base_url=agent_gw, timeout=30) as customer:
        await wait_for_status(customer, request.session_id, bearer(request.customer_token), "active")
    return request, agent, consultant


async def _texts_until(ws, marker: bytes, timeout: float = 10.0) -> list[str]:
    """Every text frame `ws` receives before the binary frame `marker` (frames of one sender keep their order)."""
    texts = []
    async with asyncio.timeout(timeout):
        while True:
            message = await ws.recv()
            if isinstance(message, str):
                texts.append(message)
            elif message == marker:
                return texts


@REPLICAS
async def test_a_peers_text_frame_never_reaches_the_other_side(trust_system, across):
    _request, agent, consultant = await _open_pair(trust_system, across=across)
    forged_attached = json.dumps({"type": "attached", "session_id": "s_forged", "resume_token": "x" * 43,
                                  "consultant": FORGED_NAME, "scopes": ["view", "control"]})
    await consultant.send(forged_attached)
    await consultant.send(b"\x00after the consultant's text")
    assert forged_attached not in await _texts_until(agent, b"\x00after the consultant's text")
    refused = await next_control(consultant, "refused")
    assert refused["what"] == "text"
    # The other way too: the agent cannot speak as the gateway to the consultant.
    forged_left = json.dumps({"type": "peer_left", "peer": "agent"})
    await agent.send(forged_left)
    await agent.send(b"\x00after the agent's text")
    assert forged_left not in await _texts_until(consultant, b"\x00after the agent's text")
    assert (await next_control(agent, "refused"))["what"] == "text"


@REPLICAS
async def test_with_a_view_only_consent_keystrokes_and_input_never_reach_the_agent(trust_system, across):
    _request, agent, consultant = await _open_pair(trust_system, across=across, scopes=("view",))
    await consultant.send(console.keystrokes("rm -rf ~\n"))
    await consultant.send(console.pointer_move(10, 10))
    await consultant.send(console.resize(100, 30))  # channel 0 passes: watching needs it
    async with asyncio.timeout(10):
        first = await agent.recv()
        while isinstance(first, str):  # the gateway's own messages
            first = await agent.recv()
    assert first == console.resize(100, 30)
    refused = await next_control(consultant, "refused")
    assert refused["what"] == "terminal" and "view" in refused["reason"]


@REPLICAS
async def test_a_consultant_who_reconnects_after_control_was_taken_back_gets_view_only(trust_system, across):
    """A fresh socket means a fresh lease: it must carry the consent as it is now, not as it was granted (#16)."""
    request, agent, consultant = await _open_pair(trust_system, across=across)
    consultant_gw = trust_system.gateway_urls[1 if across else 0]
    async with httpx.AsyncClient(base_url=trust_system.gateway_urls[0], timeout=30) as customer:
        taken = await customer.delete(f"/api/v1/sessions/{request.session_id}/scopes/control",
                                      headers=bearer(request.customer_token))
        assert taken.status_code == 200, taken.text
    await consultant.close()
    consultant = await connect_consultant(consultant_gw, request.session_id, await _token(consultant_gw))
    assert (await next_control(consultant, "attached"))["scopes"] == ["view"]
    await consultant.send(console.keystrokes("rm -rf ~\n"))
    await consultant.send(console.pointer_move(10, 10))
    await consultant.send(console.resize(100, 30))
    async with asyncio.timeout(10):
        first = await agent.recv()
        while isinstance(first, str):  # the gateway's own messages (`scopes`, `peer_left`, `peer_joined`)
            first = await agent.recv()
    assert first == console.resize(100, 30)
    assert (await next_control(consultant, "refused"))["what"] == "terminal"


@REPLICAS
async def test_a_consultant_cannot_give_himself_control_back(trust_system, across):
    """Neither with a forged `scopes` message (text frames are the gateway's alone) nor through the customer's
    route: only the customer's token takes a scope back, and nothing gives one back."""
    request, agent, consultant = await _open_pair(trust_system, across=across, scopes=("view",))
    forged = json.dumps({"type": "scopes", "scopes": ["view", "control"]})
    await consultant.send(forged)
    await consultant.send(b"\x00after the forged scopes")
    assert forged not in await _texts_until(agent, b"\x00after the forged scopes")
    consultant_gw = trust_system.gateway_urls[1 if across else 0]
    token = await _token(consultant_gw)
    async with httpx.AsyncClient(base_url=consultant_gw, timeout=30) as client:
        for scope in ("control", "view"):
            answer = await client.delete(f"/api/v1/sessions/{request.session_id}/scopes/{scope}",
                                         headers=bearer(token))
            assert answer.status_code == 403, answer.text
        assert (await client.get(f"/api/v1/sessions/{request.session_id}",
                                 headers=bearer(request.customer_token))).json()["status"] == "active"
    assert (await next_control(consultant, "refused"))["what"] == "text"
    await consultant.send(console.keystrokes("id\n"))
    await consultant.send(console.resize(90, 20))
    async with asyncio.timeout(10):
        first = await agent.recv()
        while isinstance(first, str):
            first = await agent.recv()
    assert first == console.resize(90, 20), "a keystroke reached the agent of a view-only session"


async def _until(ws, wanted, seen: list, timeout: float = 20.0):
    """Read `ws` (text and binary) into `seen` until `wanted(message)`; that message."""
    async with asyncio.timeout(timeout):
        while True:
            message = await ws.recv()
            seen.append(message)
            if wanted(message):
                return message


def _gateway_says(kind: str):
    return lambda message: isinstance(message, str) and json.loads(message).get("type") == kind


def _agent_says(kind: str):
    def wanted(message) -> bool:
        if not isinstance(message, bytes) or message[:1] != bytes((framing.CONTROL,)):
            return False
        return framing.decode(message).json().get("type") == kind
    return wanted


async def test_a_forged_attached_cannot_move_the_customers_agent_into_the_consultants_own_session(
        trust_system, tmp_path, agents, hop):
    gateway = trust_system.gateway_urls[0]
    # The real agent reaches the gateway through a hop the test can cut: a network drop it must come back from.
    token, victim, agent = await _agent_waiting(gateway, tmp_path, agents, via=f"http://127.0.0.1:{hop.port}")
    seen_a: list = []
    ws_a = await connect_consultant(gateway, victim.session_id, token)
    await _until(ws_a, _agent_says("hello"), seen_a)
    await ws_a.send(console.hello())

    # The consultant's own session B: a fake agent of his holds its code, and he is its consultant.
    own = await _claimed(gateway, token)
    fake_agent = await connect_agent(gateway, own.session_code)
    own_attached = await next_control(fake_agent, "attached")
    seen_b: list = []
    ws_b = await connect_consultant(gateway, own.session_id, token)
    await _until(ws_b, _gateway_says("peer_joined"), seen_b)

    # Speaking as the gateway on session A: B's id and resume token, and a name of his choosing.
    await ws_a.send(json.dumps({"type": "attached", "session_id": own.session_id, "status": "active",
                                "resume_token": own_attached["resume_token"], "resumed": False,
                                "consultant": FORGED_NAME, "scopes": ["view", "control"]}))
    await ws_a.send(json.dumps({"type": "peer_joined", "peer": "consultant", "consultant": FORGED_NAME}))
    # A keystroke behind them: once its output is back, the agent has read (or been spared) what came before.
    await ws_a.send(console.keystrokes("echo trust-$((6 * 7))\n"))
    async with asyncio.timeout(15):
        output = b""
        while b"trust-42" not in output:
            output += await _until(ws_a, lambda m: isinstance(m, bytes) and m[:1] == b"\x01", seen_a)

    # The agent's connection drops; it comes back with what it believes is its session.
    await hop.cut()
    await hop.start()
    await _until(ws_a, _gateway_says("peer_left"), seen_a)
    await _until(ws_a, _gateway_says("peer_joined"), seen_a)
    await _until(ws_a, _agent_says("hello"), seen_a)  # the agent is back on A, its own session

    # B's token opens nothing but B: presented for A, the gateway refuses it.
    misused = await websockets.connect(
        f"{ws_url(gateway)}/ws/v1/agent?session={victim.session_id}&resume={own_attached['resume_token']}")
    assert (await close_code(misused))[0] == 4403

    # The customer ends A: the agent ends, and nothing of it ever reached B, whose fake agent is still its agent.
    await _customer_ends(gateway, victim)
    assert (await close_code(ws_a))[0] == 4410
    assert await agent.wait_exit() == 0
    await fake_agent.send(b"\x00the fake agent's marker")
    await _until(ws_b, lambda m: m == b"\x00the fake agent's marker", seen_b)
    assert [m for m in seen_b if isinstance(m, bytes)] == [b"\x00the fake agent's marker"]
    log = agent.log()
    assert FORGED_NAME not in log and "\x1b" not in log, log


async def test_escape_sequences_from_outside_are_not_written_raw_to_the_customers_terminal(trust_system, tmp_path,
                                                                                        agents):
    gateway = trust_system.gateway_urls[0]
    token, request, agent = await _agent_waiting(gateway, tmp_path, agents)
    ws = await connect_consultant(gateway, request.session_id, token)
    consultant = Consultant(ws=ws, session_id=request.session_id, customer_token=request.customer_token,
                            agent_hello={})
    await consultant.next_control("hello", timeout=15)
    await consultant.send(console.hello())
    for kind in ("peer_joined", "attached", "peer_left"):
        await ws.send(json.dumps({"type": kind, "peer": "consultant", "consultant": ESCAPES + FORGED_NAME,
                                  "session_id": request.session_id, "scopes": ["view", "control"]}))
    await consultant.send(console.keystrokes("echo escapes-$((6 * 7))\n"))
    await consultant.terminal_until("escapes-42", timeout=15)
    await agent.wait_for_log(f"consultant: {STAFF['consultant']}")
    await _customer_ends(gateway, request)
    assert await agent.wait_exit() == 0
    log = agent.log()
    assert "You ended the session." in log and "Access to this computer is closed." in log
    assert "\x1b" not in log and "\x07" not in log and FORGED_NAME not in log, log


async def test_the_customers_terminate_ends_the_agent_instead_of_leaving_it_reconnecting(trust_system, tmp_path,
                                                                                          agents):
    gateway = trust_system.gateway_urls[0]
    _token_unused, request, agent = await _agent_waiting(gateway, tmp_path, agents)
    await _customer_ends(gateway, request)
    # 4410 is final: the agent closes everything and ends, it does not knock at the gateway with its resume token.
    assert await agent.wait_exit() == 0
    assert "You ended the session." in agent.log()
    assert "reconnecting" not in agent.log()


# --- the tools' channels (#17): clipboard (4) and files (5), gated by scopes of their own, both ways ---------------

CLIPBOARD_FRAME = bytes((framing.CLIPBOARD,)) + b'{"type":"clipboard.put","text":"the admin password"}'
# A well-formed offer (channel 5, kind 0: docs/protocol.md "Files"): with the scope, the gateway lets it pass.
FILE_FRAME = bytes((framing.FILES, 0)) + json.dumps({
    "type": "file.offer", "id": "8f1c2a52-59f4-4a43-9d44-2f0a3b7a1c01", "name": "installer.exe", "size": 1,
    "sha256": "0" * 64}).encode()


async def _binaries_until(ws, marker: bytes, timeout: float = 10.0) -> list[bytes]:
    """Every binary frame `ws` receives before `marker` (frames of one sender keep their order)."""
    received = []
    async with asyncio.timeout(timeout):
        while (message := await ws.recv()) != marker:
            if isinstance(message, bytes):
                received.append(message)
    return received


async def _sent_through(sender, receiver, frames, marker: bytes) -> list[bytes]:
    """Which of `frames` the receiver got, `marker` (a control frame, always passing) sent after them."""
    for frame in frames:
        await sender.send(frame)
    await sender.send(marker)
    return [frame for frame in await _binaries_until(receiver, marker) if frame in frames]


@REPLICAS
async def test_clipboard_and_file_frames_pass_neither_way_without_their_scopes(trust_system, across):
    """A consultant with view and control cannot push a file or read the clipboard by writing the channel himself,
    and the agent's frames of those channels never reach him either."""
    _request, agent, consultant = await _open_pair(trust_system, across=across)
    assert await _sent_through(consultant, agent, [CLIPBOARD_FRAME, FILE_FRAME], b"\x00consultant done") == []
    refused = await next_control(consultant, "refused")
    assert refused["what"] in ("clipboard", "files") and "consent does not include" in refused["reason"]
    assert await _sent_through(agent, consultant, [CLIPBOARD_FRAME, FILE_FRAME], b"\x00agent done") == []
    assert (await next_control(agent, "refused"))["what"] in ("clipboard", "files")


@REPLICAS
async def test_a_withdrawn_files_scope_stops_file_frames_both_ways_while_the_clipboard_goes_on(trust_system, across):
    request, agent, consultant = await _open_pair(trust_system, across=across, scopes=("view", "files", "clipboard"))
    both = [CLIPBOARD_FRAME, FILE_FRAME]
    assert await _sent_through(consultant, agent, both, b"\x00c1") == both
    assert await _sent_through(agent, consultant, both, b"\x00a1") == both
    async with httpx.AsyncClient(base_url=trust_system.gateway_urls[0], timeout=30) as customer:
        taken = await customer.delete(f"/api/v1/sessions/{request.session_id}/scopes/files",
                                      headers=bearer(request.customer_token))
    assert taken.status_code == 200 and taken.json()["scopes"] == ["view", "clipboard"], taken.text
    # 200 means cut for that scope, on every replica: the very next frames meet it.
    assert await _sent_through(consultant, agent, both, b"\x00c2") == [CLIPBOARD_FRAME]
    assert await _sent_through(agent, consultant, both, b"\x00a2") == [CLIPBOARD_FRAME]


async def test_the_agent_takes_the_clipboard_back_with_its_own_request_and_never_view_that_way(trust_system):
    """The agent's `withdraw_scope` text frame narrows like the page's DELETE; `view` is not taken back that way
    (the agent ends with `end_session`), and a scope nobody knows is refused as any other text."""
    request, agent, consultant = await _open_pair(trust_system, across=False, scopes=("view", "clipboard"))
    await agent.send(json.dumps({"type": "withdraw_scope", "scope": "view"}))
    await agent.send(json.dumps({"type": "withdraw_scope", "scope": "root"}))
    assert (await next_control(agent, "refused"))["what"] == "text"
    await agent.send(json.dumps({"type": "withdraw_scope", "scope": "clipboard"}))
    assert (await next_control(consultant, "scopes"))["scopes"] == ["view"]
    assert await _sent_through(consultant, agent, [CLIPBOARD_FRAME], b"\x00c1") == []
    async with httpx.AsyncClient(base_url=trust_system.gateway_urls[0], timeout=30) as customer:
        view = await customer.get(f"/api/v1/sessions/{request.session_id}", headers=bearer(request.customer_token))
    assert view.json()["status"] == "active"


async def test_an_observer_never_gets_the_customers_clipboard_or_files(trust_system):
    request, agent, consultant = await _open_pair(trust_system, across=False, scopes=("view", "files", "clipboard"))
    gateway = trust_system.gateway_urls[0]
    async with httpx.AsyncClient(base_url=gateway, timeout=30) as client:
        supervisor = await login(client, STAFF["supervisor"], PASSWORD)
    observer = await connect_observer(gateway, request.session_id, supervisor)
    await next_control(observer, "attached")
    await next_control(agent, "observers")
    terminal = bytes((framing.TERMINAL,)) + b"$ "
    await agent.send(CLIPBOARD_FRAME)
    await agent.send(FILE_FRAME)
    await agent.send(terminal)
    await agent.send(b"\x00agent done")
    watched = await _binaries_until(observer, b"\x00agent done")
    assert watched == [terminal]
    assert await _binaries_until(consultant, b"\x00agent done") == [CLIPBOARD_FRAME, FILE_FRAME, terminal]


# --- file transfers (#17): what the relay checks on channel 5 beyond the scope ---------------------------------------
def _offer(transfer_id: str, size: int) -> bytes:
    return bytes((framing.FILES, 0)) + json.dumps({"type": "file.offer", "id": transfer_id, "name": "a.bin",
                                                   "size": size, "sha256": "0" * 64}).encode()


def _chunk(transfer_id: str, offset: int, data: bytes) -> bytes:
    import uuid

    return bytes((framing.FILES, 1)) + uuid.UUID(transfer_id).bytes + offset.to_bytes(8, "big") + data


@REPLICAS
async def test_file_data_passes_only_for_a_file_its_sender_offered_and_only_within_the_offered_size(trust_system,
                                                                                                   across):
    """Data for an id nobody offered, for the other side's offer, or past the offered size, and malformed files
    payloads, are dropped at the sender's replica (its sender told `refused`); an offer over FILE_TRANSFER_MAX_BYTES
    is refused by name, from either side."""
    import uuid

    _request, agent, consultant = await _open_pair(trust_system, across=across, scopes=("view", "files"))
    offered, other = str(uuid.uuid4()), str(uuid.uuid4())
    within, past = _chunk(offered, 0, b"x" * 10), _chunk(offered, 5, b"y" * 10)
    malformed = [bytes((framing.FILES,)), bytes((framing.FILES, 2)) + b"zz", bytes((framing.FILES, 0)) + b"not json",
                 bytes((framing.FILES, 0)) + b'{"type":"file.evil","id":"x"}', bytes((framing.FILES, 1)) + b"short",
                 _offer("not-a-uuid", 1)]
    frames = [_chunk(other, 0, b"z"), _offer(offered, 10), within, past, *malformed]
    assert await _sent_through(consultant, agent, frames, b"\x00c1") == [_offer(offered, 10), within]
    refused = await next_control(consultant, "refused")
    assert refused["what"] == "files"
    # The agent cannot send data under the consultant's offer, nor an offer over the limit.
    huge = str(uuid.uuid4())
    assert await _sent_through(agent, consultant, [within, _offer(huge, 2 * 1024 ** 3 + 1)], b"\x00a1") == []
    told = await _until(agent, lambda message: isinstance(message, str) and json.loads(message).get("id") == huge,
                        [])
    assert json.loads(told)["reason"] == "too_large" and json.loads(told)["type"] == "refused"
