"""File transfers end to end (issue #17), with the real agent process: a file sent to the customer lands whole in
their folder with its SHA-256 checked on disk and in the audit trail (the consultant on another replica than the
agent); a refused file leaves nothing; a transfer cut by the customer's withdrawn `files` scope or by a terminate
mid-way leaves no partial file and the consultant is told; an offer over the gateway's limit is refused; a file
asked of the customer arrives whole with its hash checked; the customer's page reads every transfer."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sys
import uuid
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from agent_flow import AgentProcess, Consultant, consultant_joins
from public_api import bearer, close_code, login, request_help
from relay_flow import PASSWORD

from assist_agent import framing
from assist_agent.filetransfer import wire
from assist_agent.filetransfer.outgoing import Outgoing

sys.path.insert(0, str(Path(__file__).resolve().parent / "faults"))
from proxy import CuttableProxy  # noqa: E402  (the fault suite's cuttable TCP proxy, between agent and gateway)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]


class FilesConsole:
    """The consultant's side of channel 5 over a real console socket: its gateway text frames are kept too."""

    def __init__(self, consultant: Consultant) -> None:
        self.consultant = consultant
        self.texts: list[dict] = []
        self.messages: list[dict] = []
        self.chunks: list[wire.Chunk] = []

    async def _read_one(self) -> None:
        message = await self.consultant.ws.recv()
        if isinstance(message, str):
            self.texts.append(json.loads(message))
            return
        frame = framing.decode(message)
        if frame.channel == framing.FILES:
            item = wire.decode(frame.payload)
            (self.chunks if isinstance(item, wire.Chunk) else self.messages).append(item)

    async def until(self, found, timeout: float = 20.0):
        async with asyncio.timeout(timeout):
            while not (result := found()):
                await self._read_one()
        return result

    def message(self, kind: str, transfer_id: str) -> dict | None:
        return next((m for m in self.messages if m["type"] == kind and m.get("id") == transfer_id), None)

    def text(self, kind: str, **fields) -> dict | None:
        return next((m for m in self.texts if m.get("type") == kind
                     and all(m.get(key) == value for key, value in fields.items())), None)


@asynccontextmanager
async def _session(system, tmp_path: Path, *, agent_gateway: str | None = None, consultant_gateway: str | None = None,
                   scopes=("view", "files"), agent_via: str | None = None):
    """(agent, console, downloads, request): the real agent with a home of its own, its help request (on
    `agent_gateway`) claimed by maria (on `consultant_gateway`), both the system's gateway unless given; the agent
    stopped when the block ends."""
    agent_gateway = agent_gateway or system.gateway_url
    home = tmp_path / "home"
    (home / "Downloads").mkdir(parents=True)
    system.add_user("consultant", "maria", PASSWORD, check=False)
    async with httpx.AsyncClient(base_url=agent_gateway, timeout=10) as customer:
        request = await request_help(customer, scopes=scopes)
    agent = AgentProcess(gateway=agent_via or agent_gateway, code=request.session_code, log_dir=tmp_path,
                         env={**os.environ, "HOME": str(home)})
    try:
        await agent.wait_for_log("[waiting for the consultant]", timeout=20)
        consultant, _ = await consultant_joins(consultant_gateway or system.gateway_url, request)
        yield agent, FilesConsole(consultant), home / "Downloads", request
    finally:
        agent.stop()


def _file(tmp_path: Path, size: int, name: str = "setup.exe") -> Path:
    path = tmp_path / "outbox" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(os.urandom(size))
    return path


async def _offered_and_accepted(agent: AgentProcess, console: FilesConsole, outgoing: Outgoing) -> dict:
    await console.consultant.send(outgoing.offer_frame())
    await agent.wait_for_log("A: save to ~/Downloads, F: choose a folder, R: refuse.")
    agent.press(b"a")
    accept = await console.until(lambda: console.message("file.accept", outgoing.transfer_id))
    outgoing.accept(accept["offset"])
    return accept


async def _send(console: FilesConsole, outgoing: Outgoing, *, until: int | None = None) -> None:
    while not outgoing.sent_all and (until is None or outgoing.position < until):
        await console.consultant.send(outgoing.next_frame())


async def _half_sent(agent: AgentProcess, console: FilesConsole, downloads: Path, tmp_path: Path) -> Outgoing:
    """A 4 MiB file offered, accepted and sent half-way, its partial file begun in `downloads`."""
    outgoing = Outgoing.of(_file(tmp_path, 4 * 1024 * 1024))
    await _offered_and_accepted(agent, console, outgoing)
    await _send(console, outgoing, until=outgoing.size // 2)
    await _part_written(downloads)
    return outgoing


async def _as_customer(gateway: str, request, method: str, path: str) -> httpx.Response:
    """The customer's own call on their session: `path` below /api/v1/sessions/{id}/."""
    async with httpx.AsyncClient(base_url=gateway, timeout=15) as customer:
        return await customer.request(method, f"/api/v1/sessions/{request.session_id}/{path}",
                                      headers=bearer(request.customer_token))


async def _transfers(gateway: str, request) -> list[dict]:
    async with httpx.AsyncClient(base_url=gateway, timeout=10) as client:
        response = await client.get(f"/api/v1/sessions/{request.session_id}/file-transfers",
                                    headers=bearer(request.customer_token))
    assert response.status_code == 200, response.text
    return response.json()["transfers"]


async def _recorded(gateway: str, request, transfer_id: str, status: str) -> dict:
    async with asyncio.timeout(15):
        while True:
            found = [t for t in await _transfers(gateway, request) if t["transfer_id"] == transfer_id]
            if found and found[0]["status"] == status:
                return found[0]
            await asyncio.sleep(0.1)


async def _audit(system, gateway: str, session_id: str) -> list[dict]:
    system.add_user("supervisor", "sam", PASSWORD, check=False)
    async with httpx.AsyncClient(base_url=gateway, timeout=10) as client:
        token = await login(client, "sam", PASSWORD)
        response = await client.get("/api/v1/audit", params={"session_id": session_id}, headers=bearer(token))
    assert response.status_code == 200, response.text
    return [entry for entry in response.json()["entries"] if entry["action"].startswith("file.")]


async def _gone(folder: Path, timeout: float = 15.0) -> None:
    """Until nothing is in `folder` (a partial file removed)."""
    async with asyncio.timeout(timeout):
        while os.listdir(folder):
            await asyncio.sleep(0.05)


async def _part_written(folder: Path) -> str:
    async with asyncio.timeout(15):
        while True:
            parts = [name for name in os.listdir(folder) if ".assist-part-" in name]
            if parts and (folder / parts[0]).stat().st_size > 0:
                return parts[0]
            await asyncio.sleep(0.05)


async def test_a_file_sent_to_the_customer_lands_whole_with_its_hash_on_disk_and_in_the_audit(start_system, tmp_path):
    system = start_system(shared=True)
    agent_gw, consultant_gw = system.gateway_urls  # the consultant's frames cross the bridge to the agent's home
    async with _session(system, tmp_path, agent_gateway=agent_gw,
                        consultant_gateway=consultant_gw) as (agent, console, downloads, request):
        outgoing = Outgoing.of(_file(tmp_path, 3 * 1024 * 1024 + 123))
        assert (await _offered_and_accepted(agent, console, outgoing))["offset"] == 0
        assert "[file] maria sends you setup.exe (3.1 MB)." in agent.log()
        await _send(console, outgoing)
        done = await console.until(lambda: console.message("file.done", outgoing.transfer_id))
        assert (done["sha256"], done["size"]) == (outgoing.sha256, outgoing.size)
        saved = downloads / "setup.exe"
        assert hashlib.sha256(saved.read_bytes()).hexdigest() == outgoing.sha256
        assert os.listdir(downloads) == ["setup.exe"]  # no temporary left beside it
        assert console.message("file.progress", outgoing.transfer_id) is not None

        row = await _recorded(agent_gw, request, outgoing.transfer_id, "done")
        assert (row["direction"], row["name"], row["size"], row["sha256"], row["received_sha256"],
                row["bytes_done"]) == ("to_customer", "setup.exe", outgoing.size, outgoing.sha256, outgoing.sha256,
                                       outgoing.size)
        entries = await _audit(system, agent_gw, request.session_id)
        assert [(e["action"], e["actor"], e["detail"]["name"], e["detail"]["size"], e["detail"]["sha256"],
                 e["detail"]["received_sha256"], e["detail"]["direction"]) for e in entries] == [
            ("file.done", "customer", "setup.exe", outgoing.size, outgoing.sha256, outgoing.sha256, "to_customer")]


async def test_a_refused_file_leaves_nothing_and_is_recorded(start_system, tmp_path):
    system = start_system(shared=True)
    async with _session(system, tmp_path) as (agent, console, downloads, request):
        outgoing = Outgoing.of(_file(tmp_path, 1000, "bashrc"), name="../../.bashrc")
        await console.consultant.send(outgoing.offer_frame())
        await agent.wait_for_log("[file] maria sends you bashrc (1.0 KB).")  # the name it would be saved as
        agent.press(b"r")
        refused = await console.until(lambda: console.message("file.refuse", outgoing.transfer_id))
        assert refused["reason"] == "refused"
        outgoing.accept(0)
        await _send(console, outgoing)  # sent anyway: the gateway passes the offered bytes, the agent drops them
        await agent.wait_for_log("You refused bashrc")
        assert os.listdir(downloads) == [] and sorted(os.listdir(downloads.parent)) == ["Downloads"]
        row = await _recorded(system.gateway_url, request, outgoing.transfer_id, "refused")
        assert (row["name"], row["reason"]) == ("../../.bashrc", "refused")
        assert [e["action"] for e in await _audit(system, system.gateway_url, request.session_id)] == ["file.refused"]


async def test_a_withdrawn_files_scope_cuts_a_transfer_mid_way_and_leaves_no_partial_file(start_system, tmp_path):
    system = start_system(shared=True)
    async with _session(system, tmp_path, scopes=("view", "control", "files")) as (agent, console, downloads, request):
        outgoing = await _half_sent(agent, console, downloads, tmp_path)
        withdrawn = await _as_customer(system.gateway_url, request, "DELETE", "scopes/files")
        assert withdrawn.status_code == 200, withdrawn.text
        told = await console.until(lambda: console.text("scopes"))
        assert "files" not in told["scopes"] and "control" in told["scopes"]  # the consultant is told
        await _gone(downloads)  # the agent deleted its temporary
        await _send(console, outgoing)  # the rest is refused at the gateway
        refused = await console.until(lambda: console.text("refused", what="files"))
        assert refused["reason"] == "the customer's consent does not include files"
        await agent.wait_for_log("access to files was taken back")
        assert os.listdir(downloads) == []
        row = await _recorded(system.gateway_url, request, outgoing.transfer_id, "cancelled")
        assert row["reason"] == "scope_withdrawn" and row["bytes_done"] < outgoing.size
        assert [(e["action"], e["actor"]) for e in await _audit(system, system.gateway_url, request.session_id)] == [
            ("file.cancelled", "customer")]


async def test_a_terminate_cuts_a_transfer_mid_way_and_leaves_no_partial_file(start_system, tmp_path):
    system = start_system(shared=True)
    async with _session(system, tmp_path) as (agent, console, downloads, request):
        outgoing = await _half_sent(agent, console, downloads, tmp_path)
        ended = await _as_customer(system.gateway_url, request, "POST", "terminate")
        assert ended.status_code == 200, ended.text
        assert (await close_code(console.consultant.ws))[0] == 4410  # the consultant is told: the session ended
        assert await agent.wait_exit() == 0
        assert os.listdir(downloads) == []
        row = await _recorded(system.gateway_url, request, outgoing.transfer_id, "cancelled")
        assert row["reason"] == "session_ended"


async def test_an_offer_over_the_gateways_limit_is_refused_by_name(start_system, tmp_path):
    system = start_system(shared=True)
    async with _session(system, tmp_path) as (agent, console, downloads, request):
        transfer_id = str(uuid.uuid4())
        await console.consultant.send(wire.message_frame("file.offer", id=transfer_id, name="huge.iso",
                                                         size=3 * 1024 ** 3, sha256="0" * 64))
        refused = await console.until(lambda: console.text("refused", what="files", id=transfer_id))
        assert (refused["reason"], refused["max_bytes"]) == ("too_large", 2 * 1024 ** 3)
        row = await _recorded(system.gateway_url, request, transfer_id, "refused")
        assert row["reason"] == "too_large"
        assert "huge.iso" not in agent.log()  # never reached the agent


async def test_a_file_asked_of_the_customer_arrives_whole_with_its_hash_checked(start_system, tmp_path):
    system = start_system(shared=True)
    async with _session(system, tmp_path) as (agent, console, downloads, request):
        data = os.urandom(700_000)
        (downloads.parent / "report.pdf").write_bytes(data)
        transfer_id = str(uuid.uuid4())
        await console.consultant.send(wire.message_frame("file.request", id=transfer_id, path="~/report.pdf"))
        await agent.wait_for_log("A: send it, R: refuse.")
        agent.press(b"a")
        offer = await console.until(lambda: console.message("file.offer", transfer_id))
        assert (offer["name"], offer["size"], offer["sha256"]) == ("report.pdf", len(data),
                                                                  hashlib.sha256(data).hexdigest())
        await console.consultant.send(wire.message_frame("file.accept", id=transfer_id, offset=0))
        await console.until(lambda: sum(len(chunk.data) for chunk in console.chunks) >= len(data))
        received = b"".join(chunk.data for chunk in sorted(console.chunks, key=lambda chunk: chunk.offset))
        assert hashlib.sha256(received).hexdigest() == offer["sha256"]
        await console.consultant.send(wire.message_frame("file.done", id=transfer_id, sha256=offer["sha256"],
                                                         size=len(data)))
        await agent.wait_for_log("[file] report.pdf was sent (700 KB).")
        row = await _recorded(system.gateway_url, request, transfer_id, "done")
        assert (row["direction"], row["received_sha256"]) == ("from_customer", offer["sha256"])


async def test_a_transfer_resumes_after_a_short_network_drop_from_what_the_agent_has(start_system, tmp_path):
    """The agent's network drops mid-way: it resumes its session, the console offers the same file again when the
    agent is back, the agent answers with the bytes it kept, and the file completes with its hash checked."""
    system = start_system(shared=True)
    hop = CuttableProxy(int(system.gateway_url.rsplit(":", 1)[1]))
    await hop.start()
    try:
        async with _session(system, tmp_path,
                            agent_via=f"http://127.0.0.1:{hop.port}") as (agent, console, downloads, request):
            outgoing = Outgoing.of(_file(tmp_path, 6 * 1024 * 1024))
            await _offered_and_accepted(agent, console, outgoing)
            await _send(console, outgoing, until=outgoing.size // 2)
            await console.until(lambda: any(m["type"] == "file.progress" for m in console.messages))
            await hop.cut()  # the network goes: the gateway tells the console, the agent keeps its partial file
            await console.until(lambda: console.text("peer_left"))
            await _send(console, outgoing)  # into the void: dropped while the agent is away
            await hop.start()
            await console.until(lambda: console.text("peer_joined"), timeout=30)
            accepts = len([m for m in console.messages if m["type"] == "file.accept"])
            await console.consultant.send(outgoing.offer_frame())  # the same id again
            again = await console.until(lambda: [m for m in console.messages if m["type"] == "file.accept"][accepts:])
            assert 0 < again[0]["offset"] <= outgoing.size // 2 + wire.CHUNK_BYTES
            outgoing.accept(again[0]["offset"])
            await _send(console, outgoing)
            done = await console.until(lambda: console.message("file.done", outgoing.transfer_id), timeout=30)
            assert done["sha256"] == outgoing.sha256
            assert hashlib.sha256((downloads / "setup.exe").read_bytes()).hexdigest() == outgoing.sha256
            assert os.listdir(downloads) == ["setup.exe"]
            assert "A: save to" in agent.log() and agent.log().count("maria sends you setup.exe") == 1  # asked once
    finally:
        await hop.cut()
