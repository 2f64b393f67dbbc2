"""A recording written as the gateway's recorder writes one (recording/recorder.py): the row opened by a part, each
stream's segments put in the object store and listed in `recording_object`, the row closed. For tests of reading,
playback, erasure and retention that need a recording with known contents at known times, without a relay.
"""

from __future__ import annotations

import secrets
import struct
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nats
from assist_gateway import crud
from assist_gateway.models import RecordingObject
from assist_gateway.recording import format as fmt
from assist_gateway.recording.store import RecordingObjectMissing, RecordingStore, bucket_for
from assist_platform.db import Database
from assist_platform.settings import PlatformSettings


def utc(at: float) -> datetime:
    return datetime.fromtimestamp(at, UTC)


@dataclass
class Part:
    """One consultant connection's part: its items at absolute times (unix seconds), written as one segment per
    stream (or `segments` of them, split evenly)."""

    started_at: float
    terminal: list[tuple[float, str, str]] = field(default_factory=list)  # (at, code, data)
    screen: list[tuple[float, int, bytes]] = field(default_factory=list)  # (at, channel, message)
    events: list[dict] = field(default_factory=list)  # {"at": t, "type": ..., ...}
    segments: int = 1
    part_id: str = ""

    def __post_init__(self) -> None:
        self.part_id = self.part_id or fmt.part_id(self.started_at, secrets.token_hex(4))

    def encoded(self, stream: str) -> list[tuple[bytes, float, float]]:
        if stream == fmt.TERMINAL:
            items = [(at, fmt.terminal_record(at, code, data)) for at, code, data in self.terminal]
        elif stream == fmt.SCREEN:
            items = [(at, fmt.screen_record(at, channel, message)) for at, channel, message in self.screen]
        else:
            items = [(event["at"], fmt.event_line(event["at"], event["type"], **{
                key: value for key, value in event.items() if key not in ("at", "type")}).encode())
                for event in self.events]
        if not items:
            return []
        size = -(-len(items) // self.segments)
        chunks = [items[start:start + size] for start in range(0, len(items), size)]
        return [(b"".join(data for _, data in chunk), chunk[0][0], chunk[-1][0]) for chunk in chunks]


async def write_recording(*, database, store, session_id: str, parts: list[Part], closed_at: float | None = None,
                          retention: timedelta = timedelta(days=30)) -> list[str]:
    """The parts written in order (the first opens the row at its start); closed at `closed_at` when given (with
    `retention`: delete_after = closed_at + retention). The names of the objects written."""
    bucket = bucket_for("standard")
    names = []
    for part in parts:
        async with database.transaction() as db:
            opened = await crud.open_recording(db=db, session_id=session_id, retention_class="standard", bucket=bucket,
                                               part_id=part.part_id, now=utc(part.started_at))
        assert opened == bucket, f"the recording of {session_id} is gone"
        for stream in fmt.STREAMS:
            for seq, (data, first_at, last_at) in enumerate(part.encoded(stream)):
                name = fmt.object_name(session_id, part.part_id, stream, seq)
                await store.put(bucket, name, data)
                async with database.transaction() as db:
                    assert await crud.add_recording_object(db=db, recording_object=RecordingObject(
                        session_id=session_id, name=name, stream=stream, part_id=part.part_id, seq=seq,
                        bytes=len(data), first_at=utc(first_at), last_at=utc(last_at)))
                names.append(name)
    if closed_at is not None:
        async with database.transaction() as db:
            await crud.close_recording(db=db, session_id=session_id, part_id=parts[-1].part_id, now=utc(closed_at),
                                       retention=retention, final=True)
    return names


def solid_tile_frame(seq: int, width: int, height: int, rgb: tuple[int, int, int]) -> list[bytes]:
    """A screen frame of one colour as the agent sends it on channel 2, without the channel byte: begin, 64×64
    tiles (zlib RGB), end (docs/protocol.md "Screen updates")."""
    messages = [struct.pack(">BIHH", 0, seq, width, height)]
    for y in range(0, height, 64):
        for x in range(0, width, 64):
            w, h = min(64, width - x), min(64, height - y)
            data = zlib.compress(bytes(rgb) * (w * h))
            messages.append(struct.pack(">BHHHHB", 1, x, y, w, h, 0) + data)
    messages.append(struct.pack(">BI", 2, seq))
    return messages


async def write_to_system(system, *, session_id: str, parts: list[Part], closed_at: float | None = None,
                          retention: timedelta = timedelta(days=30)) -> list[str]:
    """`write_recording` into a running `assist dev` system: its gateway's database, its bundled NATS (the
    operator's credentials of dev.json). For tests that need a recording of known contents, not a relay's."""
    database = system_database(system)
    nc = await nats.connect(system.nats_url)
    try:
        store = RecordingStore(nc.jetstream)
        return await write_recording(database=database, store=store, session_id=session_id, parts=parts,
                                     closed_at=closed_at, retention=retention)
    finally:
        await nc.drain()
        await database.close()


async def objects_left(store: RecordingStore, names: list[str]) -> list[str]:
    """Which of these objects the store still holds (the `standard` class's bucket)."""
    left = []
    for name in names:
        try:
            await store.get(bucket_for("standard"), name)
            left.append(name)
        except RecordingObjectMissing:
            pass
    return left


async def objects_in_system(system, names: list[str]) -> list[str]:
    """Which of these objects the system's object store still holds (read as the operator, straight from NATS)."""
    nc = await nats.connect(system.nats_url)
    try:
        return await objects_left(RecordingStore(nc.jetstream), names)
    finally:
        await nc.drain()


def system_database(system) -> Database:
    """The gateway's database of a running system, as `System.add_user` opens it."""
    settings = PlatformSettings(database_url=system.env.get("DATABASE_URL") or None,
                                assist_data_dir=Path(system.env["ASSIST_DATA_DIR"]),
                                database_schema_prefix=system.env.get("DATABASE_SCHEMA_PREFIX", ""))
    url, schema = settings.database_location("gateway")
    return Database(url=url, schema=schema)
