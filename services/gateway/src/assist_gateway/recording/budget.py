"""The share of the gateway's event loop its recorders may take (issue #19): recording never slows the relay.

The recorders work on the relay's event loop, beside the forwarding, and a recording's cost grows with what it
keeps (each byte the consultant sees or sends is written once more, to NATS). So all of a replica's recorders
draw on one budget: a token bucket of seconds of work, refilled at RECORDING_LOOP_SHARE seconds per second up to
`burst`. A recorder waits for the bucket before each slice of work and pays for it: capturing what was queued is
synchronous, so it pays the time it took (`slice`); a write awaits NATS and the database, and the loop runs the
relay meanwhile, so its time cannot be told from the relay's: it pays `write_cost`, the work it puts on the loop
for its bytes and objects (measured: nats-py's object store puts, a transaction per segment), rather than its wall
time, which a busy loop would inflate until nothing was recorded under a flood. A recorder kept waiting leaves
frames queued, and past RECORDING_QUEUE_BYTES they are left out (a `gap`): under a flood the recording thins, the
relay does not slow.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

# What a write costs the event loop: the object store's publishes and acks per byte, its lookups and metadata per
# object, the transaction that lists them per write. Measured alone on the development container with SQLite
# (nats-py puts: 3 ms per MB, 0.5 ms per small object; a transaction through aiosqlite: 3 ms), then taken 4.5 times:
# beside a saturated relay a write costs the loop more than alone (its ack round trips, the segment's join, the
# database thread's share of the interpreter), and at 1.5 times bench/recording.py measured one flooded session at
# 83-87 % of its throughput without recording; at 4.5 times, 93-99 % (docs/benchmarks.md, "Recording (#19)").
WRITE_SECONDS_PER_BYTE = 18e-9
WRITE_SECONDS_PER_OBJECT = 4.5e-3
WRITE_SECONDS_PER_WRITE = 13.5e-3


def write_cost(*, size: int, objects: int) -> float:
    """The loop's seconds a write of `objects` objects of `size` bytes in all is paid as (nothing for no object)."""
    if not objects:
        return 0.0
    return size * WRITE_SECONDS_PER_BYTE + objects * WRITE_SECONDS_PER_OBJECT + WRITE_SECONDS_PER_WRITE


class LoopBudget:
    def __init__(self, share: float, *, burst: float = 0.02, clock: Callable[[], float] = time.perf_counter) -> None:
        if not 0 < share <= 1:
            raise ValueError("a share of the loop is more than 0 and at most 1")
        self.share, self.burst, self._clock = share, burst, clock
        self.tokens = burst
        self._at = clock()
        self._lifted = asyncio.Event()

    def _refill(self) -> None:
        now = self._clock()
        self.tokens = min(self.burst, self.tokens + (now - self._at) * self.share)
        self._at = now

    def wait_seconds(self) -> float:
        """How long until the next slice of work may start (0: now)."""
        if self._lifted.is_set():
            return 0.0
        self._refill()
        return 0.0 if self.tokens > 0 else -self.tokens / self.share

    def spend(self, seconds: float) -> None:
        self._refill()
        self.tokens -= max(0.0, seconds)

    async def turn(self) -> None:
        """Until the budget allows a slice of work; always lets the loop run the relay's tasks first."""
        await asyncio.sleep(0)
        while (wait := self.wait_seconds()) > 0:
            try:
                async with asyncio.timeout(wait):
                    await self._lifted.wait()
            except TimeoutError:
                pass

    @asynccontextmanager
    async def slice(self) -> AsyncIterator[None]:
        """A synchronous slice of recording work, once the budget allows; paid the time it took."""
        await self.turn()
        started = self._clock()
        try:
            yield
        finally:
            self.spend(self._clock() - started)

    def lift(self) -> None:
        """No limit from now on (the gateway is stopping: what the recorders hold is written while it can be)."""
        self._lifted.set()
