"""A file waiting for the customer's decision (transfers.py asks, one at a time)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import wire

QUESTIONS_MAX = 8  # offers and requests waiting for the customer; more are refused as busy
PATH_SHOWN = 300  # characters of a path (or a typed folder) shown


@dataclass
class Question:
    """A file waiting for the customer's decision: one offered to them ("receive") or asked of them ("send")."""

    kind: str
    transfer_id: str
    name: str  # safe name (receive) or the file's resolved path, made safe to show (send)
    size: int
    offer: wire.Offer | None = None
    path: Path | None = None

