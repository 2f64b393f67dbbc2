"""The two shapes of the contract: a command (request/reply on a subject of its owner) and an event (a CloudEvent on
a JetStream subject equal to its type).

The request/reply mechanics and their error semantics stay in the platform (`assist_platform.commands`: a 503 when
nobody answers in time, the owner's problem passed through); a spec only names the subject once and types both ends.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from assist_platform.commands import call_command
from assist_platform.envelope import CloudEvent, new_event, rfc3339
from assist_platform.problems import Problem, invalid_input_problem
from assist_platform.runtime import Command
from nats.aio.client import Client as NATS
from pydantic import BaseModel, ValidationError

In = TypeVar("In", bound=BaseModel)
Out = TypeVar("Out", bound=BaseModel)
Payload = TypeVar("Payload", bound=BaseModel)


@dataclass(frozen=True)
class CommandSpec(Generic[In, Out]):
    """A command: its subject, the input its owner validates, and the output it answers.

    The owner registers a handler with `serve`; a caller calls the spec itself:
    `await consent.revoke(nc, RevokeInput(...), timeout=5.0)` → `Revoked`.
    """

    subject: str
    input: type[In]
    output: type[Out]

    def serve(self, handler: Callable[[In], Awaitable[Any]], *, concurrent: bool = False) -> Command:
        """The owner's side: `handler` gets the validated input; its result (the output model, or a mapping that
        must fit it) is checked against the output model and answered as JSON."""
        output = self.output

        async def _answer(request: In) -> Any:
            result = await handler(request)
            if not isinstance(result, output):
                try:
                    result = output.model_validate(result)
                except ValidationError as exc:
                    # The owner broke its own contract: a 500 (logged), never the caller's 422.
                    raise RuntimeError(f"{self.subject} answered outside its output model: {exc}") from None
            return result.model_dump(mode="json", by_alias=True)

        return Command(self.subject, self.input, _answer, concurrent=concurrent)

    def request_of(self, request: In | Mapping[str, Any]) -> In:
        """The input model of `request`. A mapping that breaks the input's rules is refused here with the very
        problem the owner would answer (422 "Invalid command", the same error types), without a round trip."""
        if isinstance(request, self.input):
            return request
        try:
            return self.input.model_validate(request)
        except ValidationError as exc:
            problem = invalid_input_problem(exc.errors(include_url=False), title="Invalid command")
            raise Problem.from_dict(problem.to_dict()) from None

    async def __call__(self, nc: NATS, request: In | Mapping[str, Any], *, timeout: float) -> Out:
        """Send the command; its typed result, or the owner's problem raised, or 503 when nobody answers in time."""
        body = self.request_of(request).model_dump(mode="json", by_alias=True, exclude_unset=True)
        result = await call_command(nc, self.subject, body, timeout=timeout)
        return self.output.model_validate(result)


Handler = Callable[[Any], Awaitable[Any]]


def command_table(table: Mapping[CommandSpec, Handler], *, wrap: Callable[[Handler], Handler] | None = None,
                  concurrent: Collection[CommandSpec] = ()) -> list[Command]:
    """The one way a service lists the commands it owns: `spec → handler`, each served through its spec (input
    validated, output shaped), each handler wrapped by `wrap` (the service's refusals as problems), those in
    `concurrent` answered in parallel (`serve_command`: a slow one does not hold the others up)."""
    return [spec.serve(wrap(handler) if wrap else handler, concurrent=spec in concurrent)
            for spec, handler in table.items()]


@dataclass(frozen=True)
class EventSpec(Generic[Payload]):
    """An event: its type, which is also its JetStream subject (CONTRACT §4), the stream that holds it, and the
    model of its `data` (what every consumer may rely on; a publisher may add more)."""

    type: str
    stream: str
    payload: type[Payload]

    @property
    def subject(self) -> str:
        return self.type

    def new(self, *, source: str, subject: str, data: Mapping[str, Any]) -> CloudEvent:
        """The event, its data checked against the payload model first: a publisher that drifts from the contract
        fails where it publishes, not in every consumer. The data goes out as given (times as written)."""
        self.payload.model_validate(data)
        return new_event(source=source, type=self.type, subject=subject, data=dict(data))

    def from_fields(self, *, source: str, subject: str, fields: Mapping[str, Any]) -> CloudEvent:
        """The event whose data is what its payload model names, taken from `fields` (a record's columns, say),
        times written as RFC 3339: the contract says once what the event carries, and the publisher lists it no
        second time. A field the model names that `fields` lacks fails the check in `new`."""
        data = {name: _on_the_wire(fields[name]) for name in self.payload.model_fields if name in fields}
        return self.new(source=source, subject=subject, data=data)

    def parse(self, event: CloudEvent) -> Payload:
        """The consumer's side: the payload model of `event.data` (pydantic's ValidationError when malformed)."""
        return self.payload.model_validate(event.data)


def _on_the_wire(value: Any) -> Any:
    """A time as the events write it (RFC 3339, UTC); anything else as it is."""
    return rfc3339(value) if isinstance(value, datetime) else value
