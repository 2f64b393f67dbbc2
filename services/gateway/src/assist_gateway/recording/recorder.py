"""Recording a consultant's connection (a *part*, issue #19; docs/relay.md "Recording").

The relay's path only taps: a consultant endpoint's `send_bytes`, `send_control` and `cut_now` (relay/endpoint.py)
and `FramePolicy.forward` for the consultant's own frames (relay/frames.py) call `to_console`, `control`, `finish`
and `from_console`. A tap is O(1): a flag, two byte tests (capture.kept), the clock and an append to a bounded
queue; a full queue drops the item and counts it (a `gap` event). Nothing is parsed, awaited or written there.

The part's task does the rest, off the relay's path: it opens the session's row, turns what was queued into
segments (capture.py) and writes each stream's segment every RECORDING_SEGMENT_SECONDS or RECORDING_SEGMENT_BYTES
(store.py, then its row), and at the part's end closes the row. Any exception in it is logged and ends the part:
its taps become no-ops. Access is never blocked, delayed or extended by a recording: nothing on the relay's path
waits for it, and an endpoint is cut whatever its recorder does.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import deque
from datetime import datetime, timezone

from assist_platform.retrying import on_conflict

from .. import crud
from ..models import RecordingObject
from .budget import LoopBudget, write_cost
from .capture import PartCapture, kept
from .format import STREAMS, object_name, part_id
from .rules import DEFAULT_RETENTION_CLASS, retention_of
from .store import RecordingStore, bucket_for

log = logging.getLogger(__name__)

TO_CONSOLE, FROM_CONSOLE, CONTROL = 0, 1, 2
QUEUE_FRAMES_MAX = 65_536  # items a part holds unwritten, however small (RECORDING_QUEUE_BYTES bounds their bytes)
# What a recorder captures in one slice of work before the relay's tasks run again (budget.py): a fraction of a ms.
SLICE_ITEMS, SLICE_BYTES = 64, 256 * 1024
CLOSE_PATIENCE_SECONDS = 5.0  # at shutdown, how long the parts may take to write what they hold
_SHUTDOWN_REASON = "gateway shutting down"


def _utc(at: float) -> datetime:
    return datetime.fromtimestamp(at, tz=timezone.utc)


class PartRecorder:
    """One consultant connection's recording: the taps, and the task that writes what they queued."""

    def __init__(self, recordings: Recordings, *, session_id: str, scopes, replica: str) -> None:
        self.recordings = recordings
        self.session_id = session_id
        self.started_at = time.time()
        self.part_id = part_id(self.started_at, secrets.token_hex(4))
        self.off = False  # ended, failed, or stopped: every tap returns at once
        self.failed = False
        self.gaps = 0  # items dropped, all told
        self._items: deque = deque()
        self._queued_bytes = 0
        self._dropped = 0  # since the task last looked
        self._max_bytes = recordings.settings.recording_queue_bytes
        self._ending: tuple[float, str, bool] | None = None
        self._idle = False
        self._wake = asyncio.Event()
        self._capture = PartCapture(part=self.part_id, replica=replica, started_at=self.started_at, scopes=scopes)
        self.task = asyncio.get_running_loop().create_task(self._run(), name=f"recording-{session_id}")

    # --- the taps: on the relay's path, O(1) ------------------------------------------------------------------------
    def to_console(self, data: bytes) -> None:
        """A binary frame the console was sent."""
        if not self.off and kept(data, to_console=True):
            self._queue(TO_CONSOLE, data, len(data))

    def from_console(self, data: bytes) -> None:
        """A binary frame of the console the relay forwarded."""
        if not self.off and kept(data, to_console=False):
            self._queue(FROM_CONSOLE, data, len(data))

    def control(self, text: str) -> None:
        """A control message of the gateway the console was sent."""
        if not self.off:
            self._queue(CONTROL, text, len(text))

    def finish(self, *, reason: str, final: bool = False) -> None:
        """The part ends (the first call says how): what was queued is still written, nothing more is taken."""
        if self._ending is None and not self.failed:
            self._ending = (time.time(), reason, final)
            self.off = True
            self._wake.set()

    def stop(self) -> None:
        """Stop at once and write nothing more (the recording was erased): what was queued is dropped."""
        self.off = True
        self._items.clear()
        self._queued_bytes = 0
        if asyncio.current_task() is not self.task:
            self.task.cancel()

    def _queue(self, kind: int, data, size: int) -> None:
        if self._queued_bytes + size > self._max_bytes or len(self._items) >= QUEUE_FRAMES_MAX:
            self._dropped += 1
            return
        self._items.append((time.time(), kind, data))
        self._queued_bytes += size
        if self._idle:
            self._idle = False
            self._wake.set()

    # --- the task: off the relay's path -----------------------------------------------------------------------------
    async def _run(self) -> None:
        try:
            bucket = await self._open()
            if bucket is None:
                log.info("session %s: its recording is gone (erased or expired): this part records nothing",
                         self.session_id)
                self.stop()
                return
            await self._record(bucket)
        except asyncio.CancelledError:
            self.off = True
            raise
        except Exception:
            log.exception("the recording of session %s (part %s) failed: it stops here, the session goes on",
                          self.session_id, self.part_id)
            self._fail()
            await self._close_after_failure()
        finally:
            self.recordings.parts.discard(self)

    async def _record(self, bucket: str) -> None:
        segment_seconds = self.recordings.settings.recording_segment_seconds
        segment_bytes = self.recordings.settings.recording_segment_bytes
        seqs = dict.fromkeys(STREAMS, 0)
        unwritten_gaps = 0
        due = time.monotonic() + segment_seconds  # the part's first events are pending from its start
        while True:
            await self._wait(due)
            unwritten_gaps += await self._capture_queued(segment_bytes)
            if self._ending is not None and not self._items:
                at, reason, final = self._ending
                self._capture.end(at, reason=reason, final=final)
                await self._write(bucket, seqs, STREAMS, unwritten_gaps)
                await self._close(final=final)
                return
            pending = self._capture.pending
            if due is None and any(pending[stream].pieces for stream in STREAMS):
                due = time.monotonic() + segment_seconds  # the first item since the last write: due in a segment
            if due is not None and time.monotonic() >= due:
                streams = [stream for stream in STREAMS if pending[stream].pieces]
            else:
                streams = [stream for stream in STREAMS if pending[stream].size >= segment_bytes]
            if streams:
                if not await self._write(bucket, seqs, streams, unwritten_gaps):
                    return
                unwritten_gaps = 0
            if not any(pending[stream].pieces for stream in STREAMS):
                due = None  # nothing pending: the task sleeps until something is queued
            elif due is not None and time.monotonic() >= due:
                due = time.monotonic() + segment_seconds

    async def _wait(self, due: float | None) -> None:
        """Until something was queued, the part ends, or the pending segments are due."""
        if self._items or self._ending is not None or self._dropped:
            return
        self._idle = True
        self._wake.clear()
        try:
            if due is None:
                await self._wake.wait()
            else:
                async with asyncio.timeout(max(0.0, due - time.monotonic())):
                    await self._wake.wait()
        except TimeoutError:
            pass
        finally:
            self._idle = False

    async def _capture_queued(self, segment_bytes: int) -> int:
        """What the taps queued, into the pending segments, a slice at a time within the loop's budget; the items
        dropped since the last look (written as a `gap`)."""
        items, capture, budget = self._items, self._capture, self.recordings.budget
        handlers = {TO_CONSOLE: capture.to_console, FROM_CONSOLE: capture.from_console, CONTROL: capture.control}
        while items:
            async with budget.slice():
                taken, size = 0, 0
                while items and taken < SLICE_ITEMS and size < SLICE_BYTES:
                    at, kind, data = items.popleft()
                    self._queued_bytes -= len(data)
                    handlers[kind](at, data)
                    taken, size = taken + 1, size + len(data)
            if any(pending.size >= segment_bytes for pending in capture.pending.values()):
                break  # written first: a long queue is not held in memory twice
        dropped, self._dropped = self._dropped, 0
        if dropped:
            self.gaps += dropped
            capture.gap(time.time(), dropped)
        return dropped

    async def _open(self) -> str | None:
        bucket = bucket_for(DEFAULT_RETENTION_CLASS)
        async for attempt in on_conflict(attempts=3):
            with attempt:
                async with self.recordings.database.transaction() as db:
                    return await crud.open_recording(
                        db=db, session_id=self.session_id, retention_class=DEFAULT_RETENTION_CLASS, bucket=bucket,
                        part_id=self.part_id, now=_utc(self.started_at))
        raise AssertionError("unreachable: the policy re-raises the last failure")

    async def _write(self, bucket: str, seqs: dict[str, int], streams, gaps: int) -> bool:
        """The pending segments of `streams` as objects, then their rows, within the loop's budget; False (and the
        part stopped) when the recording was erased meanwhile: what was just written is deleted again."""
        budget = self.recordings.budget
        await budget.turn()
        pending = [self._capture.pending[stream] for stream in streams if self._capture.pending[stream].pieces]
        budget.spend(write_cost(size=sum(part.size for part in pending), objects=len(pending)))  # paid ahead
        return await self._write_now(bucket, seqs, streams, gaps)

    async def _write_now(self, bucket: str, seqs: dict[str, int], streams, gaps: int) -> bool:
        written = []
        for stream in streams:
            taken = self._capture.pending[stream].take()
            if taken is None:
                continue
            data, first_at, last_at = taken
            name = object_name(self.session_id, self.part_id, stream, seqs[stream])
            seqs[stream] += 1
            await self.recordings.store.put(bucket, name, data)
            written.append(RecordingObject(session_id=self.session_id, name=name, stream=stream, part_id=self.part_id,
                                           seq=seqs[stream] - 1, bytes=len(data), first_at=_utc(first_at),
                                           last_at=_utc(last_at)))
        if not written:
            return True
        async with self.recordings.database.transaction() as db:
            kept = await crud.add_recording_objects(db=db, session_id=self.session_id, recording_objects=written,
                                                    gaps=gaps)
        if not kept:
            for recording_object in written:
                await self.recordings.store.delete(bucket, recording_object.name)
            log.info("session %s: its recording was erased while it recorded: this part stops", self.session_id)
            self.stop()
            return False
        return True

    async def _close(self, *, final: bool) -> None:
        async with self.recordings.database.transaction() as db:
            await crud.close_recording(db=db, session_id=self.session_id, part_id=self.part_id, now=_utc(time.time()),
                                       retention=self.recordings.retention, final=final)

    def _fail(self) -> None:
        self.failed = self.off = True
        self._items.clear()
        self._queued_bytes = 0

    async def _close_after_failure(self) -> None:
        """The row closed as far as it got (when the database is there): not left `recording` for good."""
        try:
            async with asyncio.timeout(CLOSE_PATIENCE_SECONDS):
                await self._close(final=self._ending is not None and self._ending[2])
        except Exception as error:  # the database is what failed, most likely
            log.warning("the recording of session %s could not be closed after its failure: %s", self.session_id,
                        error)


class Recordings:
    """This replica's recorders, made with the relay (relay/hub.py): one per consultant connection, when
    RECORDING_ENABLED."""

    def __init__(self, *, settings, runtime, store: RecordingStore | None = None) -> None:
        self.settings = settings
        self.runtime = runtime
        self.enabled = settings.recording_enabled
        self.store = store or RecordingStore.of_runtime(runtime, replicas=settings.stream_replicas)
        self.retention = retention_of(DEFAULT_RETENTION_CLASS,
                                      {DEFAULT_RETENTION_CLASS: settings.recording_retention_days})
        self.budget = LoopBudget(settings.recording_loop_share)
        self.parts: set[PartRecorder] = set()

    @property
    def database(self):
        return self.runtime.database

    def start_part(self, endpoint) -> PartRecorder | None:
        """A consultant endpoint attached: its part's recorder, or None when recording is off."""
        if not self.enabled:
            return None
        try:
            recorder = PartRecorder(self, session_id=endpoint.session_id, scopes=endpoint.scopes,
                                    replica=self.settings.replica_id)
        except Exception:  # never keeps anyone from the relay
            log.exception("could not start recording session %s", endpoint.session_id)
            return None
        self.parts.add(recorder)
        return recorder

    def stop_session(self, session_id: str) -> None:
        """The session's parts on this replica stop at once and write nothing more (its recording was erased; the
        other replicas' parts stop at their next write, which finds the row erased)."""
        for recorder in [part for part in self.parts if part.session_id == session_id]:
            recorder.stop()

    async def prepare(self) -> None:
        """At the gateway's start (once connected): the default class's bucket, so the first part does not wait."""
        if not self.enabled:
            return
        try:
            await self.store.ensure(bucket_for(DEFAULT_RETENTION_CLASS))
        except Exception as error:  # made at the first part's first write instead
            log.warning("could not create the recordings bucket yet: %s", error)

    async def close(self) -> None:
        """The gateway stops: every part ends, and has a few seconds to write what it holds."""
        self.budget.lift()
        tasks = []
        for recorder in list(self.parts):
            recorder.finish(reason=_SHUTDOWN_REASON)
            tasks.append(recorder.task)
        if not tasks:
            return
        done, pending = await asyncio.wait(tasks, timeout=CLOSE_PATIENCE_SECONDS)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
