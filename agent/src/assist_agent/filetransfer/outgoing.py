"""A file being sent on channel 5: offered with its name, size and SHA-256, then sent a chunk at a time from where
the receiver says it is (`file.accept {offset}`: 0 at first, more after a resume). Used by the agent (a file the
consultant asked for, with the customer's approval) and by the Python console of the tests and the benchmark."""

from __future__ import annotations

import hashlib
import os
import stat
import uuid
from pathlib import Path

from . import wire

HASH_READ = 1024 * 1024


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        while block := source.read(HASH_READ):
            digest.update(block)
    return digest.hexdigest()


class Outgoing:
    def __init__(self, *, path: Path, name: str, size: int, sha256: str, transfer_id: str | None = None) -> None:
        self.transfer_id = transfer_id or str(uuid.uuid4())
        self.path = path
        self.name = name
        self.size = size
        self.sha256 = sha256
        self.position = 0  # the next byte to send
        self.accepted = False
        self._file = None

    @classmethod
    def of(cls, path: Path, *, name: str | None = None, transfer_id: str | None = None) -> Outgoing:
        """A file on disk, hashed now (call it in a thread for a big one)."""
        return cls(path=path, name=name or path.name, size=path.stat().st_size, sha256=file_sha256(path),
                   transfer_id=transfer_id)

    def offer_frame(self) -> bytes:
        return wire.message_frame("file.offer", id=self.transfer_id, name=self.name, size=self.size,
                                  sha256=self.sha256)

    def accept(self, offset) -> None:
        """The receiver has `offset` bytes: go on from there (an offset past the end, or not a number, from 0)."""
        self.position = offset if isinstance(offset, int) and not isinstance(offset, bool) and \
            0 <= offset <= self.size else 0
        self.accepted = True

    @property
    def sent_all(self) -> bool:
        return self.position >= self.size

    def next_frame(self, chunk_bytes: int = wire.CHUNK_BYTES) -> bytes | None:
        """The chunk at the current position (and the position moved past it), or None once all was sent."""
        if self.sent_all:
            return None
        if self._file is None:
            self._file = open(self.path, "rb")
        self._file.seek(self.position)
        data = self._file.read(min(chunk_bytes, self.size - self.position))
        if not data:  # the file shrank since it was offered: the receiver's size check fails it
            self.position = self.size
            return None
        frame = wire.chunk_frame(self.transfer_id, self.position, data)
        self.position += len(data)
        return frame

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def readable_file(path: Path, max_bytes: int) -> tuple[Path | None, str]:
    """A path the consultant asked for (phase 2), resolved (symlinks followed, so the customer sees what would really
    be sent): the file and "", or None and why not (not found, not a regular file, not readable, too large)."""
    try:
        real = Path(os.path.realpath(path))
        info = real.stat()
    except (OSError, ValueError):
        return None, "not_found"
    if not stat.S_ISREG(info.st_mode):
        return None, "not_a_file"
    if not os.access(real, os.R_OK):
        return None, "not_readable"
    if info.st_size > max_bytes:
        return None, "too_large"
    return real, ""
