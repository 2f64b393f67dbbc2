"""Files and directories that hold the system's data (SQLite databases, the JetStream store) are the owner's only:
they keep live session codes and personal data, and the machine may have other users."""

from __future__ import annotations

import os
from pathlib import Path


def create_owner_only_dir(path: Path) -> None:
    """`path` (with its missing parents) at mode 0700, whatever the umask; an existing one is narrowed to it."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)


def create_owner_only_file(path: Path) -> None:
    """`path` at mode 0600 in a 0700 directory, created empty if missing; an existing one is narrowed to it.
    SQLite gives its -wal and -shm files the mode of the database file, so they follow."""
    create_owner_only_dir(path.parent)
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
    path.chmod(0o600)
