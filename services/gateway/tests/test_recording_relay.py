"""Recording through a real relay (issue #19): the gateway (in this process, served by uvicorn on a real port) and the
consent, session and billing services on a real nats-server and database; raw agent and console sockets.

What the consultant saw and did is in the object store afterwards, as the recording's rows list it: the terminal
(asciicast v2 lines, with increasing times), the screen records and the events; a terminate closes the recording;
a recorder whose store fails keeps no frame from passing and no access after the end."""

from __future__ import annotations

import asyncio
import json
import struct
from contextlib import asynccontextmanager

import httpx
import nats
import pytest
import uvicorn
from assist_gateway import crud
from assist_gateway.recording.format import (
    ScreenRecord, asciicast, decode_event_lines, decode_screen_records, decode_terminal_lines,
)
from assist_gateway.recording.store import RecordingStore
from assist_gateway.settings import Settings
from assist_gateway.storage import GATEWAY
from assist_platform.ports import free_port
from assist_platform.testing import eventually, service_settings
from public_api import bearer, close_code, connect_agent, connect_consultant, login, next_control, request_help

PASSWORD = "correct horse battery"
TID = "84650442-5f7a-4bde-912c-e5fc0e7a8bef"  # fixed: the same in every xdist worker
SHA = "ab" * 32


@asynccontextmanager
async def listening(app):
    """`app` served by uvicorn on a port of its own (its lifespan is the caller's): its URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning",
                                           ws_per_message_deflate=False, timeout_graceful_shutdown=2))
    serving = asyncio.create_task(server.serve())
    await eventually(lambda: server.started, what="uvicorn listening")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await serving


def _settings(nats_url, database_location, **settings) -> Settings:
    return service_settings(Settings, nats_url, database_location, **{"recording_segment_seconds": 0.2, **settings})


@asynccontextmanager
async def served(nats_url, database_location, gateway_factory, backends_factory, **settings):
    """The backends and a gateway with `settings`, the gateway listening on a port of its own: (gateway, url)."""
    async with backends_factory(nats_url, database_location), \
            gateway_factory(_settings(nats_url, database_location, **settings)) as gateway:
        await gateway.add_staff("maria", "consultant")
        async with listening(gateway.app) as url:
            yield gateway, url


class Pair:
    def __init__(self, client, request, agent, consultant, attached) -> None:
        self.client, self.request, self.agent, self.consultant, self.attached = (client, request, agent, consultant,
                                                                                 attached)

    @property
    def session_id(self) -> str:
        return self.request.session_id

    @property
    def customer(self) -> dict:
        return bearer(self.request.customer_token)


async def pair(client: httpx.AsyncClient, url: str, scopes=("view", "control", "files"), *,
               consultant_url: str | None = None) -> Pair:
    token = await login(client, "maria", PASSWORD)
    request = await request_help(client, scopes=scopes)
    agent = await connect_agent(url, request.session_code)
    agent_attached = await next_control(agent, "attached")
    claimed = await client.post(f"/api/v1/sessions/{request.session_id}/claim", headers=bearer(token))
    assert claimed.status_code == 200, claimed.text
    consultant = await connect_consultant(consultant_url or url, request.session_id, token)
    consultant_attached = await next_control(consultant, "attached")
    await next_control(consultant, "peer_joined")
    await next_control(agent, "peer_joined")
    return Pair(client, request, agent, consultant, {"agent": agent_attached, "consultant": consultant_attached})


async def next_binary(ws, timeout: float = 10.0) -> bytes:
    async with asyncio.timeout(timeout):
        while True:
            message = await ws.recv()
            if isinstance(message, bytes):
                return message


async def passes(sender, receiver, frame: bytes) -> None:
    await sender.send(frame)
    assert await next_binary(receiver) == frame


async def recorded(gateway, session_id: str):
    """The recording's row, and its terminal lines, screen records and events read back from the object store (by
    part, then segment: each stream as it was written)."""
    store = gateway.app.state.relay_hub.recordings.store
    async with gateway.runtime.database.session() as db:
        row = await crud.recording_of(db=db, session_id=session_id)
        objects = await crud.recording_objects_of(db=db, session_id=session_id)
    streams = {"terminal": [], "screen": [], "events": []}
    decoders = {"terminal": decode_terminal_lines, "screen": decode_screen_records, "events": decode_event_lines}
    for item in sorted(objects, key=lambda item: (item.part_id, item.seq)):
        streams[item.stream] += decoders[item.stream](await store.get(row.bucket, item.name))
    return row, streams["terminal"], streams["screen"], streams["events"]


async def closed_with_end(gateway, session_id: str):
    async def done():
        row, *_rest, events = await recorded(gateway, session_id)
        return row is not None and row.status == "closed" and events and events[-1]["type"] == "end"
    await eventually(done, what="the recording closed with its end")
    return await recorded(gateway, session_id)


def _files(**message) -> bytes:
    return bytes((5, 0)) + json.dumps(message).encode()


@pytest.fixture
async def system(nats_url, database_location, gateway_factory, backends_factory):
    async with served(nats_url, database_location, gateway_factory, backends_factory) as (gateway, url):
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            yield gateway, url, client


async def test_a_session_is_recorded_as_the_consultant_saw_and_drove_it_and_closed_by_the_terminate(system):
    gateway, url, client = system
    session = await pair(client, url)
    agent, consultant = session.agent, session.consultant
    assert session.attached["agent"]["recording"] is True and session.attached["consultant"]["recording"] is True
    greeting = "$ здравей\r\n".encode()
    for piece in (greeting[:4], greeting[4:], b"ls: "):  # a Cyrillic letter split across two frames
        await passes(agent, consultant, b"\x01" + piece)
    await passes(consultant, agent, b'\x00{"type":"resize","cols":100,"rows":30}')
    await passes(consultant, agent, b"\x01ls\r")
    screen = [b"\x02\x00" + struct.pack("!IHH", 1, 128, 64), b"\x02\x01" + struct.pack("!HHHHB", 0, 0, 64, 64, 0)
              + b"zlib", b"\x02\x02" + struct.pack("!I", 1)]
    for frame in screen:
        await passes(agent, consultant, frame)
    await passes(agent, consultant, b'\x00{"type":"screen.selected","monitor":2,"width":1280,"height":1024}')
    posted = await client.post(f"/api/v1/sessions/{session.session_id}/chat/messages", headers=session.customer,
                               json={"text": "Принтерът пак спря"})
    assert posted.status_code == 201, posted.text
    await next_control(consultant, "chat")
    await passes(consultant, agent, _files(type="file.offer", id=TID, name="драйвер.zip", size=3, sha256=SHA))
    await passes(agent, consultant, _files(type="file.done", id=TID, size=3, sha256=SHA))
    withdrawn = await client.delete(f"/api/v1/sessions/{session.session_id}/scopes/files", headers=session.customer)
    assert withdrawn.status_code == 200, withdrawn.text
    await next_control(consultant, "scopes")
    await passes(agent, consultant, b"\x01a.txt\r\n")

    ended = await client.post(f"/api/v1/sessions/{session.session_id}/terminate", headers=session.customer)
    assert ended.status_code == 200, ended.text
    assert (await close_code(consultant))[0] == 4410
    row, terminal, screen_records, events = await closed_with_end(gateway, session.session_id)

    assert row.status == "closed" and row.bucket == "RECORDINGS_STANDARD" and row.gaps == 0 and row.bytes > 0
    assert row.started_at <= row.ended_at and row.delete_after == row.ended_at + gateway.app.state.relay_hub \
        .recordings.retention
    assert [(line.code, line.data) for line in terminal] == [
        ("o", "$ з"), ("o", "дравей\r\n"), ("o", "ls: "), ("r", "100x30"), ("i", "ls\r"), ("o", "a.txt\r\n")]
    times = [line.at for line in terminal]
    assert times == sorted(times) and times[-1] > times[0] >= row.started_at.timestamp()
    cast = asciicast(terminal, row.started_at.timestamp()).splitlines()
    assert json.loads(cast[0])["version"] == 2 and json.loads(cast[1])[1:] == ["o", "$ з"]
    assert all(0 <= json.loads(line)[0] < 60 for line in cast[1:])
    assert [(record.channel, record.message) for record in screen_records] == [(2, frame[1:]) for frame in screen]
    assert all(isinstance(record, ScreenRecord) for record in screen_records)

    kinds = [event["type"] for event in events]
    assert kinds == ["recording_started", "scopes", "peer", "monitor", "chat", "file", "file", "scopes", "end"], events
    by_kind = {}
    for event in events:
        by_kind.setdefault(event["type"], []).append(event)
    assert by_kind["scopes"][0]["scopes"] == ["view", "control", "files"]
    assert by_kind["scopes"][1]["scopes"] == ["view", "control"]
    assert by_kind["peer"] == [{**by_kind["peer"][0], "peer": "agent", "joined": True}]
    assert by_kind["monitor"][0] | {"at": 0} == {"at": 0, "type": "monitor", "monitor": 2, "width": 1280,
                                                  "height": 1024}
    assert (by_kind["chat"][0]["role"], by_kind["chat"][0]["text"]) == ("customer", "Принтерът пак спря")
    assert [(event["direction"], event["name"], event["size"], event["sha256"], event["status"])
            for event in by_kind["file"]] == [("to_customer", "драйвер.zip", 3, SHA, "offered"),
                                              ("to_customer", "драйвер.zip", 3, SHA, "done")]
    assert by_kind["end"][0]["reason"] == "session ended by customer"
    assert [event["at"] for event in events] == sorted(event["at"] for event in events)


async def test_a_consultant_who_comes_back_starts_a_new_part_and_the_first_ends_as_a_part(system):
    gateway, url, client = system
    session = await pair(client, url)
    await passes(session.agent, session.consultant, b"\x01first\r\n")
    token = await login(client, "maria", PASSWORD)
    again = await connect_consultant(url, session.session_id, token)  # a reload: the older socket is replaced
    await next_control(again, "peer_joined")
    assert (await close_code(session.consultant))[0] == 4409
    await passes(session.agent, again, b"\x01second\r\n")
    ended = await client.post(f"/api/v1/sessions/{session.session_id}/terminate", headers=session.customer)
    assert ended.status_code == 200, ended.text
    row, terminal, _screen, events = await closed_with_end(gateway, session.session_id)
    parts = [event["part"] for event in events if event["type"] == "recording_started"]
    assert len(set(parts)) == 2
    assert [(event["type"], event.get("reason")) for event in events if event["type"] in ("part_end", "end")] == [
        ("part_end", "replaced by a newer connection"), ("end", "session ended by customer")]
    assert [line.data for line in terminal] == ["first\r\n", "second\r\n"]
    assert row.status == "closed"


async def test_a_recorder_whose_store_fails_passes_every_frame_and_keeps_no_access_after_the_end(system, caplog):
    gateway, url, client = system
    session = await pair(client, url)
    agent, consultant = session.agent, session.consultant
    hub = gateway.app.state.relay_hub
    recorder = hub.sessions[session.session_id].consultant.recorder
    await gateway.runtime.js.delete_object_store("RECORDINGS_STANDARD")  # the store fails under the recorder
    await passes(agent, consultant, b"\x01written nowhere\r\n")
    await eventually(lambda: recorder.failed, what="the part failing")
    assert "the recording of session" in caplog.text and recorder.off

    for n in range(50):  # everything passes both ways, the recorder's taps doing nothing
        await passes(agent, consultant, b"\x01" + f"line {n}\r\n".encode())
        await passes(consultant, agent, b"\x01" + bytes([97 + n % 26]))
    ended = await client.post(f"/api/v1/sessions/{session.session_id}/terminate", headers=session.customer)
    assert ended.status_code == 200, ended.text
    assert (await close_code(consultant))[0] == 4410
    assert (await close_code(agent))[0] == 4410
    async with gateway.runtime.database.session() as db:
        row = await crud.recording_of(db=db, session_id=session.session_id)
    assert row.status == "closed"  # as far as it got: not left `recording` for good


async def test_a_failed_part_does_not_keep_the_next_from_recording(system):
    gateway, url, client = system
    first = await pair(client, url)
    await gateway.runtime.js.delete_object_store("RECORDINGS_STANDARD")
    recorder = gateway.app.state.relay_hub.sessions[first.session_id].consultant.recorder
    await passes(first.agent, first.consultant, b"\x01lost\r\n")
    await eventually(lambda: recorder.failed, what="the part failing")
    second = await pair(client, url)  # the bucket is made again at the next part's first write
    await passes(second.agent, second.consultant, b"\x01kept\r\n")
    ended = await client.post(f"/api/v1/sessions/{second.session_id}/terminate", headers=second.customer)
    assert ended.status_code == 200, ended.text
    _row, terminal, _screen, _events = await closed_with_end(gateway, second.session_id)
    assert [line.data for line in terminal] == ["kept\r\n"]


async def test_with_recording_off_nothing_is_recorded_and_everyone_is_told(nats_url, database_location,
                                                                         gateway_factory, backends_factory):
    async with served(nats_url, database_location, gateway_factory, backends_factory,
                      recording_enabled=False) as (gateway, url):
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            session = await pair(client, url)
            assert session.attached["agent"]["recording"] is False
            assert session.attached["consultant"]["recording"] is False
            assert gateway.app.state.relay_hub.sessions[session.session_id].consultant.recorder is None
            await passes(session.agent, session.consultant, b"\x01not recorded\r\n")
            ended = await client.post(f"/api/v1/sessions/{session.session_id}/terminate", headers=session.customer)
            assert ended.status_code == 200, ended.text
            async with gateway.runtime.database.session() as db:
                assert await crud.recording_of(db=db, session_id=session.session_id) is None
            streams = {info.config.name for info in await gateway.runtime.js.streams_info()}
            assert "OBJ_RECORDINGS_STANDARD" not in streams


async def test_a_consultant_on_another_replica_than_the_agent_is_recorded_on_its_own(nats_url, database_location,
                                                                                    gateway_factory, backends_factory):
    async with (backends_factory(nats_url, database_location),
                gateway_factory(_settings(nats_url, database_location, replica_id="home")) as home,
                gateway_factory(_settings(nats_url, database_location, replica_id="away")) as away):
        await home.add_staff("maria", "consultant")
        async with listening(home.app) as home_url, listening(away.app) as away_url, \
                httpx.AsyncClient(base_url=home_url, timeout=30) as client:
            session = await pair(client, home_url, consultant_url=away_url)
            await passes(session.agent, session.consultant, b"\x01over the bridge\r\n")
            await passes(session.consultant, session.agent, b"\x01q")
            posted = await client.post(f"/api/v1/sessions/{session.session_id}/chat/messages",
                                       headers=session.customer, json={"text": "здрасти"})
            assert posted.status_code == 201, posted.text
            await next_control(session.consultant, "chat")
            ended = await client.post(f"/api/v1/sessions/{session.session_id}/terminate", headers=session.customer)
            assert ended.status_code == 200, ended.text
            _row, terminal, _screen, events = await closed_with_end(away, session.session_id)
            assert [(line.code, line.data) for line in terminal] == [("o", "over the bridge\r\n"), ("i", "q")]
            assert events[0]["replica"] == "away" and "chat" in [event["type"] for event in events]
            assert not home.app.state.relay_hub.recordings.parts  # the agent's replica records nothing of it


async def test_a_flood_past_what_the_recorder_may_take_is_left_out_as_gaps_and_passes_whole(
        nats_url, database_location, gateway_factory, backends_factory):
    # A recorder held to a sliver of the loop, with the smallest queue: the flood passes, the recording thins.
    async with served(nats_url, database_location, gateway_factory, backends_factory, recording_loop_share=0.001,
                      recording_queue_bytes=65536) as (gateway, url):
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            session = await pair(client, url)
            frames = [b"\x01" + f"{n:05d}".encode() * 3000 for n in range(200)]  # 3 MB of output

            async def flood():
                for frame in frames:
                    await session.agent.send(frame)
            sending = asyncio.create_task(flood())
            for frame in frames:
                assert await next_binary(session.consultant) == frame  # every frame, in order
            await sending
            ended = await client.post(f"/api/v1/sessions/{session.session_id}/terminate", headers=session.customer)
            assert ended.status_code == 200, ended.text
            row, terminal, _screen, events = await closed_with_end(gateway, session.session_id)
            gaps = [event["dropped"] for event in events if event["type"] == "gap"]
            assert gaps and sum(gaps) == row.gaps > 0
            assert len(terminal) + row.gaps == len(frames)  # each frame recorded or counted as left out


async def test_a_gateway_that_stops_writes_what_its_recorders_hold_and_closes_the_recording(
        nats_url, database_location, gateway_factory, backends_factory):
    async with served(nats_url, database_location, gateway_factory, backends_factory,
                      recording_segment_seconds=3600) as (gateway, url):  # nothing written before the stop
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            session = await pair(client, url)
            await passes(session.agent, session.consultant, b"\x01before the stop\r\n")
    database = GATEWAY.open_database(_settings(nats_url, database_location))
    client = await nats.connect(nats_url)
    try:
        async with database.session() as db:
            row = await crud.recording_of(db=db, session_id=session.session_id)
            objects = await crud.recording_objects_of(db=db, session_id=session.session_id)
        store = RecordingStore(client.jetstream)
        terminal = [line for item in objects if item.stream == "terminal"
                    for line in decode_terminal_lines(await store.get(row.bucket, item.name))]
        events = [event for item in objects if item.stream == "events"
                  for event in decode_event_lines(await store.get(row.bucket, item.name))]
    finally:
        await client.close()
        await database.close()
    assert row.status == "closed"
    assert [line.data for line in terminal] == ["before the stop\r\n"]
    assert events[-1]["type"] == "part_end"  # the session goes on: another replica may take it


async def test_output_after_a_quiet_spell_is_recorded_in_a_segment_of_its_own(system):
    gateway, url, client = system
    session = await pair(client, url)
    await passes(session.agent, session.consultant, b"\x01before\r\n")

    async def written(count: int):
        async with gateway.runtime.database.session() as db:
            objects = await crud.recording_objects_of(db=db, session_id=session.session_id)
        return len([item for item in objects if item.stream == "terminal"]) >= count
    await eventually(lambda: written(1), what="the first terminal segment written")  # then nothing is pending
    await passes(session.agent, session.consultant, b"\x01after\r\n")
    await eventually(lambda: written(2), what="the second terminal segment written, before the end")
    recorder = gateway.app.state.relay_hub.sessions[session.session_id].consultant.recorder
    assert not recorder.failed
    ended = await client.post(f"/api/v1/sessions/{session.session_id}/terminate", headers=session.customer)
    assert ended.status_code == 200, ended.text
    _row, terminal, _screen, _events = await closed_with_end(gateway, session.session_id)
    assert [line.data for line in terminal] == ["before\r\n", "after\r\n"]
