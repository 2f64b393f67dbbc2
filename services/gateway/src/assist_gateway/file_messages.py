"""Channel 5's messages (issue #17, docs/protocol.md "Files"), read: pure. The relay gates and follows them
(relay/files.py); a recording keeps them as `file` events (recording/capture.py)."""

from __future__ import annotations

import json
import re
import uuid

FILES = 5
MESSAGE, DATA = 0, 1
DATA_PREFIX = 2 + 16 + 8  # channel, kind, transfer id, offset
MESSAGE_LIMIT = 4096
TYPES = frozenset({"file.offer", "file.accept", "file.refuse", "file.progress", "file.done", "file.failed",
                   "file.cancel", "file.request"})
SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def parse_message(data: bytes) -> dict | None:
    """A channel-5 frame's JSON message (kind 0), or None for anything else or anything malformed."""
    if len(data) < 3 or data[0] != FILES or data[1] != MESSAGE or len(data) - 2 > MESSAGE_LIMIT:
        return None
    try:
        message = json.loads(bytes(data[2:]))
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(message, dict) or message.get("type") not in TYPES:
        return None
    return message


def transfer_id(value) -> str | None:
    if not isinstance(value, str) or len(value) > 36:
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def count(value) -> int | None:
    """A JSON integer from 0 to 2^63 - 1 (never a bool), or None."""
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2 ** 63 else None


def valid_offer(message: dict) -> tuple[str, str, int, str] | None:
    """(id, name, size, sha256) of a well-formed `file.offer`, or None."""
    tid, size, sha256, name = (transfer_id(message.get("id")), count(message.get("size")), message.get("sha256"),
                               message.get("name"))
    if tid is None or size is None or not isinstance(sha256, str) or not SHA256_HEX.fullmatch(sha256):
        return None
    if not isinstance(name, str) or not 0 < len(name) <= 1024:
        return None
    return tid, name, size, sha256
