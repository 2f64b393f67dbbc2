"""Channel 5, file transfers (issue #17, docs/protocol.md "Files"): what the relay checks and what it records.

The channel's JSON messages are the relay's to gate anyway. On the sender's replica (`file_frame_refusal`, asked of
every channel-5 frame an endpoint sends, after the `files` scope): a `file.offer` over FILE_TRANSFER_MAX_BYTES is
refused (its sender told with `refused`, the offer recorded as refused), and a data chunk passes only for a file
this endpoint offered, and only within the offered size; anything malformed is dropped. At the home (the agent's
replica, which every frame of the session crosses: `file_seen`), the messages of each transfer are followed and
recorded through the service layer (a row the customer's page reads, and an audit entry per outcome); the `files`
scope taken back or the session's end closes every transfer still open (`files_stopped`). Writes go through one
queue, in order, never on a frame's way.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field

from ..file_messages import DATA, DATA_PREFIX, SHA256_HEX, count as _count, parse_message, transfer_id, valid_offer
from ..service import record_file_offer, record_file_outcome, record_file_progress
from .endpoint import Endpoint

log = logging.getLogger(__name__)

OFFERS_KEPT = 64  # open offers an endpoint may send data for; an older one is forgotten (its data then refused)
TRANSFERS_KEPT = 256  # transfers followed per session at the home
SESSIONS_KEPT = 10_000  # sessions whose transfers a replica follows (one whose agent moved on is forgotten in turn)
PROGRESS_WRITE_SECONDS = 1.0
WRITES_QUEUED_MAX = 10_000  # progress is skipped past this (outcomes never are)
# Who answers for a transfer: its receiver (accept, progress, done, failed, refuse); either side may cancel.
_RECEIVER = {"to_customer": "agent", "from_customer": "consultant"}
_OUTCOMES = {"file.done": "done", "file.refuse": "refused", "file.failed": "failed", "file.cancel": "cancelled"}


@dataclass
class SeenTransfer:
    direction: str
    consultant: str
    status: str = "offered"
    bytes_done: int = 0
    size: int = 0
    written_at: float = 0.0


@dataclass
class FileRecords:
    """The home's view of a session's transfers (its records are the service layer's)."""

    transfers: OrderedDict[str, SeenTransfer] = field(default_factory=OrderedDict)


def _text(value, limit: int = 200) -> str | None:
    return value[:limit] if isinstance(value, str) and value else None


class FileRelay:
    """The files side of `RelayCore` (hub.py): its settings and runtime, and the endpoints' relays."""

    def init_files(self) -> None:
        self._file_offers: weakref.WeakKeyDictionary[Endpoint, OrderedDict[bytes, int]] = weakref.WeakKeyDictionary()
        self._file_records: OrderedDict[str, FileRecords] = OrderedDict()
        self._file_writes: asyncio.Queue | None = None
        self._file_writer: asyncio.Task | None = None

    # --- on the sender's replica ---------------------------------------------------------------------------------
    def file_frame_refusal(self, endpoint: Endpoint, data: bytes) -> str | None:
        """Why a channel-5 frame of `endpoint` must not pass, or None."""
        if len(data) < 2:
            return "an empty files frame"
        if data[1] == DATA:
            if len(data) < DATA_PREFIX:
                return "a file chunk shorter than its header"
            size = self._file_offers.get(endpoint, {}).get(bytes(data[2:18]))
            if size is None:
                return "a chunk of a file this side did not offer"
            if int.from_bytes(data[18:26], "big") + len(data) - DATA_PREFIX > size:
                return "a chunk past the offered size"
            return None
        message = parse_message(data)
        if message is None:
            return "not a files message"
        if message["type"] != "file.offer":
            return None if transfer_id(message.get("id")) is not None else "a files message without a transfer id"
        offer = valid_offer(message)
        if offer is None:
            return "a malformed file offer"
        tid, name, size, sha256 = offer
        limit = self.settings.file_transfer_max_bytes
        if size > limit:
            self._refuse_offer_soon(endpoint, tid, name, size, sha256, limit)
            return f"the file is larger than the {limit} bytes allowed"
        offers = self._file_offers.setdefault(endpoint, OrderedDict())
        offers[uuid.UUID(tid).bytes] = size
        offers.move_to_end(uuid.UUID(tid).bytes)
        while len(offers) > OFFERS_KEPT:
            offers.popitem(last=False)
        return None

    def _refuse_offer_soon(self, endpoint: Endpoint, tid: str, name: str, size: int, sha256: str, limit: int) -> None:
        """An offer over the limit: its sender is told which (each time: an honest sender offers rarely) and it is
        recorded as refused, with its audit entry."""
        direction = "to_customer" if endpoint.role == "consultant" else "from_customer"
        notice = {"type": "refused", "what": "files", "id": tid, "reason": "too_large", "max_bytes": limit}
        self._send_soon(endpoint, json.dumps(notice))
        self._queue_file_write(record_file_offer, critical=True, session_id=endpoint.session_id, transfer_id=tid,
                               direction=direction, name=name, size=size, sha256=sha256, status="refused",
                               reason="too_large", consultant=endpoint.who if endpoint.role == "consultant" else "",
                               actor="gateway")

    # --- at the home: following and recording -------------------------------------------------------------------
    def file_seen(self, session_id: str, sender: str, consultant: str, data: bytes) -> None:
        """A channel-5 frame crossing the home from `sender` ("agent" or "consultant"): its message, if any, moves
        the transfer's record. Chunks cost one byte test."""
        message = parse_message(data)
        if message is None:
            return
        kind = message["type"]
        if session_id not in self._file_records:
            self._file_records[session_id] = FileRecords()
            while len(self._file_records) > SESSIONS_KEPT:
                self._file_records.popitem(last=False)
        records = self._file_records[session_id].transfers
        if kind == "file.offer":
            offer = valid_offer(message)
            if offer is None or offer[0] in records:
                return  # an offer again after a drop: the same transfer
            tid, name, size, sha256 = offer
            direction = "to_customer" if sender == "consultant" else "from_customer"
            records[tid] = SeenTransfer(direction=direction, consultant=consultant, size=size)
            while len(records) > TRANSFERS_KEPT:
                records.popitem(last=False)
            self._queue_file_write(record_file_offer, critical=True, session_id=session_id, transfer_id=tid,
                                   direction=direction, name=name, size=size, sha256=sha256, consultant=consultant)
            return
        tid = transfer_id(message.get("id"))
        seen = records.get(tid) if tid is not None else None
        if seen is None:
            return
        if kind != "file.cancel" and sender != _RECEIVER[seen.direction]:
            return  # only the receiver says how far it got and how it ended: the sender's word is not recorded
        if kind in ("file.accept", "file.progress"):
            done = _count(message.get("offset" if kind == "file.accept" else "received"))
            if done is None:
                return
            seen.status, seen.bytes_done = "sending", min(done, seen.size)
            now = time.monotonic()
            if kind == "file.accept" or now - seen.written_at >= PROGRESS_WRITE_SECONDS:
                seen.written_at = now
                self._queue_file_write(record_file_progress, critical=kind == "file.accept", session_id=session_id,
                                       transfer_id=tid, status="sending", bytes_done=seen.bytes_done)
        elif kind in _OUTCOMES:
            del records[tid]
            status = _OUTCOMES[kind]
            received = message.get("sha256") if kind == "file.done" else None
            actor = consultant if sender == "consultant" else "customer"
            self._queue_file_write(
                record_file_outcome, critical=True, session_id=session_id, transfer_id=tid, status=status,
                actor=actor, reason=_text(message.get("reason")),
                received_sha256=received if isinstance(received, str) and SHA256_HEX.fullmatch(received) else None,
                bytes_done=_count(message.get("size")) if kind == "file.done" else None)

    def files_stopped(self, session_id: str, *, reason: str, actor: str) -> None:
        """The `files` scope taken back or the session ended: every transfer of the session still open is recorded as
        cancelled (each audited once, whichever replica gets there first)."""
        records = self._file_records.pop(session_id, FileRecords()).transfers
        for tid, seen in records.items():  # with how far each got, as last heard (progress is written once a second)
            self._queue_file_write(record_file_outcome, critical=True, session_id=session_id, transfer_id=tid,
                                   status="cancelled", actor=actor, reason=reason, bytes_done=seen.bytes_done)
        self._queue_file_write(record_file_outcome, critical=True, session_id=session_id, transfer_id=None,
                               status="cancelled", actor=actor, reason=reason)

    # --- the writes, one at a time, in order ---------------------------------------------------------------------
    def _queue_file_write(self, write, *, critical: bool, **fields) -> None:
        if self._file_writes is None:
            self._file_writes = asyncio.Queue()
        if not critical and self._file_writes.qsize() > WRITES_QUEUED_MAX:
            return  # the database is slow: a later progress says more
        self._file_writes.put_nowait((write, fields))
        if self._file_writer is None or self._file_writer.done():
            self._file_writer = asyncio.get_running_loop().create_task(self._write_files(), name="relay-file-records")

    async def _write_files(self) -> None:
        queue = self._file_writes
        while not queue.empty():
            write, fields = queue.get_nowait()
            try:
                await write(self.runtime.database, **fields)
            except Exception:
                log.exception("could not record a file transfer of session %s", fields.get("session_id"))
