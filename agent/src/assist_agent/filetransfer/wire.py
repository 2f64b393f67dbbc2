"""Channel 5's payload, `[u8 kind][...]` (docs/protocol.md, "Files"). Pure functions, mirrored in the console's JS
(static/files.js), so both sides agree byte for byte.

kind 0: a UTF-8 JSON object with a `type` (`file.offer`, `file.accept`, ...);
kind 1: a chunk of a file, `[16 bytes transfer id (the uuid's bytes)][u64 big-endian offset][bytes]`.
"""

from __future__ import annotations

import json
import re
import struct
import uuid
from dataclasses import dataclass

from .. import framing

MESSAGE, DATA = 0, 1
# 64 KiB of file a frame: far below the gateway's RELAY_MAX_MESSAGE_BYTES (1 MiB by default), big enough that the
# 26 bytes of framing around it cost nothing.
CHUNK_BYTES = 64 * 1024
HEADER = struct.Struct(">16sQ")
DATA_PREFIX = 1 + HEADER.size  # kind byte, id and offset before the file's bytes
MESSAGE_LIMIT = 4096  # bytes of one JSON message: names are capped long before that
TYPES = ("file.offer", "file.accept", "file.refuse", "file.progress", "file.done", "file.failed", "file.cancel",
         "file.request")
SHA256_HEX = re.compile(r"[0-9a-f]{64}")
REASON_LIMIT = 200


class WireError(ValueError):
    """A payload of channel 5 this side cannot read: dropped and logged, never fatal."""


@dataclass(frozen=True)
class Chunk:
    transfer_id: str  # the uuid, canonical text
    offset: int
    data: bytes | memoryview


def message_frame(message_type: str, **fields) -> bytes:
    """A whole binary frame: channel 5, kind 0, the JSON message."""
    body = json.dumps({"type": message_type, **fields}, separators=(",", ":"), ensure_ascii=False).encode()
    return framing.encode(framing.FILES, bytes((MESSAGE,)) + body)


def chunk_frame(transfer_id: str, offset: int, data: bytes) -> bytes:
    """A whole binary frame: channel 5, kind 1, the id's 16 bytes, the offset, the file's bytes."""
    return framing.encode(framing.FILES, bytes((DATA,)) + HEADER.pack(uuid.UUID(transfer_id).bytes, offset) + data)


def decode(payload: bytes) -> dict | Chunk:
    """A channel-5 payload (after the channel byte): the JSON message (a dict with a known `type`) or a chunk."""
    if not payload:
        raise WireError("empty files payload")
    kind = payload[0]
    if kind == DATA:
        if len(payload) < DATA_PREFIX:
            raise WireError("a data chunk shorter than its header")
        raw_id, offset = HEADER.unpack_from(payload, 1)
        # A view, not a copy: 64 KiB a frame, written and hashed as it is.
        return Chunk(transfer_id=str(uuid.UUID(bytes=raw_id)), offset=offset, data=memoryview(payload)[DATA_PREFIX:])
    if kind != MESSAGE:
        raise WireError(f"unknown files payload kind {kind}")
    if len(payload) - 1 > MESSAGE_LIMIT:
        raise WireError("a files message longer than its limit")
    try:
        message = json.loads(bytes(payload[1:]))
    except (ValueError, UnicodeDecodeError) as error:
        raise WireError("a files message that is not JSON") from error
    if not isinstance(message, dict) or message.get("type") not in TYPES:
        raise WireError("a files message must be a JSON object with a known `type`")
    return message


def transfer_id(value) -> str:
    """A transfer's id as canonical uuid text; WireError for anything else."""
    if not isinstance(value, str) or len(value) > 36:
        raise WireError("a transfer id is a uuid")
    try:
        return str(uuid.UUID(value))
    except ValueError as error:
        raise WireError("a transfer id is a uuid") from error


def whole_number(value, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0 or value >= 2 ** 63:
        raise WireError(f"{what} must be a whole number of bytes")
    return value


def sha256_hex(value) -> str:
    if not isinstance(value, str) or not SHA256_HEX.fullmatch(value):
        raise WireError("sha256 must be 64 lower-case hex digits")
    return value


def reason_text(value) -> str:
    """A reason from the other side, as data only: a short string (shown made safe, never acted on)."""
    return value[:REASON_LIMIT] if isinstance(value, str) else ""


@dataclass(frozen=True)
class Offer:
    transfer_id: str
    name: str  # as offered: made safe before it names anything (names.safe_name)
    size: int
    sha256: str


def parse_offer(message: dict) -> Offer:
    name = message.get("name")
    if not isinstance(name, str) or not name:
        raise WireError("an offer names its file")
    return Offer(transfer_id=transfer_id(message.get("id")), name=name[:1024], size=whole_number(message.get("size"),
                 "size"), sha256=sha256_hex(message.get("sha256")))
