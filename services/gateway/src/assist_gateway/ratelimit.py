"""An in-memory sliding-window rate limiter per key (a client address), with bounded memory."""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable


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
