"""One side of a relay on this replica: a WebSocket, its consent lease, and whether it has been cut."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Protocol

from starlette.websockets import WebSocket

from .closecodes import SESSION_ENDED

log = logging.getLogger(__name__)


@dataclass(eq=False)
class ReadAhead:
    """What the relay read from an endpoint's socket while a frame of it was held (docs/relay.md, "Held frames"):
    binary frames and anything it did not act on at once, in order, then read by the endpoint's loop before its
    socket again; and the task that reads them."""

    messages: deque = field(default_factory=deque)
    task: asyncio.Task | None = None
    hung_up: bool = False  # the socket closed: whatever was held goes nowhere

    def full(self, max_bytes: int, max_frames: int) -> bool:
        return len(self.messages) >= max_frames or sum(len(m.get("bytes") or b"") for m in self.messages) >= max_bytes


class Recorder(Protocol):
    """What a consultant's endpoint tells its recording (recording/recorder.py PartRecorder): each call O(1)."""

    def to_console(self, data: bytes) -> None: ...
    def from_console(self, data: bytes) -> None: ...
    def control(self, text: str) -> None: ...
    def finish(self, *, reason: str, final: bool = False) -> None: ...


@dataclass(eq=False)
class Endpoint:
    """Forwarding asks `may_pass()` before every frame: a flag and a monotonic comparison, nothing more."""

    role: str  # "agent", "consultant" or "observer" (a supervisor watching, view only)
    session_id: str
    websocket: WebSocket
    lease_id: str = ""
    scopes: tuple[str, ...] = ()
    who: str = ""  # the consultant's username, for the agent's "who is connected"
    credential: str = ""  # the consultant's login (its token's digest): the socket lives no longer than it
    deadline: float = 0.0  # monotonic time until which the lease is known to hold
    cut: bool = False
    refusals: int = 0  # frames of this endpoint the relay refused to forward (CONTRACT §3)
    refusal_told_at: float = 0.0  # monotonic time the sender was last told of a refusal
    # Paired with the other side once: from then on a frame with nobody to take it (the peer left) is dropped, as
    # the peer that comes back is greeted anew; before, it is held (CONTRACT §3: never dropped before the join).
    met_peer: bool = False
    wake: asyncio.Event | None = None  # while a frame of this endpoint is held: set by whatever may end the hold
    read_ahead: ReadAhead | None = None  # only after a hold: the hot path reads the socket itself
    _closing: asyncio.Task | None = field(default=None, repr=False)
    heartbeat: asyncio.Task | None = field(default=None, repr=False)  # an observer's announcements (observers.py)
    # A consultant's: what it is sent and sends is recorded (recording/recorder.py); its taps never wait.
    recorder: Recorder | None = field(default=None, repr=False)

    def may_act(self) -> bool:
        """Whether the consent lets this endpoint's peer be driven: `control` (view alone is watching)."""
        return "control" in self.scopes

    def allows(self, scope: str) -> bool:
        """Whether the consent, as this endpoint last heard it, includes `scope` (frames.scope_needed)."""
        return scope in self.scopes

    def narrow(self, scopes) -> bool:
        """Keep only those of this endpoint's scopes that `scopes` allows (a withdrawal: scopes never widen here);
        whether anything was taken away. Synchronous, like a cut: the next frame already meets it."""
        kept = tuple(scope for scope in self.scopes if scope in scopes)
        if kept == self.scopes:
            return False
        self.scopes = kept
        return True

    def widen(self, scopes) -> bool:
        """Allow exactly `scopes`, the consent service's set in force after a step-up the customer approved (only
        the consent service widens, in a cut request's `scope_request`); whether anything changed."""
        granted = tuple(scopes)
        if granted == self.scopes:
            return False
        self.scopes = granted
        return True

    def may_pass(self) -> bool:
        return not self.cut and time.monotonic() < self.deadline

    def extend(self, *, sent_at: float, ttl_seconds: float) -> None:
        """A renewal that was *sent* at `sent_at` holds for ttl from then: our deadline is never later than the
        consent service's own, which it counts from when the request *arrived*."""
        if not self.cut:
            self.deadline = max(self.deadline, sent_at + ttl_seconds)

    def nudge(self) -> None:
        """Something that may end a hold of this endpoint's frame happened: the hold looks again."""
        if self.wake is not None:
            self.wake.set()

    def hung_up(self) -> bool:
        return self.read_ahead is not None and self.read_ahead.hung_up

    def cut_now(self, *, code: int, reason: str) -> None:
        """Stop forwarding at once (synchronously), then close the socket in the background."""
        if self.cut:
            return
        self.cut = True
        self.deadline = 0.0
        self.nudge()  # a held frame of a cut endpoint is dropped now, not at its lease's end
        if self.recorder is not None:  # the session ended (4410: `end`), or only this connection (`part_end`)
            self.recorder.finish(reason=reason, final=code == SESSION_ENDED)
        self._closing = asyncio.get_running_loop().create_task(self.close(code=code, reason=reason))

    async def close(self, *, code: int, reason: str) -> None:
        self.cut = True
        try:
            await self.websocket.close(code=code, reason=reason[:120])
        except Exception:  # already closed by the peer or by the server
            pass

    async def send_bytes(self, data: bytes) -> None:
        if self.may_pass():
            await self.websocket.send_bytes(data)
            if self.recorder is not None:
                self.recorder.to_console(data)

    async def send_control(self, text: str) -> None:
        """Control messages from the gateway itself; they need no lease but never go to a cut endpoint."""
        if not self.cut:
            try:
                await self.websocket.send_text(text)
            except Exception:
                return
            if self.recorder is not None:
                self.recorder.control(text)
