"""A file being received: written to its hidden temporary in the chosen folder, hashed as it is written, and given
its name only when its size and SHA-256 are the offer's; otherwise (and on any stop) the temporary is deleted."""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

from . import names
from .wire import Chunk, Offer

# O_NOFOLLOW: a symlink planted under the temporary's name is not followed; O_EXCL: nor is any existing file reused.
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)


class TransferError(Exception):
    """The transfer cannot go on: the reason is what the other side is told (`file.failed`)."""


class Incoming:
    def __init__(self, offer: Offer, folder: Path, name: str) -> None:
        """Opens the temporary `.name.assist-part-<id>` in `folder` (resolved): created new, never followed."""
        self.offer = offer
        self.folder = Path(os.path.realpath(folder))
        self.name = name
        self.part = self.folder / names.part_name(name, offer.transfer_id)
        if not names.inside(self.folder, self.part):
            raise TransferError("the file would land outside the chosen folder")
        self._fd: int | None = os.open(self.part, _CREATE, 0o600)
        self._hash = hashlib.sha256()
        self.received = 0
        self.final: Path | None = None

    @property
    def complete(self) -> bool:
        return self.received == self.offer.size

    def write(self, chunk: Chunk) -> str:
        """Takes what is new in `chunk`: "written"; "duplicate" when all of it was had already (a resent chunk after
        a resume); "gap" when it starts past what was received (frames were lost: the sender is told where to go on
        from). TransferError when it goes past the offered size."""
        if self._fd is None:
            raise TransferError("the transfer is closed")
        end = chunk.offset + len(chunk.data)
        if end > self.offer.size:
            raise TransferError("more data than the offer's size")
        if chunk.offset > self.received:
            return "gap"
        if end <= self.received:
            return "duplicate"
        new = chunk.data[self.received - chunk.offset:]
        view = memoryview(new)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        self._hash.update(new)
        self.received = end
        return "written"

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    def finish(self) -> Path:
        """All of it came: the temporary takes a free name in the folder (never overwriting one) when its hash is the
        offer's; else it is deleted and TransferError raised."""
        self._close()
        if self.sha256 != self.offer.sha256:
            self.discard()
            raise TransferError("the received file's SHA-256 is not the offer's")
        if hasattr(os, "fchmod"):
            os.chmod(self.part, 0o644)  # private while partial; an ordinary file once whole
        for _ in range(10):  # another program may take the name between the look and the link: look again
            chosen = names.unique_name(self.name, lambda candidate: os.path.lexists(self.folder / candidate))
            if chosen is None:
                break
            target = self.folder / chosen
            try:
                _publish(self.part, target)
            except FileExistsError:
                continue
            except OSError:
                self.discard()
                raise
            self.final = target
            return target
        self.discard()
        raise TransferError("no free name for the file in the folder")

    def discard(self) -> None:
        """Stop: the temporary is deleted (nothing partial stays behind)."""
        self._close()
        try:
            os.unlink(self.part)
        except FileNotFoundError:
            pass
        except OSError:
            pass  # Windows: still open elsewhere; the next start sweeps it

    def _close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass


def _publish(part: Path, target: Path) -> None:
    """Give the finished temporary its name atomically, never replacing a file: a hard link then the temporary's
    removal (FileExistsError when the name was taken meanwhile); where links are not supported, a rename (which
    Windows refuses over an existing file, and elsewhere comes right after looking)."""
    try:
        os.link(part, target)
    except FileExistsError:
        raise
    except (OSError, NotImplementedError):
        if sys.platform != "win32" and os.path.lexists(target):
            raise FileExistsError(str(target)) from None
        os.rename(part, target)
        return
    os.unlink(part)


def sweep_parts(folder: Path) -> list[str]:
    """At the agent's start: the temporaries a previous agent of this user left in `folder` (killed before it could
    remove them) are deleted; their names."""
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    uid = os.getuid() if hasattr(os, "getuid") else None
    for entry in entries:
        if not names.is_part_file(entry.name):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            if not entry.is_file(follow_symlinks=False) or (uid is not None and info.st_uid != uid):
                continue
            os.unlink(entry.path)
            removed.append(entry.name)
        except OSError:
            continue
    return removed
