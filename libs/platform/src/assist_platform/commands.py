"""Commands: NATS request/reply on subjects of the owning service, answered after the change has committed.

A reply is `{"ok": true, "result": {...}}` or `{"ok": false, "problem": {...problem details...}}`, so a caller
re-raises the owner's problem (404, 409, ...) as its own HTTP answer.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from functools import wraps
from typing import Any, TypeVar

from nats.aio.client import Client as NATS
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from opentelemetry import context as otel_context
from opentelemetry.trace import SpanKind
from prometheus_client import Histogram
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import DataError

from .problems import Problem, invalid_input_problem
from .telemetry import context_from_headers, current_trace_headers, tracer

log = logging.getLogger(__name__)

# Served at `/metrics` with the others (observability.py); defined here, where it is observed.
COMMAND_SECONDS = Histogram(
    "assist_command_duration_seconds", "Time to answer an internal NATS command", ["subject", "outcome"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

In = TypeVar("In", bound=BaseModel)
CommandHandler = Callable[[Any], Awaitable[BaseModel | dict[str, Any]]]


def _encode_result(result: BaseModel | dict[str, Any]) -> dict[str, Any]:
    if isinstance(result, BaseModel):
        return result.model_dump(mode="json")
    return result


async def serve_command(
    nc: NATS, *, subject: str, input_model: type[In], handler: Callable[[In], Awaitable[Any]], queue: str,
    concurrent: bool = False,
):
    """Answer `subject` with `handler`; replicas of one service share the work through the queue group.

    nats-py runs a subscription's callback for one message at a time. With `concurrent=True` each request is
    answered in a task of its own, so a handler that waits (the consent revoke waits for lease holders) does
    not hold up the requests queued behind it.
    """
    in_flight: set[asyncio.Task] = set()

    async def _answer(msg) -> None:
        token = otel_context.attach(context_from_headers(dict(msg.headers or {})))
        started = time.perf_counter()
        try:
            with tracer(__name__).start_as_current_span(f"command {subject}", kind=SpanKind.SERVER):
                try:
                    request = input_model.model_validate_json(msg.data)
                    body = {"ok": True, "result": _encode_result(await handler(request))}
                except ValidationError as exc:
                    # Caller-readable: which field and why; never `str(exc)`, which names the input model.
                    problem = invalid_input_problem(exc.errors(include_url=False), title="Invalid command")
                    body = {"ok": False, "problem": problem.to_dict()}
                except Problem as problem:
                    body = {"ok": False, "problem": problem.to_dict()}
                except DataError:
                    # The database refused a value the model let through (a NUL byte in a string, say): bad input.
                    body = {"ok": False, "problem": Problem(422, "Invalid command", "A value cannot be stored.").to_dict()}
                except Exception:
                    log.exception("command %s failed", subject)
                    body = {"ok": False, "problem": Problem(500, "Internal error").to_dict()}
            await msg.respond(json.dumps(body).encode())
            outcome = "ok" if body["ok"] else str(body["problem"].get("status", "error"))
            COMMAND_SECONDS.labels(subject=subject, outcome=outcome).observe(time.perf_counter() - started)
        finally:
            otel_context.detach(token)

    async def _on_request(msg) -> None:
        if not concurrent:
            await _answer(msg)
            return
        task = asyncio.create_task(_answer(msg), name=f"command {subject}")
        in_flight.add(task)  # the loop keeps only weak references to tasks
        task.add_done_callback(in_flight.discard)

    return await nc.subscribe(subject, queue=queue, cb=_on_request)


RuleStatuses = Sequence[tuple[type[Exception], int, str]]


def refusals_as_problems(statuses: RuleStatuses) -> Callable[[CommandHandler], CommandHandler]:
    """Wrap a command handler so a domain rule's refusal (`statuses`: exception type, status, title; first match
    wins) leaves as the problem a caller can act on, never as a 500. The exception's `detail` becomes the detail,
    its `retry_after` (seconds), if it has one, the problem's `retry_after` (the gateway's Retry-After), and its
    `code` with its `values` (a mapping) members of the problem, for words `problem_<code>` with placeholders."""
    kinds = tuple(kind for kind, _status, _title in statuses)

    def wrap(handler: CommandHandler) -> CommandHandler:
        @wraps(handler)
        async def _handle(request: Any) -> Any:
            try:
                return await handler(request)
            except kinds as error:
                status, title = next((s, t) for kind, s, t in statuses if isinstance(error, kind))
                retry_after = getattr(error, "retry_after", None)
                extra = {"retry_after": retry_after} if retry_after else {}
                if getattr(error, "code", None):
                    # A machine code the caller can say in its reader's language, with the values its words fill in.
                    extra.update(getattr(error, "values", None) or {}, code=error.code)
                raise Problem(status, title, getattr(error, "detail", "") or str(error), **extra) from error

        return _handle

    return wrap


async def call_command(nc: NATS, subject: str, payload: BaseModel | dict[str, Any], *, timeout: float) -> dict[str, Any]:
    """Send a command and return its result, raising the owner's Problem, or 503 when nobody answers in time."""
    data = payload.model_dump_json() if isinstance(payload, BaseModel) else json.dumps(payload)
    if not nc.is_connected:
        # Fail fast: a request on a reconnecting client would only wait out its timeout.
        raise Problem(503, "Service unavailable", "Messaging is unavailable right now.")
    try:
        with tracer(__name__).start_as_current_span(f"request {subject}", kind=SpanKind.CLIENT):
            reply = await nc.request(subject, data.encode(), timeout=timeout, headers=current_trace_headers() or None)
    except NoRespondersError as exc:
        raise Problem(503, "Service unavailable", f"No service answers {subject} right now.") from exc
    except (NatsTimeoutError, TimeoutError) as exc:
        raise Problem(503, "Service unavailable", f"{subject} did not answer within {timeout:.1f}s.") from exc
    except Exception as exc:  # disconnected, connection closed
        raise Problem(503, "Service unavailable", f"Messaging is unavailable: {type(exc).__name__}.") from exc
    body = json.loads(reply.data)
    if not body.get("ok"):
        raise Problem.from_dict(body.get("problem") or {})
    return body["result"]
