"""In-memory throttles: a sliding-window limiter per key (a client address) with bounded memory, and a budget of
failed attempts per key and in total that lets successful attempts through for free."""

from __future__ import annotations

import asyncio
import time
from collections import Counter, OrderedDict, deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager


class SlidingWindowLimiter:
    """At most `limit` hits per key in any `window_seconds`.

    Each key keeps at most `limit` timestamps, and at most `max_keys` keys are kept: idle keys are pruned as
    new hits arrive, and beyond `max_keys` the least recently used go. Evicting a key only forgets its hits,
    which errs on the side of letting a client through; that is the price of a bound on memory under a flood
    of distinct addresses.
    """

    def __init__(
        self,
        limit: int,
        window_seconds: float,
        *,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if limit < 1 or window_seconds <= 0 or max_keys < 1:
            raise ValueError("limit and max_keys must be at least 1, window_seconds positive")
        self.limit = limit
        self.window_seconds = window_seconds
        self.max_keys = max_keys
        self._clock = clock
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, key: str, now: float) -> deque[float] | None:
        hits = self._hits.get(key)
        if hits is None:
            return None
        while hits and hits[0] <= now - self.window_seconds:
            hits.popleft()
        if not hits:
            del self._hits[key]
            return None
        return hits

    def blocked(self, key: str) -> bool:
        """Whether a hit now would be refused (records nothing)."""
        hits = self._recent(key, self._clock())
        return hits is not None and len(hits) >= self.limit

    def hit(self, key: str) -> bool:
        """Record a hit for `key`; False (and nothing recorded) when the key is over its limit."""
        now = self._clock()
        hits = self._recent(key, now)
        if hits is None:
            hits = self._hits[key] = deque()
        elif len(hits) >= self.limit:
            return False
        hits.append(now)
        self._hits.move_to_end(key)
        self._bound(now)
        return True

    def count(self, key: str) -> int:
        """Hits of `key` in the current window."""
        hits = self._recent(key, self._clock())
        return len(hits) if hits is not None else 0

    def retry_after(self, key: str) -> float:
        """Seconds until `key` may hit again (0 when it may now)."""
        now = self._clock()
        hits = self._recent(key, now)
        if hits is None or len(hits) < self.limit:
            return 0.0
        return max(0.0, hits[0] + self.window_seconds - now)

    def __len__(self) -> int:
        return len(self._hits)

    def _bound(self, now: float) -> None:
        # Keys are kept in order of their last hit: the idle ones, then the least recently used, come first.
        while self._hits:
            oldest_key, oldest_hits = next(iter(self._hits.items()))
            idle = oldest_hits[-1] <= now - self.window_seconds
            if not idle and len(self._hits) <= self.max_keys:
                return
            del self._hits[oldest_key]


class OverBudget(Exception):
    """Too many failed attempts from this key, or from everyone together: refuse before looking at the attempt."""


class Attempt:
    """One attempt under a `FailureBudget`; the caller marks it `failed` when its credential was refused."""

    failed = False


class FailureBudget:
    """Failed attempts allowed per key (a client address) and in total per window; successes cost nothing.

    Only failures are remembered, so ten customers behind one NAT or an agent that reconnects all day never run
    out. An attempt still in flight may yet fail, so it counts against the budget until it is settled: were it
    free, a guesser opening a thousand sockets at once would pass the check a thousand times before the first
    failure is recorded. Past the budget's room an attempt waits (at most `wait_seconds`) for others to settle
    rather than being refused, so honest bursts queue briefly; past the budget's failures it is refused at once.
    """

    TOTAL = "*"

    def __init__(
        self,
        *,
        per_key: int | None = None,
        total: int | None,
        window_seconds: float = 60.0,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
        failures: SlidingWindowLimiter | None = None,
    ) -> None:
        """`total=None`: no cap over all keys. `failures`: keep the per-key failures in this limiter (its limit,
        window and clock) rather than in a new one of `per_key`."""
        if (per_key is None) == (failures is None):
            raise ValueError("give per_key or failures")
        self._failures = (  # not `failures or …`: an empty limiter is falsy (it has a length)
            failures if failures is not None
            else SlidingWindowLimiter(per_key, window_seconds, max_keys=max_keys, clock=clock)
        )
        self._all_failures = (
            SlidingWindowLimiter(total, self._failures.window_seconds, max_keys=1, clock=self._failures._clock)
            if total is not None else None
        )
        self._in_flight: Counter[str] = Counter()
        self._in_flight_total = 0
        self._settled = asyncio.Condition()

    def retry_after(self, key: str) -> float:
        """Seconds until `key` has failures to spend again (0 when it has now)."""
        total = self._all_failures.retry_after(self.TOTAL) if self._all_failures else 0.0
        return max(self._failures.retry_after(key), total)

    def exhausted(self, key: str) -> bool:
        """Whether `key`, or everyone together, has used up the failures of the window."""
        return self._failures.blocked(key) or bool(self._all_failures and self._all_failures.blocked(self.TOTAL))

    def _has_room(self, key: str) -> bool:
        # Failures so far plus attempts that may still fail stay within both budgets.
        return self._failures.count(key) + self._in_flight[key] < self._failures.limit and (
            self._all_failures is None
            or self._all_failures.count(self.TOTAL) + self._in_flight_total < self._all_failures.limit
        )

    @asynccontextmanager
    async def attempt(self, key: str, *, wait_seconds: float = 10.0) -> AsyncIterator[Attempt]:
        """An attempt from `key`: raises OverBudget instead of starting one past the budget; records a failure
        when the caller marked the attempt `failed`."""
        async with self._settled:
            try:
                await asyncio.wait_for(
                    self._settled.wait_for(lambda: self.exhausted(key) or self._has_room(key)), wait_seconds
                )
            except TimeoutError:
                raise OverBudget() from None
            if self.exhausted(key):
                raise OverBudget()
            self._in_flight[key] += 1
            self._in_flight_total += 1
        attempt = Attempt()
        try:
            yield attempt
        finally:
            if attempt.failed:
                self._failures.hit(key)
                if self._all_failures is not None:
                    self._all_failures.hit(self.TOTAL)
            self._in_flight[key] -= 1
            if self._in_flight[key] <= 0:
                del self._in_flight[key]
            self._in_flight_total -= 1
            async with self._settled:
                self._settled.notify_all()
