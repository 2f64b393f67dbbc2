"""The platform's one retry policy, and its one schedule: every service retries and repeats through these.

- `retrying(...)`: try an operation again after a failure worth retrying, with exponential backoff and a little
  jitter, logged once per retry; the last failure is re-raised when the policy gives up.
- `on_conflict(...)`: a transaction that lost a race on a unique index, tried again at once (the next pass sees the
  winner's row, or draws again).
- `every(...)`: a background job run forever every N seconds; a failed round is logged and the next one comes.

Use them as tenacity's loop: `async for attempt in retrying(...): with attempt: await operation()`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from sqlalchemy.exc import IntegrityError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    retry_if_exception_type,
    stop_after_attempt,
    stop_never,
    wait_exponential,
    wait_none,
    wait_random,
)
from tenacity.stop import stop_base

from .problems import Problem

log = logging.getLogger(__name__)

Retryable = type[BaseException] | tuple[type[BaseException], ...] | Callable[[BaseException], bool]


def unavailable(exc: BaseException) -> bool:
    """A command that answered 503: its service (or messaging) is away for now; the request may be asked again."""
    return isinstance(exc, Problem) and exc.status == 503


class stop_when(stop_base):
    """Give up once `condition()` holds (checked after each failed attempt)."""

    def __init__(self, condition: Callable[[], bool]) -> None:
        self._condition = condition

    def __call__(self, _state: RetryCallState) -> bool:
        return self._condition()


def retrying(
    *, what: str, retry_on: Retryable = Exception, attempts: int | None = None, stop: stop_base | None = None,
    first: float = 0.1, most: float = 2.0, level: int = logging.WARNING,
) -> AsyncRetrying:
    """Retry `what` on `retry_on` (exception types or a predicate): waits of `first`, doubling up to `most`, each
    plus up to a tenth of `first` of jitter; forever unless `attempts` or `stop` say otherwise."""
    retry = retry_if_exception(retry_on) if _is_predicate(retry_on) else retry_if_exception_type(retry_on)
    limit = stop_after_attempt(attempts) if attempts is not None else stop_never
    return AsyncRetrying(
        retry=retry,
        stop=limit if stop is None else limit | stop,
        wait=wait_exponential(multiplier=first, min=first, max=most) + wait_random(0, first / 10),
        before_sleep=_log_retry(what, level),
        reraise=True,
    )


def on_conflict(*, attempts: int, when: Callable[[], bool] = lambda: True) -> AsyncRetrying:
    """A transaction refused by a unique index (IntegrityError), run again at once up to `attempts` times in all;
    `when()` False re-raises the first refusal."""
    return AsyncRetrying(
        retry=retry_if_exception(lambda exc: isinstance(exc, IntegrityError) and when()),
        stop=stop_after_attempt(attempts),
        wait=wait_none(),
        reraise=True,
    )


async def every(
    seconds: float | Callable[[], float], job: Callable[[], Awaitable[object]], *, what: str,
    expected: tuple[type[Exception], ...] = (), quiet: Callable[[], bool] | None = None,
) -> None:
    """Run `job` forever, starting a round every `seconds` (or at once after a round that took longer).

    `seconds` may be a function, asked before each wait. A failed round is logged (with its traceback, or in one
    line for the `expected` failures, at debug level while `quiet()` says so) and does not stop the schedule;
    cancelling the task does.
    """
    interval = seconds if callable(seconds) else (lambda: seconds)
    task = asyncio.current_task()
    while True:
        started = time.monotonic()
        try:
            await job()
        except asyncio.CancelledError:
            raise
        except expected as exc:
            log.log(logging.DEBUG if quiet is not None and quiet() else logging.WARNING, "%s failed: %s", what, exc)
        except Exception:
            log.exception("%s failed", what)
        # Python 3.11's asyncio.wait_for can lose a cancel that arrives just as the future it awaits completes
        # (bpo-42130, fixed in 3.12): the job then returns or fails normally. A task being cancelled stops here
        # instead of sleeping on, which hung the runtime's stop.
        if task is not None and task.cancelling():
            raise asyncio.CancelledError
        await asyncio.sleep(max(0.0, interval() - (time.monotonic() - started)))


def _is_predicate(retry_on: Retryable) -> bool:
    return not isinstance(retry_on, tuple) and not isinstance(retry_on, type)


def _log_retry(what: str, level: int) -> Callable[[RetryCallState], None]:
    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        wait = state.next_action.sleep if state.next_action is not None else 0.0
        log.log(level, "%s failed (attempt %d: %s); retrying in %.2f s", what, state.attempt_number,
                f"{type(exc).__name__}: {exc}" if exc is not None else "?", wait)

    return before_sleep
