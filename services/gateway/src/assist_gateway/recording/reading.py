"""Reading a session's recording back (issue #19): its row and objects from the gateway's database, the objects'
contents from the object store, the parts merged by time.

Which objects a recording has is read from `recording_object`, never from a listing of the bucket. A part's
segments are read one after another and the parts are merged as they are read, so a long recording's screen is
streamed with one segment per part in memory. A segment that cannot be read (gone from the store, or damaged) is
left out and logged: the rest of the recording still plays.

Times: every stored time is absolute (unix seconds); what a player gets is relative to the recording's start
(`offset`, the asciicast's times, the screen stream's record times).
"""

from __future__ import annotations

import heapq
import logging
from contextlib import aclosing
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from assist_platform.problems import Problem
from sqlmodel import select

from .. import crud
from ..models import Recording, RecordingObject
from . import format as fmt
from .rules import GONE_STATUSES

log = logging.getLogger(__name__)


def unix(moment: datetime | float | None) -> float | None:
    if moment is None or isinstance(moment, (int, float)):
        return moment
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def rfc3339(moment: datetime | float | None) -> str | None:
    """A time as the API writes it: RFC 3339, UTC, to the millisecond."""
    if moment is None:
        return None
    seconds = unix(moment)
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def gone(row: Recording) -> Problem:
    """410 for a recording that was erased (by its customer) or expired (its retention ran out)."""
    if row.status == "erased":
        return Problem(410, "Recording erased", "This recording was erased at the customer's request.",
                       code="recording_erased")
    return Problem(410, "Recording expired", "This recording was deleted when its retention period ended.",
                   code="recording_expired")


def not_recorded() -> Problem:
    return Problem(404, "Not found", "This session has no recording.", code="recording_not_found")


@dataclass(frozen=True)
class Opened:
    """A recording that may be read: its row and its objects by stream, each stream's in (part, seq) order."""

    row: Recording
    objects: dict[str, list[RecordingObject]] = field(default_factory=dict)

    @property
    def started_at(self) -> float:
        return unix(self.row.started_at)

    def parts(self, stream: str) -> dict[str, list[RecordingObject]]:
        by_part: dict[str, list[RecordingObject]] = {}
        for item in self.objects.get(stream, []):
            by_part.setdefault(item.part_id, []).append(item)
        return by_part

    @property
    def last_at(self) -> float:
        """The latest moment recorded: the end once closed, else the last object's last time."""
        ends = [unix(item.last_at) for items in self.objects.values() for item in items]
        end = unix(self.row.ended_at) if self.row.ended_at is not None else max(ends, default=self.started_at)
        return max(end, self.started_at)


async def recording_row(database, session_id: str) -> Recording | None:
    """The session's recording row, whatever its status, or None."""
    async with database.session() as db:
        return await crud.recording_of(db=db, session_id=session_id)


def summary(row: Recording | None, *, with_erasure: bool = False) -> dict | None:
    """A recording as the session view shows it (`recording`): its status and times; None without one."""
    if row is None:
        return None
    shown = {"status": row.status, "started_at": rfc3339(row.started_at), "ended_at": rfc3339(row.ended_at),
             "delete_after": rfc3339(row.delete_after)}
    if with_erasure:
        shown["erased_at"] = rfc3339(row.erased_at)
    return shown


async def open_recording(database, session_id: str) -> Opened:
    """The recording of `session_id` with its objects; 404 without one, 410 once erased or expired."""
    async with database.session() as db:
        row = await crud.recording_of(db=db, session_id=session_id)
        if row is None:
            raise not_recorded()
        if row.status in GONE_STATUSES:
            raise gone(row)
        items = await crud.recording_objects_of(db=db, session_id=session_id)
    objects: dict[str, list[RecordingObject]] = {}
    for item in items:
        objects.setdefault(item.stream, []).append(item)
    return Opened(row=row, objects=objects)


# --- the streams, merged by time ------------------------------------------------------------------------------------

DECODERS: dict[str, Callable[[bytes], Iterable[Any]]] = {
    fmt.TERMINAL: fmt.decode_terminal_lines,
    fmt.SCREEN: fmt.decode_screen_records,
    fmt.EVENTS: fmt.decode_event_lines,
}


_DONE = object()


def _time_of(item: Any) -> float:
    return item["at"] if isinstance(item, dict) else item.at


async def _part_items(store, bucket: str, objects: list[RecordingObject], stream: str) -> AsyncIterator[Any]:
    for item in objects:
        try:
            decoded = DECODERS[stream](await store.get(bucket, item.name))
        except Exception as error:  # a segment that cannot be read is left out, the rest plays
            log.warning("recording segment %s left out: %s", item.name, error)
            continue
        for value in decoded:
            yield value


async def merged(store, opened: Opened, stream: str) -> AsyncIterator[Any]:
    """The items of `stream` from every part, in time order (a part's own order kept on equal times)."""
    sources = [_part_items(store, opened.row.bucket, objects, stream)
               for _, objects in sorted(opened.parts(stream).items())]
    heap: list[tuple[float, int, int, Any]] = []
    counter = 0  # equal times keep the order they were read in: never a comparison of the items themselves

    async def take(index: int) -> None:
        nonlocal counter
        value = await anext(sources[index], _DONE)
        if value is not _DONE:
            counter += 1
            heapq.heappush(heap, (_time_of(value), index, counter, value))

    for index in range(len(sources)):
        await take(index)
    while heap:
        _, index, _, value = heapq.heappop(heap)
        yield value
        await take(index)


async def collect(store, opened: Opened, stream: str) -> list[Any]:
    return [value async for value in merged(store, opened, stream)]


# --- what a player reads ------------------------------------------------------------------------------------------

def offset(at: float, started_at: float) -> float:
    return round(max(0.0, at - started_at), 3)


def event_out(event: dict, started_at: float) -> dict:
    """An event as the API answers it: `at` in RFC 3339, `offset` in seconds from the recording's start."""
    return {**event, "at": rfc3339(event["at"]), "offset": offset(event["at"], started_at)}


async def terminal_size(store, opened: Opened) -> tuple[int, int]:
    """The terminal's size at the start (format.terminal_size), reading only up to the first output and the first
    resize."""
    lines = []
    async with aclosing(merged(store, opened, fmt.TERMINAL)) as terminal:
        async for line in terminal:
            lines.append(line)
            if {fmt.OUTPUT, fmt.RESIZE} <= {kept.code for kept in lines}:
                break
    return fmt.terminal_size(lines)


def parts_of(opened: Opened) -> list[dict]:
    """Each part (a consultant connection) with its first and last moment as offsets."""
    spans: dict[str, list[float]] = {}
    for items in opened.objects.values():
        for item in items:
            first, last = unix(item.first_at), unix(item.last_at)
            span = spans.setdefault(item.part_id, [first, last])
            span[0], span[1] = min(span[0], first), max(span[1], last)
    start = opened.started_at
    return [{"part_id": part, "started_at": rfc3339(first), "offset": offset(first, start),
             "end_offset": offset(last, start)} for part, (first, last) in sorted(spans.items())]


async def index(store, opened: Opened) -> dict:
    """`GET .../recording`: what the playback page needs before it loads the streams."""
    row, start = opened.row, opened.started_at
    events = await collect(store, opened, fmt.EVENTS)
    width, height = await terminal_size(store, opened)
    channels = sorted({record.channel for record in await _first_screen_records(store, opened)})
    return {
        "session_id": row.session_id, "status": row.status, "started_at": rfc3339(row.started_at),
        "ended_at": rfc3339(row.ended_at), "delete_after": rfc3339(row.delete_after),
        "duration_seconds": offset(opened.last_at, start), "gaps": row.gaps,
        "terminal": {"width": width, "height": height, "has_output": bool(opened.objects.get(fmt.TERMINAL))},
        "has_screen": bool(opened.objects.get(fmt.SCREEN)), "screen_channels": channels,
        "events": [event_out(event, start) for event in events],
        "parts": parts_of(opened),
    }


async def _first_screen_records(store, opened: Opened) -> list[fmt.ScreenRecord]:
    """The first segment of each part's screen: enough to say which screens (agent, browser share) it shows."""
    firsts = []
    for objects in opened.parts(fmt.SCREEN).values():
        async for record in _part_items(store, opened.row.bucket, objects[:1], fmt.SCREEN):
            firsts.append(record)
    return firsts


async def asciicast(store, opened: Opened, *, title: str | None = None) -> str:
    """The asciicast file, lasting as long as the recording: an empty output at the recording's last moment when the
    terminal fell silent before (so a player's timeline reaches the screen's and the events' last moments too)."""
    lines = await collect(store, opened, fmt.TERMINAL)
    last = opened.last_at
    if not lines or max(line.at for line in lines) < last:
        lines.append(fmt.TerminalLine(last, fmt.OUTPUT, ""))
    return fmt.asciicast(lines, opened.started_at, title=title)


async def screen_stream(store, opened: Opened) -> AsyncIterator[bytes]:
    """The screen records of every part in time order, each with its time relative to the recording's start."""
    start = opened.started_at
    async for record in merged(store, opened, fmt.SCREEN):
        yield fmt.screen_record(offset(record.at, start), record.channel, record.message)


@dataclass(frozen=True)
class RecordingView:
    """A whole recording in memory (the report and tests): its row, terminal lines, screen records and events."""

    row: Recording
    terminal: list[fmt.TerminalLine]
    screen: list[fmt.ScreenRecord]
    events: list[dict]


async def load(*, database, store, session_id: str) -> RecordingView:
    opened = await open_recording(database, session_id)
    return RecordingView(row=opened.row, terminal=await collect(store, opened, fmt.TERMINAL),
                         screen=await collect(store, opened, fmt.SCREEN),
                         events=await collect(store, opened, fmt.EVENTS))


# --- for the staff pages' links ---------------------------------------------------------------------------------

async def recent_recordings(database, *, limit: int = 50) -> list[dict]:
    """The latest recordings, newest first (the supervisor's page links each to its playback page)."""
    async with database.session() as db:
        rows = (await db.exec(select(Recording).order_by(Recording.started_at.desc()).limit(limit))).all()
    return [{"session_id": row.session_id, "status": row.status, "started_at": rfc3339(row.started_at),
             "ended_at": rfc3339(row.ended_at), "bytes": row.bytes} for row in rows]


async def playable_sessions(database, session_ids: list[str]) -> set[str]:
    """Which of these sessions have a recording that can still be played (the console's history links them)."""
    if not session_ids:
        return set()
    async with database.session() as db:
        statement = select(Recording.session_id).where(Recording.session_id.in_(session_ids),
                                                       Recording.status.not_in(GONE_STATUSES))
        return set((await db.exec(statement)).all())
